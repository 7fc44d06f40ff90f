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

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::dates::{format_day, parse_day};
use super::services;
use super::state::{
    APPID_MISSING, CARD_NOT_VERIFY, CARD_VERIFY_OK, CardRecord, CodeStatus, INVALID_APPID,
    INVALID_APPSECRET, INVALID_ARGS, INVALID_CARD_TYPE, INVALID_CREDENTIAL, INVALID_ENCRYPT_CODE,
    INVALID_GRANT_TYPE, INVALID_TIME, MISSING_FIELD, Outcome, Refusal, SECRET_MISSING, State,
    TOKEN_MISSING,
};
use crate::schema::{self, Auth, EndpointInfo, HttpMethod, Ty, TypeKind};
use crate::tooling::{self, HookError};
use crate::validate::{Rule, ValidationError};

pub(crate) use super::errcodes::{
    DATA_FORMAT_ERROR, DATE_FORMAT_ERROR, DATE_RANGE_ERROR, INVALID_URL, LENGTH_LIMIT, REQUIRE_GET,
    REQUIRE_POST, TIME_RANGE_ERROR,
};
use super::errcodes::{SANDBOX_COUPON_CREATION_CLOSED, errmsg};

/// An answer: HTTP status and JSON body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer { status: 200, body }
    }

    /// WeChat's answer to a refused request.
    pub(crate) fn refusal(refusal: &Refusal) -> Answer {
        Answer::ok(json!({ "errcode": refusal.errcode, "errmsg": refusal.errmsg }))
    }
}

impl From<Outcome<Value>> for Answer {
    fn from(outcome: Outcome<Value>) -> Answer {
        match outcome {
            Ok(body) => Answer::ok(body),
            Err(refusal) => Answer::refusal(&refusal),
        }
    }
}

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

/// A query parameter.
fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The request as JSON, decoded and validated with the endpoint's generated request type, as
/// the typed client would have sent it.
fn decode_request(
    endpoint: &EndpointInfo,
    query: &[(String, String)],
    body: &[u8],
) -> Outcome<Value> {
    let raw = match endpoint.method {
        HttpMethod::Post => {
            if body.iter().all(u8::is_ascii_whitespace) && endpoint.request.is_none() {
                Value::Object(Map::new())
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(value @ Value::Object(_)) => value,
                    Ok(_) => {
                        return Err(Refusal::new(
                            DATA_FORMAT_ERROR,
                            "data format error: the body must be a JSON object",
                        ));
                    }
                    Err(e) => {
                        return Err(Refusal::new(
                            DATA_FORMAT_ERROR,
                            format!("data format error: the body is not JSON ({e})"),
                        ));
                    }
                }
            }
        }
        HttpMethod::Get => query_to_json(endpoint.request, query),
    };
    let Some(request_type) = endpoint.request else {
        return Ok(raw);
    };
    let mut raw = raw;
    if endpoint.path == "card/create" {
        if let Some(card) = raw.get_mut("card") {
            accept_numeric_timestamps(card);
        }
    }
    let checked = (tooling::hooks(endpoint).check_request)(&raw).map_err(|e| match e {
        HookError::Invalid(v) => validation_refusal(&v, Some((request_type, &raw, ""))),
        other => Refusal::new(DATA_FORMAT_ERROR, format!("data format error: {other}")),
    })?;
    if matches!(endpoint.method, HttpMethod::Post) {
        check_values(request_type, &raw, "")?;
    } else {
        check_values(request_type, &checked, "")?;
    }
    Ok(checked)
}

