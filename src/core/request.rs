//! Building requests: the payload of a call, its URL, the token fetch requests.

use serde::Serialize;

use crate::error::Error;
use crate::percent::percent_encode_into;
use crate::schema::{Call, HttpMethod};
use crate::secret::{Secret, redact};
use crate::token::TokenSource;
use crate::validate::{Rule, Validate, ValidationError};

/// `POST cgi-bin/stable_token`.
pub(crate) const STABLE_TOKEN_PATH: &str = "cgi-bin/stable_token";
/// `GET cgi-bin/token`.
pub(crate) const CLASSIC_TOKEN_PATH: &str = "cgi-bin/token";

/// Which token a call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// The official account's access_token, as `?access_token=`.
    Access,
    /// The open platform's component_access_token, as `?component_access_token=`.
    Component,
}

impl TokenKind {
    /// Which token an endpoint of the spec is called with.
    pub(crate) fn of(auth: crate::schema::Auth) -> TokenKind {
        match auth {
            crate::schema::Auth::ComponentAccessToken => TokenKind::Component,
            _ => TokenKind::Access,
        }
    }

    /// The query parameter that carries it.
    fn key(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Component => "component_access_token",
        }
    }

    /// What it is called in log records.
    pub(crate) fn what(self) -> &'static str {
        match self {
            TokenKind::Access => "the access token",
            TokenKind::Component => "the component_access_token",
        }
    }
}

/// What a request carries besides the access token.
#[derive(Debug)]
pub(crate) enum Payload {
    /// A JSON body (`POST`).
    Body(Vec<u8>),
    /// Query parameters (`GET`).
    Query(Vec<(String, String)>),
}

impl Payload {
    /// Encodes `request` for `method`: the only part of encoding compiled per request type.
    pub(crate) fn encode<Req: Serialize + ?Sized>(
        method: HttpMethod,
        request: &Req,
    ) -> Result<Payload, Error> {
        Payload::new(method, serde_json::to_vec(request).map_err(unencodable)?)
    }

    /// The payload of a request already encoded as JSON: the body itself for `POST` (`{}` for a
    /// request without fields, which serializes as `null`), its fields as query parameters for
    /// `GET` (strings as they are, numbers and booleans as text, nested values as JSON text,
    /// `null`s left out).
    ///
    /// `GET` requests are decoded back from the JSON text rather than serialized to a
    /// `serde_json::Value` directly, so that a request type compiles one encoder, not two; they
    /// are a few short fields.
    fn new(method: HttpMethod, json: Vec<u8>) -> Result<Payload, Error> {
        let not_an_object = |kind: &str| {
            Error::Validation(ValidationError::new(
                "",
                Rule::Decode {
                    message: format!(
                        "a GET request must be a JSON object to become query parameters, not \
                         {kind}"
                    ),
                },
            ))
        };
        match method {
            HttpMethod::Post if json == b"null" => Ok(Payload::Body(b"{}".to_vec())),
            HttpMethod::Post => Ok(Payload::Body(json)),
            HttpMethod::Get => {
                let value: serde_json::Value =
                    serde_json::from_slice(&json).map_err(unencodable)?;
                let map = match value {
                    serde_json::Value::Object(map) => map,
                    serde_json::Value::Null => serde_json::Map::new(),
                    other => return Err(not_an_object(json_kind(&other))),
                };
                let pairs = map
                    .into_iter()
                    .filter_map(|(key, value)| {
                        let text = match value {
                            serde_json::Value::Null => return None,
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Bool(b) => b.to_string(),
                            serde_json::Value::Number(n) => n.to_string(),
                            nested => nested.to_string(),
                        };
                        Some((key, text))
                    })
                    .collect();
                Ok(Payload::Query(pairs))
            }
        }
    }

