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
//! | `sandbox/code/consume` | `code`: staff consume it in the official account's admin site; pushes `user_consume_card` with `ConsumeSource` `FROM_MP` | `card_id`, `openid` |
//! | `sandbox/code/accept_gift` | `code`, `openid` (the friend) | `code` |
//! | `sandbox/code/encrypt` | `code` | `encrypt_code` |
//! | `sandbox/clock` | `set` (Unix seconds, an integer) and/or `advance` (seconds, an integer ≥ 0); any other key is refused | `now`, `today` |
//! | `sandbox/jsapi/add_card` | `openid`, `card_id`, `card_ext` (the signed cardExt text): the user adds the card through `wx.addCard`; the signature is checked (40080) | `code` |
//! | `sandbox/paycell/pay` | `code`, `fee` (fen), `original_fee` (default `fee`): the user pays through the card's pay cell (`card/paycell/set`); pushes `user_pay_from_pay_cell` | `trans_id` |
//! | `sandbox/session/enter` | `code`: the user enters the chat from the card; pushes `user_enter_session_from_card` | |
//! | `sandbox/membercard/submit` | `code` (of a member card), `info` (`{common_field_list, custom_field_list}`): the user submits the activation form; pushes `submit_membercard_user_info` | `activate_ticket` (for `card/membercard/activatetempinfo/get`) |
//! | `sandbox/coin/pay` | `order_id` of `card/pay/recharge`: paid; pushes `card_pay_order` | |
//! | `sandbox/submerchant/review` | `merchant_id`, `pass`, `reason`: `APPROVED` or `REJECTED`; pushes `card_merchant_check_result` | |
//! | `sandbox/qualification/review` | `pass`, and `appid` for a sub-merchant's qualification (absent: the agent's) | |
//! | `sandbox/giftcard/buy` | `openid`, `page_id`, `card_id` (default: the page's first): the user buys a gift card; pushes `giftcard_pay_done` | `order_id` |
//! | `sandbox/giftcard/give` | `order_id`, `openid` (the friend): pushes `giftcard_send_to_friend`, then `giftcard_user_accept` | |
//! | `sandbox/code/ticket` | `code`: what the ticket endpoints set for it | `ticket` |
//! | `sandbox/token/expire` | | |
//! | `sandbox/callback` | `url` (127.0.0.1), `token`, `encoding_aes_key` (safe mode); `url` absent or empty: stop | |
//! | `sandbox/callback/repush` | (nothing): pushes the last event again, the same message (same `CreateTime`, `FromUserName`, …), as WeChat's retry; refused without a callback or an event pushed | |
//! | `sandbox/callback/delay_answers` | `times` (0 to 1000, default 1; 0 clears): the callback's next answers count as arriving after the callback timeout (WeChat's 5 s), so each of those pushes is sent again as WeChat retries, at most three retries per push | |
//! | `sandbox/fault` | `path` (an endpoint of the spec, `cgi-bin/token`, `cgi-bin/stable_token`, or `*`), `times` (1 to 1000000, default 1) and exactly one of `errcode`, `delay_ms` (≤ 600000), `drop: true`, `drop_after: true`, `http_status` (100–599), `expire_token: true`; any other key is refused | |
//! | `sandbox/fault/clear` | | |
//!
//! Bad input to a control (a key it does not know, a value of the wrong type or out of range, a
//! fault for a path no endpoint has) is refused with 40097 "invalid args" naming the key, the rule
//! and the value; nothing is changed.

use std::time::Duration;

use hyper::Method;
use serde_json::{Map, Value, json};

use super::Fault;
use super::api::{Answer, DATA_FORMAT_ERROR};
use super::dates::format_day;
use super::shared::Shared;
use super::state::{
    CARD_VERIFY_FAIL, CARD_VERIFY_OK, INVALID_ARGS, MISSING_FIELD, Outcome, Refusal,
};

/// Whether `path` is a control.
pub(crate) fn is_control(path: &str) -> bool {
    path.starts_with("sandbox/")
}

