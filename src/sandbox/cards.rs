//! The card handlers: `card/create`, `card/get`, `card/batchget`, `card/update`,
//! `card/modifystock` and `card/delete`.

use serde_json::{Value, json};

use super::errcodes::*;
use super::request::*;
use super::state::{CARD_NOT_VERIFY, CARD_VERIFY_OK, State};
use crate::schema::{self, Ty, TypeKind};

/// The card types WeChat stopped creating on 2021-04-01.
pub(crate) const COUPON_TYPES: &[&str] = &["GROUPON", "CASH", "DISCOUNT", "GIFT", "GENERAL_COUPON"];

/// `card/create`: coupon types are refused unless the sandbox allows coupon creation.
pub(crate) fn create_card(state: &mut State, request: &Value) -> Outcome<Value> {
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

pub(crate) fn get_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardRequest = typed(request)?;
    let card = state.card(&request.card_id)?;
    Ok(json!({ "card": card.to_json() }))
}

pub(crate) fn batch_get_cards(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::BatchGetCardsRequest = typed(request)?;
    let offset = usize::try_from(request.offset).unwrap_or(usize::MAX);
    let count = usize::try_from(request.count).unwrap_or(usize::MAX);
    let statuses: Option<Vec<&str>> = request
        .status_list
        .as_ref()
        .map(|list| list.iter().map(crate::CardStatus::as_str).collect());
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
pub(crate) fn update_card(state: &mut State, request: &Value) -> Outcome<Value> {
    // The payload (the member of the card's type) is merged into the stored card as JSON, field
    // by field as sent; the typed request gives the card.
    let card_id = typed::<crate::UpdateCardRequest>(request)?.card_id;
    let card_id = card_id.as_str();
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
pub(crate) fn request_field_type(type_name: &str, field: &str) -> Option<String> {
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
pub(crate) fn merge_update(target: &mut Value, update: &Value, type_name: Option<&str>) -> bool {
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
pub(crate) fn check_date_update(payload: &Value, update: &Value) -> Outcome<()> {
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

pub(crate) fn modify_stock(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::ModifyStockRequest = typed(request)?;
    state.modify_stock(
        &request.card_id,
        request.increase_stock_value.map_or(0, u64::from),
        request.reduce_stock_value.map_or(0, u64::from),
    )?;
    Ok(json!({}))
}

pub(crate) fn delete_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::DeleteCardRequest = typed(request)?;
    let card_id = request.card_id.as_str();
    let now = state.now();
    let card = state.live_card_mut(card_id)?;
    card.status = super::state::CARD_DELETE;
    card.update_time = now;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------
