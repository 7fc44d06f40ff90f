//! The generator of wechat-card: the YAML spec in, Rust source out.
//!
//! Stages, each module's doc says what it takes and gives:
//! 1. [`yaml`] reads a file into an ordered tree (positions are found again from the text only
//!    when an error is reported, see [`yaml::locate`]); [`types`] parses the field-type grammar;
//!    [`parse`] turns each tree into the [`model`], hoisting inline types and interning type
//!    names (every error collected, positioned by its path through [`diag`]).
//! 2. [`model::Spec::link`] binds each name to its definition and computes, once, which types
//!    need validation.
//! 3. [`check`] finds the semantic errors across files; after it, every reference resolves.
//! 4. [`emit`] turns each file into tokens (one struct emitter for JSON objects and pushed
//!    events), [`tables`] the run-time tables of `api.rs`, [`docs`] the coverage table;
//!    [`text`] holds their shared source-writing helpers.
//! 5. [`render`] formats the tokens.
//!
//! Writing the files (only when they changed) is the caller's job: the binary (`src/main.rs`,
//! which the crate's `build.rs` runs on an edited spec) and the snapshot tests (which refresh the
//! committed copy). Modules only import from stages before them (and the leaf helpers `yaml`, `types`,
//! `text`, `diag`): there is no import circle.
#![forbid(unsafe_code)]

pub mod check;
pub mod diag;
// The one digest function, shared with the crate's build.rs (which ships without the generator).
#[path = "../../build/digest.rs"]
pub mod digest;
pub mod docs;
pub mod emit;
pub mod model;
pub mod parse;
pub mod render;
pub mod tables;
pub mod text;
pub mod types;
pub mod yaml;

use std::path::Path;

pub use diag::Diagnostic;

/// One generated file: Rust source (`*.rs`, for `OUT_DIR`), the coverage table
/// (`endpoints.md`, committed as `docs/endpoints.md`) or the errcode catalog (`errors.md`,
/// committed as `docs/errors.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name inside the output folder, e.g. `consume.rs`.
    pub name: String,
    /// The formatted source.
    pub text: String,
}

/// Reads every `*.yaml` file in `spec_dir` (sorted by name) and generates the API.
///
/// `display_dir` is how the folder is named in messages and headers (`spec`), so that the output
/// never contains an absolute path.
pub fn generate(spec_dir: &Path, display_dir: &str) -> Result<Vec<GeneratedFile>, Vec<Diagnostic>> {
    let mut sources = Vec::new();
    let entries = std::fs::read_dir(spec_dir).map_err(|e| {
        vec![Diagnostic {
            file: display_dir.to_owned(),
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read the spec folder: {e}"),
        }]
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            sources.push(path);
        }
    }
    sources.sort();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in sources {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((name, text)),
            Err(e) => errors.push(Diagnostic {
                file: format!("{display_dir}/{name}"),
                line: 0,
                column: 0,
                path: String::new(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    generate_from(display_dir, &files)
}

/// Generates the API from `(file name, YAML text)` pairs; the heart of [`generate`], also used by
/// tests on fixture specs.
pub fn generate_from(
    display_dir: &str,
    files: &[(String, String)],
) -> Result<Vec<GeneratedFile>, Vec<Diagnostic>> {
    let mut spec = model::Spec::default();
    let mut problems = diag::Problems::default();
    for (name, text) in files {
        let stem = name.strip_suffix(".yaml").unwrap_or(name);
        let display = format!("{display_dir}/{name}");
        parse::parse_file(&mut spec, stem, &display, text.clone(), &mut problems);
    }
    spec.link();
    check::check(&spec, &mut problems);
    if !problems.is_empty() {
        return Err(problems.resolve(&spec));
    }
    let emitter = emit::Emitter::new(&spec);
    let mut out = Vec::new();
    let internal = |message: String| {
        vec![Diagnostic {
            file: display_dir.to_owned(),
            line: 0,
            column: 0,
            path: String::new(),
            message,
        }]
    };
    let mut names = Vec::new();
    for file in &spec.files {
        let name = format!("{}.rs", file.stem);
        let text = render::render(&file.display, emitter.file(file)).map_err(internal)?;
        names.push(name.clone());
        out.push(GeneratedFile { name, text });
    }
    let tables = tables::Tables::new(&spec);
    let api = render::render(&format!("{display_dir}/"), tables.api(&names)).map_err(internal)?;
    // The digest goes right under the `@generated` line: `build.rs` uses the committed code only
    // if it was generated from the spec at hand (and runs the generator otherwise).
    let digest = digest::spec_digest(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let api = match api.split_once('\n') {
        Some((header, rest)) => {
            format!(
                "{header}\n{}{digest:016x}\n{rest}",
                digest::DIGEST_LINE_PREFIX
            )
        }
        None => api,
    };
    out.push(GeneratedFile {
        name: "api.rs".to_owned(),
        text: api,
    });
    out.push(GeneratedFile {
        name: "endpoints.md".to_owned(),
        text: docs::endpoints_markdown(&spec),
    });
    out.push(GeneratedFile {
        name: "errors.md".to_owned(),
        text: docs::errors_markdown(&spec),
    });
    Ok(out)
}
