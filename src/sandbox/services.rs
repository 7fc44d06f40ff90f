//! The endpoints around the cards: pay and self-consume cells, pay-gift rules, coins (券点),
//! 门店小程序 cards, special tickets, the member-card activation form's answers, sub-merchants
//! and their qualifications, gift-card pages and orders, and gift cards (GENERAL_CARD).
//!
//! Every one keeps what it is told and answers later calls from it, and refuses what does not
//! exist. WeChat's specific errcode for an unknown rule, page, order, sub-merchant, POI or
//! activate_ticket is not documented: the sandbox answers its general 40097 "invalid args" with
//! an errmsg saying what does not exist.
//!
//! | endpoint | keeps | refusals |
//! |---|---|---|
//! | `card/paycell/set`, `card/selfconsumecell/set` | the cell's settings, per card (read by the `sandbox/paycell/pay` control) | 40073 unknown card, 40078 deleted card, 43017 opening a cell on a card without a store (`location_id_list` or `use_all_locations`) |
//! | `card/getcolors` | (the colours `card/get` shows) | |
//! | `card/paygiftcard/add` | the rule (`getbyid`, `batchget`); a mchid of another live rule is listed in `fail_mchid_list` (72004) | 40073 unknown card, 40071 not a member card, 72004 every mchid taken |
//! | `card/paygiftcard/delete`, `getbyid` | | 40097 unknown `rule_id` |
//! | `card/pay/activate`, `getcoinsinfo` | the coin account: 200 free coins once (the documented reward) | |
//! | `card/pay/getpayprice`, `confirm` | a quote (1 coin per 100 codes, rounded up), then the stock and the coin order | 40073, 40097 unknown or changed quote, not enough coins |
//! | `card/pay/recharge`, `getorder`, `getorderlist` | coin orders (paid with the `sandbox/coin/pay` control) | 40097 unknown `order_id` |
//! | `card/storewxa/set`, `get` | the card of each POI | 40073 unknown card, 40097 a POI without a card |
//! | `card/meetingticket/updateuser`, `movieticket/updateuser`, `boardingpass/checkin` | the ticket's details, per code (`is_cancel` clears a check-in) | 40056 unknown code, 40071 a card of another type |
//! | `card/membercard/activatetempinfo/get` | (what the user submitted, `sandbox/membercard/submit`) | 40097 unknown `activate_ticket` |
//! | `card/submerchant/submit`, `update`, `get`, `batchget` | sub-merchants (`CHECKING` until the `sandbox/submerchant/review` control) | 40097 unknown `merchant_id` or category |
//! | `cgi-bin/component/*` | the agent's and the sub-merchants' qualifications (reviewed with `sandbox/qualification/review`) | 61022 resubmitting, 40097 unknown `appid` |
//! | `card/giftcard/page/*`, `maintain/set`, `wxa/set` | pages, their maintenance state and mini program | 40073 unknown card on a page, 40071 not a GENERAL_CARD, 40097 unknown `page_id`, a mini program no sub-merchant was bound to |
//! | `card/giftcard/pay/whitelist/add`, `pay/submch/bind` | the whitelisted and bound sub-merchants | 40097 binding a sub-merchant not whitelisted |
//! | `card/giftcard/order/*` | orders (bought with the `sandbox/giftcard/buy` control) | 40097 unknown `order_id`, refunding twice |
//! | `card/generalcard/activate`, `unactivate`, `updateuser` | the gift card's activation, bonus and balance | 40056, 40071 not a GENERAL_CARD, 40127 activating twice or unactivating an inactive card |

use serde_json::{Value, json};

use super::errcodes::{
    CAN_NOT_RESUBMIT, INVALID_ARGS, INVALID_CARD_TYPE, INVALID_USER_CARD_STATUS, MCHID_OCCUPIED,
    REQUIRE_LOCATION, errmsg,
};
use super::state::{CardRecord, Outcome, Refusal, State};
use crate::CardEvent;

/// The refusal for something that does not exist (see the module docs).
fn unknown(what: &str, value: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        INVALID_ARGS,
        format!("{}: {what} {value} does not exist", errmsg(INVALID_ARGS)),
    )
}

fn invalid(message: impl std::fmt::Display) -> Refusal {
    Refusal::new(INVALID_ARGS, format!("{}: {message}", errmsg(INVALID_ARGS)))
}

