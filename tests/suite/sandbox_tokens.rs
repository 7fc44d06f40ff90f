//! Tokens and tickets in the sandbox, over plain HTTP (as a client in any language would talk
//! to it) and through the typed client.
#![cfg(feature = "sandbox")]

use crate::sandbox_support;

use std::time::Duration;

use sandbox_support::{approved, gift_card, http_json};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::{GetCodeRequest, TokenSource};

fn classic(sandbox: &Sandbox, appid: &str, secret: &str) -> Value {
    let target =
        format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}");
    http_json(sandbox.addr(), "GET", &target, b"")
}

fn stable(sandbox: &Sandbox, body: Value) -> Value {
    http_json(
        sandbox.addr(),
        "POST",
        "/cgi-bin/stable_token",
        body.to_string().as_bytes(),
    )
}

fn stable_request(sandbox: &Sandbox, force_refresh: bool) -> Value {
    json!({
        "grant_type": "client_credential",
        "appid": sandbox.appid(),
        "secret": sandbox.secret(),
        "force_refresh": force_refresh,
    })
}

/// `card/code/get` with `token`: the errcode of the answer (0 when the token is accepted and
/// the code unknown would be 40056, which says the token passed).
fn call_with(sandbox: &Sandbox, token: &str) -> i64 {
    let answer = http_json(
        sandbox.addr(),
        "POST",
        &format!("/card/code/get?access_token={token}"),
        br#"{"code":"000000000000"}"#,
    );
    answer["errcode"].as_i64().unwrap_or(0)
}

const ACCEPTED: i64 = 40056;

fn token_of(answer: &Value) -> String {
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {answer}"))
        .to_owned()
}

#[test]
fn classic_tokens() {
    let sandbox = Sandbox::start().unwrap();
    let first = classic(&sandbox, sandbox.appid(), sandbox.secret());
    assert_eq!(first["expires_in"], 7200);
    let first = token_of(&first);
    assert_eq!(call_with(&sandbox, &first), ACCEPTED);

    // A new classic token leaves the previous one usable for five minutes.
    let second = token_of(&classic(&sandbox, sandbox.appid(), sandbox.secret()));
    assert_ne!(first, second);
    assert_eq!(call_with(&sandbox, &first), ACCEPTED);
    sandbox.advance(Duration::from_secs(301));
    assert_eq!(call_with(&sandbox, &first), 40001, "replaced: not latest");
    assert_eq!(call_with(&sandbox, &second), ACCEPTED);
    sandbox.advance(Duration::from_secs(7200));
    assert_eq!(call_with(&sandbox, &second), 42001, "expired");

    let wrong_secret = classic(&sandbox, sandbox.appid(), "not-the-secret");
    assert_eq!(wrong_secret["errcode"], 40001);
    assert_eq!(
        classic(&sandbox, "wx-someone-else", sandbox.secret())["errcode"],
        40013
    );
    let target = format!(
        "/cgi-bin/token?grant_type=password&appid={}&secret={}",
        sandbox.appid(),
        sandbox.secret()
    );
    assert_eq!(
        http_json(sandbox.addr(), "GET", &target, b"")["errcode"],
        40002
    );
    let target = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}",
        sandbox.appid()
    );
    assert_eq!(
        http_json(sandbox.addr(), "GET", &target, b"")["errcode"],
        41004
    );
}

