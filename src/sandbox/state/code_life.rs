//! What else happens to codes: the references a request makes, gifts, deletion, expiry, views, encryption, changes and unavailability.

use super::*;

impl State {
    /// Every entity the request names exists: the check that makes an endpoint without a
    /// handler faithful (it is answered from the spec's examples only after it). Derived from
    /// the request's field names, at any depth, in this one place: `card_id` (40073), `code`
    /// (40056; a list of codes too), and `rule_id`, `merchant_id`, `page_id`, `order_id`
    /// (40097). An empty value is left to the spec's validation.
    pub(crate) fn check_references(&self, request: &Value) -> Outcome<()> {
        let Some(object) = request.as_object() else {
            if let Some(items) = request.as_array() {
                for item in items {
                    self.check_references(item)?;
                }
            }
            return Ok(());
        };
        for (key, value) in object {
            match (key.as_str(), value) {
                ("card_id", Value::String(id)) if !id.is_empty() => {
                    self.card(id)?;
                }
                ("code", Value::String(code)) if !code.is_empty() => self.known_code(code)?,
                ("code" | "code_list", Value::Array(codes))
                    if codes.iter().all(Value::is_string) =>
                {
                    for code in codes.iter().filter_map(Value::as_str) {
                        self.known_code(code)?;
                    }
                }
                (field, value) => match self.services.knows(field, value) {
                    Some(false) => {
                        return Err(Refusal::new(
                            INVALID_ARGS,
                            format!(
                                "{}: {field} {value} does not exist",
                                crate::sandbox::errcodes::errmsg(INVALID_ARGS)
                            ),
                        ));
                    }
                    Some(true) => {}
                    None => self.check_references(value)?,
                },
            }
        }
        Ok(())
    }

    fn known_code(&self, code: &str) -> Outcome<()> {
        if self.codes.contains_key(code) {
            Ok(())
        } else {
            Err(Refusal::new(
                INVALID_SERIAL_CODE,
                format!("invalid serial code: {code:?}"),
            ))
        }
    }

    /// A code by its value, for the controls (no card_id rule).
    pub(crate) fn control_code(&self, code: &str) -> Outcome<&CodeRecord> {
        match self.codes.get(code) {
            Some(record) if record.status != CodeStatus::GiftedAway => Ok(record),
            _ => Err(Refusal::new(
                INVALID_SERIAL_CODE,
                format!("invalid serial code: {code:?}"),
            )),
        }
    }

    /// A user starts gifting a code to a friend.
    pub(crate) fn gift(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        if !self.can_consume(record) {
            return Err(Self::not_consumable(record));
        }
        if !self
            .cards
            .get(&record.card_id)
            .is_some_and(CardRecord::can_give_friend)
        {
            return Err(Refusal::new(
                INVALID_CARD_STATUS,
                "the card cannot be given to friends (can_give_friend false)",
            ));
        }
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        let day = self.today();
        self.set_status(code, CodeStatus::Gifting, None);
        self.log(day, EventKind::Gift, &card_id, &openid);
        Ok(())
    }

