//! Enum variant names depend only on the value (and its `rust:` name), never on its siblings:
//! WeChat adding a value to an enum must not rename the variants users already match on.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use wechat_card_codegen::diag::Problems;
use wechat_card_codegen::model::{Spec, TypeKind};
use wechat_card_codegen::{generate_from, parse};

fn spec_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec");
    let mut files: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `(enum type, wire value) -> Rust variant` for every enum of the spec.
fn variant_names(files: &[(String, String)]) -> BTreeMap<(String, String), String> {
    let mut spec = Spec::default();
    let mut problems = Problems::default();
    for (name, text) in files {
        let stem = name.strip_suffix(".yaml").unwrap();
        parse::parse_file(&mut spec, stem, name, text.clone(), &mut problems);
    }
    assert!(problems.is_empty(), "the spec does not parse");
    let mut out = BTreeMap::new();
    for file in &spec.files {
        for ty in &file.types {
            if let TypeKind::Enum { values } = &ty.kind {
                for v in values {
                    out.insert((ty.name.clone(), v.wire.clone()), v.rust.clone());
                }
            }
        }
    }
    out
}

/// The spec with `ZZZ_NEW_VALUE` added to every enum (before its first value), and how many
/// enums that touched.
fn with_new_value(files: &[(String, String)]) -> (Vec<(String, String)>, usize) {
    let mut touched = 0;
    let files = files
        .iter()
        .map(|(name, text)| {
            let mut out = Vec::new();
            let mut after_enum_key = false;
            for line in text.lines() {
                let trimmed = line.trim_start();
                if after_enum_key && !trimmed.is_empty() && !trimmed.starts_with('#') {
                    let indent = &line[..line.len() - trimmed.len()];
                    out.push(format!("{indent}ZZZ_NEW_VALUE: \"Added later.\""));
                    touched += 1;
                    after_enum_key = false;
                }
                if trimmed == "enum:" || trimmed == "values:" {
                    after_enum_key = true;
                }
                out.push(line.to_owned());
            }
            (name.clone(), out.join("\n") + "\n")
        })
        .collect();
    (files, touched)
}

#[test]
fn adding_a_value_renames_no_variant() {
    let files = spec_files();
    let before = variant_names(&files);
    let enums: std::collections::BTreeSet<&String> = before.keys().map(|(ty, _)| ty).collect();
    let (grown, touched) = with_new_value(&files);
    assert_eq!(
        touched,
        enums.len(),
        "every enum of the spec gets the new value"
    );
    let after = variant_names(&grown);
    for ty in &enums {
        assert!(
            after.contains_key(&((*ty).clone(), "ZZZ_NEW_VALUE".to_owned())),
            "{ty} did not get the new value"
        );
    }
    for (key, name) in &before {
        assert_eq!(
            after.get(key),
            Some(name),
            "adding a value to {} renamed the variant of {}",
            key.0,
            key.1
        );
    }
    // And the grown spec still generates (no clash with the new variant).
    if let Err(errors) = generate_from("spec", &grown) {
        panic!(
            "{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
