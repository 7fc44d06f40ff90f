//! From an HTTP request to WeChat's answer: tokens, the spec-driven route, validation with the
//! generated types, the stateful handlers and the answers from the spec's examples.
//!
//! # Routing
//!
//! There is no hand-written route per endpoint. A request for `path` is answered by:
//!
//! 1. the token endpoints (`cgi-bin/token`, `cgi-bin/stable_token`,
//!    `cgi-bin/ticket/getticket`), which are infrastructure rather than part of the card spec;
//! 2. otherwise [`schema::endpoint`]`(path)`: unknown paths (the endpoints the spec excludes
//!    among them) get HTTP 200 with errcode 40066 "invalid url", as WeChat answers them;
//!    the method, the token and the request (decoded and validated by the endpoint's
//!    `check_request`, the very code the client validates with) are checked; then
//! 3. the stateful handler registered for the path in [`stateful`], if any, or else the spec's
//!    documented examples: the example whose request equals the request, otherwise the first
//!    successful example. An endpoint added to the spec is therefore served (validated, answered
//!    with its documented response) as soon as it is generated.
//!
//! # Error codes for invalid requests
//!
//! | what is wrong | errcode | errmsg starts with |
//! |---|---|---|
//! | body not JSON, not an object, or a value of the wrong JSON type | 47001 | `data format error` |
//! | a required field missing (the dotted path is named) | 41011 | `missing required field` |
//! | a string longer than its `string(N)` byte limit | 45021 | `field length exceeds the limit` |
//! | a `date` not written `YYYY-MM-DD` (datacube) | 61500 | `date format error` |
//! | a period ending before it begins, longer than allowed, or not ending before today | 61501 | `date range error` |
//! | a span of Unix-second timestamps ending before it begins or longer than allowed (`time_span`, gift-card orders) | 40100 | `invalid time range` |
//! | any other limit (integer range, list length, exclusive / one-of fields, totals) | 40097 | `invalid args` |
//! | the wrong HTTP method | 43002 / 43001 | `require POST method` / `require GET method` |
//! | no `access_token` | 41001 | `access_token missing` |
//! | unknown or replaced token / expired token | 40001 / 42001 | |

use hyper::Method;
use serde_json::{Map, Value, json};

use super::cards::*;
use super::codes::*;
use super::errcodes::*;
use super::request::*;
use super::services;
use super::tokens::*;

pub(crate) use super::errcodes::DATA_FORMAT_ERROR;
use super::state::State;
use crate::schema::{self, Auth, EndpointInfo, HttpMethod};

pub(crate) use super::errcodes::Answer;

/// A stateful endpoint: the validated (normalized) request in, the answer's fields out.
pub(crate) type Handler = fn(&mut State, &Value) -> Outcome<Value>;

