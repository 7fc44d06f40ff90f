//! The sandbox refuses what WeChat refuses, table-driven from the spec (the run-time
//! `schema::ENDPOINTS` and `schema::TYPES`): every endpoint that takes a `card_id` or a `code`
//! refuses an unknown one, every enum field of a card refuses a value the spec does not list,
//! and a path no endpoint has gets HTTP 200 with errcode 40066. Then the numeric-string
//! timestamps that WeChat's page allows, and the sandbox controls' refusals of bad input.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use sandbox_support::complete::Generator;
use sandbox_support::{errcode, http, http_json};
use serde_json::{Value, json};
use wechat_card::Error;
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, FieldInfo, HttpMethod, Ty, TypeKind};
use wechat_card::tooling::HookError;

const UNKNOWN_CARD: &str = "pSANDBOXxUNKNOWNxCARDxIDxxxxx";
const UNKNOWN_CODE: &str = "999999999999";

/// Whether the type `type_name` holds a field named `card_id` or `code` (at any depth).
fn takes_card_or_code(type_name: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == type_name) {
        return false;
    }
    seen.push(type_name.to_owned());
    match schema::type_info(type_name).map(|t| t.kind) {
        Some(TypeKind::Object { fields, .. }) => fields.iter().any(|f: &FieldInfo| {
            matches!(f.wire, "card_id" | "code") && matches!(f.ty, Ty::String { .. })
                || ty_takes(&f.ty, seen)
        }),
        Some(TypeKind::Union { variants, .. }) => {
            variants.iter().any(|(_, p)| takes_card_or_code(p, seen))
        }
        _ => false,
    }
}

fn ty_takes(ty: &Ty, seen: &mut Vec<String>) -> bool {
    match ty {
        Ty::Ref(name) => takes_card_or_code(name, seen),
        Ty::List { item, .. } => ty_takes(item, seen),
        _ => false,
    }
}

/// Replaces every string `card_id` and `code` in `value` with unknown ones.
fn replace_ids(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter_mut() {
                match (key.as_str(), inner.is_string()) {
                    ("card_id", true) => *inner = json!(UNKNOWN_CARD),
                    ("code", true) => *inner = json!(UNKNOWN_CODE),
                    _ => replace_ids(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(replace_ids),
        _ => {}
    }
}

/// The top-level fields of a request type.
fn top_fields(type_name: &str) -> &'static [FieldInfo] {
    match schema::type_info(type_name).map(|t| t.kind) {
        Some(TypeKind::Object { fields, .. }) => fields,
        _ => &[],
    }
}

#[test]
fn every_endpoint_refuses_an_unknown_card_id_or_code() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().unwrap();
        let client = AnyClient::of(
            flavor,
            sandbox
                .client_builder()
                .component_token("SANDBOX-COMPONENT-TOKEN"),
        );
        let mut checked = Vec::new();
        for endpoint in schema::ENDPOINTS {
            let Some(request_type) = endpoint.request else {
                continue;
            };
            if !takes_card_or_code(request_type, &mut Vec::new()) {
                continue;
            }
            let mut request = endpoint
                .examples
                .iter()
                .find_map(|e| e.request)
                .map(|r| serde_json::from_str::<Value>(r).unwrap())
                .unwrap_or_else(|| json!({}));
            replace_ids(&mut request);
            // An optional top-level card_id or code the example leaves out is sent too.
            for field in top_fields(request_type) {
                if let (Some(object), Ty::String { .. }) = (request.as_object_mut(), field.ty) {
                    match field.wire {
                        "card_id" => {
                            object.entry("card_id").or_insert(json!(UNKNOWN_CARD));
                        }
                        "code" => {
                            object.entry("code").or_insert(json!(UNKNOWN_CODE));
                        }
                        _ => {}
                    }
                }
            }
            let outcome = client.invoke(endpoint, &request);
            let code = match outcome {
                Err(HookError::Call(Error::Api(e))) => e.errcode,
                other => panic!("{}: {request} was not refused: {other:?}", endpoint.path),
            };
            assert!(
                [40073, 40056].contains(&code),
                "{}: {request}: errcode {code}, not 40073 (unknown card) or 40056 (unknown code)",
                endpoint.path
            );
            checked.push(endpoint.path);
        }
        // The table is the spec's: make sure it is not empty by mistake.
        assert!(checked.len() >= 30, "only {checked:?}");
        for path in [
            "card/code/consume",
            "card/paycell/set",
            "card/boardingpass/checkin",
        ] {
            assert!(checked.contains(&path), "{path} not checked");
        }
    });
}

/// Paths to every enum field of `value` (of type `type_name`), with the enum's type name.
fn enum_paths(type_name: &str, value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let Some(info) = schema::type_info(type_name) else {
        return;
    };
    match info.kind {
        TypeKind::Object { fields, .. } => {
            for field in fields {
                if let Some(inner) = value.get(field.wire) {
                    path.push(json!(field.wire));
                    ty_enum_paths(&field.ty, inner, path, out);
                    path.pop();
                }
            }
        }
        TypeKind::Enum { .. } => out.push(path.clone()),
        _ => {}
    }
}

