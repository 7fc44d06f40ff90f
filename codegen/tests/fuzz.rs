//! Mutation fuzzing of the generator: the spec parser and checker on mutated copies of the
//! real spec's files, and the whole generator (emission, formatting) on some of them. A panic
//! fails the test with the file and the input.
//!
//! The same seeded kit as the crate's own fuzz tests (`tests/suite/fuzz.rs`), and the same
//! knobs: `WECHAT_CARD_FUZZ_SCALE` multiplies the input count, `WECHAT_CARD_FUZZ_SEED` picks
//! another seed. A long run: `WECHAT_CARD_FUZZ_SCALE=200 cargo test --release -p
//! wechat-card-codegen --test fuzz -- --nocapture`.

#[path = "../../tests/suite/fuzz_kit.rs"]
mod fuzz_kit;

use fuzz_kit::{Rng, Runner, mutate_bytes, scale};
use wechat_card_codegen::generate_from;

// Two halves with their own seeds, so that the two test threads share the work: 50 inputs in
// all (times the scale), as before the split.
#[test]
fn fuzz_spec_parser_first_half() {
    fuzz_spec_parser(6);
}

#[test]
fn fuzz_spec_parser_second_half() {
    fuzz_spec_parser(7);
}

fn fuzz_spec_parser(seed: u64) {
    let mut rng = Rng::new(seed);
    let mut runner = Runner::new("spec parser and checker");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("spec/")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).expect("read spec file"),
            )
        })
        .collect();
    files.sort();
    let raw: Vec<Vec<u8>> = files.iter().map(|(_, t)| t.as_bytes().to_vec()).collect();
    let mut generated = 0;
    for i in 0..25 * scale() {
        let which = rng.below(files.len());
        let text = if rng.chance(50) {
            mutate_lines(&mut rng, &files[which].1)
        } else {
            String::from_utf8_lossy(&mutate_bytes(&mut rng, files[which].1.as_bytes(), &raw))
                .into_owned()
        };
        let mut mutated = files.clone();
        mutated[which].1 = text.clone();
        // The whole generator (emission, formatting) on some; parsing and checking on all.
        let full = i % 25 == 0;
        runner.run(&files[which].0, text.as_bytes(), || {
            if full {
                let _ = generate_from("spec", &mutated);
                generated += 1;
            } else {
                // The stages before emission, as `generate_from` runs them.
                use wechat_card_codegen::{check, diag, model, parse};
                let mut spec = model::Spec::default();
                let mut problems = diag::Problems::default();
                for (name, text) in &mutated {
                    let stem = name.strip_suffix(".yaml").unwrap_or(name);
                    let display = format!("spec/{name}");
                    parse::parse_file(&mut spec, stem, &display, text.clone(), &mut problems);
                }
                spec.link();
                check::check(&spec, &mut problems);
                let _ = problems.resolve(&spec);
            }
        });
    }
    assert!(generated > 0);
    runner.finish();
}

/// A line-level mutation of a text (YAML): delete, duplicate, move or re-indent a line.
fn mutate_lines(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return text.to_owned();
    }
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(lines.len());
        match rng.below(5) {
            0 if lines.len() > 1 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            2 => {
                let line = lines.remove(i);
                let to = rng.below(lines.len() + 1);
                lines.insert(to, line);
            }
            3 => {
                let line = &mut lines[i];
                if rng.chance(50) {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_owned();
                }
            }
            _ => {
                let other = lines[rng.below(lines.len())].clone();
                lines[i] = other;
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
