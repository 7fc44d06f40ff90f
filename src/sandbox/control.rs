//! The sandbox's controls over HTTP, for clients in other languages talking to the standalone
//! binary: `POST /sandbox/<control>` with a JSON body, answered `{"errcode": 0, "errmsg": "ok",
//! …}` or with the WeChat error the control was refused with. No token is needed (the sandbox
//! is a local test server); these paths are never faulted.
//!
//! | path | body | answer |
//! |---|---|---|
//! | `sandbox/card/add` | a card (`{"card_type": …}`) or `{"card": …}` | `card_id` |
//! | `sandbox/card/approve`, `sandbox/card/reject` | `card_id` | |
//! | `sandbox/card/view` | `openid`, `card_id` | |
//! | `sandbox/code/receive` | `openid`, `card_id`, `code` (custom-code cards) | `code` |
//! | `sandbox/qrcode/scan` | `openid`, and `ticket` or `url` of a `card/qrcode/create` QR code | `card_list`: `[{card_id, code}]` |
//! | `sandbox/code/gift`, `sandbox/code/gift_timeout`, `sandbox/code/delete`, `sandbox/code/expire` | `code` | |
//! | `sandbox/code/accept_gift` | `code`, `openid` (the friend) | `code` |
//! | `sandbox/code/encrypt` | `code` | `encrypt_code` |
//! | `sandbox/clock` | `set` (Unix seconds) and/or `advance` (seconds) | `now`, `today` |
//! | `sandbox/token/expire` | | |
//! | `sandbox/callback` | `url` (127.0.0.1), `token`, `encoding_aes_key` (safe mode); `url` absent or empty: stop | |
//! | `sandbox/fault` | `path`, `times` (default 1) and one of `errcode`, `delay_ms`, `drop: true`, `drop_after: true`, `http_status`, `expire_token: true` | |
//! | `sandbox/fault/clear` | | |

use std::time::Duration;

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::Fault;
use super::api::{Answer, DATA_FORMAT_ERROR};
use super::dates::format_day;
use super::server::Shared;
use super::state::{CARD_VERIFY_FAIL, CARD_VERIFY_OK, MISSING_FIELD, Outcome, Refusal};

/// Whether `path` is a control.
pub(crate) fn is_control(path: &str) -> bool {
    path.starts_with("sandbox/")
}

/// Runs a control.
pub(crate) fn dispatch(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    if method != Method::POST {
        return Answer::refusal(&Refusal::of(43002));
    }
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                return Answer::refusal(&Refusal::new(
                    DATA_FORMAT_ERROR,
                    "data format error: the body must be a JSON object",
                ));
            }
        }
    };
    let outcome = run(shared, path, &request).map(|fields| {
        let mut object = match fields {
            Value::Object(object) => object,
            _ => Map::new(),
        };
        object.insert("errcode".into(), json!(0));
        object.insert("errmsg".into(), json!("ok"));
        Value::Object(object)
    });
    let mut answer = Answer::from(outcome);
    if answer.body.get("errcode").and_then(Value::as_i64) == Some(40066) {
        answer.status = 404;
    }
    answer
}

fn text<'a>(request: &'a Value, key: &str) -> Outcome<&'a str> {
    request
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::new(MISSING_FIELD, format!("missing required field `{key}`")))
}

fn run(shared: &Shared, path: &str, request: &Value) -> Outcome<Value> {
    let done = Ok(json!({}));
    match path {
        "sandbox/card/add" => {
            let card = match request.get("card") {
                Some(card) if request.get("card_type").is_none() => card,
                _ => request,
            };
            let card_id = shared.state().create_card(card)?;
            Ok(json!({ "card_id": card_id }))
        }
        "sandbox/card/approve" => {
            shared
                .state()
                .set_review(text(request, "card_id")?, CARD_VERIFY_OK)?;
            done
        }
        "sandbox/card/reject" => {
            shared
                .state()
                .set_review(text(request, "card_id")?, CARD_VERIFY_FAIL)?;
            done
        }
        "sandbox/card/view" => {
            shared
                .state()
                .view(text(request, "openid")?, text(request, "card_id")?)?;
            done
        }
        "sandbox/code/receive" => {
            let code = request.get("code").and_then(Value::as_str);
            let code = shared.state().receive(
                text(request, "openid")?,
                text(request, "card_id")?,
                code,
                None,
            )?;
            Ok(json!({ "code": code }))
        }
        "sandbox/qrcode/scan" => {
            let openid = text(request, "openid")?;
            let qr = text(request, "ticket").or_else(|_| text(request, "url"))?;
            let received = shared.state().scan_qrcode(openid, qr)?;
            let card_list: Vec<Value> = received
                .into_iter()
                .map(|(card_id, code)| json!({ "card_id": card_id, "code": code }))
                .collect();
            Ok(json!({ "card_list": card_list }))
        }
        "sandbox/code/gift" => {
            shared.state().gift(text(request, "code")?)?;
            done
        }
        "sandbox/code/gift_timeout" => {
            shared.state().gift_timeout(text(request, "code")?)?;
            done
        }
        "sandbox/code/accept_gift" => {
            let code = shared
                .state()
                .accept_gift(text(request, "code")?, text(request, "openid")?)?;
            Ok(json!({ "code": code }))
        }
        "sandbox/code/delete" => {
            shared.state().delete_by_user(text(request, "code")?)?;
            done
        }
        "sandbox/code/expire" => {
            shared.state().expire(text(request, "code")?)?;
            done
        }
        "sandbox/code/encrypt" => {
            let encrypted = shared.state().encrypt_code(text(request, "code")?);
            Ok(json!({ "encrypt_code": encrypted }))
        }
        "sandbox/clock" => {
            let mut state = shared.state();
            if let Some(set) = request.get("set").and_then(Value::as_i64) {
                state.set_time(set);
            }
            if let Some(seconds) = request.get("advance").and_then(Value::as_u64) {
                state.advance(Duration::from_secs(seconds));
            }
            Ok(json!({ "now": state.now(), "today": format_day(state.today()) }))
        }
        "sandbox/callback" => super::events::control(shared, request),
        "sandbox/token/expire" => {
            shared.state().expire_tokens();
            done
        }
        "sandbox/fault" => {
            let target = text(request, "path")?;
            let times = request.get("times").and_then(Value::as_u64).unwrap_or(1);
            let flag = |key: &str| request.get(key).and_then(Value::as_bool) == Some(true);
            let fault = if let Some(errcode) = request.get("errcode").and_then(Value::as_i64) {
                Fault::Errcode(errcode)
            } else if let Some(ms) = request.get("delay_ms").and_then(Value::as_u64) {
                Fault::Delay(Duration::from_millis(ms))
            } else if let Some(status) = request.get("http_status").and_then(Value::as_u64) {
                Fault::HttpStatus(u16::try_from(status).unwrap_or(502))
            } else if flag("drop") {
                Fault::Drop
            } else if flag("drop_after") {
                Fault::DropAfterHandling
            } else if flag("expire_token") {
                Fault::ExpireToken
            } else {
                return Err(Refusal::new(
                    40097,
                    "invalid args: give one of errcode, delay_ms, drop, drop_after, http_status, expire_token",
                ));
            };
            shared.push_fault(
                target,
                fault,
                usize::try_from(times.min(1_000_000)).unwrap_or(1),
            );
            done
        }
        "sandbox/fault/clear" => {
            shared.clear_faults();
            done
        }
        other => Err(Refusal::new(
            40066,
            format!("invalid url: /{other} is not a sandbox control"),
        )),
    }
}