fn text<'a>(request: &'a Value, key: &str) -> &'a str {
    request.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn number(request: &Value, key: &str) -> u64 {
    request.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn ok() -> Outcome<Value> {
    Ok(json!({}))
}

/// Whether a card has a store: `location_id_list` not empty or `use_all_locations`.
fn has_store(card: &CardRecord) -> bool {
    let base = card
        .card
        .get(card.payload_key())
        .and_then(|p| p.get("base_info"));
    let locations = base
        .and_then(|b| b.get("location_id_list"))
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    let all = base
        .and_then(|b| b.get("use_all_locations"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    locations || all
}

/// A card of `card_type` (40073 unknown, 40071 another type).
fn card_of_type<'a>(state: &'a State, card_id: &str, card_type: &str) -> Outcome<&'a CardRecord> {
    let card = state.card(card_id)?;
    if card.card_type != card_type {
        return Err(Refusal::new(
            INVALID_CARD_TYPE,
            format!(
                "{}: card {card_id:?} is {}, not {card_type}",
                errmsg(INVALID_CARD_TYPE),
                card.card_type
            ),
        ));
    }
    Ok(card)
}

/// The code of a card of `card_type` (40056 unknown, 40071 another type): `(code, openid)`.
fn code_of_type(
    state: &State,
    code: &str,
    card_id: Option<&str>,
    card_type: &str,
) -> Outcome<(String, String, String)> {
    let record = state.find_code(code, card_id)?;
    card_of_type(state, &record.card_id, card_type)?;
    Ok((
        record.code.clone(),
        record.card_id.clone(),
        record.openid.clone(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Cells and colours
// ---------------------------------------------------------------------------------------------

fn set_cell(state: &mut State, request: &Value, cell: &str, default_open: bool) -> Outcome<bool> {
    let card_id = text(request, "card_id");
    let card = state.live_card(card_id)?;
    let open = request
        .get("is_open")
        .and_then(Value::as_bool)
        .unwrap_or(default_open);
    if open && !has_store(card) {
        return Err(Refusal::new(
            REQUIRE_LOCATION,
            format!(
                "{}: the {cell} needs a card with a store (location_id_list or use_all_locations); card {card_id:?} has none",
                errmsg(REQUIRE_LOCATION)
            ),
        ));
    }
    Ok(open)
}

/// `card/paycell/set` (`is_open` defaults to true).
pub(crate) fn set_pay_cell(state: &mut State, request: &Value) -> Outcome<Value> {
    let open = set_cell(state, request, "pay cell (买单)", true)?;
    state
        .services
        .pay_cells
        .insert(text(request, "card_id").to_owned(), open);
    ok()
}

/// `card/selfconsumecell/set` (`is_open` defaults to false).
pub(crate) fn set_self_consume_cell(state: &mut State, request: &Value) -> Outcome<Value> {
    set_cell(state, request, "self-consume cell (自助核销)", false)?;
    state
        .services
        .self_consume_cells
        .insert(text(request, "card_id").to_owned(), request.clone());
    ok()
}

/// `card/getcolors`: the colours card/get shows.
pub(crate) fn get_colors(_state: &mut State, _request: &Value) -> Outcome<Value> {
    let colors: Vec<Value> = super::state::COLORS
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    Ok(json!({ "colors": colors }))
}

impl State {
    /// A user pays through a card's pay cell (买单): `user_pay_from_pay_cell` is pushed.
    pub(crate) fn pay_with_pay_cell(
        &mut self,
        code: &str,
        fee: i64,
        original_fee: i64,
    ) -> Outcome<String> {
        let record = self.control_code(code)?;
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        if !self.can_consume(record) {
            return Err(State::not_consumable(record));
        }
        if self.services.pay_cells.get(&card_id) != Some(&true) {
            return Err(invalid(format!(
                "card {card_id:?} has no open pay cell (card/paycell/set)"
            )));
        }
        if fee < 0 || original_fee < fee {
            return Err(invalid(format!(
                "fee {fee} must be 0 or more and at most original_fee {original_fee}"
            )));
        }
        let trans_id = format!("42000{:023}", self.next_seq());
        let event = crate::UserPayFromPayCellEvent::new(card_id.as_str())
            .user_card_code(code)
            .trans_id(trans_id.as_str())
            .fee(fee)
            .original_fee(original_fee);
        self.push_event(&openid, CardEvent::UserPayFromPayCell(event));
        Ok(trans_id)
    }

    /// A user enters the account's chat from a card: `user_enter_session_from_card`.
    pub(crate) fn enter_session(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        let event =
            crate::UserEnterSessionFromCardEvent::new(record.card_id.as_str()).user_card_code(code);
        self.push_event(&record.openid, CardEvent::UserEnterSessionFromCard(event));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Pay-gift rules (支付后投放卡券)
// ---------------------------------------------------------------------------------------------

fn rule_live(rule: &Value) -> bool {
    rule.pointer("/base_info/status").and_then(Value::as_str) == Some("RULE_STATUS_OK")
}

/// `card/paygiftcard/add`.
pub(crate) fn add_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let mut rule = request.get("rule_info").cloned().unwrap_or(Value::Null);
    let card_id = rule
        .pointer("/member_rule/card_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !card_id.is_empty() {
        card_of_type(state, &card_id, "MEMBER_CARD")?;
    }
    let wanted: Vec<String> = rule
        .pointer("/base_info/mchid_list")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let appid = state.config.appid.clone();
    let mut succ = Vec::new();
    let mut fail = Vec::new();
    for mchid in wanted {
        let occupied = state.services.rules.iter().find(|(_, r)| {
            rule_live(r)
                && r.pointer("/base_info/mchid_list")
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|m| m.as_str() == Some(&mchid)))
        });
        match occupied {
            Some((id, _)) => fail.push(json!({
                "mchid": mchid, "errcode": MCHID_OCCUPIED, "errmsg": errmsg(MCHID_OCCUPIED),
                "occupy_rule_id": id, "occupy_appid": appid,
            })),
            None if !succ.contains(&mchid) => succ.push(mchid),
            None => {}
        }
    }
    if succ.is_empty() {
        return Err(Refusal::new(
            MCHID_OCCUPIED,
            format!(
                "{}: every mchid of the rule is taken by another rule",
                errmsg(MCHID_OCCUPIED)
            ),
        ));
    }
    state.services.next_rule += 1;
    let rule_id = state.services.next_rule;
    let now = state.now();
    if let Some(base) = rule.get_mut("base_info").and_then(Value::as_object_mut) {
        base.insert("mchid_list".into(), json!(succ));
        base.insert("status".into(), json!("RULE_STATUS_OK"));
        base.insert("create_time".into(), json!(now));
        base.insert("update_time".into(), json!(now));
    }
    state.services.rules.insert(rule_id, rule);
    Ok(json!({ "rule_id": rule_id, "succ_mchid_list": succ, "fail_mchid_list": fail }))
}

fn rule_mut<'a>(state: &'a mut State, request: &Value) -> Outcome<&'a mut Value> {
    let rule_id = number(request, "rule_id");
    state
        .services
        .rules
        .get_mut(&rule_id)
        .filter(|r| rule_live(r))
        .ok_or_else(|| unknown("rule_id", rule_id))
}

/// `card/paygiftcard/delete`.
pub(crate) fn delete_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let now = state.now();
    let rule = rule_mut(state, request)?;
    if let Some(base) = rule.get_mut("base_info").and_then(Value::as_object_mut) {
        base.insert("status".into(), json!("RULE_STATUS_DELETE"));
        base.insert("update_time".into(), json!(now));
    }
    ok()
}

/// `card/paygiftcard/getbyid`.
pub(crate) fn get_pay_gift_rule(state: &mut State, request: &Value) -> Outcome<Value> {
    let rule = rule_mut(state, request)?.clone();
    Ok(json!({ "rule_info": rule }))
}

/// `card/paygiftcard/batchget`: `effective` true lists the rules in force now.
pub(crate) fn batch_get_pay_gift_rules(state: &mut State, request: &Value) -> Outcome<Value> {
    let now = state.now();
    let effective = request
        .get("effective")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kind = text(request, "type");
    let matching: Vec<&Value> = state
        .services
        .rules
        .values()
        .filter(|r| rule_live(r))
        .filter(|r| r.get("type").and_then(Value::as_str) == Some(kind))
        .filter(|r| {
            let time = |k: &str| {
                r.pointer(&format!("/base_info/{k}"))
                    .and_then(Value::as_i64)
            };
            !effective
                || (time("begin_time").is_none_or(|b| b <= now)
                    && time("end_time").is_none_or(|e| now <= e))
        })
        .collect();
    let page = page_of(&matching, request, "offset", "count");
    Ok(json!({ "rule_list": page, "total_count": matching.len() }))
}

/// `items[offset..offset + count]`.
fn page_of<T: Clone>(items: &[T], request: &Value, offset: &str, count: &str) -> Vec<T> {
    let offset = usize::try_from(number(request, offset)).unwrap_or(usize::MAX);
    let count = usize::try_from(number(request, count)).unwrap_or(usize::MAX);
    items.iter().skip(offset).take(count).cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// Coins (券点)
// ---------------------------------------------------------------------------------------------

/// Free coins given when the coin account is opened (the documented example's reward).
const COIN_REWARD: u64 = 200;
/// Codes one coin buys (the sandbox's price: WeChat's is not documented).
const CODES_PER_COIN: u64 = 100;

/// `card/pay/activate`: opens the coin account, with its reward once.
pub(crate) fn activate_coin_account(state: &mut State, _request: &Value) -> Outcome<Value> {
    let services = &mut state.services;
    let reward = if services.coin_account {
        0
    } else {
        services.coin_account = true;
        services.free_coin += COIN_REWARD;
        COIN_REWARD
    };
    Ok(json!({ "reward": reward.to_string() }))
}

/// `card/pay/getcoinsinfo`.
pub(crate) fn get_coins_info(state: &mut State, _request: &Value) -> Outcome<Value> {
    let s = &state.services;
    Ok(json!({ "free_coin": s.free_coin, "pay_coin": s.pay_coin,
        "total_coin": s.free_coin.saturating_add(s.pay_coin) }))
}

fn coin_order_id(state: &mut State) -> String {
    format!("1000{:012}", state.next_seq())
}

/// `(free, pay)` coins spent on `price`: free coins first.
fn split_price(state: &State, price: u64) -> (u64, u64) {
    let free = price.min(state.services.free_coin);
    (free, price - free)
}

/// `card/pay/getpayprice`: a quote for `quantity` more codes of a card.
pub(crate) fn get_coin_pay_price(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = text(request, "card_id").to_owned();
    state.live_card(&card_id)?;
    let quantity = number(request, "quantity");
    let price = quantity.div_ceil(CODES_PER_COIN);
    let (free, pay) = split_price(state, price);
    let order_id = coin_order_id(state);
    state
        .services
        .quotes
        .insert(order_id.clone(), (card_id, quantity, price));
    Ok(json!({ "order_id": order_id, "price": price.to_string(),
        "free_coin": free.to_string(), "pay_coin": pay.to_string() }))
}

/// Records a coin order and pushes `card_pay_order`.
fn record_coin_order(state: &mut State, order: Value) {
    let text = |k: &str| order.get(k).and_then(Value::as_str).unwrap_or_default();
    let status: Option<crate::CoinOrderStatus> = serde_json::from_value(json!(text("status"))).ok();
    let kind: Option<crate::CoinOrderType> = serde_json::from_value(json!(text("order_type"))).ok();
    let mut event = crate::CardPayOrderEvent::new(text("order_id"))
        .desc(text("desc"))
        .free_coin_count(text("free_coin_count"))
        .pay_coin_count(text("pay_coin_count"))
        .refund_free_coin_count("0")
        .refund_pay_coin_count("0");
    if let Some(status) = status {
        event = event.status(status);
    }
    if let Some(kind) = kind {
        event = event.order_type(kind);
    }
    if let Some(at) = order.get("create_time").and_then(Value::as_i64) {
        event = event.create_order_time(at);
    }
    if let Some(at) = order.get("pay_finish_time").and_then(Value::as_i64) {
        event = event.pay_finish_time(at);
    }
    let appid = state.config.appid.clone();
    state.push_event(&appid, CardEvent::CardPayOrder(event));
    let id = text("order_id").to_owned();
    let orders = &mut state.services.coin_orders;
    match orders
        .iter_mut()
        .find(|o| o.get("order_id").and_then(Value::as_str) == Some(&id))
    {
        Some(slot) => *slot = order,
        None => orders.push(order),
    }
}

/// `card/pay/confirm`: spends the quote's coins and raises the stock.
pub(crate) fn confirm_coin_pay(state: &mut State, request: &Value) -> Outcome<Value> {
    state.live_card(text(request, "card_id"))?;
    let order_id = text(request, "order_id").to_owned();
    let (card_id, quantity, price) = state
        .services
        .quotes
        .get(&order_id)
        .cloned()
        .ok_or_else(|| unknown("order_id", format!("{order_id:?} (card/pay/getpayprice)")))?;
    if card_id != text(request, "card_id") || quantity != number(request, "quantity") {
        return Err(invalid(format!(
            "order {order_id:?} was priced for {quantity} codes of card {card_id:?}"
        )));
    }
    let (free, pay) = split_price(state, price);
    if pay > state.services.pay_coin {
        return Err(invalid(format!(
            "not enough coins: the order costs {price}, the account holds {} (card/pay/recharge)",
            state.services.free_coin + state.services.pay_coin
        )));
    }
    state.modify_stock(&card_id, quantity, 0)?;
    state.services.quotes.remove(&order_id);
    state.services.free_coin -= free;
    state.services.pay_coin -= pay;
    let now = state.now();
    record_coin_order(
        state,
        json!({ "order_id": order_id, "status": "ORDER_STATUS_QUANTITY_SUCC", "create_time": now,
            "pay_finish_time": now, "desc": format!("{quantity} codes of {card_id}"),
            "free_coin_count": free.to_string(), "pay_coin_count": pay.to_string(),
            "refund_free_coin_count": "0", "refund_pay_coin_count": "0",
            "order_type": "ORDER_TYPE_REDUCE" }),
    );
    ok()
}

/// `card/pay/recharge`: a coin order waiting for payment (`sandbox/coin/pay`).
pub(crate) fn recharge_coins(state: &mut State, request: &Value) -> Outcome<Value> {
    let coins = number(request, "coin_count");
    if coins == 0 {
        return Err(invalid("coin_count must be at least 1"));
    }
    let order_id = coin_order_id(state);
    let now = state.now();
    state.services.coin_orders.push(json!({
        "order_id": order_id, "status": "ORDER_STATUS_WAITING", "create_time": now,
        "desc": "微信支付充值", "free_coin_count": "0", "pay_coin_count": coins.to_string(),
        "refund_free_coin_count": "0", "refund_pay_coin_count": "0",
        "order_type": "ORDER_TYPE_WXPAY" }));
    Ok(json!({ "order_id": order_id,
        "qrcode_url": format!("weixin://wxpay/bizpayurl?pr={order_id}"),
        "qrcode_buffer": "" }))
}

impl State {
    /// The merchant pays a recharge order (`card/pay/recharge`): coins are added and
    /// `card_pay_order` is pushed.
    pub(crate) fn pay_coin_order(&mut self, order_id: &str) -> Outcome<()> {
        let order = self
            .services
            .coin_orders
            .iter()
            .find(|o| o.get("order_id").and_then(Value::as_str) == Some(order_id))
            .cloned()
            .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))?;
        if order.get("status").and_then(Value::as_str) != Some("ORDER_STATUS_WAITING") {
            return Err(invalid(format!(
                "order {order_id:?} is not waiting for payment"
            )));
        }
        let coins = order
            .get("pay_coin_count")
            .and_then(Value::as_str)
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        self.services.pay_coin = self.services.pay_coin.saturating_add(coins);
        let mut order = order;
        order["status"] = json!("ORDER_STATUS_FINANCE_SUCC");
        order["pay_finish_time"] = json!(self.now());
        record_coin_order(self, order);
        Ok(())
    }
}