/// Runs a control.
pub(crate) fn dispatch(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    if method != Method::POST {
        return Answer::refusal(&Refusal::of(super::errcodes::REQUIRE_POST));
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
    Answer::from(outcome)
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
        "sandbox/code/consume" => {
            let (card_id, openid) = shared.state().consume_from(
                text(request, "code")?,
                None,
                crate::ConsumeSource::Mp,
            )?;
            Ok(json!({ "card_id": card_id, "openid": openid }))
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
            let (set, advance) = clock_request(request)?;
            let mut state = shared.state();
            if let Some(set) = set {
                state.set_time(set);
            }
            if let Some(seconds) = advance {
                state.advance(Duration::from_secs(seconds));
            }
            Ok(json!({ "now": state.now(), "today": format_day(state.today()) }))
        }
        "sandbox/jsapi/add_card" => {
            let code = shared.state().receive_by_card_ext(
                text(request, "openid")?,
                text(request, "card_id")?,
                text(request, "card_ext")?,
            )?;
            Ok(json!({ "code": code }))
        }
        "sandbox/paycell/pay" => {
            let fee = integer(request, "sandbox/paycell/pay", "fee")?;
            let original = match request.get("original_fee") {
                None => fee,
                Some(_) => integer(request, "sandbox/paycell/pay", "original_fee")?,
            };
            let trans_id =
                shared
                    .state()
                    .pay_with_pay_cell(text(request, "code")?, fee, original)?;
            Ok(json!({ "trans_id": trans_id }))
        }
        "sandbox/session/enter" => {
            shared.state().enter_session(text(request, "code")?)?;
            done
        }
        "sandbox/membercard/submit" => {
            let info = request.get("info").cloned().unwrap_or(Value::Null);
            let ticket = shared
                .state()
                .submit_member_info(text(request, "code")?, info)?;
            Ok(json!({ "activate_ticket": ticket }))
        }
        "sandbox/coin/pay" => {
            shared.state().pay_coin_order(text(request, "order_id")?)?;
            done
        }
        "sandbox/submerchant/review" => {
            let control = "sandbox/submerchant/review";
            let merchant_id =
                u64::try_from(integer(request, control, "merchant_id")?).map_err(|_| {
                    bad_input(
                        control,
                        "merchant_id",
                        "must not be negative",
                        &request["merchant_id"],
                    )
                })?;
            let reason = request
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            shared.state().review_sub_merchant(
                merchant_id,
                boolean(request, control, "pass")?,
                reason,
            )?;
            done
        }
        "sandbox/qualification/review" => {
            let appid = request.get("appid").and_then(Value::as_str);
            shared.state().review_qualification(
                appid,
                boolean(request, "sandbox/qualification/review", "pass")?,
            )?;
            done
        }
        "sandbox/giftcard/buy" => {
            let order_id = shared.state().buy_gift_card(
                text(request, "openid")?,
                text(request, "page_id")?,
                request.get("card_id").and_then(Value::as_str),
            )?;
            Ok(json!({ "order_id": order_id }))
        }
        "sandbox/giftcard/give" => {
            shared
                .state()
                .give_gift_card(text(request, "order_id")?, text(request, "openid")?)?;
            done
        }
        "sandbox/code/ticket" => {
            let code = text(request, "code")?;
            let state = shared.state();
            state.control_code(code)?;
            Ok(json!({ "ticket": state.ticket_details(code).unwrap_or_else(|| json!({})) }))
        }
        "sandbox/callback" => super::events::control(shared, request),
        "sandbox/callback/repush" => {
            only_keys("sandbox/callback/repush", request, &[])?;
            super::events::repush_control(shared)
        }
        "sandbox/callback/delay_answers" => {
            const CONTROL: &str = "sandbox/callback/delay_answers";
            only_keys(CONTROL, request, &["times"])?;
            let times = match request.get("times") {
                None => 1,
                Some(value) => value
                    .as_u64()
                    .filter(|n| *n <= 1000)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        bad_input(CONTROL, "times", "must be an integer from 0 to 1000", value)
                    })?,
            };
            super::events::delay_control(shared, times)
        }
        "sandbox/token/expire" => {
            shared.state().expire_tokens();
            done
        }
        "sandbox/fault" => {
            let (target, fault, times) = fault_request(request)?;
            shared.push_fault(&target, fault, times);
            done
        }
        "sandbox/fault/clear" => {
            shared.clear_faults();
            done
        }
        other => Err(Refusal::new(
            super::errcodes::INVALID_URL,
            format!("invalid url: /{other} is not a sandbox control"),
        )),
    }
}

/// A required integer of a control (41011 missing, 40097 not an integer).
fn integer(request: &Value, control: &str, key: &str) -> Outcome<i64> {
    let value = request
        .get(key)
        .ok_or_else(|| Refusal::new(MISSING_FIELD, format!("missing required field `{key}`")))?;
    value
        .as_i64()
        .ok_or_else(|| bad_input(control, key, "must be an integer", value))
}

