//! Codes: receiving, finding, consuming, marking, and their status.

use super::*;

impl State {
    // ----------------------------------------------------------------------------------------
    // Codes
    // ----------------------------------------------------------------------------------------

    /// "User `openid` receives card `card_id`": checks status, stock and `get_limit`,
    /// decrements the stock and returns the code.
    pub(crate) fn receive(
        &mut self,
        openid: &str,
        card_id: &str,
        code: Option<&str>,
        outer_str: Option<&str>,
    ) -> Outcome<String> {
        let source = self.plan_receipt(openid, card_id, code, 0)?;
        let channel = Channel {
            outer_str: outer_str.map(str::to_owned),
            outer_id: None,
        };
        self.complete_receipt(openid, card_id, source, &channel)
    }

    /// Checks that `openid` may receive `card_id` now, with `pending` receipts of the same card
    /// already planned (a QR code of several cards is received all or nothing): the card's
    /// status (whitelisted users may receive cards under review), stock, `get_limit` and the
    /// code. Changes nothing; [`complete_receipt`](State::complete_receipt) does.
    pub(crate) fn plan_receipt(
        &self,
        openid: &str,
        card_id: &str,
        code: Option<&str>,
        pending: u64,
    ) -> Outcome<CodeSource> {
        if openid.is_empty() {
            return Err(Refusal::of(INVALID_OPENID));
        }
        let card = self.card(card_id)?;
        let approved = card.status == CARD_VERIFY_OK || card.status == "CARD_STATUS_DISPATCH";
        let whitelisted = !card.deleted() && self.distribution.whitelisted(openid);
        if !approved && !whitelisted {
            return Err(Refusal::new(
                INVALID_CARD_STATUS,
                format!(
                    "invalid card status: {} (only an approved card can be received, except by users of the test whitelist)",
                    card.status
                ),
            ));
        }
        if card.quantity <= pending {
            return Err(Refusal::new(STOCK_EMPTY, "card stock is 0 (out of stock)"));
        }
        let held = self
            .codes
            .values()
            .filter(|c| c.card_id == card_id && c.openid == openid)
            .count() as u64;
        let limit = card.get_limit();
        if held.saturating_add(pending) >= limit {
            return Err(Refusal::new(
                GET_LIMIT,
                format!("user get card num exceeds the limit of {limit} (get_limit)"),
            ));
        }
        let deposit = card.deposit_mode();
        match (card.use_custom_code(), code) {
            (true, Some(code)) => {
                if code.is_empty() || code.len() > 20 {
                    return Err(Refusal::new(INVALID_CODE, "invalid code: 1 to 20 bytes"));
                }
                if self.codes.contains_key(code) {
                    return Err(Refusal::new(
                        INVALID_CODE,
                        format!("invalid code: {code:?} was already received"),
                    ));
                }
                if deposit && !self.distribution.is_available(card_id, code) {
                    return Err(Refusal::new(
                        INVALID_CODE,
                        format!(
                            "invalid code: {code:?} is not an imported code of this card (card/code/deposit)"
                        ),
                    ));
                }
                Ok(CodeSource::Custom(code.to_owned()))
            }
            (true, None) if deposit => Ok(CodeSource::Deposited),
            (true, None) => Err(Refusal::new(
                MISSING_FIELD,
                "missing code: the card uses custom codes (use_custom_code)",
            )),
            (false, Some(_)) => Err(Refusal::new(
                NO_CUSTOM_CODE_PERMISSION,
                "the card does not use custom codes: WeChat generates them",
            )),
            (false, None) => Ok(CodeSource::Generated),
        }
    }