/// `card/pay/getorder`.
pub(crate) fn get_coin_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let order_id = text(request, "order_id");
    let order = state
        .services
        .coin_orders
        .iter()
        .find(|o| o.get("order_id").and_then(Value::as_str) == Some(order_id))
        .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))?;
    Ok(json!({ "order_info": order }))
}

/// `card/pay/getorderlist`.
pub(crate) fn get_coin_order_list(state: &mut State, request: &Value) -> Outcome<Value> {
    let kind = request.get("order_type").and_then(Value::as_str);
    let status = request
        .pointer("/nor_filter/status")
        .and_then(Value::as_str);
    let begin = request.get("begin_time").and_then(Value::as_i64);
    let end = request.get("end_time").and_then(Value::as_i64);
    let mut matching: Vec<Value> = state
        .services
        .coin_orders
        .iter()
        .filter(|o| kind.is_none_or(|k| o.get("order_type").and_then(Value::as_str) == Some(k)))
        .filter(|o| status.is_none_or(|s| o.get("status").and_then(Value::as_str) == Some(s)))
        .filter(|o| {
            let at = o.get("create_time").and_then(Value::as_i64).unwrap_or(0);
            begin.is_none_or(|b| b <= at) && end.is_none_or(|e| at <= e)
        })
        .cloned()
        .collect();
    if request
        .pointer("/sort_info/sort_type")
        .and_then(Value::as_str)
        == Some("SORT_DESC")
    {
        matching.reverse();
    }
    let page = page_of(&matching, request, "offset", "count");
    Ok(json!({ "total_num": matching.len(), "order_list": page }))
}

