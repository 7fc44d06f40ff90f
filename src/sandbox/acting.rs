//! What users and WeChat do to cards and codes, as [`Sandbox`] methods: the review, receiving,
//! gifting, deleting and expiring codes, and the actions around the cards (pay cells, member
//! forms, coins, sub-merchant reviews, gift cards) that the API only reads.

use super::*;

impl Sandbox {
    // ----------------------------------------------------------------------------------------
    // Cards
    // ----------------------------------------------------------------------------------------

    /// Adds a card (what `card/create` does) and returns its `card_id`, whatever its type: a
    /// coupon (GROUPON, CASH, DISCOUNT, GIFT, GENERAL_COUPON) is added as if it had been created
    /// before 2021-04-01, when WeChat still created them. The card is a typed
    /// [`Card`](crate::Card) or its JSON (`{"card_type": "GIFT", "gift": {…}}`; the body of
    /// `card/create`, `{"card": {…}}`, is accepted too), checked with the spec like a
    /// `card/create` request. It waits for review (`CARD_STATUS_NOT_VERIFY`) unless the sandbox
    /// auto-approves; its stock is `sku.quantity`.
    pub fn add_card<C: Serialize + ?Sized>(&self, card: &C) -> Result<String, SandboxError> {
        let mut value = serde_json::to_value(card).map_err(|e| SandboxError::Refused {
            errcode: api::DATA_FORMAT_ERROR,
            errmsg: format!("data format error: {e}"),
        })?;
        if let Value::Object(object) = &mut value {
            if !object.contains_key("card_type") && object.len() == 1 {
                if let Some(inner) = object.remove("card") {
                    value = inner;
                }
            }
        }
        Ok(self.shared.state().create_card(&value)?)
    }

