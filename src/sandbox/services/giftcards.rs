//! Gift-card pages, orders and gift cards (礼品卡).

use super::*;

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
    let request: crate::AddGiftCardPageRequest = typed(request)?;
    // The page is kept as sent (page/get answers it), with its new page_id.
    let mut page = serde_json::to_value(&request.page).map_err(invalid)?;
    check_page_cards(state, &page)?;
    let page_id = format!("{}=", state.random_text(35));
    page["page_id"] = json!(page_id);
    state.services.pages.insert(page_id.clone(), page);
    Ok(json!({ "page_id": page_id }))
}

/// `card/giftcard/page/get`.
pub(crate) fn get_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetGiftCardPageRequest = typed(request)?;
    let page = page_mut(state, &request.page_id)?.clone();
    Ok(json!({ "page": page }))
}

/// `card/giftcard/page/update`: the fields sent replace the page's.
pub(crate) fn update_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::UpdateGiftCardPageRequest = typed(request)?;
    let update = serde_json::to_value(&request.page).map_err(invalid)?;
    check_page_cards(state, &update)?;
    let page = page_mut(state, &request.page.page_id)?;
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
    let request: crate::SetGiftCardMaintainRequest = typed(request)?;
    let maintain = request.maintain;
    let pages: Vec<String> = match request.page_id {
        Some(page_id) => {
            page_mut(state, &page_id)?;
            vec![page_id]
        }
        None if request.all == Some(true) => state.services.pages.keys().cloned().collect(),
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
    let sub_mch_id = typed::<crate::AddGiftCardPayWhitelistRequest>(request)?.sub_mch_id;
    let url = format!(
        "https://mp.weixin.qq.com/sandbox/giftcard/pay?sub_mch_id={}",
        crate::percent::percent_encode(&sub_mch_id)
    );
    state.services.pay_whitelist.insert(sub_mch_id);
    Ok(json!({ "url": url }))
}

/// `card/giftcard/pay/submch/bind`: the sub-merchant must be whitelisted first.
pub(crate) fn bind_gift_card_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let crate::BindGiftCardSubMerchantRequest {
        sub_mch_id,
        wxa_appid,
    } = typed(request)?;
    if !state.services.pay_whitelist.contains(&sub_mch_id) {
        return Err(unknown(
            "a whitelisted sub_mch_id",
            format!("{sub_mch_id:?} (card/giftcard/pay/whitelist/add)"),
        ));
    }
    state.services.bound_wxa.insert(sub_mch_id, wxa_appid);
    ok()
}

/// `card/giftcard/wxa/set`: the page and a mini program bound to a sub-merchant.
pub(crate) fn set_gift_card_wxa(state: &mut State, request: &Value) -> Outcome<Value> {
    let crate::SetGiftCardWxaRequest { wxa_appid, page_id } = typed(request)?;
    page_mut(state, &page_id)?;
    if !state.services.bound_wxa.values().any(|w| *w == wxa_appid) {
        return Err(unknown(
            "a mini program bound to a sub-merchant: wxa_appid",
            format!("{wxa_appid:?} (card/giftcard/pay/submch/bind)"),
        ));
    }
    state.services.page_wxa.insert(page_id, wxa_appid);
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
    let request: crate::GetGiftCardOrderRequest = typed(request)?;
    let index = order_index(state, &request.order_id)?;
    Ok(json!({ "order": state.services.orders[index] }))
}

/// `card/giftcard/order/batchget`: orders created within the period.
pub(crate) fn batch_get_gift_card_orders(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::BatchGetGiftCardOrdersRequest = typed(request)?;
    let (begin, end) = (i64::from(request.begin_time), i64::from(request.end_time));
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
    if request
        .sort_type
        .as_ref()
        .is_some_and(|t| t.as_str() == "DESC")
    {
        matching.reverse();
    }
    let page = page_of(&matching, request.offset, request.count);
    Ok(json!({ "order_list": page, "total_count": matching.len() }))
}

/// `card/giftcard/order/refund`: once; the order's gift cards become unavailable.
pub(crate) fn refund_gift_card_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let order_id = typed::<crate::RefundGiftCardOrderRequest>(request)?.order_id;
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
                crate::sandbox::errcodes::INVALID_OPENID,
                errmsg(crate::sandbox::errcodes::INVALID_OPENID),
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
    let request: crate::ActivateGeneralCardRequest = typed(request)?;
    set_general_card_active(state, &request.code, &request.card_id, true)
}

/// `card/generalcard/unactivate`.
pub(crate) fn unactivate_general_card(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::UnactivateGeneralCardRequest = typed(request)?;
    set_general_card_active(state, &request.code, &request.card_id, false)
}

fn set_general_card_active(
    state: &mut State,
    code: &str,
    card_id: &str,
    active: bool,
) -> Outcome<Value> {
    let (code, _, _) = code_of_type(state, code, Some(card_id), "GENERAL_CARD")?;
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
    let request: crate::UpdateGeneralCardUserRequest = typed(request)?;
    let (code, card_id, openid) =
        code_of_type(state, &request.code, Some(&request.card_id), "GENERAL_CARD")?;
    let Some(record) = state.codes.get_mut(&code) else {
        return Err(unknown("code", format!("{code:?}")));
    };
    let member = &mut record.member;
    let before = (member.bonus, member.balance);
    if let Some(bonus) = request.bonus {
        member.bonus = i64::from(bonus);
    }
    if let Some(balance) = request.balance {
        member.balance = i64::from(balance);
    }
    if let Some(url) = request.background_pic_url {
        member.background_pic_url = Some(url);
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
