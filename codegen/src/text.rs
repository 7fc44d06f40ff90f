//! Helpers for writing Rust source: identifiers, doc attributes, rustdoc-safe prose, raw strings.
//!
//! Takes: names and prose from the model. Gives: tokens and strings for [`crate::emit`],
//! [`crate::tables`] and [`crate::docs`]. Depends on no other module of the generator.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::types::IntKind;

pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Doc attributes from text: one `#[doc = " line"]` per line.
pub fn docs(text: &str) -> TokenStream {
    let mut out = TokenStream::new();
    let text = text.trim_end();
    for line in text.lines() {
        let line = if line.trim().is_empty() {
            String::new()
        } else {
            format!(" {}", line.trim_end())
        };
        out.extend(quote!(#[doc = #line]));
    }
    out
}

/// Makes prose from the spec safe for rustdoc: outside `code spans`, brackets and angle brackets
/// are escaped (no accidental intra-doc links or HTML tags) and bare URLs are wrapped in `<…>`.
pub fn escape_doc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(part);
            continue;
        }
        let mut rest = part;
        while !rest.is_empty() {
            let url_at = ["https://", "http://"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min();
            let (plain, tail) = match url_at {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            for c in plain.chars() {
                match c {
                    '[' | ']' | '<' | '>' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            if tail.is_empty() {
                break;
            }
            let end = tail
                .find(|c: char| c.is_whitespace() || "，。、；）)\"'<>".contains(c))
                .unwrap_or(tail.len());
            out.push('<');
            out.push_str(&tail[..end]);
            out.push('>');
            rest = &tail[end..];
        }
    }
    out
}

/// First sentence-ish line of a doc, for setter docs.
pub fn summary(doc: &str) -> String {
    doc.lines().next().unwrap_or("").trim().to_owned()
}

/// A raw string literal (`r#"…"#`), so that JSON reads as JSON in the generated code.
pub fn raw_string(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let source = format!("r{hashes}\"{text}\"{hashes}");
    source.parse().unwrap_or_else(|_| quote!(#text))
}

/// An integer type's inclusive range as literals: the spec's bounds, else the type's own.
pub fn bounds(kind: IntKind, min: Option<i128>, max: Option<i128>) -> (Literal, Literal) {
    let (lo, hi) = kind.bounds();
    (
        Literal::i128_unsuffixed(min.unwrap_or(lo)),
        Literal::i128_unsuffixed(max.unwrap_or(hi)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_escaping() {
        assert_eq!(escape_doc("a [b] <c> `[d]`"), "a \\[b\\] \\<c\\> `[d]`");
        assert_eq!(
            escape_doc("see http://x.com/a?b=1 now"),
            "see <http://x.com/a?b=1> now"
        );
        assert_eq!(escape_doc("链接http://x.com。"), "链接<http://x.com>。");
        assert_eq!(escape_doc("**bold**"), "**bold**");
    }
}
