//! Percent-encoding of query values and URL parts (RFC 3986), shared by the client (redaction of
//! an encoded secret) and the sandbox (the links and tickets it builds).

/// Percent-encodes everything but the unreserved characters of RFC 3986
/// (`A-Z a-z 0-9 - . _ ~`), with uppercase hexadecimal digits.
pub(crate) fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a b+/=&?"), "a%20b%2B%2F%3D%26%3F");
        assert_eq!(percent_encode("卡"), "%E5%8D%A1");
        assert_eq!(percent_encode(""), "");
    }
}
