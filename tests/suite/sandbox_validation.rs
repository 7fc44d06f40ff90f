//! Server-side validation: a client that skips the library's checks (the `call_json` escape
//! hatch, or raw HTTP) is answered the way WeChat would; every endpoint of the spec is served.
#![cfg(feature = "sandbox")]

use crate::clients::{AnyClient, Flavor};
use crate::sandbox_support;

use sandbox_support::{http, http_json};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, HttpMethod};
use wechat_card::tooling::HookError;
use wechat_card::{Error, GetCodeRequest};

fn setup(flavor: Flavor) -> (Sandbox, AnyClient) {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = AnyClient::of(flavor, sandbox.client_builder());
    (sandbox, client)
}

/// Posts `body` to `path` without validation; the API error's code and message.
fn raw_call(client: &AnyClient, path: &str, body: Value) -> (i64, String) {
    match client.call_json::<_, Value>(HttpMethod::Post, path, &body, false) {
        Err(Error::Api(e)) => (e.errcode, e.errmsg),
        other => panic!("{path} {body}: expected an API error, got {other:?}"),
    }
}

#[test]
fn unvalidated_requests_get_wechats_errors() {
    crate::clients::each(|flavor| {
        let (_sandbox, client) = setup(flavor);
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
        let exact = json!({ "begin_time": begin, "end_time": begin + 31 * 86_400, "offset": 0, "count": 10 });
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
    });
}

#[test]
fn the_typed_client_stops_the_same_requests_before_sending() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let error =
            crate::call!(client.get_code(&GetCodeRequest::new("1".repeat(21)))).unwrap_err();
        assert!(matches!(error, Error::Validation(_)), "{error}");
        assert_eq!(sandbox.calls("card/code/get"), 0);
        assert_eq!(
            sandbox.requests(),
            0,
            "nothing sent, not even a token request"
        );
    });
}

#[test]
fn malformed_bodies_methods_and_paths() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
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
    });
}

/// What a fresh sandbox answers to the examples of the endpoints that do not answer all their
/// examples with errcode 0: the errcodes in example order, and why. Every other endpoint must
/// answer each of its examples with errcode 0.
const NOT_ALL_ZERO: &[(&str, &[i64], &str)] = {
    const NO_CODE: &str = "the example's code was never received in this sandbox";
    const NO_CARD: &str = "the example's card_id was never created in this sandbox";
    const NO_ID: &str =
        "the id the example names (order, page, rule, merchant, ticket) does not exist";
    &[
        ("card/boardingpass/checkin", &[40056, 40056], NO_CODE),
        ("card/code/checkcode", &[40073], NO_CARD),
        ("card/code/consume", &[40056, 40056], NO_CODE),
        (
            "card/code/decrypt",
            &[40075, 40075],
            "the example's encrypt_code was encrypted with WeChat's key, not the sandbox's",
        ),
        ("card/code/deposit", &[40073], NO_CARD),
        ("card/code/getdepositcount", &[40073], NO_CARD),
        ("card/code/get", &[40056, 40056, 40056, 40056], NO_CODE),
        ("card/code/mark", &[40056, 40056], NO_CODE),
        ("card/code/unavailable", &[40056, 40056], NO_CODE),
        ("card/code/update", &[40056], NO_CODE),
        (
            "card/create",
            &[0, 99001, 99001, 99001, 99001, 99001, 0, 0, 0, 0, 0, 0, 0],
            "coupon types (examples 2 to 6) are refused since 2021 (99001, the sandbox's own errcode); the others are created",
        ),
        ("card/delete", &[40073], NO_CARD),
        ("card/generalcard/activate", &[40056], NO_CODE),
        ("card/generalcard/unactivate", &[40056], NO_CODE),
        ("card/generalcard/updateuser", &[40056], NO_CODE),
        ("card/get", &[40073], NO_CARD),
        (
            "card/giftcard/maintain/set",
            &[40097, 0],
            "the first example names a page that does not exist; the second (`all`) needs none",
        ),
        ("card/giftcard/order/get", &[40097], NO_ID),
        ("card/giftcard/order/refund", &[40097], NO_ID),
        ("card/giftcard/page/add", &[40073], NO_CARD),
        ("card/giftcard/page/get", &[40097], NO_ID),
        ("card/giftcard/page/update", &[40073], NO_CARD),
        ("card/giftcard/wxa/set", &[40097], NO_ID),
        ("card/landingpage/create", &[40073], NO_CARD),
        ("card/meetingticket/updateuser", &[40056, 40056], NO_CODE),
        ("card/membercard/activate/geturl", &[40073], NO_CARD),
        ("card/membercard/activatetempinfo/get", &[40097], NO_ID),
        ("card/membercard/activateuserform/set", &[40073], NO_CARD),
        ("card/membercard/activate", &[40056], NO_CODE),
        ("card/membercard/updateuser", &[40056, 40056], NO_CODE),
        ("card/membercard/userinfo/get", &[40056], NO_CODE),
        ("card/modifystock", &[40073], NO_CARD),
        ("card/movieticket/updateuser", &[40056], NO_CODE),
        ("card/mpnews/gethtml", &[40073], NO_CARD),
        ("card/pay/confirm", &[40073], NO_CARD),
        ("card/pay/getorder", &[40097], NO_ID),
        ("card/pay/getpayprice", &[40073], NO_CARD),
        ("card/paycell/set", &[40073, 40073], NO_CARD),
        ("card/paygiftcard/add", &[40073], NO_CARD),
        ("card/paygiftcard/delete", &[40097], NO_ID),
        ("card/paygiftcard/getbyid", &[40097], NO_ID),
        (
            "card/qrcode/create",
            &[40073, 40073, 40053],
            "the first two name cards never created; the third documents 40053 (action_name and action_info disagree)",
        ),
        ("card/selfconsumecell/set", &[40073], NO_CARD),
        ("card/storewxa/get", &[40097], NO_ID),
        ("card/storewxa/set", &[40073], NO_CARD),
        ("card/submerchant/get", &[40097], NO_ID),
        (
            "card/submerchant/submit",
            &[40097],
            "the example's category is not one card/getapplyprotocol lists",
        ),
        ("card/submerchant/update", &[40097], NO_ID),
        ("card/update", &[40073], NO_CARD),
        ("card/user/getcardlist", &[40073], NO_CARD),
        (
            "cgi-bin/component/upload_card_merchant_qualification",
            &[0, 61022],
            "the second submission comes while the first is being checked: 61022, can't resubmit",
        ),
        ("datacube/getcardcardinfo", &[40073], NO_CARD),
        ("datacube/getcardmembercarddetail", &[40073], NO_CARD),
    ]
};