/// The timestamps `card/create` accepts as numeric strings: the official page says the seconds
/// of `date_info.begin_timestamp` (and, "下同", `end_timestamp`) "最终需转换为字符串形态传入"
/// (are finally passed as strings), and other SDKs send them so. The typed client sends numbers;
/// the sandbox turns a string of digits at exactly these two places into the number before
/// checking, so both forms are accepted there and nowhere else.
pub(crate) fn accept_numeric_timestamps(card: &mut Value) {
    let Some(tag) = card.get("card_type").and_then(Value::as_str) else {
        return;
    };
    let key = tag.to_ascii_lowercase();
    let Some(date_info) = card
        .get_mut(&key)
        .and_then(|payload| payload.get_mut("base_info"))
        .and_then(|base| base.get_mut("date_info"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for field in ["begin_timestamp", "end_timestamp"] {
        if let Some(slot) = date_info.get_mut(field) {
            let number = slot
                .as_str()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(number) = number {
                *slot = Value::from(number);
            }
        }
    }
}

/// Refuses what the generated types accept, so that answers never fail to decode, but WeChat
/// refuses in requests:
/// - a value of an enum field that the spec does not list (the types keep it as `Unknown(…)`):
///   40071 for `card_type`, 40072 for `code_type`, 40097 for the others;
/// - an integer sent as a string (`"quantity": "5"`; the types of answers decode numeric strings,
///   and the card body is one of them): 47001. `card/create`'s `date_info` timestamps, which
///   WeChat does take as strings, are turned into numbers before this check.
///
/// Runs on the request as it was sent, not on its typed re-encoding.
pub(crate) fn check_values(type_name: &str, value: &Value, path: &str) -> Outcome<()> {
    let Some(info) = schema::type_info(type_name) else {
        return Ok(());
    };
    match info.kind {
        TypeKind::Object { fields, .. } => {
            let Some(object) = value.as_object() else {
                return Ok(());
            };
            for field in fields {
                if let Some(inner) = object.get(field.wire) {
                    check_values_in(&field.ty, inner, &join(path, field.wire))?;
                }
            }
            Ok(())
        }
        TypeKind::Enum { values } => match value.as_str() {
            Some(text) if !values.contains(&text) => {
                let field = path.rsplit('.').next().unwrap_or(path);
                let errcode = match field {
                    "card_type" => INVALID_CARD_TYPE,
                    "code_type" => super::errcodes::INVALID_CODE_TYPE,
                    _ => INVALID_ARGS,
                };
                Err(Refusal::new(
                    errcode,
                    format!(
                        "{}: `{path}` is {text:?}, not one of {}",
                        super::errcodes::errmsg(errcode),
                        values.join(", ")
                    ),
                ))
            }
            _ => Ok(()),
        },
        TypeKind::Union { tag, variants } => {
            let Some(object) = value.as_object() else {
                return Ok(());
            };
            let tag_value = object.get(tag).and_then(Value::as_str).unwrap_or("");
            let Some((name, payload)) = variants.iter().find(|(v, _)| *v == tag_value) else {
                return Err(Refusal::new(
                    INVALID_CARD_TYPE,
                    format!("invalid card type: `{}` is {tag_value:?}", join(path, tag)),
                ));
            };
            let key = name.to_ascii_lowercase();
            match object.get(&key) {
                Some(inner) => check_values(payload, inner, &join(path, &key)),
                None => Ok(()),
            }
        }
    }
}

fn check_values_in(ty: &Ty, value: &Value, path: &str) -> Outcome<()> {
    match ty {
        Ty::Ref(name) => check_values(name, value, path),
        Ty::List { item, .. } => {
            for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                check_values_in(item, v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Ty::Int { .. } if value.is_string() => Err(Refusal::new(
            DATA_FORMAT_ERROR,
            format!("data format error: `{path}` is the string {value}, not a number"),
        )),
        _ => Ok(()),
    }
}

/// The query parameters of a GET request as a JSON object, typed after the request's fields.
fn query_to_json(request: Option<&str>, query: &[(String, String)]) -> Value {
    let fields = request
        .and_then(schema::type_info)
        .and_then(|info| match info.kind {
            TypeKind::Object { fields, .. } => Some(fields),
            _ => None,
        })
        .unwrap_or(&[]);
    let mut object = Map::new();
    for (key, text) in query {
        if key == "access_token" || key == "component_access_token" {
            continue;
        }
        let value = match fields.iter().find(|f| f.wire == key).map(|f| f.ty) {
            Some(Ty::Int { .. }) => text
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(text.clone())),
            Some(Ty::Bool) => match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(text.clone()),
            },
            Some(Ty::List { .. } | Ty::Ref(_) | Ty::Json) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            _ => Value::String(text.clone()),
        };
        object.insert(key.clone(), value);
    }
    Value::Object(object)
}

/// WeChat's answer to a request that breaks the spec (see the table in the module docs).
///
/// `root` — the spec type of the checked JSON, the JSON and its path — lets a missing field be
/// named by its whole path (`card.discount.base_info.title`) rather than by serde's last
/// segment.
pub(crate) fn validation_refusal(
    error: &ValidationError,
    root: Option<(&str, &Value, &str)>,
) -> Refusal {
    match error.rule() {
        Rule::Decode { message } => {
            if let Some(field) = missing_field(message) {
                let path = root
                    .and_then(|(ty, raw, prefix)| find_missing(ty, raw, prefix))
                    .unwrap_or_else(|| join(error.path(), field));
                Refusal::new(MISSING_FIELD, format!("missing required field `{path}`"))
            } else {
                Refusal::new(DATA_FORMAT_ERROR, format!("data format error: {error}"))
            }
        }
        Rule::MaxBytes { .. } => Refusal::new(
            LENGTH_LIMIT,
            format!("field length exceeds the limit: {error}"),
        ),
        Rule::Date { .. } => Refusal::new(DATE_FORMAT_ERROR, format!("date format error: {error}")),
        Rule::DateOrder { .. } | Rule::DateSpan { .. } => {
            Refusal::new(DATE_RANGE_ERROR, format!("date range error: {error}"))
        }
        Rule::TimeOrder { .. } | Rule::TimeSpan { .. } => {
            Refusal::new(TIME_RANGE_ERROR, format!("invalid time range: {error}"))
        }
        _ => Refusal::new(INVALID_ARGS, format!("invalid args: {error}")),
    }
}

/// The field serde reports missing (`missing field `code``).
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.split("missing field `").nth(1)?;
    rest.split('`').next()
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// The first required field missing from `value` (of the spec type `type_name`), by path.
fn find_missing(type_name: &str, value: &Value, path: &str) -> Option<String> {
    let info = schema::type_info(type_name)?;
    let object = value.as_object()?;
    match info.kind {
        TypeKind::Object { fields, .. } => fields.iter().find_map(|field| {
            let here = join(path, field.wire);
            match object.get(field.wire) {
                None if field.required => Some(here),
                Some(inner) => find_missing_in(&field.ty, inner, &here),
                None => None,
            }
        }),
        TypeKind::Union { tag, variants } => {
            let Some(value) = object.get(tag) else {
                return Some(join(path, tag));
            };
            let (name, payload) = variants.iter().find(|(v, _)| Some(*v) == value.as_str())?;
            let key = name.to_ascii_lowercase();
            let here = join(path, &key);
            match object.get(&key) {
                None => Some(here),
                Some(inner) => find_missing(payload, inner, &here),
            }
        }
        _ => None,
    }
}

fn find_missing_in(ty: &Ty, value: &Value, path: &str) -> Option<String> {
    match ty {
        Ty::Ref(name) => find_missing(name, value, path),
        Ty::List { item, .. } => value
            .as_array()?
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_missing_in(item, v, &format!("{path}[{i}]"))),
        _ => None,
    }
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

/// The answer of an endpoint without a stateful handler: the documented example whose request
/// is this request, else the first successful example, else `{"errcode":0,"errmsg":"ok"}`.
pub(crate) fn example_answer(endpoint: &EndpointInfo, request: &Value) -> Value {
    let examples = || {
        endpoint.examples.iter().filter_map(|e| {
            let response = serde_json::from_str::<Value>(e.response?).ok()?;
            let example_request = e
                .request
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .map(|r| {
                    if endpoint.request.is_some() {
                        (tooling::hooks(endpoint).check_request)(&r).unwrap_or(r)
                    } else {
                        r
                    }
                });
            Some((example_request, response))
        })
    };
    if let Some((_, response)) = examples().find(|(r, _)| r.as_ref() == Some(request)) {
        return response;
    }
    examples()
        .map(|(_, response)| response)
        .find(|r| r.get("errcode").and_then(Value::as_i64).unwrap_or(0) == 0)
        .unwrap_or_else(|| json!({ "errcode": 0, "errmsg": "ok" }))
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn check_credentials(
    state: &State,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
    wrong_secret: i64,
) -> Outcome<()> {
    if grant_type != Some("client_credential") {
        return Err(Refusal::of(INVALID_GRANT_TYPE));
    }
    let appid = appid
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Refusal::of(APPID_MISSING))?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refusal::of(SECRET_MISSING))?;
    if appid != state.config.appid {
        return Err(Refusal::of(INVALID_APPID));
    }
    if secret != state.config.secret.expose() {
        let errmsg = if wrong_secret == INVALID_APPSECRET {
            "invalid appsecret"
        } else {
            "invalid credential, access_token is invalid or not latest (AppSecret is wrong)"
        };
        return Err(Refusal::new(wrong_secret, errmsg));
    }
    Ok(())
}

fn token_answer(token: String, expires_in: i64) -> Answer {
    Answer::ok(json!({ "access_token": token, "expires_in": expires_in }))
}

/// `GET cgi-bin/token?grant_type=client_credential&appid=…&secret=…`.
fn classic_token(state: &mut State, method: &Method, query: &[(String, String)]) -> Answer {
    let param = |name: &str| param(query, name);
    if method != Method::GET {
        return Answer::refusal(&Refusal::of(REQUIRE_GET));
    }
    if let Err(refusal) = check_credentials(
        state,
        param("grant_type"),
        param("appid"),
        param("secret"),
        INVALID_CREDENTIAL,
    ) {
        return Answer::refusal(&refusal);
    }
    let (token, expires_in) = state.classic_token();
    token_answer(token, expires_in)
}

/// `POST cgi-bin/stable_token` with `{grant_type, appid, secret, force_refresh}`.
fn stable_token(state: &mut State, method: &Method, body: &[u8]) -> Answer {
    if method != Method::POST {
        return Answer::refusal(&Refusal::of(REQUIRE_POST));
    }
    // The body holds the secret: never quote it in an answer.
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return Answer::refusal(&Refusal::of(DATA_FORMAT_ERROR));
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    let force_refresh = match request.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Answer::refusal(&Refusal::new(
                DATA_FORMAT_ERROR,
                "data format error: force_refresh must be a boolean",
            ));
        }
    };
    if let Err(refusal) = check_credentials(
        state,
        text("grant_type"),
        text("appid"),
        text("secret"),
        INVALID_APPSECRET,
    ) {
        return Answer::refusal(&refusal);
    }
    let (token, expires_in) = state.stable_token(force_refresh);
    token_answer(token, expires_in)
}

