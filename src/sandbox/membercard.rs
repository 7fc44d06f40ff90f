//! Member cards (会员卡): activation through the API, member data (membership number, bonus,
//! balance, custom values), the 一键开卡 form and the activation plug-in's URL.
//!
//! A member card's code is activated on receipt when the card has `auto_activate`, otherwise
//! by `card/membercard/activate`; both count as an activation in the datacube statistics.
//!
//! | endpoint | refusals |
//! |---|---|
//! | `card/membercard/activate` | 40056 unknown code (or a custom code without its `card_id`), 40071 not a member card, 40127 already activated or the code not `NORMAL` (40099 consumed), 40079 `activate_begin_time` after `activate_end_time`, 40097 a negative `init_bonus` / `init_balance` |
//! | `card/membercard/updateuser` | 40056, 40071, 40127 not activated or not `NORMAL` (40099 consumed), 40097 a bonus or balance that would become negative (or overflow) |
//! | `card/membercard/userinfo/get` | 40056, 40071 |
//! | `card/membercard/activateuserform/set`, `card/membercard/activate/geturl` | 40073 unknown card, 40071 not a member card |
//!
//! `updateuser` takes `bonus` (full value) over `add_bonus` (increment) when both are sent, and
//! likewise `balance` over `add_balance`; the custom values and the background replace the
//! previous ones. The records (`record_bonus`, …) and notification options are accepted and not
//! kept.

use serde_json::Value;

use super::distribute::{biz, to_value};
use super::request::typed;
use super::state::{
    CardRecord, CodeRecord, CodeStatus, EventKind, INVALID_ARGS, INVALID_CARD_TYPE, INVALID_TIME,
    INVALID_USER_CARD_STATUS, Outcome, Refusal, State,
};
use crate::percent::percent_encode;
use crate::{
    ActivateMemberCardRequest, GetActivateUrlRequest, GetActivateUrlResponse,
    GetMemberCardUserInfoRequest, GetMemberCardUserInfoResponse, MemberCardUserInfo,
    SetActivateUserFormRequest, UpdateMemberCardUserRequest, UpdateMemberCardUserResponse,
    UserCardStatus,
};

/// A member card (40073 unknown, 40071 another type).
fn member_card<'a>(state: &'a State, card_id: &str) -> Outcome<&'a CardRecord> {
    let card = state.card(card_id)?;
    if !card.is_member_card() {
        return Err(not_a_member_card(card));
    }
    Ok(card)
}

fn not_a_member_card(card: &CardRecord) -> Refusal {
    Refusal::new(
        INVALID_CARD_TYPE,
        format!(
            "invalid card type: card {:?} is {}, not MEMBER_CARD",
            card.id, card.card_type
        ),
    )
}

/// The code of a member card (40056 unknown, 40071 another card type).
fn member_code<'a>(state: &'a State, code: &str, card_id: Option<&str>) -> Outcome<&'a CodeRecord> {
    let record = state.find_code(code, card_id)?;
    let card = state.card(&record.card_id)?;
    if !card.is_member_card() {
        return Err(not_a_member_card(card));
    }
    Ok(record)
}

/// The code must be held normally to change its member data (40099 consumed, 40127 otherwise).
fn check_held(record: &CodeRecord) -> Outcome<()> {
    match record.status {
        CodeStatus::Normal | CodeStatus::GiftTimeout => Ok(()),
        _ => Err(State::not_consumable(record)),
    }
}

fn negative(what: &str, value: i64) -> Refusal {
    Refusal::new(
        INVALID_ARGS,
        format!("invalid args: {what} would be {value}, it cannot be negative"),
    )
}

/// `card/membercard/activate`.
pub(crate) fn activate(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: ActivateMemberCardRequest = typed(request)?;
    let record = member_code(state, &request.code, request.card_id.as_deref())?;
    check_held(record)?;
    if record.member.active {
        return Err(Refusal::new(
            INVALID_USER_CARD_STATUS,
            format!(
                "invalid user-card status! Hint: the member card {:?} is already activated",
                record.code
            ),
        ));
    }
    let bonus = request.init_bonus.unwrap_or(0);
    let balance = request.init_balance.unwrap_or(0);
    if bonus < 0 {
        return Err(negative("init_bonus", bonus));
    }
    if balance < 0 {
        return Err(negative("init_balance", balance));
    }
    let begin = request
        .activate_begin_time
        .map_or(record.begin_time, i64::from);
    let end = request.activate_end_time.map(i64::from).or(record.end_time);
    if end.is_some_and(|end| begin > end) {
        return Err(Refusal::new(
            INVALID_TIME,
            "invalid time: activate_begin_time is after activate_end_time",
        ));
    }
    let (card_id, openid, code) = (
        record.card_id.clone(),
        record.openid.clone(),
        record.code.clone(),
    );
    let validity_changed = (begin, end) != (record.begin_time, record.end_time);
    if let Some(record) = state.codes.get_mut(&code) {
        let member = &mut record.member;
        member.active = true;
        member.membership_number = Some(request.membership_number);
        member.bonus = bonus;
        member.balance = balance;
        member.custom_field_values = [
            request.init_custom_field_value1,
            request.init_custom_field_value2,
            request.init_custom_field_value3,
        ];
        if request.background_pic_url.is_some() {
            member.background_pic_url = request.background_pic_url;
        }
    }
    if validity_changed {
        state.set_validity(&code, begin, end);
    }
    let day = state.today();
    state.log(day, EventKind::Activate, &card_id, &openid);
    Ok(Value::Object(serde_json::Map::new()))
}

