//! Coins (券点).

use super::*;

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
    let crate::GetCoinPayPriceRequest { card_id, quantity } = typed(request)?;
    let quantity = u64::from(quantity);
    state.live_card(&card_id)?;
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
    let request: crate::ConfirmCoinPayRequest = typed(request)?;
    state.live_card(&request.card_id)?;
    let order_id = request.order_id;
    let (card_id, quantity, price) = state
        .services
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
    let coins = typed::<crate::RechargeCoinsRequest>(request)?.coin_count;
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
    let request: crate::GetCoinOrderRequest = typed(request)?;
    let order_id = request.order_id.as_str();
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
    let request: crate::GetCoinOrderListRequest = typed(request)?;
    let kind = request
        .order_type
        .as_ref()
        .map(crate::CoinOrderType::as_str);
    let status = request
        .nor_filter
        .as_ref()
        .and_then(|f| f.status.as_ref())
        .map(crate::CoinOrderStatus::as_str);
    let begin = request.begin_time.map(i64::from);
    let end = request.end_time.map(i64::from);
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
