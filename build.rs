//! Puts the generated API into `OUT_DIR`.
//!
//! The generated code is committed in `src/generated`, and its `api.rs` records the digest of
//! the spec it was generated from (`build/digest.rs`). Every build, anywhere, starts by
//! comparing that digest with the `spec/` at hand:
//!
//! - **They match** (a crate that depends on wechat-card, docs.rs, a fresh clone): the
//!   committed files are copied. Nothing else is built: the generator and its dependencies (syn
//!   with `full`, prettyplease, the YAML parser) are not a dependency of this crate at all, so no
//!   user compiles them and none of them is in a user's `Cargo.lock`.
//! - **They differ, inside this repository** (`codegen/` is next to this file: a maintainer
//!   edited the spec): the generator runs on `spec/`, as `cargo run` of `codegen/` into a target
//!   directory of its own (`target/codegen`, so that the two cargo processes never wait for each
//!   other's lock), and writes into `OUT_DIR`. Spec errors fail the build with `cargo::error=`
//!   lines, one per error, all at once. A warning says that the committed copy is now stale
//!   until `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast` refreshes it.
//! - **They differ, anywhere else** (a package whose `spec/` was edited): the build fails and
//!   says why. No code that does not match `spec/` is ever compiled, whatever the environment
//!   (`RUSTFLAGS` and the like play no part in the choice).
//!
//! A change to the generator alone (not the spec) is caught by the generator's snapshot tests,
//! which compare its output for the real spec with `src/generated`; the same refresh command
//! updates it. Files are rewritten only when their text changed, so an unchanged spec never
//! triggers a rebuild of the crate.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/digest.rs"]
mod digest;

/// Where the committed generated code lives.
const COMMITTED: &str = "src/generated";
/// The generator's package; present only in the repository, not in the published package.
const GENERATOR: &str = "codegen/Cargo.toml";

fn main() {
    println!("cargo::rerun-if-changed=spec");
    println!("cargo::rerun-if-changed={COMMITTED}");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=build");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::error=OUT_DIR is not set; run the build through cargo");
        return;
    };
    let in_repository = Path::new(GENERATOR).is_file();
    if in_repository {
        // While the spec is edited, a generator change must regenerate too.
        println!("cargo::rerun-if-changed=codegen/src");
        println!("cargo::rerun-if-changed={GENERATOR}");
    }
    let (spec, committed) = match (read("spec", "yaml"), read(COMMITTED, "rs")) {
        (Ok(spec), Ok(committed)) => (spec, committed),
        (Err(e), _) | (_, Err(e)) => {
            println!("cargo::error={e}");
            return;
        }
    };
    let digest = digest::spec_digest(spec.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let expected = format!("{}{digest:016x}", digest::DIGEST_LINE_PREFIX);
    let current = committed
        .iter()
        .find(|(name, _)| name == "api.rs")
        .is_some_and(|(_, text)| text.lines().take(3).any(|line| line == expected));
    if current {
        for (name, text) in &committed {
            let path = out.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                if let Err(e) = std::fs::write(&path, text) {
                    println!("cargo::error=cannot write {}: {e}", path.display());
                }
            }
        }
    } else if in_repository {
        generate(&out);
    } else {
        println!(
            "cargo::error=spec/ differs from the spec the committed code in {COMMITTED} was \
             generated from. Regenerate it inside the wechat-card repository: edit spec/ there \
             and run `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast`."
        );
    }
}

/// The `(file name, text)` pairs of the files in `dir` whose names end in `.ext`, sorted by
/// name (the order the generator reads the spec in).
fn read(dir: &str, ext: &str) -> Result<Vec<(String, String)>, String> {
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
}

/// Runs the generator on `spec/` into `out`, or prints why it failed.
fn generate(out: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("codegen");
    let run = Command::new(cargo)
        .args(["run", "--quiet", "--manifest-path", GENERATOR])
        .args(["--bin", "wechat-card-codegen", "--target-dir"])
        .arg(&target)
        .args(["--", "spec"])
        .arg(out)
        // A plain build of the generator for this machine: not under clippy's driver (which
        // `cargo clippy` sets for the workspace) and without the flags cargo computed for the
        // crate's own target.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output();
    match run {
        Ok(done) if done.status.success() => println!(
            "cargo::warning=spec/ changed: the API was generated from it, and the committed copy \
             in {COMMITTED} (what crates that depend on wechat-card compile) is stale until \
             `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast` refreshes it"
        ),
        Ok(done) => {
            let stderr = String::from_utf8_lossy(&done.stderr);
            let mut said = false;
            for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
                println!("cargo::error={line}");
                said = true;
            }
            if !said {
                println!("cargo::error=the generator failed ({})", done.status);
            }
        }
        Err(e) => println!(
            "cargo::error=cannot run the generator (`cargo run --manifest-path {GENERATOR}`): {e}"
        ),
    }
}
