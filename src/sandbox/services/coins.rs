//! Coins (券点).

use super::*;
use crate::{CoinOrder, CoinOrderStatus, CoinOrderType};

/// Free coins given when the coin account is opened (the documented example's reward).
const COIN_REWARD: u64 = 200;
/// Codes one coin buys (the sandbox's price: WeChat's is not documented).
const CODES_PER_COIN: u64 = 100;

/// `card/pay/activate`: opens the coin account, with its reward once.
pub(crate) fn activate_coin_account(state: &mut State, _request: &Value) -> Outcome<Value> {
    let services = &mut state.services;
    let reward = if services.coins.coin_account {
        0
    } else {
        services.coins.coin_account = true;
        services.coins.free_coin += COIN_REWARD;
        COIN_REWARD
    };
    Ok(json!({ "reward": reward.to_string() }))
}

/// `card/pay/getcoinsinfo`.
pub(crate) fn get_coins_info(state: &mut State, _request: &Value) -> Outcome<Value> {
    let s = &state.services.coins;
    Ok(json!({ "free_coin": s.free_coin, "pay_coin": s.pay_coin,
        "total_coin": s.free_coin.saturating_add(s.pay_coin) }))
}

fn coin_order_id(state: &mut State) -> String {
    format!("1000{:012}", state.next_seq())
}

/// `(free, pay)` coins spent on `price`: free coins first.
fn split_price(state: &State, price: u64) -> (u64, u64) {
    let free = price.min(state.services.coins.free_coin);
    (free, price - free)
}

/// `card/pay/getpayprice`: a quote for `quantity` more codes of a card.
pub(crate) fn get_coin_pay_price(state: &mut State, request: &Value) -> Outcome<Value> {
    let crate::GetCoinPayPriceRequest { card_id, quantity } = typed(request)?;
    let quantity = u64::from(quantity);
    state.live_card(&card_id)?;
    let price = quantity.div_ceil(CODES_PER_COIN);
    let (free, pay) = split_price(state, price);
    let order_id = coin_order_id(state);
    state
        .services
        .coins
        .quotes
        .insert(order_id.clone(), (card_id, quantity, price));
    Ok(json!({ "order_id": order_id, "price": price.to_string(),
        "free_coin": free.to_string(), "pay_coin": pay.to_string() }))
}

/// Records a coin order (replacing the one of the same id) and pushes `card_pay_order`.
fn record_coin_order(state: &mut State, order: CoinOrder) {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut event = crate::CardPayOrderEvent::new(text(&order.order_id))
        .desc(text(&order.desc))
        .free_coin_count(text(&order.free_coin_count))
        .pay_coin_count(text(&order.pay_coin_count))
        .refund_free_coin_count("0")
        .refund_pay_coin_count("0");
    if let Some(status) = order.status.clone() {
        event = event.status(status);
    }
    if let Some(kind) = order.order_type.clone() {
        event = event.order_type(kind);
    }
    if let Some(at) = order.create_time {
        event = event.create_order_time(at);
    }
    if let Some(at) = order.pay_finish_time {
        event = event.pay_finish_time(at);
    }
    let appid = state.config.appid.clone();
    state.push_event(&appid, CardEvent::CardPayOrder(event));
    let orders = &mut state.services.coins.coin_orders;
    match orders.iter_mut().find(|o| o.order_id == order.order_id) {
        Some(slot) => *slot = order,
        None => orders.push(order),
    }
}

/// A coin order as the sandbox keeps it (counts are strings, as WeChat writes them).
fn coin_order(
    order_id: &str,
    status: CoinOrderStatus,
    order_type: CoinOrderType,
    (desc, free, pay): (String, u64, u64),
    (created, paid): (i64, Option<i64>),
) -> CoinOrder {
    CoinOrder {
        order_id: Some(order_id.to_owned()),
        status: Some(status),
        create_time: Some(created),
        pay_finish_time: paid,
        desc: Some(desc),
        free_coin_count: Some(free.to_string()),
        pay_coin_count: Some(pay.to_string()),
        refund_free_coin_count: Some("0".to_owned()),
        refund_pay_coin_count: Some("0".to_owned()),
        openid: None,
        order_type: Some(order_type),
    }
}

