//! The datacube endpoints: per-day counters computed from the sandbox's event log (views,
//! receipts, consumptions, gifts, expiries, activations), in Beijing days.
//!
//! Only days with at least one event are listed, as in WeChat's examples. Every sandbox card
//! counts as created through the API (`cond_source: 1`); `cond_source: 0` lists nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::dates::format_day;
use super::dates::parse_day;
use super::errcodes::{DATE_FORMAT_ERROR, DATE_RANGE_ERROR};
use super::request::typed;
use super::state::{CardRecord, Event, EventKind, INVALID_CARD_ID, Outcome, Refusal, State};

/// Counts and distinct users per event kind.
#[derive(Default)]
struct Tally<'a> {
    count: [u64; 6],
    users: [BTreeSet<&'a str>; 6],
}

fn index(kind: EventKind) -> usize {
    match kind {
        EventKind::View => 0,
        EventKind::Receive => 1,
        EventKind::Consume => 2,
        EventKind::Gift => 3,
        EventKind::Expire => 4,
        EventKind::Activate => 5,
    }
}

impl<'a> Tally<'a> {
    fn add(&mut self, event: &'a Event) {
        let i = index(event.kind);
        self.count[i] += 1;
        self.users[i].insert(event.openid.as_str());
    }

    fn cnt(&self, kind: EventKind) -> u64 {
        self.count[index(kind)]
    }

    fn user(&self, kind: EventKind) -> u64 {
        self.users[index(kind)].len() as u64
    }

    /// A row of the answer: `fields`, plus `<name>_cnt` and `<name>_user` for each counter.
    fn row(&self, counters: &[(&str, EventKind)], fields: Value) -> Value {
        let mut row = fields;
        if let Value::Object(map) = &mut row {
            for (name, kind) in counters {
                map.insert(format!("{name}_cnt"), self.cnt(*kind).into());
                map.insert(format!("{name}_user"), self.user(*kind).into());
            }
        }
        row
    }
}

/// The counters of the coupon statistics (`view_cnt`, `view_user`, `receive_cnt`, …).
const COUPON_COUNTERS: [(&str, EventKind); 5] = [
    ("view", EventKind::View),
    ("receive", EventKind::Receive),
    ("verify", EventKind::Consume),
    ("given", EventKind::Gift),
    ("expire", EventKind::Expire),
];

/// The counters of the member-card statistics.
const MEMBER_COUNTERS: [(&str, EventKind); 4] = [
    ("view", EventKind::View),
    ("receive", EventKind::Receive),
    ("active", EventKind::Activate),
    ("verify", EventKind::Consume),
];

/// Events in the period of cards that pass `keep`, grouped by `key`.
fn group<'a, K: Ord>(
    state: &'a State,
    (begin, end): (i64, i64),
    keep: impl Fn(&CardRecord) -> bool,
    key: impl Fn(&'a Event) -> K,
) -> BTreeMap<K, Tally<'a>> {
    let mut groups: BTreeMap<K, Tally<'a>> = BTreeMap::new();
    for event in &state.events {
        if event.day < begin || event.day > end {
            continue;
        }
        if !state.cards.get(&event.card_id).is_some_and(&keep) {
            continue;
        }
        groups.entry(key(event)).or_default().add(event);
    }
    groups
}

/// `datacube/getcardbizuininfo`: the whole merchant, per day.
pub(crate) fn bizuin_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardBizuinInfoRequest = typed(request)?;
    let span = period(state, &request.begin_date, &request.end_date)?;
    let source = request.cond_source;
    let days = group(state, span, |card| matches_source(card, source), |e| e.day);
    let list: Vec<Value> = days
        .iter()
        .map(|(day, t)| {
            t.row(
                &COUPON_COUNTERS,
                json!({
                    "ref_date": format_day(*day),
                    "view_friends_cnt": 0,
                    "view_friends_user": 0,
                    "receive_friends_cnt": 0,
                    "receive_friends_user": 0,
                    "verify_friends_cnt": 0,
                    "verify_friends_user": 0,
                }),
            )
        })
        .collect();
    Ok(json!({ "list": list }))
}

/// The `card_type` number of the free-coupon statistics; `None` for other card types.
fn free_coupon_type(card: &CardRecord) -> Option<u32> {
    Some(match card.card_type.as_str() {
        "DISCOUNT" => 0,
        "CASH" => 1,
        "GIFT" => 2,
        "GENERAL_COUPON" => 3,
        "GROUPON" => 4,
        _ => return None,
    })
}

