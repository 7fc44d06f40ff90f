//! Secrets (access tokens, app secrets) and the redaction of secrets from text.
//!
//! Secrets travel inside [`Secret`], whose `Debug` and `Display` print `***`. Every message the
//! library stores in an [`Error`](crate::Error) that could contain text from outside (a body
//! excerpt, WeChat's `errmsg`, a transport error that may quote the request URL) goes through
//! [`redact`] first.

use std::fmt;
use std::sync::Arc;

use crate::percent::percent_encode;

/// A secret string: an access token, an app secret, a ticket.
///
/// `Debug` and `Display` print `***`, so a `Secret` can sit in structs that derive `Debug`
/// without leaking. Read the value with [`expose`](Secret::expose), only where it is sent.
/// Cloning is cheap (the text is shared).
///
/// ```
/// use wechat_card::Secret;
///
/// let token = Secret::new("TOKEN-SECRET-123");
/// assert_eq!(format!("{token} {token:?}"), "*** ***");
/// assert_eq!(token.expose(), "TOKEN-SECRET-123");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret value. Use it only to send it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(Arc::from(value))
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Secret::from(value.as_str())
    }
}

/// Serializes the secret's **value** (it is how a secret is sent); `Debug` and `Display` still
/// print `***`. Used by generated types whose fields the spec types `secret` (the api_ticket).
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A plain string; the secret module sits below `wire` and imports nothing from it.
        <String as serde::Deserialize>::deserialize(deserializer)
            .map(|value| Secret::from(value.as_str()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What secrets are replaced with.
pub(crate) const MASK: &str = "***";

/// Query parameters whose values are always masked, whatever they are.
const SECRET_QUERY_KEYS: &[&str] = &["access_token=", "secret=", "ticket="];

/// JSON keys whose string values are always masked, whatever they are (a token endpoint's answer
/// carries a token the client does not know yet).
const SECRET_JSON_KEYS: &[&str] = &[
    "\"access_token\"",
    "\"secret\"",
    "\"appsecret\"",
    "\"ticket\"",
];

/// Removes secrets from `text`: every known secret (raw and percent-encoded), the values of the
/// `access_token=`, `secret=` and `ticket=` query parameters, the string values of the JSON
/// keys `access_token`, `secret`, `appsecret` and `ticket`, JSON strings that hold a known
/// secret once their escapes are decoded (`"\u0054OKEN"`), and the beginning of a known secret
/// cut off by an excerpt's `…`. Empty secrets are ignored.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, MASK);
        }
        let encoded = percent_encode(secret);
        if encoded != *secret && out.contains(&encoded) {
            out = out.replace(&encoded, MASK);
        }
    }
    for key in SECRET_QUERY_KEYS {
        out = mask_query_values(&out, key);
    }
    for key in SECRET_JSON_KEYS {
        out = mask_json_values(&out, key);
    }
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    if !secrets.is_empty() {
        if out.contains('\\') {
            out = mask_escaped_strings(&out, &secrets);
        }
        if out.contains(CUT) {
            out = mask_cut_prefixes(&out, &secrets);
        }
    }
    out
}

/// The mark of a cut excerpt (here, in validation errors, and in the sandbox's messages).
const CUT: char = '…';

/// The shortest prefix of a secret masked before a [`CUT`] mark.
const MIN_CUT_PREFIX: usize = 6;