/// The stateful handlers, by path. Paths not listed here (and in the spec) are answered from
/// the spec's examples. `card/create` is listed ahead of the spec: it is served as soon as the
/// spec has it.
pub(crate) fn stateful(path: &str) -> Option<Handler> {
    Some(match path {
        "card/create" => create_card,
        "card/code/get" => get_code,
        "card/code/consume" => consume_code,
        "card/code/decrypt" => decrypt_code,
        "card/code/update" => update_code,
        "card/code/unavailable" => set_code_unavailable,
        "card/code/mark" => mark_code,
        "card/user/getcardlist" => get_user_card_list,
        "card/get" => get_card,
        "card/batchget" => batch_get_cards,
        "card/update" => update_card,
        "card/modifystock" => modify_stock,
        "card/delete" => delete_card,
        "datacube/getcardbizuininfo" => super::stats::bizuin_info,
        "datacube/getcardcardinfo" => super::stats::card_info,
        "datacube/getcardmembercardinfo" => super::stats::member_card_info,
        "datacube/getcardmembercarddetail" => super::stats::member_card_detail,
        "card/qrcode/create" => super::distribute::create_qrcode,
        "card/landingpage/create" => super::distribute::create_landing_page,
        "card/code/deposit" => super::distribute::deposit_codes,
        "card/code/getdepositcount" => super::distribute::get_deposit_count,
        "card/code/checkcode" => super::distribute::check_codes,
        "card/mpnews/gethtml" => super::distribute::get_mpnews_html,
        "card/testwhitelist/set" => super::distribute::set_test_whitelist,
        "card/membercard/activate" => super::membercard::activate,
        "card/membercard/updateuser" => super::membercard::update_user,
        "card/membercard/userinfo/get" => super::membercard::user_info,
        "card/membercard/activateuserform/set" => super::membercard::set_user_form,
        "card/membercard/activate/geturl" => super::membercard::activate_url,
        "card/membercard/activatetempinfo/get" => services::get_activate_temp_info,
        "card/paycell/set" => services::set_pay_cell,
        "card/selfconsumecell/set" => services::set_self_consume_cell,
        "card/getcolors" => services::get_colors,
        "card/paygiftcard/add" => services::add_pay_gift_rule,
        "card/paygiftcard/delete" => services::delete_pay_gift_rule,
        "card/paygiftcard/getbyid" => services::get_pay_gift_rule,
        "card/paygiftcard/batchget" => services::batch_get_pay_gift_rules,
        "card/pay/activate" => services::activate_coin_account,
        "card/pay/getpayprice" => services::get_coin_pay_price,
        "card/pay/getcoinsinfo" => services::get_coins_info,
        "card/pay/confirm" => services::confirm_coin_pay,
        "card/pay/recharge" => services::recharge_coins,
        "card/pay/getorder" => services::get_coin_order,
        "card/pay/getorderlist" => services::get_coin_order_list,
        "card/storewxa/get" => services::get_store_wxa_card,
        "card/storewxa/set" => services::set_store_wxa_card,
        "card/meetingticket/updateuser" => services::update_meeting_ticket,
        "card/movieticket/updateuser" => services::update_movie_ticket,
        "card/boardingpass/checkin" => services::check_in_boarding_pass,
        "card/submerchant/submit" => services::submit_sub_merchant,
        "card/submerchant/update" => services::update_sub_merchant,
        "card/submerchant/get" => services::get_sub_merchant,
        "card/submerchant/batchget" => services::batch_get_sub_merchants,
        "cgi-bin/component/upload_card_agent_qualification" => services::upload_agent_qualification,
        "cgi-bin/component/check_card_agent_qualification" => services::check_agent_qualification,
        "cgi-bin/component/upload_card_merchant_qualification" => {
            services::upload_merchant_qualification
        }
        "cgi-bin/component/check_card_merchant_qualification" => {
            services::check_merchant_qualification
        }
        "cgi-bin/component/get_card_merchant" => services::get_card_merchant,
        "cgi-bin/component/batchget_card_merchant" => services::batch_get_card_merchants,
        "card/giftcard/page/add" => services::add_gift_card_page,
        "card/giftcard/page/get" => services::get_gift_card_page,
        "card/giftcard/page/update" => services::update_gift_card_page,
        "card/giftcard/page/batchget" => services::batch_get_gift_card_pages,
        "card/giftcard/maintain/set" => services::set_gift_card_maintain,
        "card/giftcard/pay/whitelist/add" => services::add_gift_card_pay_whitelist,
        "card/giftcard/pay/submch/bind" => services::bind_gift_card_sub_merchant,
        "card/giftcard/wxa/set" => services::set_gift_card_wxa,
        "card/giftcard/order/get" => services::get_gift_card_order,
        "card/giftcard/order/batchget" => services::batch_get_gift_card_orders,
        "card/giftcard/order/refund" => services::refund_gift_card_order,
        "card/generalcard/updateuser" => services::update_general_card_user,
        "card/generalcard/activate" => services::activate_general_card,
        "card/generalcard/unactivate" => services::unactivate_general_card,
        _ => return None,
    })
}

/// Endpoints of the spec answered from its documented examples on purpose, with the reason.
/// Every other endpoint has a stateful handler ([`stateful`]) or is a token endpoint; an
/// endpoint added to the spec without a handler is answered from its examples, and the coverage
/// table (`docs/sandbox.md`) says so.
#[cfg(test)]
pub(crate) const FROM_EXAMPLES: &[(&str, &str)] = &[(
    "card/getapplyprotocol",
    "WeChat's fixed catalogue of card categories: there is nothing to keep. The sandbox checks the categories of sub-merchants and qualifications against it.",
)];

