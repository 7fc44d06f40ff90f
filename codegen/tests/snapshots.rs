//! Snapshot tests of the generator: the generated code for the real spec and for an edge-case
//! fixture, and the error messages for broken specs.
//!
//! A deliberate change to the generator or the spec changes these files: run the project's one
//! refresh command, `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast` at the repository's root
//! (which runs these tests too), and review the diff in the commit.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wechat_card_codegen::{GeneratedFile, generate, generate_from};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `actual` with the snapshot file, or rewrites it under `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} is out of date (first difference at line {}):\n  snapshot:  {:?}\n  generated: {:?}\n\
             If the change is deliberate, run `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast` \
             and review the diff.",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn read_dir_yaml(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The generator's output for the real spec, generated once for every test of this file that
/// compares it (a generation takes seconds in a debug build).
fn real_output() -> &'static [GeneratedFile] {
    static OUTPUT: OnceLock<Vec<GeneratedFile>> = OnceLock::new();
    OUTPUT.get_or_init(|| {
        generate(&here().join("../spec"), "spec").unwrap_or_else(|errors| {
            panic!(
                "the spec has errors:\n{}",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    })
}

#[test]
fn real_spec() {
    let files = real_output();
    let dir = here().join("../src/generated");
    for file in files.iter().filter(|f| f.name.ends_with(".rs")) {
        assert_snapshot(&dir.join(&file.name), &file.text);
    }
    // No stale copy of a file that is no longer generated (the refresh deletes it).
    let refresh = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for entry in fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if files.iter().any(|f| f.name == name) {
            continue;
        }
        if refresh {
            fs::remove_file(entry.path()).unwrap();
        } else {
            panic!(
                "stale {name} in src/generated: the spec no longer generates it; run \
                 `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast`"
            );
        }
    }
}

/// The committed coverage table `docs/endpoints.md` matches the spec.
#[test]
fn endpoint_docs_are_current() {
    let docs = real_output()
        .iter()
        .find(|f| f.name == "endpoints.md")
        .expect("endpoints.md generated");
    assert_snapshot(&here().join("../docs/endpoints.md"), &docs.text);
}

/// The committed errcode catalog `docs/errors.md` matches the spec.
#[test]
fn error_docs_are_current() {
    let docs = real_output()
        .iter()
        .find(|f| f.name == "errors.md")
        .expect("errors.md generated");
    assert_snapshot(&here().join("../docs/errors.md"), &docs.text);
}

#[test]
fn output_is_deterministic() {
    // A second, independent generation must equal the shared one byte for byte.
    let a = real_output();
    let b = generate(&here().join("../spec"), "spec").unwrap();
    assert_eq!(a, b.as_slice());
    for file in a.iter().filter(|f| f.name.ends_with(".rs")) {
        assert!(
            !file.text.contains(env!("CARGO_MANIFEST_DIR")),
            "absolute path in {}",
            file.name
        );
        assert!(
            file.text
                .starts_with("// @generated by wechat-card-codegen from spec/")
        );
    }
}

#[test]
fn edge_cases() {
    let input = read_dir_yaml(&here().join("tests/fixtures/edge"));
    let files = generate_from("spec", &input).unwrap_or_else(|errors| {
        panic!(
            "the edge fixture has errors:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    for file in files.iter().filter(|f| f.name.ends_with(".rs")) {
        assert_snapshot(
            &here().join("tests/snapshots/edge").join(&file.name),
            &file.text,
        );
    }
}

#[test]
fn broken_specs() {
    let root = here().join("tests/fixtures/broken");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 7);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = read_dir_yaml(&case);
        let errors = match generate_from("spec", &input) {
            Ok(_) => panic!("broken spec {name} generated without errors"),
            Err(errors) => errors,
        };
        let text: String = errors.iter().map(|e| format!("{e}\n")).collect();
        assert_snapshot(
            &here().join(format!("tests/snapshots/errors/{name}.txt")),
            &text,
        );
    }
}