fn ty_enum_paths(ty: &Ty, value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match ty {
        Ty::Ref(name) => enum_paths(name, value, path, out),
        Ty::List { item, .. } => {
            if let Some(first) = value.as_array().and_then(|a| a.first()) {
                path.push(json!(0));
                ty_enum_paths(item, first, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn slot<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, key| match key {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn every_enum_field_of_a_card_refuses_an_unknown_value() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::builder()
            .allow_coupon_creation(true)
            .start()
            .unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let TypeKind::Union { tag, variants } = schema::type_info("Card").unwrap().kind else {
            panic!("Card is a union");
        };
        let generator = Generator::new(0);
        let mut checked = 0;
        for (card_type, payload) in variants {
            let card = generator.card(card_type);
            let key = card_type.to_ascii_lowercase();
            // The complete card itself is accepted.
            client
                .call_json::<_, Value>(
                    HttpMethod::Post,
                    "card/create",
                    &json!({ "card": card }),
                    false,
                )
                .unwrap_or_else(|e| panic!("{card_type}: {e}"));
            let mut paths = vec![vec![json!(tag)]];
            let mut path = vec![json!(key)];
            enum_paths(payload, &card[&key], &mut path, &mut paths);
            for path in paths {
                let mut bad = card.clone();
                *slot(&mut bad, &path) = json!("SANDBOX_NOT_A_VALUE");
                let error = client
                    .call_json::<_, Value>(
                        HttpMethod::Post,
                        "card/create",
                        &json!({ "card": bad }),
                        false,
                    )
                    .expect_err(&format!("{card_type}: {path:?} accepted an unknown value"));
                let code = error.errcode().unwrap_or(0);
                assert!(
                    [40071, 40072, 40097].contains(&code),
                    "{card_type} {path:?}: {error}"
                );
                // The control that adds a card checks the same.
                assert!(sandbox.add_card(&bad).is_err(), "{card_type} {path:?}");
                checked += 1;
            }
        }
        assert!(checked > 2 * variants.len(), "only {checked} enum fields");
    });
}

#[test]
fn unknown_paths_get_http_200_and_40066() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let token = client.access_token().unwrap();
        // The endpoints the spec excludes (spec/excluded.yaml) are unknown paths too.
        let excluded: Vec<String> = include_str!("../../spec/excluded.yaml")
            .lines()
            .filter_map(|line| line.strip_prefix("  "))
            .filter_map(|line| line.split_once(':').map(|(path, _)| path.to_owned()))
            .collect();
        assert!(excluded.len() >= 3, "{excluded:?}");
        for path in excluded
            .iter()
            .map(String::as_str)
            .chain(["card/no/such/endpoint", "card/code/gett"])
        {
            for method in ["POST", "GET"] {
                let (status, body) = http(
                    sandbox.addr(),
                    method,
                    &format!("/{path}?access_token={}", token.expose()),
                    b"{}",
                );
                assert_eq!(status, 200, "{method} {path}: {body}");
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(body["errcode"], 40066, "{path}");
                assert!(
                    body["errmsg"].as_str().unwrap().starts_with("invalid url"),
                    "{body}"
                );
            }
        }
        // Through the client: an API error with the errcode, not a transport error.
        let error = client
            .call_json::<_, Value>(HttpMethod::Post, "card/location/batchget", &json!({}), true)
            .unwrap_err();
        assert_eq!(error.errcode(), Some(40066), "{error}");
    });
}

/// WeChat's page says the date_info timestamps "最终需转换为字符串形态传入": card/create accepts
/// them as numeric strings there, and card/get shows the numbers; nowhere else.
#[test]
fn numeric_string_timestamps_are_accepted_where_wechat_accepts_them() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let mut card = Generator::new(0).card("MEMBER_CARD");
        card["member_card"]["base_info"]["date_info"] = json!({
            "type": "DATE_TYPE_FIX_TIME_RANGE",
            "begin_timestamp": "1704038400",
            "end_timestamp": "1900000000"
        });
        let created: Value = client
            .call_json(
                HttpMethod::Post,
                "card/create",
                &json!({ "card": card }),
                false,
            )
            .unwrap();
        let card_id = created["card_id"].as_str().unwrap();
        let got: Value = client
            .call_json(
                HttpMethod::Post,
                "card/get",
                &json!({ "card_id": card_id }),
                true,
            )
            .unwrap();
        assert_eq!(
            got["card"]["member_card"]["base_info"]["date_info"]["begin_timestamp"],
            json!(1_704_038_400u64)
        );
        assert_eq!(
            got["card"]["member_card"]["base_info"]["date_info"]["end_timestamp"],
            json!(1_900_000_000u64)
        );
        // The control that adds a card accepts them too.
        assert!(sandbox.add_card(&card).is_ok());

        // Not a number in a string, or a string elsewhere: 47001 as before.
        for (path, value) in [
            (
                "/member_card/base_info/date_info/begin_timestamp",
                json!("17040x"),
            ),
            (
                "/member_card/base_info/date_info/begin_timestamp",
                json!("-1"),
            ),
            ("/member_card/base_info/sku/quantity", json!("5")),
            ("/member_card/base_info/get_limit", json!("3")),
        ] {
            let mut bad = card.clone();
            *bad.pointer_mut(path).unwrap() = value.clone();
            let error = client
                .call_json::<_, Value>(
                    HttpMethod::Post,
                    "card/create",
                    &json!({ "card": bad }),
                    false,
                )
                .unwrap_err();
            assert_eq!(error.errcode(), Some(47001), "{path} = {value}: {error}");
        }
        // card/update's table types them unsigned int: strings are refused there.
        let error = client
            .call_json::<_, Value>(
                HttpMethod::Post,
                "card/update",
                &json!({ "card_id": card_id, "member_card": { "base_info": {
                    "date_info": { "type": "DATE_TYPE_FIX_TIME_RANGE", "end_timestamp": "1910000000" } } } }),
                false,
            )
            .unwrap_err();
        assert_eq!(error.errcode(), Some(47001), "{error}");
    });
}

