//! Reading answers: the status, the `errcode`/`errmsg` envelope, the typed body, the size
//! limit, the token and ticket answers; every error with the secrets masked.

use std::fmt;

use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::{ApiError, DecodeError, Error};
use crate::logging;
use crate::secret::{Secret, excerpt, redact};
use crate::token::Fetched;

/// Bytes of a body kept in a [`DecodeError`].
const EXCERPT_BYTES: usize = 256;

/// The error for an answer larger than `limit` bytes (its `Content-Length`, or what was read).
pub(crate) fn too_large(endpoint: &str, status: u16, limit: u64) -> Error {
    Error::Decode(DecodeError {
        endpoint: endpoint.to_owned(),
        status,
        message: format!("the answer is larger than the limit of {limit} bytes"),
        excerpt: String::new(),
    })
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// A number or a numeric string, like the integers of every other answer.
    #[serde(default, deserialize_with = "crate::wire::lenient_int")]
    expires_in: Option<i64>,
}

/// Reads the answer of a token fetch from `path` (`cgi-bin/token` or `cgi-bin/stable_token`):
/// a token that is not empty and plausible ([`crate::token::implausible_token`]), its lifetime,
/// and a log record of the fetch.
pub(crate) fn read_token(
    path: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    force_refresh: bool,
) -> Result<Fetched, Error> {
    let answer: TokenAnswer = decode_with(path, status, body, secrets)?;
    if answer.access_token.is_empty() {
        return Err(Error::Decode(DecodeError {
            endpoint: path.to_owned(),
            status: 200,
            message: "the answer has an empty access_token".into(),
            excerpt: String::new(),
        }));
    }
    if let Some(why) = crate::token::implausible_token(&answer.access_token) {
        return Err(implausible(path, "access_token", &why));
    }
    logging::fetched("an access token", path, answer.expires_in, force_refresh);
    Ok(Fetched {
        token: Secret::new(answer.access_token),
        expires_in: answer.expires_in,
        remaining: None,
    })
}

/// The card api_ticket from a `cgi-bin/ticket/getticket` answer: not empty, plausible, logged.
pub(crate) fn read_ticket(answer: crate::GetApiTicketResponse) -> Result<Fetched, Error> {
    const PATH: &str = "cgi-bin/ticket/getticket";
    if answer.ticket.is_empty() {
        return Err(Error::Decode(DecodeError {
            endpoint: PATH.to_owned(),
            status: 200,
            message: "the answer has an empty ticket".into(),
            excerpt: String::new(),
        }));
    }
    if let Some(why) = crate::token::implausible_token(answer.ticket.expose()) {
        return Err(implausible(PATH, "ticket", &why));
    }
    logging::fetched("the card api_ticket", PATH, answer.expires_in, false);
    Ok(Fetched {
        token: answer.ticket,
        expires_in: answer.expires_in,
        remaining: None,
    })
}

/// The error for a fetched token or ticket that is not a plausible one (`why` never shows the
/// value): not cached, not shared.
fn implausible(endpoint: &str, field: &str, why: &str) -> Error {
    Error::Decode(DecodeError {
        endpoint: endpoint.to_owned(),
        status: 200,
        message: format!("the answer's {field} is refused: {why}"),
        excerpt: String::new(),
    })
}

/// The error for an answer a driver accepted but never decoded: cannot happen.
pub(crate) fn undecoded(path: &str) -> Error {
    Error::Config(format!("{path}: no answer was decoded"))
}

