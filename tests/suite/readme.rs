//! The README (which is also the crate docs) stays true to the spec, and its links work wherever
//! it is read: in rustdoc, on crates.io, on docs.rs and in a clone.

const README: &str = include_str!("../../README.md");

/// The numbers the README states are the spec's.
#[test]
fn counts_match_the_spec() {
    let endpoints = wechat_card::ENDPOINTS.len();
    assert!(
        README.contains(&format!("All {endpoints} endpoints")),
        "README.md must say \"All {endpoints} endpoints\" (wechat_card::ENDPOINTS has {endpoints})"
    );
    let events = wechat_card::EVENTS.len();
    assert!(
        README.contains(&format!("the {events} events WeChat pushes")),
        "README.md must say \"the {events} events WeChat pushes\" (wechat_card::EVENTS has {events})"
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