/// A control's answer (errcode included).
fn control(sandbox: &Sandbox, name: &str, body: Value) -> Value {
    http_json(
        sandbox.addr(),
        "POST",
        &format!("/sandbox/{name}"),
        body.to_string().as_bytes(),
    )
}

#[test]
fn the_clock_control_refuses_bad_input() {
    let sandbox = Sandbox::builder()
        .start_time(1_710_000_000)
        .start()
        .unwrap();
    for body in [
        json!({ "advance": "x" }),
        json!({ "advance": -5 }),
        json!({ "advance": 1.5 }),
        json!({ "set": "abc" }),
        json!({ "set": 1.5 }),
        json!({ "sett": 1_710_000_000 }),
        json!({ "advance": 60, "unknown": true }),
    ] {
        let answer = control(&sandbox, "clock", body.clone());
        assert_eq!(answer["errcode"], 40097, "{body}: {answer}");
        let errmsg = answer["errmsg"].as_str().unwrap();
        let key = body
            .as_object()
            .unwrap()
            .keys()
            .next_back()
            .unwrap()
            .clone();
        assert!(errmsg.contains(&format!("`{key}`")), "{body}: {errmsg}");
        assert_eq!(sandbox.now(), 1_710_000_000, "{body} changed the clock");
    }
    let answer = control(&sandbox, "clock", json!({ "advance": 60 }));
    assert_eq!(answer["now"], 1_710_000_060, "{answer}");
}

#[test]
fn the_fault_control_refuses_bad_input() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().unwrap();
        for (body, key) in [
            (json!({ "path": "card/code/gett", "errcode": -1 }), "path"),
            (json!({ "path": "/no/such/path", "drop": true }), "path"),
            (
                json!({ "path": "card/code/get", "http_status": 99 }),
                "http_status",
            ),
            (
                json!({ "path": "card/code/get", "http_status": 600 }),
                "http_status",
            ),
            (
                json!({ "path": "card/code/get", "http_status": "502" }),
                "http_status",
            ),
            (
                json!({ "path": "card/code/get", "errcode": "x" }),
                "errcode",
            ),
            (json!({ "path": "card/code/get", "drop": false }), "drop"),
            (
                json!({ "path": "card/code/get", "errcode": -1, "times": 0 }),
                "times",
            ),
            (
                json!({ "path": "card/code/get", "errcode": -1, "delay_ms": 5 }),
                "exactly one",
            ),
            (json!({ "path": "card/code/get" }), "exactly one"),
            (
                json!({ "path": "card/code/get", "errcode": -1, "tmies": 2 }),
                "tmies",
            ),
        ] {
            let answer = control(&sandbox, "fault", body.clone());
            assert_eq!(answer["errcode"], 40097, "{body}: {answer}");
            assert!(
                answer["errmsg"].as_str().unwrap().contains(key),
                "{body}: {answer}"
            );
        }
        // Nothing was queued: the next call is answered normally.
        let client = AnyClient::of(flavor, sandbox.client_builder());
        assert_eq!(
            errcode(crate::call!(
                client.get_code(&wechat_card::GetCodeRequest::new("1"))
            )),
            40056
        );
        // Good input still works, for endpoints, token paths and `*`.
        for body in [
            json!({ "path": "card/code/get", "http_status": 503 }),
            json!({ "path": "/cgi-bin/stable_token", "errcode": -1, "times": 2 }),
            json!({ "path": "*", "delay_ms": 1 }),
        ] {
            assert_eq!(
                control(&sandbox, "fault", body.clone())["errcode"],
                0,
                "{body}"
            );
        }
        sandbox.clear_faults();
    });
}