/// How the sandbox serves an endpoint of the spec.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// Tokens and tickets with expiry (`cgi-bin/ticket/getticket`).
    Token,
    /// A stateful handler.
    Stateful,
    /// The spec's documented examples, with the reason.
    Examples(&'static str),
}

/// How `path` is served.
#[cfg(test)]
pub(crate) fn served(path: &str) -> Served {
    if matches!(
        path,
        "cgi-bin/token" | "cgi-bin/stable_token" | "cgi-bin/ticket/getticket"
    ) {
        Served::Token
    } else if stateful(path).is_some() {
        Served::Stateful
    } else {
        Served::Examples(FROM_EXAMPLES.iter().find(|(p, _)| *p == path).map_or(
            "no stateful handler yet: validated and answered from the spec's examples",
            |(_, why)| why,
        ))
    }
}

/// The sandbox's coverage table (`docs/sandbox.md`), generated from the spec's endpoints and
/// the handlers.
#[cfg(test)]
pub(crate) fn coverage_markdown() -> String {
    let total = schema::ENDPOINTS.len();
    let stateful = schema::ENDPOINTS
        .iter()
        .filter(|e| !matches!(served(e.path), Served::Examples(_)))
        .count();
    let mut out = String::from(
        "<!-- @generated from the sandbox's handlers and the spec by its coverage test. Do not edit: change the spec or the sandbox and run `UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast`. -->\n\n",
    );
    out.push_str("# Sandbox coverage\n\n");
    out.push_str(&format!(
        "The sandbox serves {stateful} of the spec's {total} endpoints statefully: it keeps what they are told, answers later calls from it and refuses what does not exist (an unknown card_id, code, rule_id, page_id, order_id, sub-merchant, …) with WeChat's errcode. Every request is first validated with the spec, as the client validates it. The others are validated, then answered from the spec's documented examples, for the reason given.\n\n"
    ));
    out.push_str("| group | path | served | why from examples |\n|---|---|---|---|\n");
    for endpoint in schema::ENDPOINTS {
        let (how, why) = match served(endpoint.path) {
            Served::Token => ("tokens and tickets with expiry", ""),
            Served::Stateful => ("stateful", ""),
            Served::Examples(why) => ("**from examples**", why),
        };
        out.push_str(&format!(
            "| {} | `{}` | {how} | {} |\n",
            endpoint.group,
            endpoint.path,
            why.replace('|', "\\|")
        ));
    }
    out.push_str(&format!(
        "\n{stateful} of {total} endpoints are stateful.\n"
    ));
    out
}