/// `card/pay/confirm`: spends the quote's coins and raises the stock.
pub(crate) fn confirm_coin_pay(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::ConfirmCoinPayRequest = typed(request)?;
    state.live_card(&request.card_id)?;
    let order_id = request.order_id;
    let (card_id, quantity, price) = state
        .services
        .coins
        .quotes
        .get(&order_id)
        .cloned()
        .ok_or_else(|| unknown("order_id", format!("{order_id:?} (card/pay/getpayprice)")))?;
    if card_id != request.card_id || quantity != u64::from(request.quantity) {
        return Err(invalid(format!(
            "order {order_id:?} was priced for {quantity} codes of card {card_id:?}"
        )));
    }
    let (free, pay) = split_price(state, price);
    if pay > state.services.coins.pay_coin {
        return Err(invalid(format!(
            "not enough coins: the order costs {price}, the account holds {} (card/pay/recharge)",
            state.services.coins.free_coin + state.services.coins.pay_coin
        )));
    }
    state.modify_stock(&card_id, quantity, 0)?;
    state.services.coins.quotes.remove(&order_id);
    state.services.coins.free_coin -= free;
    state.services.coins.pay_coin -= pay;
    let now = state.now();
    let order = coin_order(
        &order_id,
        CoinOrderStatus::QuantitySucc,
        CoinOrderType::Reduce,
        (format!("{quantity} codes of {card_id}"), free, pay),
        (now, Some(now)),
    );
    record_coin_order(state, order);
    ok()
}

/// `card/pay/recharge`: a coin order waiting for payment (`sandbox/coin/pay`).
pub(crate) fn recharge_coins(state: &mut State, request: &Value) -> Outcome<Value> {
    let coins = typed::<crate::RechargeCoinsRequest>(request)?.coin_count;
    if coins == 0 {
        return Err(invalid("coin_count must be at least 1"));
    }
    let order_id = coin_order_id(state);
    let now = state.now();
    let order = coin_order(
        &order_id,
        CoinOrderStatus::Waiting,
        CoinOrderType::Wxpay,
        ("微信支付充值".to_owned(), 0, u64::from(coins)),
        (now, None),
    );
    state.services.coins.coin_orders.push(order);
    Ok(json!({ "order_id": order_id,
        "qrcode_url": format!("weixin://wxpay/bizpayurl?pr={order_id}"),
        "qrcode_buffer": "" }))
}

impl State {
    /// The merchant pays a recharge order (`card/pay/recharge`): coins are added and
    /// `card_pay_order` is pushed.
    pub(crate) fn pay_coin_order(&mut self, order_id: &str) -> Outcome<()> {
        let mut order = self
            .services
            .coins
            .order(order_id)
            .cloned()
            .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))?;
        if order.status != Some(CoinOrderStatus::Waiting) {
            return Err(invalid(format!(
                "order {order_id:?} is not waiting for payment"
            )));
        }
        let coins = order
            .pay_coin_count
            .as_deref()
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        self.services.coins.pay_coin = self.services.coins.pay_coin.saturating_add(coins);
        order.status = Some(CoinOrderStatus::FinanceSucc);
        order.pay_finish_time = Some(self.now());
        record_coin_order(self, order);
        Ok(())
    }
}

/// `card/pay/getorder`.
pub(crate) fn get_coin_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCoinOrderRequest = typed(request)?;
    let order_id = request.order_id.as_str();
    let order = state
        .services
        .coins
        .order(order_id)
        .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))?;
    Ok(json!({ "order_info": order }))
}

/// `card/pay/getorderlist`.
pub(crate) fn get_coin_order_list(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetCoinOrderListRequest = typed(request)?;
    let kind = request.order_type.as_ref();
    let status = request.nor_filter.as_ref().and_then(|f| f.status.as_ref());
    let begin = request.begin_time.map(i64::from);
    let end = request.end_time.map(i64::from);
    let mut matching: Vec<&CoinOrder> = state
        .services
        .coins
        .coin_orders
        .iter()
        .filter(|o| kind.is_none_or(|k| o.order_type.as_ref() == Some(k)))
        .filter(|o| status.is_none_or(|s| o.status.as_ref() == Some(s)))
        .filter(|o| {
            let at = o.create_time.unwrap_or(0);
            begin.is_none_or(|b| b <= at) && end.is_none_or(|e| at <= e)
        })
        .collect();
    let descending = request
        .sort_info
        .as_ref()
        .and_then(|s| s.sort_type.as_ref())
        .is_some_and(|t| t.as_str() == "SORT_DESC");
    if descending {
        matching.reverse();
    }
    let page = page_of(&matching, request.offset, request.count);
    Ok(json!({ "total_num": matching.len(), "order_list": page }))
}