    /// The body to send: `Some` for `POST`, `None` for `GET`.
    pub(crate) fn body(&self) -> Option<&[u8]> {
        match self {
            Payload::Body(body) => Some(body),
            Payload::Query(_) => None,
        }
    }
}

/// The URL of a call of `path` on `base_url` (without a trailing slash): the token, then for a
/// `GET` the query parameters, each percent-encoded. It holds the token: it is never logged nor
/// put in an error.
pub(crate) fn url(
    base_url: &str,
    path: &str,
    token: Option<(TokenKind, &Secret)>,
    payload: &Payload,
) -> String {
    let mut url = String::with_capacity(base_url.len() + path.len() + 256);
    url.push_str(base_url);
    url.push('/');
    url.push_str(path);
    let mut separator = '?';
    let mut push = |url: &mut String, key: &str, value: &str| {
        url.push(separator);
        separator = '&';
        percent_encode_into(url, key);
        url.push('=');
        percent_encode_into(url, value);
    };
    if let Some((kind, token)) = token {
        push(&mut url, kind.key(), token.expose());
    }
    if let Payload::Query(pairs) = payload {
        for (key, value) in pairs {
            push(&mut url, key, value);
        }
    }
    url
}

/// The request that fetches an access token with the app's credentials from `source`.
/// `force_refresh` applies to the stable token endpoint only.
pub(crate) fn token_request(
    source: TokenSource,
    appid: &str,
    secret: &Secret,
    force_refresh: bool,
) -> Result<(&'static str, Payload), Error> {
    match source {
        TokenSource::Classic => Ok((
            CLASSIC_TOKEN_PATH,
            Payload::Query(vec![
                ("grant_type".to_owned(), "client_credential".to_owned()),
                ("appid".to_owned(), appid.to_owned()),
                ("secret".to_owned(), secret.expose().to_owned()),
            ]),
        )),
        _ => {
            let body = serde_json::to_vec(&StableTokenRequest {
                grant_type: "client_credential",
                appid,
                secret: secret.expose(),
                force_refresh,
            })
            .map_err(|e| Error::Config(format!("could not encode the token request: {e}")))?;
            Ok((STABLE_TOKEN_PATH, Payload::Body(body)))
        }
    }
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

/// A generated method's request, checked and encoded: validated against the spec (nothing is
/// sent when it breaks a rule), then the payload for the endpoint's method, and the token the
/// endpoint is called with.
pub(crate) fn prepare<Req: Validate + Serialize + ?Sized>(
    endpoint: &Call,
    request: &Req,
) -> Result<(TokenKind, Payload), Error> {
    request.validate()?;
    Ok((
        TokenKind::of(endpoint.auth),
        Payload::encode(endpoint.method, request)?,
    ))
}

/// [`call_json`](crate::Client::call_json)'s path and payload: the path checked (its error
/// masks the `known` secrets), the body encoded, nothing validated.
pub(crate) fn prepare_json<'a, Req: Serialize + ?Sized>(
    method: HttpMethod,
    path: &'a str,
    body: &Req,
    known: &[Secret],
) -> Result<(&'a str, Payload), Error> {
    let known: Vec<&str> = known.iter().map(Secret::expose).collect();
    Ok((endpoint_path(path, &known)?, Payload::encode(method, body)?))
}

/// `path` as [`call_json`](crate::Client::call_json) takes it: relative to the base URL, a
/// leading `/` ignored, no query, fragment, whitespace or control character. The error masks
/// `secrets` (a caller may paste a URL with its token).
fn endpoint_path<'a>(path: &'a str, secrets: &[&str]) -> Result<&'a str, Error> {
    let path = path.trim().trim_start_matches('/');
    if path.is_empty()
        || path
            .chars()
            .any(|c| matches!(c, '?' | '#') || c.is_whitespace() || c.is_control())
    {
        let message =
            format!("{path:?} is not an endpoint path (no query, fragment or whitespace)");
        return Err(Error::Config(redact(&message, secrets)));
    }
    Ok(path)
}

