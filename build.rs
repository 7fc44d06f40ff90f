//! Generates the API from `spec/` into `OUT_DIR` (see `codegen/`).
//!
//! Spec errors fail the build with `cargo::error=` lines, one per error, all at once; files are
//! rewritten only when their text changed, so an unchanged spec never triggers a rebuild.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=spec");
    println!("cargo::rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::error=OUT_DIR is not set; run the build through cargo");
        return;
    };
    match wechat_card_codegen::generate(std::path::Path::new("spec"), "spec") {
        Ok(files) => {
            // The coverage table is committed as docs/endpoints.md by the codegen tests.
            for file in files.into_iter().filter(|f| f.name.ends_with(".rs")) {
                let path = out.join(&file.name);
                if std::fs::read_to_string(&path).ok().as_deref() != Some(file.text.as_str()) {
                    if let Err(e) = std::fs::write(&path, &file.text) {
                        println!("cargo::error=cannot write {}: {e}", path.display());
                    }
                }
            }
        }
        Err(errors) => {
            for e in errors {
                println!("cargo::error={}", e.to_string().replace('\n', " "));
            }
        }
    }
}