    /// Passes a card's review: `CARD_STATUS_VERIFY_OK`.
    pub fn approve_card(&self, card_id: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().set_review(card_id, CARD_VERIFY_OK)?)
    }

    /// Fails a card's review: `CARD_STATUS_VERIFY_FAIL`.
    pub fn reject_card(&self, card_id: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().set_review(card_id, CARD_VERIFY_FAIL)?)
    }

    /// A card's status, `None` for an unknown card.
    pub fn card_status(&self, card_id: &str) -> Option<CardStatus> {
        let state = self.shared.state();
        let status = state.cards.get(card_id)?.status;
        serde_json::from_value(Value::from(status)).ok()
    }

    // ----------------------------------------------------------------------------------------
    // Codes
    // ----------------------------------------------------------------------------------------

    /// User `openid` receives card `card_id` (from a QR code, a shelf, wx.addCard…): the card
    /// must be approved (40078; users of the test whitelist, `card/testwhitelist/set`, may
    /// receive cards under review), in stock (45031) and under the user's `get_limit` (45033).
    /// Returns the code WeChat generated, or for a deposit-mode card the next code imported
    /// with `card/code/deposit`. Stock goes down by one.
    pub fn receive_card(&self, openid: &str, card_id: &str) -> Result<String, SandboxError> {
        Ok(self.shared.state().receive(openid, card_id, None, None)?)
    }

    /// Like [`receive_card`](Sandbox::receive_card) for a card with `use_custom_code`: the
    /// merchant's own `code` (unique, at most 20 bytes; for a deposit-mode card, one of its
    /// imported codes not yet received, 40116 otherwise).
    pub fn receive_card_with_code(
        &self,
        openid: &str,
        card_id: &str,
        code: &str,
    ) -> Result<String, SandboxError> {
        Ok(self
            .shared
            .state()
            .receive(openid, card_id, Some(code), None)?)
    }

    /// User `openid` scans a QR code of `card/qrcode/create`, named by its `ticket` or its `url`
    /// (what the QR image encodes), and receives every card of it, all or nothing, as
    /// [`receive_card`](Sandbox::receive_card) would (approved card unless the user is on the
    /// test whitelist, stock, `get_limit`): with the QR code's `code` for custom-code cards, the
    /// next imported code (`card/code/deposit`) for deposit-mode cards, a generated one
    /// otherwise; its `outer_str` is kept (`card/code/get` returns it). Returns the codes in the
    /// QR code's order.
    ///
    /// Refused with 40097 for an unknown ticket or an `is_unique_code` QR code already
    /// scanned, 40079 once the QR code expired (`expire_seconds`, by default 365 days on the
    /// sandbox clock), 40003 when it names another `openid`.
    pub fn scan_qrcode(
        &self,
        openid: &str,
        ticket_or_url: &str,
    ) -> Result<Vec<String>, SandboxError> {
        let received = self.shared.state().scan_qrcode(openid, ticket_or_url)?;
        Ok(received.into_iter().map(|(_, code)| code).collect())
    }

    /// User `openid` opens the card's page: counted as a view in the statistics.
    pub fn view_card(&self, openid: &str, card_id: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().view(openid, card_id)?)
    }

    /// The user starts giving the code to a friend: `GIFTING` (counted as "given").
    pub fn gift_code(&self, code: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().gift(code)?)
    }

    /// The friend did not accept the gift in time: `GIFT_TIMEOUT`.
    pub fn gift_timeout(&self, code: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().gift_timeout(code)?)
    }

    /// The friend `friend_openid` accepts the gift. The giver's code is gone (`card/code/get`
    /// answers 40056); the friend holds the card under the returned code (a new one; for
    /// custom-code cards the same code, which the merchant may change with `card/code/update`).
    pub fn accept_gift(&self, code: &str, friend_openid: &str) -> Result<String, SandboxError> {
        Ok(self.shared.state().accept_gift(code, friend_openid)?)
    }

    /// The user deletes the card from the card bag: `DELETE`.
    pub fn delete_code(&self, code: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().delete_by_user(code)?)
    }

    /// The code expires now: `EXPIRE` (counted as an expiry). Codes also expire by themselves
    /// when the sandbox clock passes the end of their validity.
    pub fn expire_code(&self, code: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().expire(code)?)
    }

    /// A code's state, `None` for a code never given out. A code a friend accepted as a gift is
    /// `GiftSucc` for its giver.
    pub fn code_status(&self, code: &str) -> Option<UserCardStatus> {
        let mut state = self.shared.state();
        state.sweep();
        let status = state.codes.get(code)?.status;
        serde_json::from_value(Value::from(status.as_str())).ok()
    }

    /// The `encrypt_code` wx.chooseCard or a card's outbound link would carry for `code`;
    /// `card/code/decrypt` turns it back.
    pub fn encrypt_code(&self, code: &str) -> String {
        self.shared.state().encrypt_code(code)
    }

    // ----------------------------------------------------------------------------------------
    // Around the cards: what users and WeChat do that the API only reads
    // ----------------------------------------------------------------------------------------

    /// User `openid` adds `card_id` through the JS-SDK's `wx.addCard` with `card_ext`, the
    /// signed cardExt text ([`SignedCardExt::card_ext`](crate::signature::SignedCardExt)):
    /// refused with 40080 "invalid CardExt" unless it is signed with the sandbox's current
    /// `wx_card` api_ticket over the `card_id`, the `timestamp` (a string or a number) and the
    /// `nonce_str`, `code` and `openid` that are given (each optional, an empty one counts as
    /// absent, as in WeChat's own wx.addCard example; `openid` must be the user's and is required
    /// for `bind_openid` cards); then received as
    /// [`receive_card`](Sandbox::receive_card) does, with the cardExt's `code`, `outer_str` and
    /// `outer_id`. Returns the code.
    pub fn add_card_by_jsapi(
        &self,
        openid: &str,
        card_id: &str,
        card_ext: &str,
    ) -> Result<String, SandboxError> {
        Ok(self
            .shared
            .state()
            .receive_by_card_ext(openid, card_id, card_ext)?)
    }

    /// The holder of `code` pays `fee` (fen; the bill was `original_fee`) through the card's
    /// pay cell (买单), which `card/paycell/set` must have opened: `user_pay_from_pay_cell` is
    /// pushed. Returns the payment's `trans_id`.
    pub fn pay_with_pay_cell(
        &self,
        code: &str,
        fee: i64,
        original_fee: i64,
    ) -> Result<String, SandboxError> {
        Ok(self
            .shared
            .state()
            .pay_with_pay_cell(code, fee, original_fee)?)
    }

    /// The holder of `code` enters the account's chat from the card:
    /// `user_enter_session_from_card` is pushed.
    pub fn enter_session(&self, code: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().enter_session(code)?)
    }

    /// The holder of member-card `code` submits the activation form (跳转型开卡组件) with `info`
    /// (`{"common_field_list": [{"name", "value"}], "custom_field_list": […]}`, or `null`):
    /// `submit_membercard_user_info` is pushed. Returns the `activate_ticket` that
    /// `card/membercard/activatetempinfo/get` answers with `info`.
    pub fn submit_member_info(&self, code: &str, info: &Value) -> Result<String, SandboxError> {
        Ok(self.shared.state().submit_member_info(code, info.clone())?)
    }

    /// The merchant pays a `card/pay/recharge` order: its coins are added and `card_pay_order`
    /// is pushed.
    pub fn pay_coin_order(&self, order_id: &str) -> Result<(), SandboxError> {
        Ok(self.shared.state().pay_coin_order(order_id)?)
    }

    /// WeChat ends a sub-merchant's review (`card/submerchant/submit`): `APPROVED` or
    /// `REJECTED`, and `card_merchant_check_result` is pushed.
    pub fn review_sub_merchant(
        &self,
        merchant_id: u64,
        pass: bool,
        reason: &str,
    ) -> Result<(), SandboxError> {
        Ok(self
            .shared
            .state()
            .review_sub_merchant(merchant_id, pass, reason)?)
    }

    /// WeChat ends the review of a qualification: the agent's (`appid` `None`,
    /// `upload_card_agent_qualification`) or a sub-merchant's
    /// (`upload_card_merchant_qualification`).
    pub fn review_qualification(
        &self,
        appid: Option<&str>,
        pass: bool,
    ) -> Result<(), SandboxError> {
        Ok(self.shared.state().review_qualification(appid, pass)?)
    }

    /// User `openid` buys a gift card on page `page_id` (`card/giftcard/page/add`; `card_id`,
    /// by default the page's first card): the user receives the card, the order is kept
    /// (`card/giftcard/order/get`) and `giftcard_pay_done` is pushed. Returns the order id.
    pub fn buy_gift_card(
        &self,
        openid: &str,
        page_id: &str,
        card_id: Option<&str>,
    ) -> Result<String, SandboxError> {
        Ok(self
            .shared
            .state()
            .buy_gift_card(openid, page_id, card_id)?)
    }

    /// The buyer of order `order_id` sends the gift card to `friend_openid`, who accepts it:
    /// `giftcard_send_to_friend`, then `giftcard_user_accept`, are pushed.
    pub fn give_gift_card(&self, order_id: &str, friend_openid: &str) -> Result<(), SandboxError> {
        Ok(self
            .shared
            .state()
            .give_gift_card(order_id, friend_openid)?)
    }

    /// What `card/meetingticket/updateuser`, `card/movieticket/updateuser` or
    /// `card/boardingpass/checkin` set for `code`, as JSON; `None` if nothing was set.
    pub fn ticket_details(&self, code: &str) -> Option<Value> {
        self.shared.state().ticket_details(code)
    }
}
