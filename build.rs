//! Puts the generated API into `OUT_DIR`.
//!
//! Inside this repository (`.cargo/config.toml` sets `--cfg wechat_card_dev`) the generator
//! (`codegen/`) is a build-dependency and runs on `spec/`: a maintainer edits the spec and
//! nothing else. Spec errors fail the build with `cargo::error=` lines, one per error, all at
//! once.
//!
//! Everywhere else (a crate that depends on wechat-card, docs.rs) the generator is not built:
//! the committed output for `spec/` (`src/generated`, which the generator's snapshot tests keep
//! current) is copied, after checking that the digest it records is that
//! of the `spec/` at hand. That spares every user the build of the generator and its
//! dependencies (syn with `full`, prettyplease, the YAML parser): 7 s of CPU in debug and 11 s
//! in release (benches/build_cost.sh).
//!
//! Files are rewritten only when their text changed, so an unchanged spec never triggers a
//! rebuild.

use std::path::{Path, PathBuf};

#[path = "codegen/src/digest.rs"]
#[allow(dead_code)]
mod digest;

fn main() {
    println!("cargo::rerun-if-changed=spec");
    println!("cargo::rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::error=OUT_DIR is not set; run the build through cargo");
        return;
    };
    for (name, text) in generated() {
        let path = out.join(&name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if let Err(e) = std::fs::write(&path, &text) {
                println!("cargo::error=cannot write {}: {e}", path.display());
            }
        }
    }
}

/// The generator's output for `spec/`, or nothing after printing why not.
#[cfg(wechat_card_dev)]
fn generated() -> Vec<(String, String)> {
    match wechat_card_codegen::generate(Path::new("spec"), "spec") {
        // The coverage table is committed as docs/endpoints.md by the codegen tests.
        Ok(files) => files
            .into_iter()
            .filter(|f| f.name.ends_with(".rs"))
            .map(|f| (f.name, f.text))
            .collect(),
        Err(errors) => {
            for e in errors {
                println!("cargo::error={}", e.to_string().replace('\n', " "));
            }
            Vec::new()
        }
    }
}

/// The committed output, if it was generated from the `spec/` at hand; else nothing, after
/// printing what to do.
#[cfg(not(wechat_card_dev))]
fn generated() -> Vec<(String, String)> {
    const COMMITTED: &str = "src/generated";
    println!("cargo::rerun-if-changed={COMMITTED}");
    let read = |dir: &str, ext: &str| -> Result<Vec<(String, String)>, String> {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot read {dir}: {e}"))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if Path::new(name).extension().and_then(|e| e.to_str()) == Some(ext) {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                files.push((name.to_owned(), text));
            }
        }
        files.sort();
        Ok(files)
    };
    let (spec, committed) = match (read("spec", "yaml"), read(COMMITTED, "rs")) {
        (Ok(spec), Ok(committed)) => (spec, committed),
        (Err(e), _) | (_, Err(e)) => {
            println!("cargo::error={e}");
            return Vec::new();
        }
    };
    let digest = digest::spec_digest(spec.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let expected = format!("{}{digest:016x}", digest::DIGEST_LINE_PREFIX);
    let recorded = committed
        .iter()
        .find(|(name, _)| name == "api.rs")
        .is_some_and(|(_, text)| text.lines().take(3).any(|line| line == expected));
    if !recorded {
        println!(
            "cargo::error=spec/ differs from the spec the committed code in {COMMITTED} was \
             generated from. Build inside the repository (its .cargo/config.toml turns the \
             generator on), or regenerate the committed code there with \
             `UPDATE_SNAPSHOTS=1 cargo test -p wechat-card-codegen`."
        );
        return Vec::new();
    }
    committed
}
