//! Server-side validation: a client that skips the library's checks (the `call_json` escape
//! hatch, or raw HTTP) is answered the way WeChat would; every endpoint of the spec is served.
#![cfg(feature = "sandbox")]

mod sandbox_support;

use sandbox_support::{http, http_json};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, HttpMethod};
use wechat_card::tooling::HookError;
use wechat_card::{Client, Error, GetCodeRequest};

fn setup() -> (Sandbox, Client) {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = sandbox.client().expect("client");
    (sandbox, client)
}

/// Posts `body` to `path` without validation; the API error's code and message.
fn raw_call(client: &Client, path: &str, body: Value) -> (i64, String) {
    match client.call_json::<_, Value>(HttpMethod::Post, path, &body, false) {
        Err(Error::Api(e)) => (e.errcode, e.errmsg),
        other => panic!("{path} {body}: expected an API error, got {other:?}"),
    }
}

#[test]
fn unvalidated_requests_get_wechats_errors() {
    let (_sandbox, client) = setup();
    let (code, message) = raw_call(&client, "card/code/get", json!({ "check_consume": true }));
    assert_eq!(code, 41011);
    assert!(message.contains("`code`"), "{message}");

    let (code, message) = raw_call(&client, "card/code/get", json!({ "code": "1".repeat(21) }));
    assert_eq!(code, 45021);
    assert!(message.contains("code is 21 bytes"), "{message}");
    // 9 汉字 fit string(27), 10 do not: limits count UTF-8 bytes, as the client's.
    let (code, _) = raw_call(
        &client,
        "card/user/getcardlist",
        json!({ "openid": "字".repeat(22) }),
    );
    assert_eq!(code, 45021);

    let (code, message) = raw_call(
        &client,
        "card/batchget",
        json!({ "offset": 0, "count": 51 }),
    );
    assert_eq!(code, 40097);
    assert!(message.contains("count"), "{message}");

    let (code, _) = raw_call(&client, "card/code/get", json!({ "code": 123 }));
    assert_eq!(code, 47001, "a number where a string belongs");

    let (code, message) = raw_call(&client, "card/update", json!({ "card_id": "p1" }));
    assert_eq!(code, 40097, "{message}");

    let period = |begin: &str, end: &str| {
        raw_call(
            &client,
            "datacube/getcardbizuininfo",
            json!({ "begin_date": begin, "end_date": end, "cond_source": 1 }),
        )
        .0
    };
    assert_eq!(period("2015-6-1", "2015-06-30"), 61500);
    assert_eq!(period("2015-06-31", "2015-07-01"), 61500);
    assert_eq!(period("2015-06-01", "2015-08-02"), 61501, "63 days");
    assert_eq!(period("2015-06-30", "2015-06-01"), 61501, "backwards");

    // Gift-card orders: a span of Unix seconds, at most 31 days (time_span), 40100 otherwise.
    let begin: u32 = 1_483_200_000;
    let exact =
        json!({ "begin_time": begin, "end_time": begin + 31 * 86_400, "offset": 0, "count": 10 });
    let answer = client.call_json::<_, Value>(
        HttpMethod::Post,
        "card/giftcard/order/batchget",
        &exact,
        false,
    );
    assert!(answer.is_ok(), "exactly 31 days: {answer:?}");
    for (end, what) in [
        (begin + 31 * 86_400 + 1, "31 days and 1 second"),
        (begin - 1, "backwards"),
    ] {
        let (code, message) = raw_call(
            &client,
            "card/giftcard/order/batchget",
            json!({ "begin_time": begin, "end_time": end, "offset": 0, "count": 10 }),
        );
        assert_eq!(code, 40100, "{what}: {message}");
        assert!(
            message.starts_with("invalid time range"),
            "{what}: {message}"
        );
        assert!(message.contains("end_time"), "{what}: {message}");
    }

    // A missing field deep inside the card body is named by its path.
    let (code, message) = raw_call(
        &client,
        "card/update",
        json!({ "card_id": "p1", "member_card": { "custom_cell1": { "name": "n", "tips": "t" } } }),
    );
    assert_eq!(code, 41011);
    assert!(
        message.contains("member_card.custom_cell1.url"),
        "{message}"
    );
}