// ---------------------------------------------------------------------------------------------
// 门店小程序 cards and special tickets
// ---------------------------------------------------------------------------------------------

/// `card/storewxa/set`.
pub(crate) fn set_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let card_id = text(request, "card_id").to_owned();
    state.live_card(&card_id)?;
    state
        .services
        .store_cards
        .insert(number(request, "poi_id"), card_id);
    ok()
}

/// `card/storewxa/get`.
pub(crate) fn get_store_wxa_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let poi_id = number(request, "poi_id");
    let card_id = state
        .services
        .store_cards
        .get(&poi_id)
        .ok_or_else(|| unknown("a card for poi_id", poi_id))?;
    Ok(json!({ "card_id": card_id }))
}

fn update_ticket(state: &mut State, request: &Value, card_type: &str) -> Outcome<Value> {
    let card_id = request.get("card_id").and_then(Value::as_str);
    let (code, _, _) = code_of_type(state, text(request, "code"), card_id, card_type)?;
    let details = state.services.tickets.entry(code).or_default();
    if request.get("is_cancel").and_then(Value::as_bool) == Some(true) {
        details.clear();
        return ok();
    }
    for (key, value) in request.as_object().into_iter().flatten() {
        if !matches!(key.as_str(), "code" | "card_id" | "is_cancel") {
            details.insert(key.clone(), value.clone());
        }
    }
    ok()
}

/// `card/meetingticket/updateuser`.
pub(crate) fn update_meeting_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "MEETING_TICKET")
}

/// `card/movieticket/updateuser`.
pub(crate) fn update_movie_ticket(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "MOVIE_TICKET")
}

/// `card/boardingpass/checkin` (`is_cancel` undoes the check-in).
pub(crate) fn check_in_boarding_pass(state: &mut State, request: &Value) -> Outcome<Value> {
    update_ticket(state, request, "BOARDING_PASS")
}