#[test]
fn stable_tokens() {
    let sandbox = Sandbox::start().unwrap();
    let first = stable(&sandbox, stable_request(&sandbox, false));
    assert_eq!(first["expires_in"], 7200);
    let token = token_of(&first);

    // The same token until it expires, with the time it has left.
    sandbox.advance(Duration::from_secs(100));
    let again = stable(&sandbox, stable_request(&sandbox, false));
    assert_eq!(token_of(&again), token);
    assert_eq!(again["expires_in"], 7100);

    // force_refresh issues a new one; the old one is no longer valid.
    let forced = token_of(&stable(&sandbox, stable_request(&sandbox, true)));
    assert_ne!(forced, token);
    assert_eq!(call_with(&sandbox, &token), 40001);
    assert_eq!(call_with(&sandbox, &forced), ACCEPTED);

    // After expiry: 42001, and a normal fetch gives a new token.
    sandbox.advance(Duration::from_secs(7200));
    assert_eq!(call_with(&sandbox, &forced), 42001);
    let fresh = token_of(&stable(&sandbox, stable_request(&sandbox, false)));
    assert_ne!(fresh, forced);

    let mut wrong = stable_request(&sandbox, false);
    wrong["secret"] = json!("not-the-secret");
    let answer = stable(&sandbox, wrong);
    assert_eq!(answer["errcode"], 40125);
    assert_eq!(answer["errmsg"], "invalid appsecret");
    let mut wrong = stable_request(&sandbox, false);
    wrong["appid"] = json!("wx-someone-else");
    assert_eq!(stable(&sandbox, wrong)["errcode"], 40013);
    let (_, body) = sandbox_support::http(sandbox.addr(), "POST", "/cgi-bin/stable_token", b"{");
    assert!(body.contains("47001"), "{body}");
    assert!(!body.contains(sandbox.secret()));
}

#[test]
fn api_calls_need_a_valid_token() {
    let sandbox = Sandbox::start().unwrap();
    let answer = http_json(sandbox.addr(), "POST", "/card/code/get", br#"{"code":"1"}"#);
    assert_eq!(answer["errcode"], 41001);
    assert_eq!(call_with(&sandbox, "made-up-token"), 40001);
    let token = token_of(&stable(&sandbox, stable_request(&sandbox, false)));
    assert_eq!(call_with(&sandbox, &token), ACCEPTED);
    sandbox.expire_tokens();
    assert_eq!(call_with(&sandbox, &token), 42001);
}

#[test]
fn wx_card_tickets() {
    let sandbox = Sandbox::start().unwrap();
    let token = token_of(&stable(&sandbox, stable_request(&sandbox, false)));
    let ticket = |kind: &str| {
        http_json(
            sandbox.addr(),
            "GET",
            &format!("/cgi-bin/ticket/getticket?access_token={token}&type={kind}"),
            b"",
        )
    };
    let first = ticket("wx_card");
    assert_eq!(
        (first["errcode"].clone(), first["expires_in"].clone()),
        (json!(0), json!(7200))
    );
    let value = first["ticket"].as_str().unwrap().to_owned();
    assert!(!value.is_empty());
    assert_eq!(
        ticket("wx_card")["ticket"],
        json!(value),
        "cached until expiry"
    );
    assert_ne!(
        ticket("jsapi")["ticket"],
        json!(value),
        "a different ticket per type"
    );
    assert_eq!(ticket("other")["errcode"], 40097);
    let unknown = http_json(
        sandbox.addr(),
        "GET",
        "/cgi-bin/ticket/getticket?access_token=made-up&type=wx_card",
        b"",
    );
    assert_eq!(unknown["errcode"], 40001);
}

/// The client renews an expired token by itself: the sandbox clock moves past the token's
/// lifetime while the client's cache (on the wall clock) still holds it.
#[test]
fn token_expiry_in_the_middle_of_a_run_is_transparent() {
    for source in [TokenSource::Stable, TokenSource::Classic] {
        let sandbox = Sandbox::start().unwrap();
        let client = sandbox
            .client_builder()
            .token_source(source)
            .build()
            .unwrap();
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-user", &card_id).unwrap();
        let token_path = match source {
            TokenSource::Classic => "cgi-bin/token",
            _ => "cgi-bin/stable_token",
        };
        client
            .get_code(&GetCodeRequest::new(code.as_str()))
            .unwrap();
        assert_eq!(sandbox.calls(token_path), 1);

        sandbox.advance(Duration::from_secs(7200));
        client
            .get_code(&GetCodeRequest::new(code.as_str()))
            .unwrap();
        assert_eq!(sandbox.calls(token_path), 2, "{source:?}");
        assert_eq!(
            sandbox.calls("card/code/get"),
            3,
            "one rejected call, repeated once"
        );

        sandbox.expire_tokens();
        client
            .get_code(&GetCodeRequest::new(code.as_str()))
            .unwrap();
        assert_eq!(sandbox.calls(token_path), 3, "{source:?}");
    }
}