    /// The friend did not accept in time: the code is back with its owner as GIFT_TIMEOUT.
    pub(crate) fn gift_timeout(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        if record.status != CodeStatus::Gifting {
            return Err(Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!("the code is {}, not GIFTING", record.status.as_str()),
            ));
        }
        self.set_status(code, CodeStatus::GiftTimeout, None);
        self.notify_gift_returned(code);
        Ok(())
    }

    /// The friend accepts: the giver's code is gone (40056 from then on) and the friend holds
    /// the card under a new code (custom-code cards keep the code, which the merchant may then
    /// change with `card/code/update`).
    pub(crate) fn accept_gift(&mut self, code: &str, friend: &str) -> Outcome<String> {
        if friend.is_empty() {
            return Err(Refusal::of(INVALID_OPENID));
        }
        let record = self.control_code(code)?;
        if record.status != CodeStatus::Gifting {
            return Err(Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!("the code is {}, not GIFTING", record.status.as_str()),
            ));
        }
        let giver = record.openid.clone();
        let (card_id, begin, end, channel) = (
            record.card_id.clone(),
            record.begin_time,
            record.end_time,
            Channel {
                outer_str: record.outer_str.clone(),
                outer_id: record.outer_id,
            },
        );
        let custom = self
            .cards
            .get(&card_id)
            .is_some_and(CardRecord::use_custom_code);
        let day = self.today();
        let new_code = if custom {
            code.to_owned()
        } else {
            self.set_status(code, CodeStatus::GiftedAway, Some(day));
            self.new_code()
        };
        self.add_code(new_code.clone(), &card_id, friend, begin, end, &channel);
        self.notify_gift_accepted(code, &giver, friend, &new_code);
        Ok(new_code)
    }

    /// The user deletes the card from the card bag.
    pub(crate) fn delete_by_user(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        match record.status {
            CodeStatus::Normal | CodeStatus::GiftTimeout | CodeStatus::Expire => {
                let day = self.today();
                self.set_status(code, CodeStatus::Delete, Some(day));
                self.notify_delete(code);
                Ok(())
            }
            other => Err(Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!("the code is {}: it cannot be deleted", other.as_str()),
            )),
        }
    }

    /// The code expires now.
    pub(crate) fn expire(&mut self, code: &str) -> Outcome<()> {
        let record = self.control_code(code)?;
        if !matches!(record.status, CodeStatus::Normal | CodeStatus::GiftTimeout) {
            return Err(Refusal::new(
                INVALID_USER_CARD_STATUS,
                format!("the code is {}: it cannot expire", record.status.as_str()),
            ));
        }
        let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
        let day = self.today();
        self.set_status(code, CodeStatus::Expire, Some(day));
        self.log(day, EventKind::Expire, &card_id, &openid);
        Ok(())
    }

    /// A user opens the card's page (counted as a view).
    pub(crate) fn view(&mut self, openid: &str, card_id: &str) -> Outcome<()> {
        self.card(card_id)?;
        let day = self.today();
        self.log(day, EventKind::View, card_id, openid);
        self.notify_view(openid, card_id);
        Ok(())
    }

    /// An `encrypt_code` for `code`, as wx.chooseCard or an outbound link would carry it.
    pub(crate) fn encrypt_code(&mut self, code: &str) -> String {
        if let Some((encrypted, _)) = self.encrypted.iter().find(|(_, c)| *c == code) {
            return encrypted.clone();
        }
        let encrypted = loop {
            let candidate = format!("{}=", self.random_text(43));
            if !self.encrypted.contains_key(&candidate) {
                break candidate;
            }
        };
        self.encrypted.insert(encrypted.clone(), code.to_owned());
        encrypted
    }

    pub(crate) fn decrypt_code(&self, encrypted: &str) -> Option<&str> {
        self.encrypted.get(encrypted).map(String::as_str)
    }

    /// `card/code/update`: moves a custom code to `new_code`.
    pub(crate) fn update_code(
        &mut self,
        code: &str,
        card_id: Option<&str>,
        new_code: &str,
    ) -> Outcome<()> {
        let record = self.find_code(code, card_id)?;
        if !self
            .cards
            .get(&record.card_id)
            .is_some_and(CardRecord::use_custom_code)
        {
            return Err(Refusal::new(
                NO_CUSTOM_CODE_PERMISSION,
                "card/code/update changes custom codes only (use_custom_code)",
            ));
        }
        if record.status == CodeStatus::Consumed {
            return Err(Self::not_consumable(record));
        }
        if new_code == code {
            return Ok(());
        }
        if new_code.is_empty() || self.codes.contains_key(new_code) {
            return Err(Refusal::new(
                INVALID_CODE,
                format!("invalid code: new_code {new_code:?} is already in use"),
            ));
        }
        if let Some(mut record) = self.codes.remove(code) {
            record.code = new_code.to_owned();
            if let Some(end) = record.end_time {
                self.expiries.insert((end, new_code.to_owned()));
            }
            self.codes.insert(new_code.to_owned(), record);
        }
        Ok(())
    }

    /// `card/code/unavailable`: irreversible.
    pub(crate) fn make_unavailable(&mut self, code: &str, card_id: Option<&str>) -> Outcome<()> {
        let record = self.find_code(code, card_id)?;
        match record.status {
            CodeStatus::Normal | CodeStatus::GiftTimeout => {
                let day = self.today();
                self.set_status(code, CodeStatus::Unavailable, Some(day));
                Ok(())
            }
            _ => Err(Self::not_consumable(record)),
        }
    }

    /// Codes in the order they were received.
    pub(crate) fn codes_in_order(&self) -> Vec<&CodeRecord> {
        let mut codes: Vec<&CodeRecord> = self.codes.values().collect();
        codes.sort_by_key(|c| c.seq);
        codes
    }
}