    /// Gives `openid` the card as planned by [`plan_receipt`](State::plan_receipt): takes the
    /// code, decrements the stock, records the receipt (and the activation of an
    /// `auto_activate` member card).
    pub(crate) fn complete_receipt(
        &mut self,
        openid: &str,
        card_id: &str,
        source: CodeSource,
        channel: &Channel,
    ) -> Outcome<String> {
        let now = self.now();
        let card = self.card(card_id)?;
        let (begin_time, end_time) = card.validity(now);
        let member = card.is_member_card() && card.auto_activate();
        let code = match source {
            CodeSource::Custom(code) => {
                if self.codes.contains_key(&code) {
                    return Err(Refusal::new(
                        INVALID_CODE,
                        format!("invalid code: {code:?} was already received"),
                    ));
                }
                self.distribution.take_deposited(card_id, Some(&code));
                code
            }
            CodeSource::Deposited => {
                self.distribution
                    .take_deposited(card_id, None)
                    .ok_or_else(|| {
                        Refusal::new(STOCK_EMPTY, "card stock is 0 (no imported code left)")
                    })?
            }
            CodeSource::Generated => self.new_code(),
        };
        if let Ok(card) = self.card_mut(card_id) {
            card.quantity = card.quantity.saturating_sub(1);
        }
        self.add_code(code.clone(), card_id, openid, begin_time, end_time, channel);
        let day = day_of(now);
        self.log(day, EventKind::Receive, card_id, openid);
        self.notify_receive(openid, card_id, &code, None);
        if member {
            if let Some(record) = self.codes.get_mut(&code) {
                record.member.activate(&code);
            }
            self.log(day, EventKind::Activate, card_id, openid);
        }
        Ok(code)
    }

    pub(super) fn add_code(
        &mut self,
        code: String,
        card_id: &str,
        openid: &str,
        begin_time: i64,
        end_time: Option<i64>,
        channel: &Channel,
    ) {
        let seq = self.next_seq();
        if let Some(end) = end_time {
            self.expiries.insert((end, code.clone()));
        }
        let received_day = self.today();
        let now = self.now();
        self.codes.insert(
            code.clone(),
            CodeRecord {
                code,
                card_id: card_id.to_owned(),
                openid: openid.to_owned(),
                status: CodeStatus::Normal,
                begin_time,
                end_time,
                outer_str: channel.outer_str.clone(),
                outer_id: channel.outer_id,
                seq,
                received_day,
                removed_day: None,
                member: Member::default(),
                mark: None,
                history: vec![(now, CodeStatus::Normal)],
            },
        );
        self.sweep();
    }

    pub(crate) fn log(&mut self, day: i64, kind: EventKind, card_id: &str, openid: &str) {
        self.events.push(Event {
            day,
            kind,
            card_id: card_id.to_owned(),
            openid: openid.to_owned(),
        });
    }

    /// Finds a code as WeChat does: 40056 for a code never given out, taken by gifting, of
    /// another card, or a custom code asked for without its `card_id`.
    pub(crate) fn find_code(&self, code: &str, card_id: Option<&str>) -> Outcome<&CodeRecord> {
        let invalid = |why: &str| {
            Refusal::new(
                INVALID_SERIAL_CODE,
                format!("invalid serial code: {code:?} ({why})"),
            )
        };
        let record = self
            .codes
            .get(code)
            .ok_or_else(|| invalid("no such code"))?;
        if record.status == CodeStatus::GiftedAway {
            return Err(invalid("taken by gifting"));
        }
        match card_id {
            Some(id) if id != record.card_id => return Err(invalid("not a code of this card_id")),
            None if self
                .cards
                .get(&record.card_id)
                .is_some_and(CardRecord::use_custom_code) =>
            {
                return Err(invalid("a custom code needs its card_id"));
            }
            _ => {}
        }
        Ok(record)
    }

    /// Whether a code can be consumed now.
    pub(crate) fn can_consume(&self, record: &CodeRecord) -> bool {
        let now = self.now();
        record.status == CodeStatus::Normal
            && record.begin_time <= now
            && record.end_time.is_none_or(|end| now <= end)
    }

