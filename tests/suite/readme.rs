//! The README (which is also the crate docs) stays true to the spec, and its links work wherever
//! it is read: in rustdoc, on crates.io, on docs.rs and in a clone.

const README: &str = include_str!("../../README.md");

/// The README states no number that the spec decides: a new endpoint, event or errcode in the
/// spec must not need a hand edit here. (It used to say "All 75 endpoints", checked against
/// `ENDPOINTS`; now docs/endpoints.md, generated, gives the figures.)
#[test]
fn states_no_count_the_spec_decides() {
    let words = [
        "endpoint",
        "endpoints",
        "event",
        "events",
        "errcode",
        "errcodes",
        "type",
        "types",
    ];
    let mut found = Vec::new();
    let tokens: Vec<&str> = README.split_whitespace().collect();
    for pair in tokens.windows(2) {
        // "75 endpoints", "(17 events": a bare number before the noun, not "-1: errcode".
        let number = pair[0].trim_start_matches(['(', '*']);
        let noun = pair[1].trim_matches(|c: char| !c.is_ascii_alphanumeric());
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) && words.contains(&noun)
        {
            found.push(format!("{} {}", pair[0], pair[1]));
        }
    }
    assert!(
        found.is_empty(),
        "README.md states counts the spec decides ({found:?}); word it so that a spec edit needs \
         no hand edit, and point to docs/endpoints.md for the figures"
    );
}

/// Every Markdown link target in the README is an absolute URL or an anchor of the page:
/// a relative link (`docs/endpoints.md`) is broken in rustdoc, which renders the README as the
/// crate's page.
#[test]
fn links_are_absolute_or_anchors() {
    let mut rest = README;
    let mut bad = Vec::new();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = &after[..end];
        if !(target.starts_with("https://") || target.starts_with('#')) {
            bad.push(target.to_owned());
        }
        rest = &after[end..];
    }
    assert!(bad.is_empty(), "relative links in README.md: {bad:?}");
}

/// The files the README links to on docs.rs are in the package.
#[test]
fn linked_files_are_packaged() {
    let manifest = include_str!("../../Cargo.toml");
    let prefix = "https://docs.rs/crate/wechat-card/latest/source/";
    let mut rest = README;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let end = after.find(')').unwrap_or(after.len());
        let file = &after[..end];
        let top = file.split('/').next().unwrap_or_default();
        assert!(
            manifest.contains(&format!("\"{top}/**\""))
                || manifest.contains(&format!("\"{file}\"")),
            "{file} is linked from README.md but not in Cargo.toml's `include`"
        );
        let on_disk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        assert!(
            on_disk.exists(),
            "{file} is linked from README.md but does not exist"
        );
        rest = &after[end..];
    }
}
