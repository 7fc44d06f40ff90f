//! Every documented example of every endpoint in the spec, sent through the typed client to a
//! scripted server on 127.0.0.1: the request must go out exactly as documented (method, path,
//! `access_token` query, JSON body), and the documented answer must decode — losslessly, so a
//! field the docs show but the spec lacks fails here.

#![cfg(feature = "tooling")]

use crate::clients::{self, AnyClient, Flavor};
use crate::support;

use serde_json::{Map, Value};
use support::{Reply, Server};
use wechat_card::schema::{Auth, ENDPOINTS, HttpMethod};
use wechat_card::{Client, Error};

const TOKEN: &str = "EXAMPLE-ACCESS-TOKEN";
const COMPONENT_TOKEN: &str = "EXAMPLE-COMPONENT-TOKEN";

fn builder(server: &Server) -> wechat_card::ClientBuilder {
    Client::builder()
        .base_url(server.url())
        .fixed_token(TOKEN)
        .component_token(COMPONENT_TOKEN)
}

fn client(server: &Server) -> Client {
    builder(server).build().expect("client")
}

fn parse(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON: {e}\n{text}"))
}

#[test]
fn every_endpoint_has_an_example() {
    for ep in ENDPOINTS {
        assert!(
            !ep.examples.is_empty(),
            "{} has no example in the spec",
            ep.path
        );
    }
}

#[test]
fn every_example_goes_over_the_wire_as_documented() {
    clients::each(every_example_goes_over_the_wire_with);
}

fn every_example_goes_over_the_wire_with(flavor: Flavor) {
    let mut checked = 0;
    for ep in ENDPOINTS {
        for example in ep.examples {
            let what = format!("{} / {}", ep.path, example.name);
            let request = example
                .request
                .map(|r| parse(r, &what))
                .unwrap_or_else(|| Value::Object(Map::new()));
            // The typed request serializes back to the documented JSON.
            let typed = (wechat_card::tooling::hooks(ep).check_request)(&request)
                .unwrap_or_else(|e| panic!("{what}: the documented request is rejected: {e}"));
            assert_eq!(
                typed, request,
                "{what}: typed request differs from the example"
            );

            let server = Server::start();
            let answer = example.response.unwrap_or(r#"{"errcode":0,"errmsg":"ok"}"#);
            server.reply(&format!("/{}", ep.path), Reply::json(answer));
            let result = AnyClient::of(flavor, builder(&server)).invoke(ep, &request);

            let seen = server.requests();
            assert_eq!(seen.len(), 1, "{what}: expected exactly one request");
            let seen = &seen[0];
            assert_eq!(seen.method, ep.method.as_str(), "{what}");
            assert_eq!(seen.path, format!("/{}", ep.path), "{what}");
            let (key, token) = match ep.auth {
                Auth::ComponentAccessToken => ("component_access_token", COMPONENT_TOKEN),
                _ => ("access_token", TOKEN),
            };
            assert_eq!(
                seen.query.get(key).map(String::as_str),
                Some(token),
                "{what}"
            );
            assert_eq!(
                seen.query.len(),
                1 + usize::from(ep.method == HttpMethod::Get)
                    * request.as_object().map_or(0, |o| o.len()),
                "{what}: query {:?}",
                seen.query
            );
            if ep.method == HttpMethod::Post {
                assert_eq!(
                    seen.header("content-type"),
                    Some("application/json; charset=utf-8"),
                    "{what}"
                );
                let body: Value = serde_json::from_slice(&seen.body).expect("JSON body");
                assert_eq!(body, request, "{what}: body on the wire");
                // Compact, raw UTF-8: as long as serde_json's compact form of the same JSON (no
                // pretty-printing), with no \u escapes.
                let compact = serde_json::to_vec(&typed).unwrap();
                assert_eq!(
                    seen.body.len(),
                    compact.len(),
                    "{what}: body is not compact"
                );
                let text = String::from_utf8(seen.body.clone()).expect("UTF-8 body");
                assert!(!text.contains("\\u"), "{what}: \\u escape in {text}");
            }

            let documented = parse(answer, &what);
            let errcode = documented
                .get("errcode")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            match result {
                Ok(decoded) if errcode == 0 => {
                    let mut expected = documented.clone();
                    if let Some(object) = expected.as_object_mut() {
                        object.remove("errcode");
                        object.remove("errmsg");
                    }
                    if ep.response.is_none() {
                        assert_eq!(
                            expected,
                            Value::Object(Map::new()),
                            "{what}: the example answer has fields the spec lacks"
                        );
                    } else {
                        assert_eq!(decoded, expected, "{what}: decoding lost or changed fields");
                    }
                }
                Err(wechat_card::tooling::HookError::Call(Error::Api(e))) if errcode != 0 => {
                    assert_eq!(e.errcode, errcode, "{what}");
                    assert_eq!(e.endpoint, ep.path, "{what}");
                    assert_eq!(
                        Some(&Value::String(e.errmsg.clone())),
                        documented.get("errmsg"),
                        "{what}"
                    );
                }
                other => panic!("{what}: documented errcode {errcode}, got {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= ENDPOINTS.len());
}

#[test]
fn invalid_requests_never_reach_the_network() {
    let server = Server::start();
    let client = client(&server);
    let err = client
        .get_code(&wechat_card::GetCodeRequest::new("1".repeat(21)))
        .unwrap_err();
    match &err {
        Error::Validation(v) => assert_eq!(v.path(), "code"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let err = client
        .batch_get_cards(&wechat_card::BatchGetCardsRequest::new(0, 51))
        .unwrap_err();
    assert!(err.to_string().contains("count is 51"), "{err}");
    assert_eq!(server.requests().len(), 0);
    assert_eq!(server.connections(), 0);
}
