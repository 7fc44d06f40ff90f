//! `wechat-card-codegen SPEC_DIR OUT_DIR`: generates the API from the spec in `SPEC_DIR` into
//! `OUT_DIR`, rewriting only the files whose text changed.
//!
//! The crate's `build.rs` runs this (through `cargo run`) inside the repository when `spec/` is
//! not the spec the committed code in `src/generated` was made from. On a spec error it prints
//! every error on standard error, one per line (`file:line:column: path: message`), and exits
//! with status 1; `build.rs` turns each line into a `cargo::error`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [spec, out] = args.as_slice() else {
        eprintln!("usage: wechat-card-codegen SPEC_DIR OUT_DIR");
        return ExitCode::from(2);
    };
    let files = match wechat_card_codegen::generate(Path::new(spec), "spec") {
        Ok(files) => files,
        Err(errors) => {
            for e in errors {
                eprintln!("{}", e.to_string().replace('\n', " "));
            }
            return ExitCode::FAILURE;
        }
    };
    let out = Path::new(out);
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    for file in files {
        let path = out.join(&file.name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.text.as_str()) {
            continue;
        }
        if let Err(e) = std::fs::write(&path, &file.text) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