#[test]
fn the_typed_client_stops_the_same_requests_before_sending() {
    let (sandbox, client) = setup();
    let error = client
        .get_code(&GetCodeRequest::new("1".repeat(21)))
        .unwrap_err();
    assert!(matches!(error, Error::Validation(_)), "{error}");
    assert_eq!(sandbox.calls("card/code/get"), 0);
    assert_eq!(
        sandbox.requests(),
        0,
        "nothing sent, not even a token request"
    );
}

#[test]
fn malformed_bodies_methods_and_paths() {
    let (sandbox, client) = setup();
    let token = client.access_token().unwrap();
    let target = |path: &str| format!("/{path}?access_token={}", token.expose());

    for body in [&b"{"[..], b"[1]", b"\"code\"", b"", b"{\"code\": \"1\",}"] {
        let answer = http_json(sandbox.addr(), "POST", &target("card/code/get"), body);
        assert_eq!(
            answer["errcode"],
            47001,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    let answer = http_json(sandbox.addr(), "GET", &target("card/code/get"), b"");
    assert_eq!(answer["errcode"], 43002);

    let (status, body) = http(
        sandbox.addr(),
        "POST",
        &target("card/no/such/endpoint"),
        b"{}",
    );
    assert_eq!(
        status, 200,
        "WeChat answers unknown paths with HTTP 200: {body}"
    );
    assert!(body.contains("40066"), "{body}");
}

/// Every endpoint of the spec answers its documented example requests: stateful endpoints with
/// their state (a WeChat error when the example's card, code, rule, page, order, … does not
/// exist in the sandbox),
/// the others from the documented responses. Nothing is left unrouted or refused as malformed,
/// and every endpoint is reached by at least one of its examples.
#[test]
fn every_endpoint_of_the_spec_is_served() {
    let sandbox = Sandbox::start().expect("sandbox");
    // The cgi-bin/component/* endpoints carry the open platform's token.
    let client = sandbox
        .client_builder()
        .component_token("SANDBOX-COMPONENT-TOKEN")
        .build()
        .expect("client");
    let mut served = 0;
    for endpoint in schema::ENDPOINTS {
        let requests: Vec<Value> = if endpoint.request.is_none() {
            vec![json!({})]
        } else {
            endpoint
                .examples
                .iter()
                .filter_map(|e| e.request)
                .map(|r| serde_json::from_str(r).expect("example request"))
                .collect()
        };
        let mut sent = false;
        for request in requests {
            match (wechat_card::tooling::hooks(endpoint).invoke)(&client, &request) {
                Ok(_) => {}
                // 40097 is also WeChat's answer for an id that does not exist (a rule, a page,
                // an order the example names): a refusal from the state, not of the request.
                Err(HookError::Call(Error::Api(e))) => assert!(
                    ![
                        40066, 43001, 43002, 47001, 41011, 41001, 40001, 45021, 40097
                    ]
                    .contains(&e.errcode)
                        || (e.errcode == 40097 && e.errmsg.ends_with("does not exist")),
                    "{}: {request}: {e:?}",
                    endpoint.path
                ),
                // Example requests that break the spec's own limits are the spec's business.
                Err(HookError::Invalid(_) | HookError::Call(Error::Validation(_))) => continue,
                Err(other) => panic!("{}: {request}: {other}", endpoint.path),
            }
            served += 1;
            sent = true;
        }
        assert!(
            sent && sandbox.calls(endpoint.path) > 0,
            "{}: no documented example reached the sandbox",
            endpoint.path
        );
    }
    assert!(
        served >= schema::ENDPOINTS.len(),
        "only {served} calls answered"
    );
}