/// A request that serde could not encode (a map with non-string keys in a `Json` field, a
/// user's `Serialize` impl failing): nothing was sent.
fn unencodable(e: serde_json::Error) -> Error {
    Error::Validation(ValidationError::new(
        "",
        Rule::Decode {
            message: format!("the request cannot be encoded as JSON: {e}"),
        },
    ))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_become_query_pairs() {
        let Payload::Query(pairs) = Payload::encode(
            HttpMethod::Get,
            &serde_json::json!({"type": "wx_card", "n": 3, "b": true, "none": null, "l": [1, 2]}),
        )
        .unwrap() else {
            panic!()
        };
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("b", "true"),
                ("l", "[1,2]"),
                ("n", "3"),
                ("type", "wx_card")
            ]
        );
        assert!(
            matches!(Payload::encode(HttpMethod::Get, &()), Ok(Payload::Query(p)) if p.is_empty())
        );
        assert!(matches!(
            Payload::encode(HttpMethod::Get, &[1]),
            Err(Error::Validation(_))
        ));
        assert!(
            matches!(Payload::encode(HttpMethod::Post, &()), Ok(Payload::Body(b)) if b == b"{}")
        );
        // Numbers keep their text through the JSON round trip.
        let Ok(Payload::Query(pairs)) = Payload::encode(
            HttpMethod::Get,
            &serde_json::json!({"big": u64::MAX, "neg": -7, "f": 0.1}),
        ) else {
            panic!()
        };
        assert_eq!(
            pairs,
            [
                ("big".to_owned(), u64::MAX.to_string()),
                ("f".to_owned(), "0.1".to_owned()),
                ("neg".to_owned(), "-7".to_owned()),
            ]
        );
    }

    #[test]
    fn urls_carry_the_token_then_the_query() {
        let token = Secret::new("T/k+n");
        let get = Payload::Query(vec![("type".into(), "wx card".into())]);
        assert_eq!(
            url(
                "http://h",
                "cgi-bin/ticket/getticket",
                Some((TokenKind::Access, &token)),
                &get
            ),
            "http://h/cgi-bin/ticket/getticket?access_token=T%2Fk%2Bn&type=wx%20card"
        );
        let post = Payload::Body(b"{}".to_vec());
        assert_eq!(
            url("http://h", "c", Some((TokenKind::Component, &token)), &post),
            "http://h/c?component_access_token=T%2Fk%2Bn"
        );
        assert_eq!(url("http://h", "c", None, &post), "http://h/c");
        assert_eq!(post.body(), Some(&b"{}"[..]));
        assert_eq!(get.body(), None);
    }

    #[test]
    fn token_requests() {
        let secret = Secret::new("s3cret");
        let (path, payload) = token_request(TokenSource::Stable, "wx1", &secret, true).unwrap();
        assert_eq!(path, STABLE_TOKEN_PATH);
        assert_eq!(
            payload.body(),
            Some(
                &br#"{"grant_type":"client_credential","appid":"wx1","secret":"s3cret","force_refresh":true}"#[..]
            )
        );
        let (path, payload) = token_request(TokenSource::Classic, "wx1", &secret, false).unwrap();
        assert_eq!(path, CLASSIC_TOKEN_PATH);
        assert_eq!(
            url("http://h", path, None, &payload),
            "http://h/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3cret"
        );
    }

    #[test]
    fn endpoint_paths() {
        assert_eq!(endpoint_path(" /card/get ", &[]).unwrap(), "card/get");
        for bad in ["", "/", "card/get?x=1", "card#a", "card get", "ca\nrd"] {
            assert!(endpoint_path(bad, &[]).is_err(), "{bad:?}");
        }
        let err = endpoint_path("card/get?access_token=TOKEN", &["TOKEN"]).unwrap_err();
        assert!(!err.to_string().contains("TOKEN"), "{err}");
    }
}