impl State {
    /// What the ticket endpoints set for a code (the sandbox's view; WeChat shows it in the
    /// user's card).
    pub(crate) fn ticket_details(&self, code: &str) -> Option<Value> {
        self.services
            .tickets
            .get(code)
            .map(|m| Value::Object(m.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// Member-card activation form answers
// ---------------------------------------------------------------------------------------------

impl State {
    /// The user fills in a member card's activation form (跳转型开卡组件) and submits it: the
    /// answers are kept under a new `activate_ticket` (read by
    /// `card/membercard/activatetempinfo/get`) and `submit_membercard_user_info` is pushed.
    pub(crate) fn submit_member_info(&mut self, code: &str, info: Value) -> Outcome<String> {
        let record = self.control_code(code)?;
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        card_of_type(self, &card_id, "MEMBER_CARD")?;
        let info = match info {
            Value::Null => json!({ "common_field_list": [], "custom_field_list": [] }),
            other => other,
        };
        if info.get("common_field_list").is_some_and(|l| !l.is_array())
            || info.get("custom_field_list").is_some_and(|l| !l.is_array())
        {
            return Err(invalid(
                "info holds common_field_list and custom_field_list, lists of {name, value}",
            ));
        }
        let ticket = self.random_text(64);
        self.services.activate_tickets.insert(ticket.clone(), info);
        let event =
            crate::SubmitMembercardUserInfoEvent::new(card_id.as_str()).user_card_code(code);
        self.push_event(&openid, CardEvent::SubmitMembercardUserInfo(event));
        Ok(ticket)
    }
}

/// `card/membercard/activatetempinfo/get`.
pub(crate) fn get_activate_temp_info(state: &mut State, request: &Value) -> Outcome<Value> {
    let ticket = text(request, "activate_ticket");
    let info = state
        .services
        .activate_tickets
        .get(ticket)
        .ok_or_else(|| unknown("activate_ticket", format!("{ticket:?}")))?;
    Ok(json!({ "info": info }))
}

// ---------------------------------------------------------------------------------------------
// Sub-merchants (子商户) and qualifications
// ---------------------------------------------------------------------------------------------

/// The category ids `card/getapplyprotocol` lists (its documented answer).
fn known_category(primary: u64, secondary: u64) -> bool {
    let Some(endpoint) = crate::schema::endpoint("card/getapplyprotocol") else {
        return true;
    };
    let categories = super::request::example_answer(endpoint, &json!({}));
    categories
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("primary_category_id").and_then(Value::as_u64) == Some(primary))
        .flat_map(|c| {
            c.get("secondary_category")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .any(|s| s.get("secondary_category_id").and_then(Value::as_u64) == Some(secondary))
}

fn check_category(info: &Value) -> Outcome<()> {
    let (primary, secondary) = (
        number(info, "primary_category_id"),
        number(info, "secondary_category_id"),
    );
    if known_category(primary, secondary) {
        Ok(())
    } else {
        Err(unknown(
            "the category",
            format!("{primary}/{secondary} (card/getapplyprotocol)"),
        ))
    }
}

/// `card/submerchant/submit`: `CHECKING` until reviewed.
pub(crate) fn submit_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let mut info = request.get("info").cloned().unwrap_or_else(|| json!({}));
    check_category(&info)?;
    let merchant_id = state.next_seq();
    let now = state.now();
    if let Some(object) = info.as_object_mut() {
        object.insert("merchant_id".into(), json!(merchant_id));
        object.entry("app_id").or_insert_with(|| json!(""));
        object.insert("create_time".into(), json!(now));
        object.insert("update_time".into(), json!(now));
        object.insert("begin_time".into(), json!(now));
        object.insert("status".into(), json!("CHECKING"));
        for media in ["protocol", "agreement_media_id", "operator_media_id"] {
            object.remove(media);
        }
    }
    state.services.merchants.insert(merchant_id, info.clone());
    Ok(json!({ "info": info }))
}

fn merchant(state: &mut State, merchant_id: u64) -> Outcome<&mut Value> {
    state
        .services
        .merchants
        .get_mut(&merchant_id)
        .ok_or_else(|| unknown("sub-merchant merchant_id", merchant_id))
}

/// `card/submerchant/update`: back to `CHECKING`.
pub(crate) fn update_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let update = request.get("info").cloned().unwrap_or_else(|| json!({}));
    let now = state.now();
    let stored = merchant(state, number(&update, "merchant_id"))?;
    let mut merged = stored.clone();
    for (key, value) in update.as_object().into_iter().flatten() {
        if !matches!(
            key.as_str(),
            "protocol" | "agreement_media_id" | "operator_media_id"
        ) {
            merged[key] = value.clone();
        }
    }
    check_category(&merged)?;
    merged["update_time"] = json!(now);
    merged["status"] = json!("CHECKING");
    *stored = merged.clone();
    Ok(json!({ "info": merged }))
}

/// `card/submerchant/get`.
pub(crate) fn get_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let info = merchant(state, number(request, "merchant_id"))?.clone();
    Ok(json!({ "info": info }))
}

/// `card/submerchant/batchget`: from `begin_id` on, `limit` of them.
pub(crate) fn batch_get_sub_merchants(state: &mut State, request: &Value) -> Outcome<Value> {
    let status = request.get("status").and_then(Value::as_str);
    let limit = usize::try_from(number(request, "limit")).unwrap_or(usize::MAX);
    let list: Vec<(u64, Value)> = state
        .services
        .merchants
        .range(number(request, "begin_id")..)
        .filter(|(_, m)| status.is_none_or(|s| m.get("status").and_then(Value::as_str) == Some(s)))
        .take(limit)
        .map(|(id, m)| (*id, m.clone()))
        .collect();
    let next = list.last().map_or(0, |(id, _)| id.saturating_add(1));
    let info_list: Vec<Value> = list.into_iter().map(|(_, m)| m).collect();
    Ok(json!({ "info_list": info_list, "next_begin_id": next }))
}

impl State {
    /// A sub-merchant's review ends: `APPROVED` or `REJECTED`, and
    /// `card_merchant_check_result` is pushed.
    pub(crate) fn review_sub_merchant(
        &mut self,
        merchant_id: u64,
        pass: bool,
        reason: &str,
    ) -> Outcome<()> {
        let now = self.now();
        let stored = merchant(self, merchant_id)?;
        stored["status"] = json!(if pass { "APPROVED" } else { "REJECTED" });
        stored["update_time"] = json!(now);
        let mut event = crate::CardMerchantCheckResultEvent::new(
            i64::try_from(merchant_id).unwrap_or(i64::MAX),
        )
        .is_pass(i64::from(pass));
        if !reason.is_empty() {
            event = event.reason(reason);
        }
        let appid = self.config.appid.clone();
        self.push_event(&appid, CardEvent::CardMerchantCheckResult(event));
        Ok(())
    }

    /// A qualification's review ends: the agent's (`appid` `None`) or a sub-merchant's.
    pub(crate) fn review_qualification(&mut self, appid: Option<&str>, pass: bool) -> Outcome<()> {
        let result = if pass {
            "RESULT_PASS"
        } else {
            "RESULT_NOT_PASS"
        };
        match appid {
            None => {
                if self.services.agent_qualification.is_none() {
                    return Err(invalid(
                        "the agent has submitted no qualification (upload_card_agent_qualification)",
                    ));
                }
                self.services.agent_qualification = Some(result);
            }
            Some(appid) => {
                let account = self
                    .services
                    .qualifications
                    .get_mut(appid)
                    .ok_or_else(|| unknown("sub-merchant appid", format!("{appid:?}")))?;
                account["result"] = json!(result);
            }
        }
        Ok(())
    }
}

/// `cgi-bin/component/upload_card_agent_qualification`.
pub(crate) fn upload_agent_qualification(state: &mut State, _request: &Value) -> Outcome<Value> {
    if state.services.agent_qualification == Some("RESULT_CHECKING") {
        return Err(Refusal::new(CAN_NOT_RESUBMIT, errmsg(CAN_NOT_RESUBMIT)));
    }
    state.services.agent_qualification = Some("RESULT_CHECKING");
    ok()
}

/// `cgi-bin/component/check_card_agent_qualification`.
pub(crate) fn check_agent_qualification(state: &mut State, _request: &Value) -> Outcome<Value> {
    let result = state
        .services
        .agent_qualification
        .unwrap_or("RESULT_NOTHING_TO_CHECK");
    Ok(json!({ "result": result }))
}

/// `cgi-bin/component/upload_card_merchant_qualification`: 61022 while one is being checked.
pub(crate) fn upload_merchant_qualification(state: &mut State, request: &Value) -> Outcome<Value> {
    check_category(request)?;
    let appid = text(request, "appid").to_owned();
    let checking = state
        .services
        .qualifications
        .get(&appid)
        .and_then(|a| a.get("result"))
        .and_then(Value::as_str)
        == Some("RESULT_CHECKING");
    if checking {
        return Err(Refusal::new(CAN_NOT_RESUBMIT, errmsg(CAN_NOT_RESUBMIT)));
    }
    let now = state.now();
    let account = json!({
        "appid": appid, "name": text(request, "name"),
        "primary_category_id": number(request, "primary_category_id"),
        "secondary_category_id": number(request, "secondary_category_id"),
        "submit_time": now.to_string(), "result": "RESULT_CHECKING",
    });
    state.services.qualifications.insert(appid, account);
    ok()
}

/// `cgi-bin/component/check_card_merchant_qualification`.
pub(crate) fn check_merchant_qualification(state: &mut State, request: &Value) -> Outcome<Value> {
    let result = state
        .services
        .qualifications
        .get(text(request, "appid"))
        .and_then(|a| a.get("result").cloned())
        .unwrap_or_else(|| json!("RESULT_NOTHING_TO_CHECK"));
    Ok(json!({ "result": result }))
}

/// `cgi-bin/component/get_card_merchant`.
pub(crate) fn get_card_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let appid = text(request, "appid");
    state
        .services
        .qualifications
        .get(appid)
        .cloned()
        .ok_or_else(|| unknown("sub-merchant appid", format!("{appid:?}")))
}

/// Sub-merchant accounts per page of `cgi-bin/component/batchget_card_merchant`.
const MERCHANTS_PER_PAGE: usize = 100;

/// `cgi-bin/component/batchget_card_merchant`: `next_get` is the last appid of the previous
/// page.
pub(crate) fn batch_get_card_merchants(state: &mut State, request: &Value) -> Outcome<Value> {
    let after = text(request, "next_get");
    let list: Vec<&Value> = state
        .services
        .qualifications
        .iter()
        .filter(|(appid, _)| after.is_empty() || appid.as_str() > after)
        .map(|(_, account)| account)
        .take(MERCHANTS_PER_PAGE)
        .collect();
    let next = if list.len() == MERCHANTS_PER_PAGE {
        list.last()
            .and_then(|a| a.get("appid"))
            .cloned()
            .unwrap_or_else(|| json!(""))
    } else {
        json!("")
    };
    Ok(json!({ "list": list, "next_get": next }))
}

// ---------------------------------------------------------------------------------------------
// Gift-card pages, orders and gift cards (礼品卡)
// ---------------------------------------------------------------------------------------------

/// Every card on a page is a GENERAL_CARD of the sandbox.
fn check_page_cards(state: &State, page: &Value) -> Outcome<()> {
    for theme in page
        .get("theme_list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for item in theme
            .get("item_list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            card_of_type(state, text(item, "card_id"), "GENERAL_CARD")?;
        }
    }
    Ok(())
}

fn page_mut<'a>(state: &'a mut State, page_id: &str) -> Outcome<&'a mut Value> {
    state
        .services
        .pages
        .get_mut(page_id)
        .ok_or_else(|| unknown("page_id", format!("{page_id:?}")))
}