/// Every endpoint of the spec answers each of its documented example requests with exactly the
/// expected errcode: 0, or the one [`NOT_ALL_ZERO`] lists with its reason (mostly: the example
/// names a card, code or id a fresh sandbox does not have). Nothing is left unrouted, refused as
/// malformed or answered with some other error, and every endpoint is reached by at least one
/// of its examples.
#[test]
fn every_endpoint_of_the_spec_is_served() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().expect("sandbox");
        // The cgi-bin/component/* endpoints carry the open platform's token.
        let client = AnyClient::of(
            flavor,
            sandbox
                .client_builder()
                .component_token("SANDBOX-COMPONENT-TOKEN"),
        );
        for (path, _, _) in NOT_ALL_ZERO {
            assert!(
                schema::endpoint(path).is_some(),
                "{path} is not in the spec"
            );
        }
        let mut wrong = Vec::new();
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
            let mut answers = Vec::new();
            for request in requests {
                answers.push(match client.invoke(endpoint, &request) {
                    Ok(_) => 0,
                    Err(HookError::Call(Error::Api(e))) => e.errcode,
                    // Example requests that break the spec's own limits are the spec's business.
                    Err(HookError::Invalid(_) | HookError::Call(Error::Validation(_))) => {
                        continue;
                    }
                    Err(other) => panic!("{}: {request}: {other}", endpoint.path),
                });
            }
            assert!(
                !answers.is_empty() && sandbox.calls(endpoint.path) > 0,
                "{}: no documented example reached the sandbox",
                endpoint.path
            );
            let expected = match NOT_ALL_ZERO
                .iter()
                .find(|(path, _, _)| *path == endpoint.path)
            {
                Some((_, codes, _)) => codes.to_vec(),
                // Without a handler, an example is answered as documented unless it names an
                // entity a fresh sandbox does not have (unknown card 40073, code 40056, other 40097).
                None if !Sandbox::serves_statefully(endpoint.path) => answers
                    .iter()
                    .map(|&a| {
                        if [40073, 40056, 40097].contains(&a) {
                            a
                        } else {
                            0
                        }
                    })
                    .collect(),
                None => vec![0; answers.len()],
            };
            if answers != expected {
                wrong.push(format!(
                    "{}: answered {answers:?}, expected {expected:?}",
                    endpoint.path
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    });
}

/// A body over the sandbox's 1 MiB limit is refused with 47001 and the limit named, and the
/// query string is decoded (`%2B` is `+`): the HTTP side works without a web framework.
#[test]
fn an_oversized_body_is_refused_and_the_query_is_decoded() {
    let sandbox = Sandbox::start().unwrap();
    let token = http_json(
        sandbox.addr(),
        "GET",
        &format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            sandbox.appid(),
            sandbox.secret()
        ),
        b"",
    );
    let token = token["access_token"].as_str().expect("a token").to_owned();
    let big = vec![b' '; 1024 * 1024 + 1];
    let answer = http_json(
        sandbox.addr(),
        "POST",
        &format!("/card/get?access_token={token}"),
        &big,
    );
    assert_eq!(answer["errcode"], 47001, "{answer}");
    assert!(
        answer["errmsg"]
            .as_str()
            .is_some_and(|m| m.contains("larger than 1048576 bytes")),
        "{answer}"
    );
    // The same token, percent-encoded in the query, is the same token.
    let encoded: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
    let answer = http_json(
        sandbox.addr(),
        "POST",
        &format!("/card/get?access_token={encoded}"),
        br#"{"card_id":"unknown-card"}"#,
    );
    assert_eq!(answer["errcode"], 40073, "{answer}");
}
