//! Reading a request: decoding it (JSON body or query string) and validating it with the
//! generated types (`check_request`, the code the client validates with), the refusal for each
//! kind of invalid input (the table in the `api` module), the typed decoding handlers use, and
//! the answers from the spec's documented examples. A leaf: it knows the spec and the errcodes,
//! not the sandbox's state.

use serde_json::{Map, Value, json};

use super::errcodes::*;
use crate::schema::{self, EndpointInfo, HttpMethod, Ty, TypeKind};
use crate::tooling::{self, HookError};
use crate::validate::{Rule, ValidationError};

/// A query parameter.
pub(crate) fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The request as JSON, decoded and validated with the endpoint's generated request type, as
/// the typed client would have sent it.
pub(crate) fn decode_request(
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

pub(crate) fn check_values_in(ty: &Ty, value: &Value, path: &str) -> Outcome<()> {
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
pub(crate) fn query_to_json(request: Option<&str>, query: &[(String, String)]) -> Value {
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
pub(crate) fn missing_field(message: &str) -> Option<&str> {
    let rest = message.split("missing field `").nth(1)?;
    rest.split('`').next()
}

pub(crate) fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// The first required field missing from `value` (of the spec type `type_name`), by path.
pub(crate) fn find_missing(type_name: &str, value: &Value, path: &str) -> Option<String> {
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

pub(crate) fn find_missing_in(ty: &Ty, value: &Value, path: &str) -> Option<String> {
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

/// The (validated) request as its generated type.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(request: &Value) -> Outcome<T> {
    // Read from the borrowed value: no copy of the request.
    T::deserialize(request)
        .map_err(|e| Refusal::new(DATA_FORMAT_ERROR, format!("data format error: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Cards
// ---------------------------------------------------------------------------------------------
