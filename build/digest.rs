//! The digest of a spec: which spec the committed generated code was made from.
//!
//! Compiled into the crate's `build.rs`, which checks with it that the committed code in
//! `src/generated` was generated from the `spec/` at hand, and into the generator
//! (`codegen/src/lib.rs` includes this file by path), which records the digest in the
//! generated `api.rs`. It ships in the wechat-card package (the generator does not), so it
//! uses nothing but `std`.

/// The line of the generated `api.rs` that records the digest: `// spec digest: 0123…`.
pub const DIGEST_LINE_PREFIX: &str = "// spec digest: ";

/// FNV-1a (64 bits) of the `(file name, text)` pairs in the order given (sorted by name, as the
/// generator reads them), each part followed by a `0xff` byte, which UTF-8 text never holds.
/// Not cryptographic: it tells an edited spec from the one the code was generated from.
pub fn spec_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, text) in files {
        eat(name.as_bytes());
        eat(text.as_bytes());
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_boundaries() {
        assert_eq!(spec_digest([]), 0xcbf2_9ce4_8422_2325);
        // The name/text boundary counts: moving a byte across it changes the digest.
        assert_ne!(spec_digest([("a", "bc")]), spec_digest([("ab", "c")]));
        assert_ne!(
            spec_digest([("a.yaml", "x"), ("b.yaml", "y")]),
            spec_digest([("b.yaml", "y"), ("a.yaml", "x")])
        );
        assert_eq!(spec_digest([("a", "b")]), spec_digest([("a", "b")]));
    }
}