/// `GET cgi-bin/ticket/getticket?access_token=…&type=wx_card` (or `jsapi`).
fn get_ticket(state: &mut State, method: &Method, query: &[(String, String)]) -> Answer {
    let param = |name: &str| param(query, name);
    if method != Method::GET {
        return Answer::refusal(&Refusal::of(REQUIRE_GET));
    }
    let Some(token) = param("access_token").filter(|t| !t.is_empty()) else {
        return Answer::refusal(&Refusal::of(TOKEN_MISSING));
    };
    if let Err(refusal) = state.check_token(token) {
        return Answer::refusal(&refusal);
    }
    let kind = match param("type") {
        Some(kind @ ("wx_card" | "jsapi")) => kind,
        other => {
            return Answer::refusal(&Refusal::new(
                INVALID_ARGS,
                format!("invalid args: type must be wx_card or jsapi, not {other:?}"),
            ));
        }
    };
    let (ticket, expires_in) = state.ticket(kind);
    Answer::ok(json!({ "errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": expires_in }))
}

// ---------------------------------------------------------------------------------------------
// Request fields (the request was validated: absent required fields cannot happen, but nothing
// here panics if they do)
// ---------------------------------------------------------------------------------------------

fn text<'a>(request: &'a Value, key: &str) -> Option<&'a str> {
    request.get(key).and_then(Value::as_str)
}