/// `datacube/getcardcardinfo`: free coupons, per day and card.
pub(crate) fn card_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardCardInfoRequest = typed(request)?;
    let only = request.card_id.as_deref();
    if let Some(card_id) = only {
        state.card(card_id)?;
    }
    let span = period(state, &request.begin_date, &request.end_date)?;
    let source = request.cond_source;
    let groups = group(
        state,
        span,
        |card| {
            free_coupon_type(card).is_some()
                && matches_source(card, source)
                && only.is_none_or(|id| id == card.id)
        },
        |e| (e.day, e.card_id.as_str()),
    );
    let list: Vec<Value> = groups
        .iter()
        .map(|((day, card_id), t)| {
            let card_type = state.cards.get(*card_id).and_then(free_coupon_type);
            t.row(
                &COUPON_COUNTERS,
                json!({
                    "ref_date": format_day(*day),
                    "card_id": card_id,
                    "card_type": card_type.unwrap_or(0),
                    "is_pay": 0,
                    "verify_noself_cnt": 0,
                    "verify_noself_user": 0,
                    "isfriendscard": 0,
                }),
            )
        })
        .collect();
    Ok(json!({ "list": list }))
}

/// Members at the end of `day`: distinct users holding a code of a card passing `keep`, and
/// distinct users who ever received one.
fn members(state: &State, day: i64, keep: impl Fn(&CardRecord) -> bool) -> (u64, u64) {
    let mut holding = BTreeSet::new();
    let mut ever = BTreeSet::new();
    for code in state.codes.values() {
        if !state.cards.get(&code.card_id).is_some_and(&keep) {
            continue;
        }
        if code.received_day() <= day {
            ever.insert(code.openid.as_str());
        }
        if code.held_on(day) {
            holding.insert(code.openid.as_str());
        }
    }
    (holding.len() as u64, ever.len() as u64)
}

/// `datacube/getcardmembercardinfo`: member cards, per day.
pub(crate) fn member_card_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardMemberCardInfoRequest = typed(request)?;
    let span = period(state, &request.begin_date, &request.end_date)?;
    let source = request.cond_source;
    let keep = |card: &CardRecord| card.is_member_card() && matches_source(card, source);
    let days = group(state, span, keep, |e| e.day);
    let list: Vec<Value> = days
        .iter()
        .map(|(day, t)| {
            let (total_user, total_receive_user) = members(state, *day, keep);
            t.row(
                &MEMBER_COUNTERS,
                json!({
                    "ref_date": format_day(*day),
                    "total_user": total_user,
                    "total_receive_user": total_receive_user,
                }),
            )
        })
        .collect();
    Ok(json!({ "list": list }))
}

/// `datacube/getcardmembercarddetail`: one member card, per day.
pub(crate) fn member_card_detail(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCardMemberCardDetailRequest = typed(request)?;
    let card_id = request.card_id.as_str();
    if !state.cards.contains_key(card_id) {
        return Err(Refusal::new(
            INVALID_CARD_ID,
            format!("invalid card id: {card_id:?}"),
        ));
    }
    let span = period(state, &request.begin_date, &request.end_date)?;
    let keep = |card: &CardRecord| card.id == card_id && card.is_member_card();
    let days = group(state, span, keep, |e| e.day);
    let list: Vec<Value> = days
        .iter()
        .map(|(day, t)| {
            let (total_user, total_receive_user) = members(state, *day, keep);
            let earlier: BTreeSet<&str> = state
                .events
                .iter()
                .filter(|e| e.card_id == card_id && e.kind == EventKind::Receive && e.day < *day)
                .map(|e| e.openid.as_str())
                .collect();
            let new_user = t.users[index(EventKind::Receive)]
                .iter()
                .filter(|openid| !earlier.contains(*openid))
                .count();
            t.row(
                &MEMBER_COUNTERS,
                json!({
                    "ref_date": format_day(*day),
                    "merchanttype": 0,
                    "cardid": card_id,
                    "submerchantid": 0,
                    "total_user": total_user,
                    "total_receive_user": total_receive_user,
                    "new_user": new_user,
                    "payOriginalFee": 0,
                    "fee": 0,
                }),
            )
        })
        .collect();
    Ok(json!({ "list": list }))
}

/// The period of a datacube request as day numbers, refusing periods that do not end before
/// today (WeChat has no data for today; the sandbox answers 61501 "date range error").
pub(crate) fn period(state: &State, begin_date: &str, end_date: &str) -> Outcome<(i64, i64)> {
    let day = |text: &str, key: &str| {
        parse_day(text)
            .ok_or_else(|| Refusal::new(DATE_FORMAT_ERROR, format!("date format error: {key}")))
    };
    let (begin, end) = (day(begin_date, "begin_date")?, day(end_date, "end_date")?);
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
pub(crate) fn matches_source(_card: &CardRecord, cond_source: u32) -> bool {
    cond_source == 1
}