/// Masks the content of every JSON string literal (`"…"`, one cut off by the end of the text
/// included) that holds escapes and whose unescaped text contains a secret: `"\u0054OKEN"` is
/// `"TOKEN"`.
fn mask_escaped_strings(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let inner = &rest[open + 1..];
        let mut end = inner.len();
        let mut escaped = false;
        let mut has_escape = false;
        for (i, c) in inner.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
                has_escape = true;
            } else if c == '"' {
                end = i;
                break;
            }
        }
        let literal = &inner[..end];
        if has_escape {
            let plain = json_unescape(literal);
            if secrets.iter().any(|s| plain.contains(s)) {
                out.push_str(MASK);
            } else {
                out.push_str(literal);
            }
        } else {
            out.push_str(literal);
        }
        // The closing quote (if any) goes out with the next round.
        match inner[end..].strip_prefix('"') {
            Some(after) => {
                out.push('"');
                rest = after;
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// JSON string escapes decoded leniently: a bad or cut-off escape is kept as it is, a lone
/// surrogate becomes U+FFFD.
fn json_unescape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut chars = literal.chars().peekable();
    let hex4 = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..4 {
            value = value * 16 + chars.peek()?.to_digit(16)?;
            chars.next();
        }
        Some(value)
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let Some(high) = hex4(&mut chars) else {
                    out.push_str("\\u");
                    continue;
                };
                let code = if (0xD800..0xDC00).contains(&high) {
                    let mut lookahead = chars.clone();
                    let low = match (lookahead.next(), lookahead.next()) {
                        (Some('\\'), Some('u')) => hex4(&mut lookahead),
                        _ => None,
                    };
                    match low {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            chars = lookahead;
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        }
                        _ => 0xFFFD,
                    }
                } else {
                    high
                };
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            // `\"`, `\\`, `\/`, and anything else: the character itself.
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Masks a secret's beginning (at least [`MIN_CUT_PREFIX`] bytes) right before a [`CUT`] mark:
/// an excerpt cut in the middle of a secret.
fn mask_cut_prefixes(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(CUT) {
        let before = &rest[..at];
        let longest = secrets
            .iter()
            .filter_map(|secret| {
                (MIN_CUT_PREFIX..=secret.len().min(before.len()))
                    .rev()
                    .filter(|&n| secret.is_char_boundary(n))
                    .find(|&n| before.ends_with(&secret[..n]))
            })
            .max();
        match longest {
            Some(n) => {
                out.push_str(&before[..before.len() - n]);
                out.push_str(MASK);
            }
            None => out.push_str(before),
        }
        out.push(CUT);
        rest = &rest[at + CUT.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Masks the value after every occurrence of `key` (`name=`), up to the next `&`, whitespace,
/// quote, `#` or `>`.
fn mask_query_values(text: &str, key: &str) -> String {
    if !text.contains(key) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let value_start = at + key.len();
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        let end = value
            .find(|c: char| {
                c == '&' || c == '#' || c == '"' || c == '\'' || c == '>' || c.is_whitespace()
            })
            .unwrap_or(value.len());
        if end > 0 && &value[..end] != MASK {
            out.push_str(MASK);
        } else {
            out.push_str(&value[..end]);
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the string value after every occurrence of the JSON key `key` (quoted), that is
/// `"key" : "value"` with any whitespace. A value cut off by the end of the text is masked too.
fn mask_json_values(text: &str, key: &str) -> String {
    if !text.contains(key) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let after_key = at + key.len();
        out.push_str(&rest[..after_key]);
        rest = &rest[after_key..];
        // `"key"` must be followed by optional whitespace, `:`, optional whitespace, `"`.
        let trimmed = rest.trim_start();
        let Some(after_colon) = trimmed.strip_prefix(':') else {
            continue;
        };
        let value = after_colon.trim_start();
        let Some(inner) = value.strip_prefix('"') else {
            continue;
        };
        // Copy everything up to and including the opening quote.
        let prefix_len = rest.len() - inner.len();
        out.push_str(&rest[..prefix_len]);
        // Find the closing quote, skipping escaped characters.
        let mut end = inner.len();
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = i;
                break;
            }
        }
        if end > 0 && &inner[..end] != MASK {
            out.push_str(MASK);
        } else {
            out.push_str(&inner[..end]);
        }
        rest = &inner[end..];
    }
    out.push_str(rest);
    out
}

/// The first `max` bytes of `body` as text (invalid UTF-8 replaced, cut at a character
/// boundary), with secrets removed. The whole body is redacted before it is cut, so a secret
/// straddling the cut cannot leave a visible prefix.
pub(crate) fn excerpt(body: &[u8], max: usize, secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut redacted = redact(&text, secrets);
    if redacted.len() > max {
        let mut cut = max;
        while !redacted.is_char_boundary(cut) {
            cut -= 1;
        }
        redacted.truncate(cut);
        redacted.push('…');
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_prints_stars() {
        let s = Secret::new("abc");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "abc");
    }

    #[test]
    fn serde_carries_the_value() {
        let s: Secret = serde_json::from_str("\"T1\"").unwrap();
        assert_eq!(s.expose(), "T1");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"T1\"");
        assert!(serde_json::from_str::<Secret>("1").is_err());
    }

    #[test]
    fn redacts_known_secrets_raw_and_encoded() {
        let out = redact("a TOK/EN b TOK%2FEN c", &["TOK/EN", ""]);
        assert_eq!(out, "a *** b *** c");
    }

    #[test]
    fn redacts_query_parameters() {
        let out = redact(
            "GET http://h/cgi-bin/token?grant_type=x&appid=a&secret=S1&x=1 access_token=T2",
            &[],
        );
        assert_eq!(
            out,
            "GET http://h/cgi-bin/token?grant_type=x&appid=a&secret=***&x=1 access_token=***"
        );
        assert_eq!(redact("access_token=&x", &[]), "access_token=&x");
    }

    #[test]
    fn redacts_json_values() {
        let out = redact(
            r#"{"access_token" : "T\"1", "expires_in":7200, "ticket":"K", "secret": 5}"#,
            &[],
        );
        assert_eq!(
            out,
            r#"{"access_token" : "***", "expires_in":7200, "ticket":"***", "secret": 5}"#
        );
        // Cut off by the end of an excerpt.
        assert_eq!(
            redact(r#"{"access_token":"ABC"#, &[]),
            r#"{"access_token":"***"#
        );
    }

    #[test]
    fn redacts_json_escaped_secrets() {
        let body = r#"{"errcode":1,"x":"a \u0054OKEN-1 b","y":"\u0041","z":"TOK\/EN-2"}"#;
        assert_eq!(
            redact(body, &["TOKEN-1", "TOK/EN-2"]),
            r#"{"errcode":1,"x":"***","y":"\u0041","z":"***"}"#
        );
        // A surrogate pair, a literal cut off by the end of the text, a bad escape.
        assert_eq!(
            redact(r#"["\ud83d\ude00X","S3\u0043RET"#, &["😀X", "S3CRET"]),
            r#"["***","***"#
        );
        assert_eq!(redact(r#""\uZZ" "\"#, &["S"]), r#""\uZZ" "\"#);
        assert_eq!(
            json_unescape(r#"a\n\t\"\\\ud800x\u00e9"#),
            "a\n\t\"\\\u{fffd}xé"
        );
    }

    #[test]
    fn redacts_a_secret_cut_by_an_excerpt() {
        let token = "ACCESS-TOKEN-0123456789";
        assert_eq!(
            redact("value \"xxACCESS-TOKEN-01…\" is too long", &[token]),
            "value \"xx***…\" is too long"
        );
        // Shorter than the minimum: kept.
        assert_eq!(redact("ACCES… ACCESS…", &[token]), "ACCES… ***…");
        assert_eq!(redact("nothing…", &[token]), "nothing…");
    }

    #[test]
    fn excerpt_cuts_at_char_boundary_after_redaction() {
        let body = "微信卡券".repeat(100);
        let e = excerpt(body.as_bytes(), 10, &[]);
        assert_eq!(e, "微信卡…");
        let body = format!("{}SECRETVALUE", "x".repeat(5));
        assert_eq!(excerpt(body.as_bytes(), 8, &["SECRETVALUE"]), "xxxxx***");
        assert_eq!(excerpt(b"\xff\xfeok", 100, &[]), "\u{fffd}\u{fffd}ok");
    }
}