/// `card/giftcard/page/add`.
pub(crate) fn add_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let mut page = request.get("page").cloned().unwrap_or_else(|| json!({}));
    check_page_cards(state, &page)?;
    let page_id = format!("{}=", state.random_text(35));
    page["page_id"] = json!(page_id);
    state.services.pages.insert(page_id.clone(), page);
    Ok(json!({ "page_id": page_id }))
}

/// `card/giftcard/page/get`.
pub(crate) fn get_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let page = page_mut(state, text(request, "page_id"))?.clone();
    Ok(json!({ "page": page }))
}

/// `card/giftcard/page/update`: the fields sent replace the page's.
pub(crate) fn update_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let update = request.get("page").cloned().unwrap_or_else(|| json!({}));
    check_page_cards(state, &update)?;
    let page = page_mut(state, text(&update, "page_id"))?;
    for (key, value) in update.as_object().into_iter().flatten() {
        page[key] = value.clone();
    }
    ok()
}

/// `card/giftcard/page/batchget`.
pub(crate) fn batch_get_gift_card_pages(state: &mut State, _request: &Value) -> Outcome<Value> {
    let ids: Vec<&String> = state.services.pages.keys().collect();
    Ok(json!({ "page_id_list": ids }))
}

/// `card/giftcard/maintain/set`: one page (`page_id`) or all of them (`all`).
pub(crate) fn set_gift_card_maintain(state: &mut State, request: &Value) -> Outcome<Value> {
    let maintain = request
        .get("maintain")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let pages: Vec<String> = match request.get("page_id").and_then(Value::as_str) {
        Some(page_id) => {
            page_mut(state, page_id)?;
            vec![page_id.to_owned()]
        }
        None if request.get("all").and_then(Value::as_bool) == Some(true) => {
            state.services.pages.keys().cloned().collect()
        }
        None => return Err(invalid("give page_id, or all: true")),
    };
    for page in &pages {
        if maintain {
            state.services.maintained.insert(page.clone());
        } else {
            state.services.maintained.remove(page);
        }
    }
    let list: Vec<Value> = pages
        .iter()
        .map(|page_id| {
            let kind = if state.services.maintained.contains(page_id) {
                "PAGE_CONTROL_TYPE_MAINTAIN"
            } else {
                "PAGE_CONTROL_TYPE_NORMAL"
            };
            json!({ "page_id": page_id, "page_control_type": kind,
                "system_page_control_type": "PAGE_CONTROL_TYPE_NORMAL" })
        })
        .collect();
    Ok(
        json!({ "control_info": { "biz_control_type": "BIZ_CONTROL_TYPE_NORMAL",
        "system_biz_control_type": "BIZ_CONTROL_TYPE_NORMAL", "list": list } }),
    )
}

/// `card/giftcard/pay/whitelist/add`.
pub(crate) fn add_gift_card_pay_whitelist(state: &mut State, request: &Value) -> Outcome<Value> {
    let sub_mch_id = text(request, "sub_mch_id").to_owned();
    let url = format!(
        "https://mp.weixin.qq.com/sandbox/giftcard/pay?sub_mch_id={}",
        crate::percent::percent_encode(&sub_mch_id)
    );
    state.services.pay_whitelist.insert(sub_mch_id);
    Ok(json!({ "url": url }))
}

/// `card/giftcard/pay/submch/bind`: the sub-merchant must be whitelisted first.
pub(crate) fn bind_gift_card_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let sub_mch_id = text(request, "sub_mch_id");
    if !state.services.pay_whitelist.contains(sub_mch_id) {
        return Err(unknown(
            "a whitelisted sub_mch_id",
            format!("{sub_mch_id:?} (card/giftcard/pay/whitelist/add)"),
        ));
    }
    state
        .services
        .bound_wxa
        .insert(sub_mch_id.to_owned(), text(request, "wxa_appid").to_owned());
    ok()
}

/// `card/giftcard/wxa/set`: the page and a mini program bound to a sub-merchant.
pub(crate) fn set_gift_card_wxa(state: &mut State, request: &Value) -> Outcome<Value> {
    let page_id = text(request, "page_id").to_owned();
    page_mut(state, &page_id)?;
    let wxa_appid = text(request, "wxa_appid");
    if !state.services.bound_wxa.values().any(|w| w == wxa_appid) {
        return Err(unknown(
            "a mini program bound to a sub-merchant: wxa_appid",
            format!("{wxa_appid:?} (card/giftcard/pay/submch/bind)"),
        ));
    }
    state
        .services
        .page_wxa
        .insert(page_id, wxa_appid.to_owned());
    ok()
}

fn order_index(state: &State, order_id: &str) -> Outcome<usize> {
    state
        .services
        .orders
        .iter()
        .position(|o| o.get("order_id").and_then(Value::as_str) == Some(order_id))
        .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))
}

/// `card/giftcard/order/get`.
pub(crate) fn get_gift_card_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let index = order_index(state, text(request, "order_id"))?;
    Ok(json!({ "order": state.services.orders[index] }))
}

