//! wx.addCard (JS-SDK): the cardExt signature.

use super::*;

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
                crate::sandbox::errcodes::INVALID_CARD_EXT,
                format!(
                    "{}: {why}",
                    errmsg(crate::sandbox::errcodes::INVALID_CARD_EXT)
                ),
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
        let channel = crate::sandbox::state::Channel {
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