/// A required boolean of a control (41011 missing, 40097 not a boolean).
fn boolean(request: &Value, control: &str, key: &str) -> Outcome<bool> {
    let value = request
        .get(key)
        .ok_or_else(|| Refusal::new(MISSING_FIELD, format!("missing required field `{key}`")))?;
    value
        .as_bool()
        .ok_or_else(|| bad_input(control, key, "must be true or false", value))
}

/// A refusal of a control's input: 40097 naming the key, the rule and the value.
fn bad_input(control: &str, key: &str, rule: &str, value: &Value) -> Refusal {
    Refusal::new(
        INVALID_ARGS,
        format!("invalid args: {control}: `{key}` {rule}, got {value}"),
    )
}

/// Refuses keys a control does not know (a typo would otherwise be ignored silently).
fn only_keys(control: &str, request: &Value, known: &[&str]) -> Outcome<()> {
    if let Some(object) = request.as_object() {
        if let Some(key) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Refusal::new(
                INVALID_ARGS,
                format!(
                    "invalid args: {control}: unknown key `{key}` (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `sandbox/clock`: `set` (Unix seconds, an integer) and/or `advance` (seconds, an integer ≥ 0).
fn clock_request(request: &Value) -> Outcome<(Option<i64>, Option<u64>)> {
    const CONTROL: &str = "sandbox/clock";
    only_keys(CONTROL, request, &["set", "advance"])?;
    let set = match request.get("set") {
        None => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            bad_input(
                CONTROL,
                "set",
                "must be an integer number of Unix seconds",
                value,
            )
        })?),
    };
    let advance = match request.get("advance") {
        None => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| {
            bad_input(
                CONTROL,
                "advance",
                "must be a whole number of seconds, 0 or more (the clock never goes back; use `set`)",
                value,
            )
        })?),
    };
    Ok((set, advance))
}

/// `sandbox/fault`: `path` (an endpoint of the spec, a token endpoint, or `*`), `times` (default
/// 1), and exactly one fault.
fn fault_request(request: &Value) -> Outcome<(String, Fault, usize)> {
    const CONTROL: &str = "sandbox/fault";
    const FAULTS: &[&str] = &[
        "errcode",
        "delay_ms",
        "drop",
        "drop_after",
        "http_status",
        "expire_token",
    ];
    let mut known = vec!["path", "times"];
    known.extend_from_slice(FAULTS);
    only_keys(CONTROL, request, &known)?;
    let target = text(request, "path")?;
    let normalized = super::shared::normalize(target);
    if normalized != "*" && !super::api::is_served_path(normalized) {
        return Err(bad_input(
            CONTROL,
            "path",
            "must be a path the sandbox serves (an endpoint of the spec, cgi-bin/token, cgi-bin/stable_token) or `*`",
            &json!(target),
        ));
    }
    let times = match request.get("times") {
        None => 1,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=1_000_000).contains(n))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                bad_input(
                    CONTROL,
                    "times",
                    "must be an integer from 1 to 1000000",
                    value,
                )
            })?,
    };
    let given: Vec<&str> = FAULTS
        .iter()
        .copied()
        .filter(|k| request.get(*k).is_some())
        .collect();
    let [key] = given.as_slice() else {
        return Err(Refusal::new(
            INVALID_ARGS,
            format!(
                "invalid args: {CONTROL}: give exactly one of {} (got {})",
                FAULTS.join(", "),
                if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join(", ")
                }
            ),
        ));
    };
    let value = &request[*key];
    let flag = |key: &str| match value {
        Value::Bool(true) => Ok(()),
        other => Err(bad_input(CONTROL, key, "must be true", other)),
    };
    let fault = match *key {
        "errcode" => Fault::Errcode(
            value
                .as_i64()
                .ok_or_else(|| bad_input(CONTROL, "errcode", "must be an integer", value))?,
        ),
        "delay_ms" => Fault::Delay(Duration::from_millis(
            value.as_u64().filter(|ms| *ms <= 600_000).ok_or_else(|| {
                bad_input(
                    CONTROL,
                    "delay_ms",
                    "must be an integer from 0 to 600000",
                    value,
                )
            })?,
        )),
        "http_status" => Fault::HttpStatus(
            value
                .as_u64()
                .filter(|s| (100..=599).contains(s))
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| {
                    bad_input(
                        CONTROL,
                        "http_status",
                        "must be an HTTP status from 100 to 599",
                        value,
                    )
                })?,
        ),
        "drop" => {
            flag("drop")?;
            Fault::Drop
        }
        "drop_after" => {
            flag("drop_after")?;
            Fault::DropAfterHandling
        }
        _ => {
            flag("expire_token")?;
            Fault::ExpireToken
        }
    };
    Ok((normalized.to_owned(), fault, times))
}