fn required<'a>(request: &'a Value, key: &str) -> Outcome<&'a str> {
    text(request, key)
        .ok_or_else(|| Refusal::new(MISSING_FIELD, format!("missing required field `{key}`")))
}

fn number(request: &Value, key: &str) -> Option<u64> {
    request.get(key).and_then(Value::as_u64)
}

/// The (validated) request as its generated type.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(request: &Value) -> Outcome<T> {
    serde_json::from_value(request.clone())
        .map_err(|e| Refusal::new(DATA_FORMAT_ERROR, format!("data format error: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Cards
// ---------------------------------------------------------------------------------------------

/// The card types WeChat stopped creating on 2021-04-01.
pub(crate) const COUPON_TYPES: &[&str] = &["GROUPON", "CASH", "DISCOUNT", "GIFT", "GENERAL_COUPON"];

/// `card/create`: coupon types are refused unless the sandbox allows coupon creation.
fn create_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card = request
        .get("card")
        .ok_or_else(|| Refusal::new(MISSING_FIELD, "missing required field `card`"))?;
    let card_type = card.get("card_type").and_then(Value::as_str).unwrap_or("");
    if COUPON_TYPES.contains(&card_type) && !state.config.coupon_creation {
        return Err(Refusal::new(
            SANDBOX_COUPON_CREATION_CLOSED,
            format!(
                "{}: WeChat no longer creates {card_type} cards (coupon types, refused since 2021-04-01); \
                 member cards, gift cards and tickets are unaffected. 99001 is the sandbox's own errcode. \
                 Add a coupon \"created before 2021\" with the sandbox/card/add control (Sandbox::add_card), \
                 or start the sandbox with coupon creation allowed",
                errmsg(SANDBOX_COUPON_CREATION_CLOSED)
            ),
        ));
    }
    let card_id = state.create_card(card)?;
    Ok(json!({ "card_id": card_id }))
}

fn get_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card = state.card(required(request, "card_id")?)?;
    Ok(json!({ "card": card.to_json() }))
}

fn batch_get_cards(state: &mut State, request: &Value) -> Outcome<Value> {
    let offset = usize::try_from(number(request, "offset").unwrap_or(0)).unwrap_or(usize::MAX);
    let count = usize::try_from(number(request, "count").unwrap_or(0)).unwrap_or(usize::MAX);
    let statuses: Option<Vec<&str>> = request
        .get("status_list")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect());
    let matching: Vec<&str> = state
        .card_ids_in_order()
        .into_iter()
        .filter(|card| {
            statuses
                .as_ref()
                .is_none_or(|wanted| wanted.is_empty() || wanted.contains(&card.status))
        })
        .map(|card| card.id.as_str())
        .collect();
    let page: Vec<&str> = matching.iter().copied().skip(offset).take(count).collect();
    Ok(json!({ "card_id_list": page, "total_num": matching.len() }))
}

