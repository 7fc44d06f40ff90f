//! Cards: creating them from their JSON body, reading them, review and stock.

use super::*;

impl State {
    // ----------------------------------------------------------------------------------------
    // Cards
    // ----------------------------------------------------------------------------------------

    /// Creates a card from its JSON body (`{"card_type": …, "<type>": {…}}`), checked with the
    /// generated `Card` type like `card/create` would be.
    pub(crate) fn create_card(&mut self, card: &Value) -> Outcome<String> {
        let mut card = card.clone();
        crate::sandbox::request::accept_numeric_timestamps(&mut card);
        let card = &card;
        let typed: crate::Card = match serde_json::from_value(card.clone()) {
            Ok(typed) => typed,
            Err(e) => {
                let error = ValidationError::new(
                    "card",
                    Rule::Decode {
                        message: e.to_string(),
                    },
                );
                return Err(crate::sandbox::request::validation_refusal(
                    &error,
                    Some(("Card", card, "card")),
                ));
            }
        };
        if let crate::Card::Unknown(_) = typed {
            return Err(Refusal::new(
                INVALID_CARD_TYPE,
                format!("invalid card type: {:?}", typed.tag()),
            ));
        }
        typed
            .validate()
            .map_err(|e| crate::sandbox::request::validation_refusal(&e.within("card"), None))?;
        let normalized = serde_json::to_value(&typed).map_err(|e| {
            Refusal::new(
                crate::sandbox::errcodes::DATA_FORMAT_ERROR,
                format!("data format error: {e}"),
            )
        })?;
        crate::sandbox::request::check_values("Card", &normalized, "card")?;
        let card_type = typed.tag().to_owned();
        let now = self.now();
        let id = self.new_card_id();
        let seq = self.next_seq();
        let mut record = CardRecord {
            id: id.clone(),
            card_type,
            card: normalized,
            status: if self.config.auto_approve {
                CARD_VERIFY_OK
            } else {
                CARD_NOT_VERIFY
            },
            quantity: 0,
            total_quantity: 0,
            create_time: now,
            update_time: now,
            seq,
        };
        let quantity = record
            .base_info()
            .and_then(|b| b.get("sku"))
            .and_then(|s| s.get("quantity"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if quantity > 0 && record.deposit_mode() {
            return Err(Refusal::new(
                INVALID_STOCK,
                "invalid stock quantity: a deposit-mode card (GET_CUSTOM_CODE_MODE_DEPOSIT) is created with sku.quantity 0; import codes with card/code/deposit, then raise the stock with card/modifystock",
            ));
        }
        record.quantity = quantity;
        record.total_quantity = quantity;
        // Read-only fields sent back by a client (a card copied from card/get) are not kept.
        let key = record.payload_key();
        if let Some(base) = record
            .card
            .get_mut(&key)
            .and_then(|p| p.get_mut("base_info"))
            .and_then(Value::as_object_mut)
        {
            for read_only in [
                "id",
                "status",
                "create_time",
                "update_time",
                "area_code_list",
            ] {
                base.remove(read_only);
            }
            if let Some(sku) = base.get_mut("sku").and_then(Value::as_object_mut) {
                sku.remove("total_quantity");
            }
        }
        if let Some(date) = record.date_info() {
            if date.get("type").and_then(Value::as_str) == Some("DATE_TYPE_FIX_TIME_RANGE") {
                let begin = date.get("begin_timestamp").and_then(Value::as_i64);
                let end = date.get("end_timestamp").and_then(Value::as_i64);
                match (begin, end) {
                    (Some(b), Some(e)) if b <= e => {}
                    _ => {
                        return Err(Refusal::new(
                            INVALID_TIME,
                            "invalid time: DATE_TYPE_FIX_TIME_RANGE needs begin_timestamp <= end_timestamp",
                        ));
                    }
                }
            }
        }
        self.cards.insert(id.clone(), record);
        self.notify_review_if(&id, self.config.auto_approve);
        Ok(id)
    }

    pub(crate) fn card(&self, card_id: &str) -> Outcome<&CardRecord> {
        self.cards
            .get(card_id)
            .ok_or_else(|| Refusal::new(INVALID_CARD_ID, format!("invalid card id: {card_id:?}")))
    }

    pub(crate) fn card_mut(&mut self, card_id: &str) -> Outcome<&mut CardRecord> {
        self.cards
            .get_mut(card_id)
            .ok_or_else(|| Refusal::new(INVALID_CARD_ID, format!("invalid card id: {card_id:?}")))
    }

    /// A card that is not deleted, for changes.
    pub(crate) fn live_card_mut(&mut self, card_id: &str) -> Outcome<&mut CardRecord> {
        let card = self.card_mut(card_id)?;
        if card.deleted() {
            return Err(Refusal::new(
                INVALID_CARD_STATUS,
                format!("invalid card status: card {card_id:?} is deleted"),
            ));
        }
        Ok(card)
    }

    /// Sets a card's review status (the approve / reject controls).
    pub(crate) fn set_review(&mut self, card_id: &str, status: &'static str) -> Outcome<()> {
        let now = self.now();
        let card = self.live_card_mut(card_id)?;
        card.status = status;
        card.update_time = now;
        self.notify_review(card_id, status == CARD_VERIFY_OK);
        Ok(())
    }

    /// Card ids in creation order.
    pub(crate) fn card_ids_in_order(&self) -> Vec<&CardRecord> {
        let mut cards: Vec<&CardRecord> = self.cards.values().collect();
        cards.sort_by_key(|c| c.seq);
        cards
    }

    /// Changes the stock: `quantity + increase - reduce`, never below zero nor above the maximum;
    /// all or nothing.
    pub(crate) fn modify_stock(
        &mut self,
        card_id: &str,
        increase: u64,
        reduce: u64,
    ) -> Outcome<()> {
        let now = self.now();
        let imported = self.distribution.available(card_id);
        let card = self.live_card_mut(card_id)?;
        let raised = card.quantity.saturating_add(increase);
        let Some(quantity) = raised.checked_sub(reduce) else {
            return Err(Refusal::new(
                INVALID_STOCK,
                format!(
                    "invalid stock quantity: the stock is {}, cannot reduce it by {reduce}",
                    card.quantity
                ),
            ));
        };
        if quantity > MAX_STOCK {
            return Err(Refusal::new(
                INVALID_STOCK,
                format!("invalid stock quantity: {quantity} is more than {MAX_STOCK}"),
            ));
        }
        if card.deposit_mode() && quantity > imported {
            return Err(Refusal::new(
                INVALID_STOCK,
                format!(
                    "invalid stock quantity: {quantity} is more than the {imported} imported codes not yet received (card/code/deposit)"
                ),
            ));
        }
        card.quantity = quantity;
        card.total_quantity = card
            .total_quantity
            .saturating_add(increase)
            .saturating_sub(reduce);
        card.update_time = now;
        Ok(())
    }
}