/// `card/giftcard/order/batchget`: orders created within the period.
pub(crate) fn batch_get_gift_card_orders(state: &mut State, request: &Value) -> Outcome<Value> {
    let (begin, end) = (
        request
            .get("begin_time")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        request.get("end_time").and_then(Value::as_i64).unwrap_or(0),
    );
    let mut matching: Vec<Value> = state
        .services
        .orders
        .iter()
        .filter(|o| {
            let at = o.get("create_time").and_then(Value::as_i64).unwrap_or(0);
            begin <= at && at <= end
        })
        .cloned()
        .collect();
    if request.get("sort_type").and_then(Value::as_str) == Some("DESC") {
        matching.reverse();
    }
    let page = page_of(&matching, request, "offset", "count");
    Ok(json!({ "order_list": page, "total_count": matching.len() }))
}

/// `card/giftcard/order/refund`: once; the order's gift cards become unavailable.
pub(crate) fn refund_gift_card_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let order_id = text(request, "order_id").to_owned();
    let index = order_index(state, &order_id)?;
    if state.services.refunded.contains(&order_id) {
        return Err(invalid(format!("order {order_id:?} was already refunded")));
    }
    let codes: Vec<(String, String)> = state.services.orders[index]
        .get("card_list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (text(c, "code").to_owned(), text(c, "card_id").to_owned()))
        .collect();
    for (code, card_id) in codes {
        // A code already used or given away stays as it is.
        let _ = state.make_unavailable(&code, Some(&card_id));
    }
    state.services.refunded.insert(order_id);
    ok()
}

impl State {
    /// A user buys a gift card of a page (`card_id`, by default the page's first): the user
    /// receives it, the order is kept and `giftcard_pay_done` is pushed. Returns the order id.
    pub(crate) fn buy_gift_card(
        &mut self,
        openid: &str,
        page_id: &str,
        card_id: Option<&str>,
    ) -> Outcome<String> {
        let page = page_mut(self, page_id)?.clone();
        if self.services.maintained.contains(page_id) {
            return Err(invalid(format!("page {page_id:?} is under maintenance")));
        }
        let on_page: Vec<String> = page
            .get("theme_list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|t| {
                t.get("item_list")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|item| text(&item, "card_id").to_owned())
            .collect();
        let card_id = match card_id {
            Some(id) if on_page.iter().any(|c| c == id) => id.to_owned(),
            Some(id) => return Err(unknown("on the page a card", format!("{id:?}"))),
            None => on_page
                .first()
                .cloned()
                .ok_or_else(|| invalid(format!("page {page_id:?} sells no card")))?,
        };
        let price = self
            .card(&card_id)?
            .card
            .pointer("/general_card/base_info/giftcard_info/price")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let code = self.receive(openid, &card_id, None, None)?;
        let now = self.now();
        let order_id = self.random_text(22);
        let trans_id = format!("42000{:023}", self.next_seq());
        self.services.orders.push(json!({
            "order_id": order_id, "page_id": page_id, "trans_id": trans_id,
            "create_time": now, "pay_finish_time": now, "total_price": price,
            "open_id": openid,
            "card_list": [{ "card_id": card_id, "price": price, "code": code }],
        }));
        let event = crate::GiftcardPayDoneEvent::new(order_id.as_str()).page_id(page_id);
        self.push_event(openid, CardEvent::GiftcardPayDone(event));
        Ok(order_id)
    }

    /// The buyer sends an order's gift card to `friend`, who accepts it:
    /// `giftcard_send_to_friend` then `giftcard_user_accept`; the order names the accepter.
    pub(crate) fn give_gift_card(&mut self, order_id: &str, friend: &str) -> Outcome<()> {
        if friend.is_empty() {
            return Err(Refusal::new(
                super::errcodes::INVALID_OPENID,
                errmsg(super::errcodes::INVALID_OPENID),
            ));
        }
        let index = order_index(self, order_id)?;
        let order = &mut self.services.orders[index];
        if order.get("accepter_openid").is_some() {
            return Err(invalid(format!("order {order_id:?} was already given")));
        }
        order["accepter_openid"] = json!(friend);
        if let Some(cards) = order.get_mut("card_list").and_then(Value::as_array_mut) {
            for card in cards {
                card["accepter_openid"] = json!(friend);
            }
        }
        let (buyer, page_id) = (
            text(order, "open_id").to_owned(),
            text(order, "page_id").to_owned(),
        );
        let sent = crate::GiftcardSendToFriendEvent::new(order_id)
            .page_id(page_id.as_str())
            .is_return_back(0)
            .is_chat_room(0);
        self.push_event(&buyer, CardEvent::GiftcardSendToFriend(sent));
        let accepted = crate::GiftcardUserAcceptEvent::new(order_id)
            .page_id(page_id.as_str())
            .is_chat_room(0);
        self.push_event(friend, CardEvent::GiftcardUserAccept(accepted));
        Ok(())
    }
}

/// `card/generalcard/activate`.
pub(crate) fn activate_general_card(state: &mut State, request: &Value) -> Outcome<Value> {
    set_general_card_active(state, request, true)
}

/// `card/generalcard/unactivate`.
pub(crate) fn unactivate_general_card(state: &mut State, request: &Value) -> Outcome<Value> {
    set_general_card_active(state, request, false)
}

fn set_general_card_active(state: &mut State, request: &Value, active: bool) -> Outcome<Value> {
    let (code, _, _) = code_of_type(
        state,
        text(request, "code"),
        Some(text(request, "card_id")),
        "GENERAL_CARD",
    )?;
    let was_active = state.codes.get(&code).is_some_and(|r| r.member.active);
    if was_active == active {
        return Err(Refusal::new(
            INVALID_USER_CARD_STATUS,
            format!(
                "{} Hint: the gift card {code:?} is {}",
                errmsg(INVALID_USER_CARD_STATUS),
                if active {
                    "already activated"
                } else {
                    "not activated"
                }
            ),
        ));
    }
    if let Some(record) = state.codes.get_mut(&code) {
        record.member.active = active;
        if active {
            record.member.membership_number.get_or_insert(code.clone());
        }
    }
    ok()
}

/// `card/generalcard/updateuser`: full values of bonus and balance.
pub(crate) fn update_general_card_user(state: &mut State, request: &Value) -> Outcome<Value> {
    let (code, card_id, openid) = code_of_type(
        state,
        text(request, "code"),
        Some(text(request, "card_id")),
        "GENERAL_CARD",
    )?;
    let Some(record) = state.codes.get_mut(&code) else {
        return Err(unknown("code", format!("{code:?}")));
    };
    let member = &mut record.member;
    let before = (member.bonus, member.balance);
    if let Some(bonus) = request.get("bonus").and_then(Value::as_i64) {
        member.bonus = bonus;
    }
    if let Some(balance) = request.get("balance").and_then(Value::as_i64) {
        member.balance = balance;
    }
    for (slot, key) in member.custom_field_values.iter_mut().zip([
        "custom_field_value1",
        "custom_field_value2",
        "custom_field_value3",
    ]) {
        if let Some(value) = request.get(key).and_then(Value::as_str) {
            *slot = Some(value.to_owned());
        }
    }
    if let Some(url) = request.get("background_pic_url").and_then(Value::as_str) {
        member.background_pic_url = Some(url.to_owned());
    }
    let after = (member.bonus, member.balance);
    state.notify_member_update(
        &openid,
        &card_id,
        &code,
        (after.0 - before.0, after.1 - before.1),
    );
    Ok(json!({ "result_bonus": after.0, "result_balance": after.1, "openid": openid }))
}