/// The `errcode`/`errmsg` envelope of every WeChat answer. Only a JSON object is accepted
/// (serde's derive would also take an array); other keys are skipped without allocating.
///
/// WeChat's answers are read as leniently as they come and as strictly as matters: `errcode`
/// as an integer or a numeric string (`"40099"`), `errmsg` as a string whose invalid UTF-8 is
/// replaced by U+FFFD (the code still counts), either of them `null` as absent. A key that
/// comes twice is refused: which of two `errcode`s holds is a guess, and guessing `0` would turn
/// a refused call into a success.
struct Envelope {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// `errcode`: an integer or a numeric string.
struct Errcode(i64);

impl<'de> serde::Deserialize<'de> for Errcode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Errcode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("errcode as an integer or a string of one")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Errcode, E> {
                Ok(Errcode(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Errcode, E> {
                i64::try_from(v)
                    .map(Errcode)
                    .map_err(|_| E::custom(format_args!("errcode {v} is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Errcode, E> {
                parse_errcode(v)
                    .map(Errcode)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `errcode` written as a string: an optional `-` and digits, in range.
fn parse_errcode(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `errmsg`: a string, its invalid UTF-8 replaced.
struct Errmsg(String);

impl<'de> serde::Deserialize<'de> for Errmsg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Errmsg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("errmsg as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Errmsg, E> {
                Ok(Errmsg(v.to_owned()))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Errmsg, E> {
                Ok(Errmsg(String::from_utf8_lossy(v).into_owned()))
            }
        }
        // serde_json hands a string over as its bytes (escapes decoded) without checking
        // their UTF-8, which `visit_bytes` then repairs.
        deserializer.deserialize_bytes(Visitor)
    }
}

impl<'de> serde::Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Envelope, A::Error> {
                use serde::de::Error as _;
                let mut envelope = Envelope {
                    errcode: None,
                    errmsg: None,
                };
                let (mut seen_code, mut seen_msg) = (false, false);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let seen = match &*key {
                        "errcode" => &mut seen_code,
                        "errmsg" => &mut seen_msg,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if std::mem::replace(seen, true) {
                        return Err(A::Error::custom(format_args!(
                            "duplicate key {:?}: the answer is ambiguous",
                            &*key
                        )));
                    }
                    if &*key == "errcode" {
                        envelope.errcode = map.next_value::<Option<Errcode>>()?.map(|c| c.0);
                    } else {
                        envelope.errmsg = map.next_value::<Option<Errmsg>>()?.map(|m| m.0);
                    }
                }
                Ok(envelope)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Decodes a WeChat answer body: the `errcode`/`errmsg` envelope once (`errcode` absent or `0`
/// means success, anything else is an [`Error::Api`]), then the whole body into `Resp`.
///
/// A body that is not a JSON object, does not fit `Resp`, or comes with a non-2xx status
/// without a non-zero `errcode` is an [`Error::Decode`] carrying the status and the first 256
/// bytes of the body (cut at a character boundary, with token-like values masked).
#[cfg(any(test, feature = "tooling"))]
pub(crate) fn decode_response<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Result<Resp, Error> {
    decode_with(endpoint, status, body, &[])
}

/// [`decode_response`], also masking the given secrets in messages and excerpts.
pub(crate) fn decode_with<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Resp, Error> {
    check_envelope(endpoint, status, body, secrets)?;
    decode_typed(endpoint, status, body, secrets)
}

/// A [`DecodeError`] about `body`, with the secrets masked.
fn decode_error(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    message: &str,
) -> Error {
    Error::Decode(DecodeError {
        endpoint: endpoint.to_owned(),
        status,
        message: redact(message, secrets),
        excerpt: excerpt(body, EXCERPT_BYTES, secrets),
    })
}

/// The `errcode`/`errmsg` envelope and the status of an answer: `Ok` when the body is a JSON
/// object, its `errcode` absent or `0` and the status 2xx.
pub(crate) fn check_envelope(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<(), Error> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        if (200..300).contains(&status) {
            decode_error(endpoint, status, body, secrets, &envelope_problem(body, &e))
        } else {
            decode_error(
                endpoint,
                status,
                body,
                secrets,
                "an error page, not WeChat JSON",
            )
        }
    })?;
    match envelope.errcode {
        Some(errcode) if errcode != 0 => {
            return Err(Error::Api(ApiError {
                endpoint: endpoint.to_owned(),
                errcode,
                errmsg: redact(envelope.errmsg.as_deref().unwrap_or(""), secrets),
            }));
        }
        _ => {}
    }
    if !(200..300).contains(&status) {
        return Err(decode_error(
            endpoint,
            status,
            body,
            secrets,
            &format!("HTTP status {status}"),
        ));
    }
    Ok(())
}

/// What is wrong with an answer whose envelope did not decode: not JSON, not an object, or
/// which of `errcode`/`errmsg` is not as expected (serde's message names it).
fn envelope_problem(body: &[u8], e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("the answer is not valid JSON: {e}")
        }
        Category::Data if body.trim_ascii_start().first() != Some(&b'{') => {
            format!("the answer is not a JSON object: {e}")
        }
        Category::Data => format!("the answer's errcode/errmsg envelope is not valid: {e}"),
    }
}

/// Decodes an answer whose envelope was checked into `Resp`; the only part of the call path
/// compiled once per response type.
pub(crate) fn decode_typed<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Resp, Error> {
    serde_json::from_slice(body).map_err(|e| shape_error(endpoint, status, body, secrets, &e))
}

fn shape_error(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    e: &serde_json::Error,
) -> Error {
    decode_error(
        endpoint,
        status,
        body,
        secrets,
        &format!("the answer does not have the expected shape: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_then_body() {
        #[derive(serde::Deserialize, Debug)]
        struct R {
            n: u32,
        }
        let ok: R = decode_response("p", 200, br#"{"errcode":0,"errmsg":"ok","n":3}"#).unwrap();
        assert_eq!(ok.n, 3);
        let ok: R = decode_response("p", 200, br#"{"n":4}"#).unwrap();
        assert_eq!(ok.n, 4);
        let err = decode_response::<R>("p", 200, br#"{"errcode":40056,"errmsg":"bad code"}"#)
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40056));
        assert_eq!(err.endpoint(), Some("p"));
        // An errcode wins over a non-2xx status.
        let err = decode_response::<R>("p", 503, br#"{"errcode":-1,"errmsg":"busy"}"#).unwrap_err();
        assert!(err.is_retryable());
        let Error::Decode(d) =
            decode_response::<R>("p", 502, b"<html>Bad gateway</html>").unwrap_err()
        else {
            panic!()
        };
        assert_eq!(
            (d.status, d.excerpt.as_str()),
            (502, "<html>Bad gateway</html>")
        );
        let Error::Decode(d) = decode_response::<R>("p", 200, br#"{"n":"x"}"#).unwrap_err() else {
            panic!()
        };
        assert!(d.message.contains("expected shape"), "{}", d.message);
        assert!(matches!(
            decode_response::<R>("p", 200, b""),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            decode_response::<R>("p", 200, b"[1]"),
            Err(Error::Decode(_))
        ));
        let () = decode_response::<IgnoredAny>("p", 200, br#"{"errcode":0}"#)
            .map(|_| ())
            .unwrap();
    }

    #[test]
    fn token_and_ticket_answers() {
        let fetched = read_token(
            "cgi-bin/token",
            200,
            br#"{"access_token":"AT","expires_in":"7200"}"#,
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            (fetched.token.expose(), fetched.expires_in),
            ("AT", Some(7200))
        );
        for bad in [
            &br#"{"access_token":""}"#[..],
            br#"{"access_token":"a b"}"#,
            br#"{"errcode":40013,"errmsg":"invalid appid"}"#,
        ] {
            assert!(read_token("cgi-bin/token", 200, bad, &[], false).is_err());
        }
        let long = format!(
            r#"{{"access_token":"{}"}}"#,
            "x".repeat(crate::MAX_TOKEN_LEN + 1)
        );
        let err = read_token("cgi-bin/token", 200, long.as_bytes(), &[], false).unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        let ticket: crate::GetApiTicketResponse =
            serde_json::from_str(r#"{"errcode":0,"ticket":"TK","expires_in":7200}"#).unwrap();
        assert_eq!(read_ticket(ticket).unwrap().token.expose(), "TK");
        let empty: crate::GetApiTicketResponse =
            serde_json::from_str(r#"{"errcode":0,"ticket":"","expires_in":7200}"#).unwrap();
        assert!(read_ticket(empty).is_err());
    }
}