/// `card/membercard/updateuser`.
pub(crate) fn update_user(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: UpdateMemberCardUserRequest = typed(request)?;
    let record = member_code(state, &request.code, Some(&request.card_id))?;
    check_held(record)?;
    if !record.member.active {
        return Err(Refusal::new(
            INVALID_USER_CARD_STATUS,
            format!(
                "invalid user-card status! Hint: the member card {:?} is not activated",
                record.code
            ),
        ));
    }
    let current = &record.member;
    let next = |full: Option<i64>, add: Option<i64>, now: i64, what: &str| match (full, add) {
        (Some(full), _) => Ok(full),
        (None, Some(add)) => now.checked_add(add).ok_or_else(|| {
            Refusal::new(INVALID_ARGS, format!("invalid args: {what} would overflow"))
        }),
        (None, None) => Ok(now),
    };
    let bonus = next(request.bonus, request.add_bonus, current.bonus, "bonus")?;
    let balance = next(
        request.balance,
        request.add_balance,
        current.balance,
        "balance",
    )?;
    if bonus < 0 {
        return Err(negative("bonus", bonus));
    }
    if balance < 0 {
        return Err(negative("balance", balance));
    }
    let (code, openid) = (record.code.clone(), record.openid.clone());
    let changes = (
        bonus.saturating_sub(current.bonus),
        balance.saturating_sub(current.balance),
    );
    if let Some(record) = state.codes.get_mut(&code) {
        let member = &mut record.member;
        member.bonus = bonus;
        member.balance = balance;
        for (slot, value) in member.custom_field_values.iter_mut().zip([
            request.custom_field_value1,
            request.custom_field_value2,
            request.custom_field_value3,
        ]) {
            if value.is_some() {
                *slot = value;
            }
        }
        if request.background_pic_url.is_some() {
            member.background_pic_url = request.background_pic_url;
        }
    }
    state.notify_member_update(&openid, &request.card_id, &code, changes);
    to_value(
        &UpdateMemberCardUserResponse::new()
            .result_bonus(bonus)
            .result_balance(balance)
            .openid(openid),
    )
}

/// `card/membercard/userinfo/get`.
pub(crate) fn user_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: GetMemberCardUserInfoRequest = typed(request)?;
    let record = member_code(state, &request.code, Some(&request.card_id))?;
    let member = &record.member;
    let status = UserCardStatus::from(record.status.as_str());
    let mut answer = GetMemberCardUserInfoResponse::new()
        .openid(record.openid.clone())
        .bonus(member.bonus)
        .balance(member.balance)
        .user_info(
            MemberCardUserInfo::new()
                .common_field_list(Vec::new())
                .custom_field_list(Vec::new()),
        )
        .user_card_status(status)
        .has_active(member.active);
    if let Some(number) = &member.membership_number {
        answer = answer.membership_number(number.clone());
    }
    to_value(&answer)
}

/// `card/membercard/activateuserform/set`: kept with the card.
pub(crate) fn set_user_form(state: &mut State, request: &Value) -> Outcome<Value> {
    let typed_request: SetActivateUserFormRequest = typed(request)?;
    member_card(state, &typed_request.card_id)?;
    state
        .member_cards
        .forms
        .insert(typed_request.card_id.clone(), typed_request);
    Ok(Value::Object(serde_json::Map::new()))
}

/// `card/membercard/activate/geturl`: the activation plug-in's URL, with the card's
/// `encrypt_card_id`, the `outer_str` and the account's `biz`.
pub(crate) fn activate_url(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: GetActivateUrlRequest = typed(request)?;
    member_card(state, &request.card_id)?;
    let encrypted = match state.member_cards.encrypted_ids.get(&request.card_id) {
        Some(encrypted) => encrypted.clone(),
        None => {
            let encrypted = format!("{}==", state.random_text(62));
            state
                .member_cards
                .encrypted_ids
                .insert(request.card_id.clone(), encrypted.clone());
            encrypted
        }
    };
    let url = format!(
        "https://mp.weixin.qq.com/card/memberCardActivate?encrypt_card_id={}&outer_str={}&biz={}#wechat_redirect",
        percent_encode(&encrypted),
        percent_encode(request.outer_str.as_deref().unwrap_or_default()),
        percent_encode(&biz(state)),
    );
    to_value(&GetActivateUrlResponse::new().url(url))
}