/// `card/update`: overwrites the fields sent; `send_check` is true (and the card goes back to
/// review) when a field marked `review` in the spec changes value.
fn update_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = required(request, "card_id")?;
    let now = state.now();
    let auto_approve = state.config.auto_approve;
    let card = state.live_card_mut(card_id)?;
    let key = card.payload_key();
    let Some(update) = request.get(&key) else {
        let sent: Vec<&str> = request
            .as_object()
            .map(|o| {
                o.keys()
                    .map(String::as_str)
                    .filter(|k| *k != "card_id")
                    .collect()
            })
            .unwrap_or_default();
        return Err(Refusal::new(
            INVALID_CARD_TYPE,
            format!(
                "invalid card type: card {card_id:?} is {}, update it under `{key}` (got {sent:?})",
                card.card_type
            ),
        ));
    };
    let update_type = request_field_type("UpdateCardRequest", &key);
    let mut target = card.card.get(&key).cloned().unwrap_or_else(|| json!({}));
    check_date_update(&target, update)?;
    let review = merge_update(&mut target, update, update_type.as_deref());
    if let Some(slot) = card.card.get_mut(&key) {
        *slot = target;
    }
    card.update_time = now;
    if review {
        card.status = if auto_approve {
            CARD_VERIFY_OK
        } else {
            CARD_NOT_VERIFY
        };
    }
    Ok(json!({ "send_check": review }))
}