/// Answers one request. `query` is the decoded query string, `body` the raw body.
pub(crate) fn dispatch(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Answer {
    state.sweep();
    let param = |name: &str| param(query, name);
    match path {
        "cgi-bin/token" => return classic_token(state, method, query),
        "cgi-bin/stable_token" => return stable_token(state, method, body),
        "cgi-bin/ticket/getticket" => return get_ticket(state, method, query),
        _ => {}
    }
    let Some(endpoint) = schema::endpoint(path) else {
        // WeChat answers an unknown path with HTTP 200 and 40066, like any other refusal:
        // clients that check the HTTP status before the body still see the errcode.
        return Answer::refusal(&Refusal::new(
            INVALID_URL,
            format!("invalid url hint: /{path} is not an endpoint of the card API spec"),
        ));
    };
    match (endpoint.method, method) {
        (HttpMethod::Post, &Method::POST) | (HttpMethod::Get, &Method::GET) => {}
        (HttpMethod::Post, _) => {
            return Answer::refusal(&Refusal::of(REQUIRE_POST));
        }
        (HttpMethod::Get, _) => {
            return Answer::refusal(&Refusal::of(REQUIRE_GET));
        }
    }
    let auth = match endpoint.auth {
        Auth::ComponentAccessToken => "component_access_token",
        _ => "access_token",
    };
    match param(auth).filter(|t| !t.is_empty()) {
        None => {
            return Answer::refusal(&Refusal::new(TOKEN_MISSING, format!("{auth} missing")));
        }
        // The open platform's component tokens are not emulated: any non-empty one is accepted.
        Some(_) if endpoint.auth == Auth::ComponentAccessToken => {}
        Some(token) => {
            if let Err(refusal) = state.check_token(token) {
                return Answer::refusal(&refusal);
            }
        }
    }
    let request = match decode_request(endpoint, query, body) {
        Ok(request) => request,
        Err(refusal) => return Answer::refusal(&refusal),
    };
    match stateful(path) {
        Some(handler) => match handler(state, &request) {
            Ok(fields) => Answer::ok(envelope(endpoint, fields)),
            Err(refusal) => Answer::refusal(&refusal),
        },
        // No handler: faithful all the same. Validated like every request (above), and every
        // entity the request names must exist before the spec's example answers.
        None => match state.check_references(&request) {
            Ok(()) => Answer::ok(example_answer(endpoint, &request)),
            Err(refusal) => Answer::refusal(&refusal),
        },
    }
}

/// Whether the sandbox serves `path` (an endpoint of the spec or a token endpoint).
pub(crate) fn is_served_path(path: &str) -> bool {
    matches!(
        path,
        "cgi-bin/token" | "cgi-bin/stable_token" | "cgi-bin/ticket/getticket"
    ) || schema::endpoint(path).is_some()
}

/// The successful answer of an endpoint: its fields, with `errcode: 0, errmsg: "ok"` unless the
/// spec's successful examples show WeChat leaving the envelope out (the datacube endpoints).
fn envelope(endpoint: &EndpointInfo, fields: Value) -> Value {
    let with_envelope = endpoint
        .examples
        .iter()
        .filter_map(|e| e.response)
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .find(|r| r.get("errcode").and_then(Value::as_i64).unwrap_or(0) == 0)
        .is_none_or(|r| r.get("errcode").is_some());
    let mut object = match fields {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    if with_envelope {
        object.insert("errcode".into(), json!(0));
        object.insert("errmsg".into(), json!("ok"));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tooling;

    /// Every endpoint answered from examples on purpose is an endpoint of the spec without a
    /// handler (a typo or a stale entry fails here).
    #[test]
    fn example_only_endpoints_are_spec_endpoints_without_handlers() {
        for (path, _) in FROM_EXAMPLES {
            assert!(
                schema::endpoint(path).is_some(),
                "{path} is not in the spec"
            );
            assert!(stateful(path).is_none(), "{path} has a handler");
        }
    }

    /// The committed coverage table `docs/sandbox.md` is the generated one
    /// (`UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast`, the one refresh command, rewrites it).
    #[test]
    fn coverage_table_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sandbox.md");
        let generated = coverage_markdown();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/sandbox.md is out of date: run UPDATE_SNAPSHOTS=1 cargo test --all-features --no-fail-fast and review the diff"
        );
    }

    /// The answer from the examples decodes with the endpoint's response type, for every
    /// endpoint, including those without a stateful handler.
    #[test]
    fn example_answers_decode() {
        for endpoint in schema::ENDPOINTS {
            for example in endpoint.examples {
                let request = example
                    .request
                    .and_then(|r| serde_json::from_str::<Value>(r).ok())
                    .unwrap_or_else(|| json!({}));
                let request = if endpoint.request.is_some() {
                    (tooling::hooks(endpoint).check_request)(&request).unwrap_or(request)
                } else {
                    request
                };
                let answer = example_answer(endpoint, &request);
                let bytes = serde_json::to_vec(&answer).unwrap();
                let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
                if code == 0 {
                    (tooling::hooks(endpoint).check_response)(&bytes)
                        .unwrap_or_else(|e| panic!("{}: {e}", endpoint.path));
                }
            }
        }
    }

    /// The documented example requests use only the enum values the spec lists: the sandbox
    /// refuses the others, and WeChat's own examples are what WeChat accepts.
    #[test]
    fn example_requests_use_known_enum_values() {
        let mut refused = Vec::new();
        for endpoint in schema::ENDPOINTS {
            let Some(request_type) = endpoint.request else {
                continue;
            };
            for example in endpoint.examples {
                let Some(request) = example.request else {
                    continue;
                };
                let request: Value = serde_json::from_str(request).unwrap();
                let Ok(checked) = (tooling::hooks(endpoint).check_request)(&request) else {
                    continue;
                };
                if let Err(refusal) = check_values(request_type, &checked, "") {
                    refused.push(format!("{}: {}", endpoint.path, refusal.errmsg));
                }
            }
        }
        assert!(refused.is_empty(), "{refused:#?}");
    }

    #[test]
    fn unknown_enum_values_are_refused_with_wechats_codes() {
        let card = |date_type: &str, code_type: &str| {
            json!({ "card_type": "MEMBER_CARD", "member_card": { "base_info": {
                "code_type": code_type, "date_info": { "type": date_type } } } })
        };
        let errcode = |card: Value| check_values("Card", &card, "card").map_err(|r| r.errcode);
        assert_eq!(
            errcode(card("DATE_TYPE_PERMANENT", "CODE_TYPE_TEXT")),
            Ok(())
        );
        assert_eq!(
            errcode(card("DATE_TYPE_FOREVER", "CODE_TYPE_TEXT")),
            Err(INVALID_ARGS)
        );
        assert_eq!(
            errcode(card("DATE_TYPE_PERMANENT", "CODE_TYPE_HOLOGRAM")),
            Err(super::super::errcodes::INVALID_CODE_TYPE)
        );
        assert_eq!(
            errcode(json!({ "card_type": "SPACESHIP" })),
            Err(INVALID_CARD_TYPE)
        );
    }

    #[test]
    fn numeric_string_timestamps_are_accepted_in_date_info_only() {
        let mut card = json!({ "card_type": "GIFT", "gift": { "base_info": {
            "date_info": { "type": "DATE_TYPE_FIX_TIME_RANGE",
                "begin_timestamp": "1397577600", "end_timestamp": "1472724261" },
            "title": "1397577600" }, "gift": "12" } });
        accept_numeric_timestamps(&mut card);
        let base = &card["gift"]["base_info"];
        assert_eq!(
            base["date_info"]["begin_timestamp"],
            json!(1_397_577_600u64)
        );
        assert_eq!(base["date_info"]["end_timestamp"], json!(1_472_724_261u64));
        assert_eq!(
            base["title"],
            json!("1397577600"),
            "other strings stay strings"
        );
        let mut bad = json!({ "card_type": "GIFT", "gift": { "base_info": {
            "date_info": { "begin_timestamp": "-1", "end_timestamp": " 12" } } } });
        accept_numeric_timestamps(&mut bad);
        assert_eq!(
            bad["gift"]["base_info"]["date_info"]["begin_timestamp"],
            json!("-1")
        );
        assert_eq!(
            bad["gift"]["base_info"]["date_info"]["end_timestamp"],
            json!(" 12")
        );
    }

    #[test]
    fn missing_fields_are_named_by_path() {
        let raw = json!({ "card": { "card_type": "GIFT", "gift": { "base_info": {
            "logo_url": "x", "code_type": "CODE_TYPE_TEXT", "brand_name": "b",
            "color": "Color010", "notice": "n", "description": "d",
            "sku": { "quantity": 1 }, "date_info": { "type": "DATE_TYPE_PERMANENT" } },
            "gift": "g" } } });
        assert_eq!(
            find_missing("CardHolder", &raw, "").as_deref(),
            None,
            "unknown type names find nothing"
        );
        let card = raw.get("card").unwrap();
        assert_eq!(
            find_missing("Card", card, "card").as_deref(),
            Some("card.gift.base_info.title")
        );
        assert_eq!(
            find_missing("GetCodeRequest", &json!({}), "").as_deref(),
            Some("code")
        );
    }

    #[test]
    fn query_values_follow_field_types() {
        let query = vec![
            ("access_token".to_owned(), "t".to_owned()),
            ("offset".to_owned(), "3".to_owned()),
            ("count".to_owned(), "x".to_owned()),
            (
                "status_list".to_owned(),
                r#"["CARD_STATUS_VERIFY_OK"]"#.to_owned(),
            ),
        ];
        assert_eq!(
            query_to_json(Some("BatchGetCardsRequest"), &query),
            json!({ "offset": 3, "count": "x", "status_list": ["CARD_STATUS_VERIFY_OK"] })
        );
    }
}
