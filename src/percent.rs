//! Percent-encoding of query values and URL parts (RFC 3986), shared by the client (redaction of
//! an encoded secret) and the sandbox (the links and tickets it builds), and the decoding of a
//! query string (the callback's parameters, the sandbox's requests).

/// Percent-encodes everything but the unreserved characters of RFC 3986
/// (`A-Z a-z 0-9 - . _ ~`), with uppercase hexadecimal digits.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    percent_encode_into(&mut out, value);
    out
}

/// [`percent_encode`], appended to `out` (a URL being built: no string of its own).
pub(crate) fn percent_encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    let mut rest = value;
    // Runs of unreserved characters (a token is one run) are copied whole.
    while let Some(at) = rest.bytes().position(|b| !unreserved(b)) {
        out.push_str(&rest[..at]);
        let len = rest[at..].chars().next().map_or(1, char::len_utf8);
        for &b in &rest.as_bytes()[at..at + len] {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        rest = &rest[at + len..];
    }
    out.push_str(rest);
}

/// Decodes a query-string value: `%XX` (two hexadecimal digits) is that byte, `+` a space; a
/// `%` not followed by two hexadecimal digits is kept as it is. Bytes that are not UTF-8 are
/// replaced (U+FFFD).
#[cfg(feature = "events")]
pub(crate) fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `key=value` pairs of a query string (without the `?`), decoded, in order; a pair without
/// `=` has an empty value, empty pairs are skipped. (The callback's parameters, the sandbox's
/// requests.)
#[cfg(feature = "events")]
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[cfg(feature = "events")]
    #[test]
    fn decodes_what_it_encodes_and_keeps_a_stray_percent() {
        use super::percent_decode;
        for text in ["aZ09-._~", "a b+/=&?", "卡券", "", "%"] {
            assert_eq!(percent_decode(&percent_encode(text)), text);
        }
        assert_eq!(percent_decode("a+b%20c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        // A sign is not a hexadecimal digit: the `%` stays, the `+` is a space.
        assert_eq!(percent_decode("%+f"), "% f");
        assert_eq!(percent_decode("%ff"), "\u{FFFD}");
    }

    #[cfg(feature = "events")]
    #[test]
    fn parses_a_query() {
        use super::parse_query;
        let pairs = parse_query("access_token=a%2Bb&type=wx_card&&flag");
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("access_token", "a+b"), ("type", "wx_card"), ("flag", "")]
        );
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a b+/=&?"), "a%20b%2B%2F%3D%26%3F");
        assert_eq!(percent_encode("卡"), "%E5%8D%A1");
        assert_eq!(percent_encode(""), "");
        assert_eq!(percent_encode("a卡b c"), "a%E5%8D%A1b%20c");
        assert_eq!(percent_encode("--%"), "--%25");
    }
}
