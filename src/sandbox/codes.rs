//! The code handlers: `card/code/get`, `consume`, `decrypt`, `update`, `mark`, `unavailable`
//! and `card/user/getcardlist`.

use serde_json::{Value, json};

use super::errcodes::*;
use super::request::*;
use super::state::{CodeStatus, State};

/// `card/code/get`. `check_consume` defaults to true: an abnormal code is then an error (40099
/// consumed, 40127 otherwise); with `false` the state is reported with errcode 0.
pub(crate) fn get_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCodeRequest = typed(request)?;
    let check = request.check_consume.unwrap_or(true);
    let record = state.find_code(&request.code, request.card_id.as_deref())?;
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

pub(crate) fn consume_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::ConsumeCodeRequest = typed(request)?;
    let (card_id, openid) = state.consume(&request.code, request.card_id.as_deref())?;
    Ok(json!({ "card": { "card_id": card_id }, "openid": openid }))
}

pub(crate) fn decrypt_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::DecryptCodeRequest = typed(request)?;
    let code = state
        .decrypt_code(&request.encrypt_code)
        .ok_or_else(|| Refusal::of(INVALID_ENCRYPT_CODE))?;
    Ok(json!({ "code": code }))
}

pub(crate) fn update_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::UpdateCodeRequest = typed(request)?;
    state.update_code(&request.code, request.card_id.as_deref(), &request.new_code)?;
    Ok(json!({}))
}

/// `card/code/mark`, see [`State::mark_code`].
pub(crate) fn mark_code(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::MarkCodeRequest = typed(request)?;
    state.mark_code(
        &request.code,
        &request.card_id,
        &request.openid,
        request.is_mark,
    )?;
    Ok(json!({}))
}

pub(crate) fn set_code_unavailable(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::SetCodeUnavailableRequest = typed(request)?;
    state.make_unavailable(&request.code, request.card_id.as_deref())?;
    Ok(json!({}))
}

/// `card/user/getcardlist`: the user's usable codes (normal, including not yet valid).
pub(crate) fn get_user_card_list(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetUserCardListRequest = typed(request)?;
    let openid = request.openid.as_str();
    let card_id = request.card_id.as_deref();
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