/// The spec type of a request field (`UpdateCardRequest.member_card` → `MemberCardUpdate`).
fn request_field_type(type_name: &str, field: &str) -> Option<String> {
    match schema::type_info(type_name)?.kind {
        TypeKind::Object { fields, .. } => match fields.iter().find(|f| f.wire == field)?.ty {
            Ty::Ref(name) => Some(name.to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// Merges `update` into `target` field by field (objects recursively), and tells whether a
/// field the spec marks `review: true` (in `type_name` or its nested types) changed value.
fn merge_update(target: &mut Value, update: &Value, type_name: Option<&str>) -> bool {
    let fields = type_name
        .and_then(schema::type_info)
        .and_then(|info| match info.kind {
            TypeKind::Object { fields, .. } => Some(fields),
            _ => None,
        })
        .unwrap_or(&[]);
    let (Some(target), Some(update)) = (target.as_object_mut(), update.as_object()) else {
        return false;
    };
    let mut review = false;
    for (key, value) in update {
        let field = fields.iter().find(|f| f.wire == key);
        let nested = match field.map(|f| f.ty) {
            Some(Ty::Ref(name))
                if matches!(
                    schema::type_info(name).map(|t| t.kind),
                    Some(TypeKind::Object { .. })
                ) =>
            {
                Some(name)
            }
            _ => None,
        };
        match nested {
            Some(name) if value.is_object() => {
                let slot = target.entry(key.clone()).or_insert_with(|| json!({}));
                if !slot.is_object() {
                    *slot = json!({});
                }
                review |= merge_update(slot, value, Some(name));
            }
            _ => {
                let changed = target.get(key) != Some(value);
                if changed && field.is_some_and(|f| f.review) {
                    review = true;
                }
                target.insert(key.clone(), value.clone());
            }
        }
    }
    review
}

/// `date_info` may only widen a `DATE_TYPE_FIX_TIME_RANGE` period.
fn check_date_update(payload: &Value, update: &Value) -> Outcome<()> {
    let Some(new) = update.get("base_info").and_then(|b| b.get("date_info")) else {
        return Ok(());
    };
    let current = payload.get("base_info").and_then(|b| b.get("date_info"));
    let current_type = current.and_then(|d| d.get("type")).and_then(Value::as_str);
    if let Some(kind) = new.get("type").and_then(Value::as_str) {
        if kind != "DATE_TYPE_FIX_TIME_RANGE" {
            return Err(Refusal::new(
                INVALID_ARGS,
                "invalid args: date_info.type can only be DATE_TYPE_FIX_TIME_RANGE in card/update",
            ));
        }
    }
    if current_type != Some("DATE_TYPE_FIX_TIME_RANGE") {
        return Err(Refusal::new(
            INVALID_TIME,
            "invalid time: only a DATE_TYPE_FIX_TIME_RANGE period can be changed",
        ));
    }
    let int = |v: Option<&Value>, key: &str| v.and_then(|d| d.get(key)).and_then(Value::as_i64);
    if let (Some(new_begin), Some(old_begin)) = (
        int(Some(new), "begin_timestamp"),
        int(current, "begin_timestamp"),
    ) {
        if new_begin > old_begin {
            return Err(Refusal::new(
                INVALID_TIME,
                "invalid time: the period can only be widened (begin_timestamp later than before)",
            ));
        }
    }
    if let (Some(new_end), Some(old_end)) = (
        int(Some(new), "end_timestamp"),
        int(current, "end_timestamp"),
    ) {
        if new_end < old_end {
            return Err(Refusal::new(
                INVALID_TIME,
                "invalid time: the end can only be extended (end_timestamp earlier than before)",
            ));
        }
    }
    Ok(())
}

fn modify_stock(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = required(request, "card_id")?;
    state.modify_stock(
        card_id,
        number(request, "increase_stock_value").unwrap_or(0),
        number(request, "reduce_stock_value").unwrap_or(0),
    )?;
    Ok(json!({}))
}

fn delete_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = required(request, "card_id")?;
    let now = state.now();
    let card = state.live_card_mut(card_id)?;
    card.status = super::state::CARD_DELETE;
    card.update_time = now;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

/// `card/code/get`. `check_consume` defaults to true: an abnormal code is then an error (40099
/// consumed, 40127 otherwise); with `false` the state is reported with errcode 0.
fn get_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let code = required(request, "code")?;
    let check = request
        .get("check_consume")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let record = state.find_code(code, text(request, "card_id"))?;
    let can_consume = state.can_consume(record);
    if check && !can_consume {
        return Err(State::not_consumable(record));
    }
    let mut card = json!({
        "card_id": record.card_id,
        "begin_time": record.begin_time,
        "code": record.code,
    });
    if let Some(end) = record.end_time {
        card["end_time"] = json!(end);
    }
    let mut answer = json!({
        "card": card,
        "openid": record.openid,
        "can_consume": can_consume,
        "user_card_status": record.status.as_str(),
    });
    if let Some(outer) = &record.outer_str {
        answer["outer_str"] = json!(outer);
    }
    Ok(answer)
}

fn consume_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let code = required(request, "code")?;
    let (card_id, openid) = state.consume(code, text(request, "card_id"))?;
    Ok(json!({ "card": { "card_id": card_id }, "openid": openid }))
}

fn decrypt_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let encrypted = required(request, "encrypt_code")?;
    let code = state
        .decrypt_code(encrypted)
        .ok_or_else(|| Refusal::of(INVALID_ENCRYPT_CODE))?;
    Ok(json!({ "code": code }))
}

fn update_code(state: &mut State, request: &Value) -> Outcome<Value> {
    state.update_code(
        required(request, "code")?,
        text(request, "card_id"),
        required(request, "new_code")?,
    )?;
    Ok(json!({}))
}

/// `card/code/mark`, see [`State::mark_code`].
fn mark_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::MarkCodeRequest = typed(request)?;
    state.mark_code(
        &request.code,
        &request.card_id,
        &request.openid,
        request.is_mark,
    )?;
    Ok(json!({}))
}