// ---------------------------------------------------------------------------------------------
// wx.addCard (JS-SDK): the cardExt signature
// ---------------------------------------------------------------------------------------------

impl State {
    /// User `openid` adds card `card_id` through `wx.addCard` with `card_ext` (the JSON text a
    /// merchant signs, see [`crate::signature::CardExt`]): the signature must be the SHA-1 of the
    /// sorted values of the current `wx_card` api_ticket, `timestamp`, `card_id`, and
    /// `nonce_str`, `code` and `openid` when present and not empty (40080 "invalid CardExt"
    /// otherwise; see [`CardExtValues`] for what is read how); `openid` must
    /// be the user's, and is required for a `bind_openid` card. Then the card is received as
    /// [`receive`](State::receive) does, with the cardExt's `code`, `outer_str` and `outer_id`.
    pub(crate) fn receive_by_card_ext(
        &mut self,
        openid: &str,
        card_id: &str,
        card_ext: &str,
    ) -> Outcome<String> {
        let bad = |why: String| {
            Refusal::new(
                super::errcodes::INVALID_CARD_EXT,
                format!("{}: {why}", errmsg(super::errcodes::INVALID_CARD_EXT)),
            )
        };
        let ext: Value = serde_json::from_str(card_ext)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| bad("cardExt is not the text of a JSON object".into()))?;
        let ext = CardExtValues::read(&ext).map_err(bad)?;
        let ticket = self.current_ticket("wx_card").ok_or_else(|| {
            bad("no unexpired wx_card api_ticket was issued (cgi-bin/ticket/getticket?type=wx_card)".into())
        })?;
        let mut values = vec![ticket, ext.timestamp.as_str(), card_id];
        values.extend(ext.nonce_str);
        values.extend(ext.code);
        values.extend(ext.openid);
        if !crate::signature::same_signature(&crate::signature::sha1_sorted(&values), ext.signature)
        {
            return Err(bad(
                "the signature is not the SHA-1 of the sorted api_ticket, timestamp, card_id and the nonce_str, code and openid given"
                    .into(),
            ));
        }
        match ext.openid {
            Some(bound) if bound != openid => {
                return Err(bad(format!("cardExt is for the user {bound:?}")));
            }
            None if self.card(card_id)?.bind_openid() => {
                return Err(bad(
                    "the card has bind_openid: cardExt needs the openid".into()
                ));
            }
            _ => {}
        }
        let code = ext.code.map(str::to_owned);
        let channel = super::state::Channel {
            outer_str: ext.outer_str.map(str::to_owned),
            outer_id: ext.outer_id,
        };
        let source = self.plan_receipt(openid, card_id, code.as_deref(), 0)?;
        self.complete_receipt(openid, card_id, source, &channel)
    }
}

/// The values of a cardExt, read as WeChat's wx.addCard documents them: `timestamp` and
/// `signature` are required; `nonce_str`, `code`, `openid`, `outer_str` and `outer_id` are
/// optional, and an empty `code` or `openid` means none (WeChat's own wx.addCard example sends
/// `{"code": "", "openid": "", "timestamp": "", "signature": ""}`). The `timestamp` may be a
/// string or a number: the JS-SDK page writes it as a string, the card page's table as a number.
#[derive(Debug, PartialEq)]
struct CardExtValues<'a> {
    timestamp: String,
    signature: &'a str,
    nonce_str: Option<&'a str>,
    code: Option<&'a str>,
    openid: Option<&'a str>,
    outer_str: Option<&'a str>,
    outer_id: Option<u64>,
}

impl<'a> CardExtValues<'a> {
    /// The values, or what is wrong with them.
    fn read(ext: &'a Value) -> Result<CardExtValues<'a>, String> {
        // An optional text: absent, null and "" are all "none"; anything but a string is wrong.
        let text = |key: &str| -> Result<Option<&'a str>, String> {
            match ext.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(format!("cardExt's {key} must be a string, not {other}")),
            }
        };
        let timestamp = match ext.get("timestamp") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "cardExt's timestamp must be a number of seconds (a string or a number), not {other}"
                ));
            }
            None => return Err("cardExt needs a timestamp".into()),
        };
        let signature = text("signature")?.ok_or("cardExt needs a signature")?;
        let outer_id = match ext.get("outer_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                format!("cardExt's outer_id must be a non-negative integer, not {v}")
            })?),
        };
        Ok(CardExtValues {
            timestamp,
            signature,
            nonce_str: text("nonce_str")?,
            code: text("code")?,
            openid: text("openid")?,
            outer_str: text("outer_str")?,
            outer_id,
        })
    }
}

#[cfg(test)]
mod card_ext_tests {
    use super::CardExtValues;
    use serde_json::json;

    #[test]
    fn wechat_example_shape_reads_empty_code_and_openid_as_none() {
        let ext = json!({"code": "", "openid": "", "timestamp": "1418301401", "signature": "abc"});
        let read = CardExtValues::read(&ext).expect("reads");
        assert_eq!(read.code, None);
        assert_eq!(read.openid, None);
        assert_eq!(read.nonce_str, None);
        assert_eq!(read.timestamp, "1418301401");
    }

    #[test]
    fn timestamp_as_a_number_and_nonce_optional() {
        let ext = json!({"timestamp": 1418301401, "signature": "abc"});
        assert_eq!(
            CardExtValues::read(&ext).expect("reads").timestamp,
            "1418301401"
        );
    }

    #[test]
    fn what_is_wrong_is_said() {
        for (ext, says) in [
            (json!({"signature": "abc"}), "needs a timestamp"),
            (
                json!({"timestamp": "", "signature": "abc"}),
                "timestamp must be",
            ),
            (
                json!({"timestamp": 1.5, "signature": "abc"}),
                "timestamp must be",
            ),
            (json!({"timestamp": "1"}), "needs a signature"),
            (
                json!({"timestamp": "1", "signature": "a", "code": 7}),
                "code must be a string",
            ),
            (
                json!({"timestamp": "1", "signature": "a", "outer_id": -1}),
                "outer_id must be",
            ),
        ] {
            let err = CardExtValues::read(&ext).expect_err(says);
            assert!(err.contains(says), "{ext}: {err}");
        }
    }
}