    /// The refusal for a code that cannot be consumed: 40099 consumed, otherwise 40127.
    pub(crate) fn not_consumable(record: &CodeRecord) -> Refusal {
        if record.status == CodeStatus::Consumed {
            Refusal::of(CODE_CONSUMED)
        } else if record.status == CodeStatus::Normal {
            Refusal::new(
                INVALID_USER_CARD_STATUS,
                "invalid user-card status! Hint: the card is not valid at this time",
            )
        } else {
            Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!(
                    "invalid user-card status! Hint: the card was given to user, but may be deleted or set unavailable (status {})",
                    record.status.as_str()
                ),
            )
        }
    }

    /// `card/code/consume`: irreversible, atomic.
    pub(crate) fn consume(
        &mut self,
        code: &str,
        card_id: Option<&str>,
    ) -> Outcome<(String, String)> {
        self.consume_from(code, card_id, ConsumeSource::Api)
    }

    /// Consumes `code` as `source` did it: the API (`card/code/consume`), or staff in the
    /// official account's admin site (`FROM_MP`, the `sandbox/code/consume` control).
    pub(crate) fn consume_from(
        &mut self,
        code: &str,
        card_id: Option<&str>,
        source: ConsumeSource,
    ) -> Outcome<(String, String)> {
        let record = self.find_code(code, card_id)?;
        if !self.can_consume(record) {
            return Err(Self::not_consumable(record));
        }
        let day = self.today();
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        self.set_status(code, CodeStatus::Consumed, Some(day));
        self.log(day, EventKind::Consume, &card_id, &openid);
        self.notify_consume(&openid, &card_id, code, source);
        Ok((card_id, openid))
    }

    /// `card/code/mark`: `is_mark` true occupies a consumable code for `openid` during
    /// [`MARK_TTL`] seconds (marking it again renews the mark); false releases it. A live mark
    /// of another user refuses both with 40127. Consuming does not look at marks (the sandbox
    /// does not model 朋友的券, for which WeChat wants a mark before `card/code/consume`).
    pub(crate) fn mark_code(
        &mut self,
        code: &str,
        card_id: &str,
        openid: &str,
        is_mark: bool,
    ) -> Outcome<()> {
        if openid.is_empty() {
            return Err(Refusal::of(INVALID_OPENID));
        }
        let now = self.now();
        let record = self.find_code(code, Some(card_id))?;
        if !self.can_consume(record) {
            return Err(Self::not_consumable(record));
        }
        if let Some(mark) = record
            .mark
            .as_ref()
            .filter(|m| m.until > now && m.openid != openid)
        {
            return Err(Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!(
                    "invalid user-card status! Hint: the code is marked by another user until {}",
                    mark.until
                ),
            ));
        }
        if let Some(record) = self.codes.get_mut(code) {
            record.mark = is_mark.then(|| Mark {
                openid: openid.to_owned(),
                until: now.saturating_add(MARK_TTL),
            });
        }
        Ok(())
    }

    /// Sets a code's validity (member-card activation): first and last second.
    pub(crate) fn set_validity(&mut self, code: &str, begin: i64, end: Option<i64>) {
        if let Some(record) = self.codes.get_mut(code) {
            record.begin_time = begin;
            record.end_time = end;
            if let Some(end) = end {
                self.expiries.insert((end, code.to_owned()));
            }
        }
        self.sweep();
    }

    /// Changes a code's status; `removed` records the day it stopped being held.
    pub(crate) fn set_status(&mut self, code: &str, status: CodeStatus, removed: Option<i64>) {
        let now = self.now();
        if let Some(record) = self.codes.get_mut(code) {
            record.status = status;
            record.history.push((now, status));
            if let Some(day) = removed {
                record.removed_day.get_or_insert(day);
            }
        }
    }
}

impl CodeRecord {
    /// Whether the code counts as held by its user at the end of `day` (for `total_user`).
    pub(crate) fn held_on(&self, day: i64) -> bool {
        self.received_day <= day && self.removed_day.is_none_or(|removed| removed > day)
    }

    /// The day the code was received.
    pub(crate) fn received_day(&self) -> i64 {
        self.received_day
    }
}
