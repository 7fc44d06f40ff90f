//! How long the generator takes for the real spec, beside the least any generator must do:
//! read the spec's YAML files into a YAML tree (the same parser, no checking, no emission).
//!
//! ```text
//! cargo bench -p wechat-card-codegen            # 11 rounds
//! cargo bench -p wechat-card-codegen -- --quick # 3 rounds
//! ```
//!
//! Prints the medians and their ratio. The generator runs in `build.rs` of every build inside
//! the repository, so its time is part of a maintainer's edit-build loop (target ≤ 300 ms).
//! Not a test: nothing here asserts on time.

use std::path::Path;
use std::time::Instant;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 11 };
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    let mut names: Vec<_> = std::fs::read_dir(&spec)
        .expect("spec/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    let (mut parse, mut generate) = (Vec::new(), Vec::new());
    let mut lines = 0;
    // Interleaved, so that both see the same machine noise.
    for _ in 0..rounds {
        let start = Instant::now();
        for name in &names {
            let text = std::fs::read_to_string(name).expect("spec file is readable");
            let tree: serde_yaml::Value = serde_yaml::from_str(&text).expect("spec file is YAML");
            std::hint::black_box(tree);
        }
        parse.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let files = wechat_card_codegen::generate(&spec, "spec").expect("the spec generates");
        generate.push(start.elapsed().as_secs_f64() * 1e3);
        lines = files.iter().map(|f| f.text.lines().count()).sum();
    }
    let (parse, generate) = (median(parse), median(generate));
    println!(
        "whole spec ({} files) -> {lines} lines of output, median of {rounds}:",
        names.len()
    );
    println!("  baseline  read the YAML into a tree   {parse:>8.1} ms");
    println!(
        "  codegen   parse, check, emit, format  {generate:>8.1} ms  ({:.1}x the baseline; target ≤ 300 ms)",
        generate / parse
    );
}