fn set_code_unavailable(state: &mut State, request: &Value) -> Outcome<Value> {
    state.make_unavailable(required(request, "code")?, text(request, "card_id"))?;
    Ok(json!({}))
}

/// `card/user/getcardlist`: the user's usable codes (normal, including not yet valid).
fn get_user_card_list(state: &mut State, request: &Value) -> Outcome<Value> {
    let openid = required(request, "openid")?;
    let card_id = text(request, "card_id");
    if let Some(card_id) = card_id {
        state.card(card_id)?;
    }
    let list: Vec<Value> = state
        .codes_in_order()
        .into_iter()
        .filter(|c| c.openid == openid && c.status == CodeStatus::Normal)
        .filter(|c| card_id.is_none_or(|id| id == c.card_id))
        .map(|c| json!({ "code": c.code, "card_id": c.card_id }))
        .collect();
    Ok(json!({ "card_list": list, "has_share_card": false }))
}

// ---------------------------------------------------------------------------------------------
// Shared with the statistics
// ---------------------------------------------------------------------------------------------

/// The period of a datacube request as day numbers, refusing periods that do not end before
/// today (WeChat has no data for today; the sandbox answers 61501 "date range error").
pub(crate) fn period(state: &State, request: &Value) -> Outcome<(i64, i64)> {
    let day = |key: &str| {
        text(request, key)
            .and_then(parse_day)
            .ok_or_else(|| Refusal::new(DATE_FORMAT_ERROR, format!("date format error: {key}")))
    };
    let (begin, end) = (day("begin_date")?, day("end_date")?);
    let today = state.today();
    if end >= today {
        return Err(Refusal::new(
            DATE_RANGE_ERROR,
            format!(
                "date range error: end_date must be before today ({}, Beijing time); today's data is not available yet",
                format_day(today)
            ),
        ));
    }
    Ok((begin, end))
}

/// Whether the events of a card count for `cond_source` (0: created on the 公众平台, 1: through
/// the API). Every sandbox card counts as created through the API.
pub(crate) fn matches_source(_card: &CardRecord, request: &Value) -> bool {
    number(request, "cond_source").is_none_or(|source| source == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
