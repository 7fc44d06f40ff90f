//! The repository and the package stand on their own: no file refers to a document that is not
//! in them (the notes the spec was first written from, the design notes of the team). The spec
//! cites its sources by the tags `spec/sources.yaml` describes, and every endpoint names its
//! official page there (the generator enforces that).

use std::fs;
use std::path::{Path, PathBuf};

/// Names of documents that are not in the repository. Built at run time so that this file does
/// not match itself.
fn outside_documents() -> Vec<String> {
    ["card-api", "DESIGN", "reference/seeds"]
        .iter()
        .zip([".md", ".md", "/"])
        .map(|(stem, end)| format!("{stem}{end}"))
        .collect()
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            text_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_cites_a_document_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "spec", "src", "docs", "codegen", "examples", "scripts", "benches", "tests", "build", ".ci",
    ] {
        text_files(&root.join(dir), &mut files);
    }
    for file in ["README.md", "CHANGELOG.md", "Cargo.toml", "build.rs"] {
        files.push(root.join(file));
    }
    assert!(
        files.len() > 100,
        "only {} files found under {}",
        files.len(),
        root.display()
    );
    let needles = outside_documents();
    let mut found = Vec::new();
    for file in &files {
        // Binary files (the console screenshot) are not documents.
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for needle in &needles {
                if line.contains(needle.as_str()) {
                    let shown = file.strip_prefix(root).unwrap_or(file);
                    found.push(format!("{}:{}: cites {needle}", shown.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "files refer to documents that are not in the repository; cite the source's tag from \
         spec/sources.yaml instead:\n{}",
        found.join("\n")
    );
}

/// The tags no ordinary word collides with (`M1`…, `OP`, `ERR`): each one a spec comment uses
/// is described in `spec/sources.yaml`. (The one-letter tags W, F, P, E, S and J cannot be told
/// from ordinary letters by a scan; `sources.yaml` lists them beside these.)
#[test]
fn every_mirror_tag_the_spec_cites_is_described() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = fs::read_to_string(root.join("spec/sources.yaml")).expect("spec/sources.yaml");
    let described = |tag: &str| sources.contains(&format!("\n  {tag}:\n"));
    let mut files = Vec::new();
    text_files(&root.join("spec"), &mut files);
    let mut missing = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let text = fs::read_to_string(file).expect("a spec file");
        for (n, line) in text.lines().enumerate() {
            let Some((_, comment)) = line.split_once('#') else {
                continue;
            };
            for word in comment.split(|c: char| !c.is_ascii_alphanumeric()) {
                let mirror = word.len() > 1
                    && word.starts_with('M')
                    && word[1..].bytes().all(|b| b.is_ascii_digit());
                if (mirror || word == "OP" || word == "ERR") && !described(word) {
                    missing.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "spec comments cite tags spec/sources.yaml does not describe:\n{}",
        missing.join("\n")
    );
    for tag in ["W", "F", "P", "E", "S", "J"] {
        assert!(described(tag), "spec/sources.yaml does not describe {tag}");
    }
}
