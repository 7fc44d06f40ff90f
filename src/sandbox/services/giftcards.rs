//! Gift-card pages, orders and gift cards (礼品卡).

use super::*;
use crate::{GiftCardOrder, GiftCardOrderCard, GiftCardPageInfo, GiftCardPageTheme};

/// Every card on a page is a GENERAL_CARD of the sandbox.
fn check_page_cards(state: &State, themes: Option<&[GiftCardPageTheme]>) -> Outcome<()> {
    for item in themes.unwrap_or_default().iter().flat_map(|t| &t.item_list) {
        card_of_type(state, &item.card_id, "GENERAL_CARD")?;
    }
    Ok(())
}

fn page_mut<'a>(state: &'a mut State, page_id: &str) -> Outcome<&'a mut GiftCardPageInfo> {
    state
        .services
        .gift_cards
        .pages
        .get_mut(page_id)
        .ok_or_else(|| unknown("page_id", format!("{page_id:?}")))
}

/// `card/giftcard/page/add`.
pub(crate) fn add_gift_card_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let page = typed::<crate::AddGiftCardPageRequest>(request)?.page;
    check_page_cards(state, page.theme_list.as_deref())?;
    // The page is kept as sent (page/get answers it), with its new page_id: the page/add type's
    // fields are a part of page/get's.
    let mut page: GiftCardPageInfo =
        serde_json::from_value(serde_json::to_value(&page).map_err(invalid)?).map_err(invalid)?;
    let page_id = format!("{}=", state.random_text(35));
    page.page_id = Some(page_id.clone());
    state
        .services
        .gift_cards
        .pages
        .insert(page_id.clone(), page);
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
    let update = typed::<crate::UpdateGiftCardPageRequest>(request)?.page;
    check_page_cards(state, update.theme_list.as_deref())?;
    let page = page_mut(state, &update.page_id)?;
    macro_rules! replace {
        ($($field:ident),*) => {
            $(if let Some(value) = update.$field {
                page.$field = Some(value);
            })*
        };
    }
    replace!(
        page_title,
        support_multi,
        support_buy_for_self,
        banner_pic_url,
        theme_list,
        category_list,
        address,
        service_phone,
        biz_description,
        need_receipt
    );
    ok()
}

/// `card/giftcard/page/batchget`.
pub(crate) fn batch_get_gift_card_pages(state: &mut State, _request: &Value) -> Outcome<Value> {
    let ids: Vec<&String> = state.services.gift_cards.pages.keys().collect();
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
        None if request.all == Some(true) => {
            state.services.gift_cards.pages.keys().cloned().collect()
        }
        None => return Err(invalid("give page_id, or all: true")),
    };
    for page in &pages {
        if maintain {
            state.services.gift_cards.maintained.insert(page.clone());
        } else {
            state.services.gift_cards.maintained.remove(page);
        }
    }
    let list: Vec<Value> = pages
        .iter()
        .map(|page_id| {
            let kind = if state.services.gift_cards.maintained.contains(page_id) {
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
    state.services.gift_cards.pay_whitelist.insert(sub_mch_id);
    Ok(json!({ "url": url }))
}

/// `card/giftcard/pay/submch/bind`: the sub-merchant must be whitelisted first.
pub(crate) fn bind_gift_card_sub_merchant(state: &mut State, request: &Value) -> Outcome<Value> {
    let crate::BindGiftCardSubMerchantRequest {
        sub_mch_id,
        wxa_appid,
    } = typed(request)?;
    if !state
        .services
        .gift_cards
        .pay_whitelist
        .contains(&sub_mch_id)
    {
        return Err(unknown(
            "a whitelisted sub_mch_id",
            format!("{sub_mch_id:?} (card/giftcard/pay/whitelist/add)"),
        ));
    }
    state
        .services
        .gift_cards
        .bound_wxa
        .insert(sub_mch_id, wxa_appid);
    ok()
}

/// `card/giftcard/wxa/set`: the page and a mini program bound to a sub-merchant.
pub(crate) fn set_gift_card_wxa(state: &mut State, request: &Value) -> Outcome<Value> {
    let crate::SetGiftCardWxaRequest { wxa_appid, page_id } = typed(request)?;
    page_mut(state, &page_id)?;
    if !state
        .services
        .gift_cards
        .bound_wxa
        .values()
        .any(|w| *w == wxa_appid)
    {
        return Err(unknown(
            "a mini program bound to a sub-merchant: wxa_appid",
            format!("{wxa_appid:?} (card/giftcard/pay/submch/bind)"),
        ));
    }
    state
        .services
        .gift_cards
        .page_wxa
        .insert(page_id, wxa_appid);
    ok()
}

fn order_index(state: &State, order_id: &str) -> Outcome<usize> {
    state
        .services
        .gift_cards
        .order_index(order_id)
        .ok_or_else(|| unknown("order_id", format!("{order_id:?}")))
}

/// `card/giftcard/order/get`.
pub(crate) fn get_gift_card_order(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::GetGiftCardOrderRequest = typed(request)?;
    let index = order_index(state, &request.order_id)?;
    Ok(json!({ "order": state.services.gift_cards.orders[index] }))
}

/// `card/giftcard/order/batchget`: orders created within the period.
pub(crate) fn batch_get_gift_card_orders(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: crate::BatchGetGiftCardOrdersRequest = typed(request)?;
    let (begin, end) = (i64::from(request.begin_time), i64::from(request.end_time));
    let mut matching: Vec<&GiftCardOrder> = state
        .services
        .gift_cards
        .orders
        .iter()
        .filter(|o| {
            let at = o.create_time.unwrap_or(0);
            begin <= at && at <= end
        })
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
    if state.services.gift_cards.refunded.contains(&order_id) {
        return Err(invalid(format!("order {order_id:?} was already refunded")));
    }
    let codes: Vec<(String, String)> = state.services.gift_cards.orders[index]
        .card_list
        .iter()
        .flatten()
        .map(|c| {
            (
                c.code.clone().unwrap_or_default(),
                c.card_id.clone().unwrap_or_default(),
            )
        })
        .collect();
    for (code, card_id) in codes {
        // A code already used or given away stays as it is.
        let _ = state.make_unavailable(&code, Some(&card_id));
    }
    state.services.gift_cards.refunded.insert(order_id);
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
        if self.services.gift_cards.maintained.contains(page_id) {
            return Err(invalid(format!("page {page_id:?} is under maintenance")));
        }
        let on_page: Vec<String> = page
            .theme_list
            .iter()
            .flatten()
            .flat_map(|t| &t.item_list)
            .map(|item| item.card_id.clone())
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
        self.services.gift_cards.orders.push(GiftCardOrder {
            order_id: Some(order_id.clone()),
            page_id: Some(page_id.to_owned()),
            trans_id: Some(trans_id),
            create_time: Some(now),
            pay_finish_time: Some(now),
            total_price: Some(price),
            open_id: Some(openid.to_owned()),
            card_list: Some(vec![GiftCardOrderCard {
                card_id: Some(card_id),
                price: Some(price),
                code: Some(code),
                ..GiftCardOrderCard::default()
            }]),
            ..GiftCardOrder::default()
        });
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
        let order = &mut self.services.gift_cards.orders[index];
        if order.accepter_openid.is_some() {
            return Err(invalid(format!("order {order_id:?} was already given")));
        }
        order.accepter_openid = Some(friend.to_owned());
        for card in order.card_list.iter_mut().flatten() {
            card.accepter_openid = Some(friend.to_owned());
        }
        let buyer = order.open_id.clone().unwrap_or_default();
        let page_id = order.page_id.clone().unwrap_or_default();
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
