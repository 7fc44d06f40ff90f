//! Distribution (投放卡券): QR codes that users scan, card shelves (货架), imported custom codes
//! (预存code模式), the HTML of cards in mass-message articles and the test whitelist.
//!
//! | endpoint | state | refusals |
//! |---|---|---|
//! | `card/qrcode/create` | a QR code (ticket, url, expiry; `QR_CARD` or `QR_MULTIPLE_CARD`) that [`State::scan_qrcode`] turns into receipts | 40053 `action_name` and `action_info` disagree, 40073 unknown card, 40078 deleted card (or, for `is_unique_code`, not approved), 45031 `is_unique_code` without stock, 41011 `code` missing for a custom-code card or `openid` for a `bind_openid` card, 43009 `code` given for a card that does not take one (generated or imported codes) |
//! | `card/landingpage/create` | a shelf with its `page_id` and `url` | 40073 unknown card, 40078 deleted card |
//! | `card/code/deposit` | the card's imported codes, handed out in import order when users receive the card | 40073, 40078 deleted, 43009 not a deposit-mode card (`use_custom_code` and `get_custom_code_mode` `GET_CUSTOM_CODE_MODE_DEPOSIT`) |
//! | `card/code/getdepositcount`, `card/code/checkcode` | read the imported codes (received ones included) | 40073, 43009 |
//! | `card/mpnews/gethtml` | | 40073, 40078 deleted, 43009 custom codes without imported ones |
//! | `card/testwhitelist/set` | replaces the whole whitelist: its openids may receive cards under review or refused | |
//!
//! Scanning a QR code ([`Sandbox::scan_qrcode`](super::Sandbox::scan_qrcode), `POST
//! /sandbox/qrcode/scan`) is refused with 40097 for an unknown ticket or a used `is_unique_code`
//! QR code, 40079 once it expired, 40003 when it names another `openid`, and otherwise as a
//! receipt is (40078 status, 45031 stock, 45033 `get_limit`, 40116 a custom code already
//! received). A QR code of several cards is received all or nothing. `outer_str` is kept with
//! the code (`card/code/get` returns it), and so is `outer_id` (both are pushed in `user_get_card`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::request::typed;
use super::state::distribution::{QrCode, QrItem};
use super::state::{
    CARD_VERIFY_OK, INVALID_ARGS, INVALID_CARD_STATUS, INVALID_CODE, INVALID_TIME, MISSING_FIELD,
    NO_CUSTOM_CODE_PERMISSION, Outcome, Refusal, STOCK_EMPTY, State,
};
use crate::percent::percent_encode;
use crate::{
    CheckCodesRequest, CheckCodesResponse, CreateLandingPageRequest, CreateLandingPageResponse,
    CreateQrcodeRequest, CreateQrcodeResponse, DepositCodesRequest, DepositCodesResponse,
    GetDepositCountRequest, GetDepositCountResponse, GetMpnewsHtmlRequest, GetMpnewsHtmlResponse,
    QrcodeActionName, SetTestWhitelistRequest, SetTestWhitelistResponse,
};

/// `errcode` of a QR code whose `action_name` and `action_info` disagree.
const INVALID_ACTION_INFO: i64 = crate::ErrorCode::InvalidActionInfo.code();
/// Lifetime of a QR code created without `expire_seconds` (365 days).
const DEFAULT_QR_SECONDS: u32 = 365 * 24 * 3600;

impl State {
    /// A user scans a QR code (by its `ticket` or its `url`): receives every card of it, all or
    /// nothing. Returns `(card_id, code)` in the QR code's order.
    pub(crate) fn scan_qrcode(
        &mut self,
        openid: &str,
        ticket_or_url: &str,
    ) -> Outcome<Vec<(String, String)>> {
        let key = ticket_or_url.trim();
        let now = self.now();
        let ticket = if self.distribution.qrcodes.contains_key(key) {
            key.to_owned()
        } else {
            self.distribution.qr_urls.get(key).cloned().ok_or_else(|| {
                Refusal::new(
                    INVALID_ARGS,
                    format!("invalid args: {key:?} is not the ticket or url of a QR code"),
                )
            })?
        };
        let Some(qrcode) = self.distribution.qrcodes.get(&ticket) else {
            return Err(Refusal::new(INVALID_ARGS, "invalid args: no such QR code"));
        };
        if qrcode.expires_at <= now {
            return Err(Refusal::new(
                INVALID_TIME,
                format!("invalid time: the QR code expired at {}", qrcode.expires_at),
            ));
        }
        if qrcode.unique && qrcode.scanned {
            return Err(Refusal::new(
                INVALID_ARGS,
                "invalid args: the QR code (is_unique_code) was already scanned",
            ));
        }
        let items = qrcode.cards.clone();
        // Check every card first, counting the cards of this QR code already planned.
        let mut pending: HashMap<&str, u64> = HashMap::new();
        let mut codes: HashSet<&str> = HashSet::new();
        let mut plans = Vec::with_capacity(items.len());
        for item in &items {
            if item.openid.as_deref().is_some_and(|only| only != openid) {
                return Err(Refusal::new(
                    super::errcodes::INVALID_OPENID,
                    "invalid openid: the QR code is for another user",
                ));
            }
            if let Some(code) = item.code.as_deref() {
                if !codes.insert(code) {
                    return Err(Refusal::new(
                        INVALID_CODE,
                        format!("invalid code: {code:?} appears twice in the QR code"),
                    ));
                }
            }
            let count = pending.entry(item.card_id.as_str()).or_default();
            plans.push(self.plan_receipt(openid, &item.card_id, item.code.as_deref(), *count)?);
            *count += 1;
        }
        let mut received = Vec::with_capacity(items.len());
        for (item, plan) in items.iter().zip(plans) {
            let channel = super::state::Channel {
                outer_str: item.outer_str.clone(),
                outer_id: item.outer_id,
            };
            let code = self.complete_receipt(openid, &item.card_id, plan, &channel)?;
            received.push((item.card_id.clone(), code));
        }
        if let Some(qrcode) = self.distribution.qrcodes.get_mut(&ticket) {
            qrcode.scanned = true;
        }
        Ok(received)
    }

    /// A card that exists and is not deleted (40073, 40078).
    pub(crate) fn live_card(&self, card_id: &str) -> Outcome<&super::state::CardRecord> {
        let card = self.card(card_id)?;
        if card.deleted() {
            return Err(Refusal::new(
                INVALID_CARD_STATUS,
                format!("invalid card status: card {card_id:?} is deleted"),
            ));
        }
        Ok(card)
    }

    /// A deposit-mode card (40073, 43009).
    fn deposit_card(&self, card_id: &str) -> Outcome<&super::state::CardRecord> {
        let card = self.card(card_id)?;
        if !card.deposit_mode() {
            return Err(Refusal::new(
                NO_CUSTOM_CODE_PERMISSION,
                format!(
                    "card {card_id:?} does not import codes: it needs use_custom_code true and get_custom_code_mode GET_CUSTOM_CODE_MODE_DEPOSIT"
                ),
            ));
        }
        Ok(card)
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// `card/qrcode/create`.
pub(crate) fn create_qrcode(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: CreateQrcodeRequest = typed(request)?;
    let info = &request.action_info;
    let (prefix, cards) = match (&request.action_name, &info.card, &info.multiple_card) {
        (QrcodeActionName::Card, Some(card), None) => ("action_info.card".to_owned(), vec![card]),
        (QrcodeActionName::MultipleCard, None, Some(multiple))
            if !multiple.card_list.is_empty() =>
        {
            (
                "action_info.multiple_card.card_list".to_owned(),
                multiple.card_list.iter().collect(),
            )
        }
        (name, _, _) => {
            return Err(Refusal::new(
                INVALID_ACTION_INFO,
                format!(
                    "invalid action info: {} needs action_info.{}",
                    name.as_str(),
                    if matches!(name, QrcodeActionName::MultipleCard) {
                        "multiple_card with at least one card"
                    } else {
                        "card"
                    }
                ),
            ));
        }
    };
    let multiple = cards.len() > 1 || matches!(request.action_name, QrcodeActionName::MultipleCard);
    let mut items = Vec::with_capacity(cards.len());
    let mut unique = false;
    for (i, card) in cards.into_iter().enumerate() {
        let path = if multiple {
            format!("{prefix}[{i}]")
        } else {
            prefix.clone()
        };
        let record = state.live_card(&card.card_id)?;
        let custom = record.use_custom_code() && !record.deposit_mode();
        match (&card.code, custom) {
            (None, true) => {
                return Err(Refusal::new(
                    MISSING_FIELD,
                    format!("missing required field `{path}.code`: the card uses custom codes"),
                ));
            }
            (Some(_), false) => {
                return Err(Refusal::new(
                    NO_CUSTOM_CODE_PERMISSION,
                    format!(
                        "{path}.code: leave it out, the card's codes are {}",
                        if record.deposit_mode() {
                            "the imported ones (card/code/deposit)"
                        } else {
                            "generated by WeChat"
                        }
                    ),
                ));
            }
            _ => {}
        }
        if record.bind_openid() && card.openid.is_none() {
            return Err(Refusal::new(
                MISSING_FIELD,
                format!("missing required field `{path}.openid`: the card has bind_openid"),
            ));
        }
        if card.is_unique_code == Some(true) {
            if record.status != CARD_VERIFY_OK {
                return Err(Refusal::new(
                    INVALID_CARD_STATUS,
                    format!(
                        "invalid card status: {} (is_unique_code needs an approved card)",
                        record.status
                    ),
                ));
            }
            if record.quantity == 0 {
                return Err(Refusal::new(
                    STOCK_EMPTY,
                    "card stock is 0 (is_unique_code)",
                ));
            }
            unique = true;
        }
        items.push(QrItem {
            card_id: card.card_id.clone(),
            code: card.code.clone(),
            openid: card.openid.clone(),
            outer_str: card.outer_str.clone(),
            outer_id: card.outer_id,
        });
    }
    let seconds = request.expire_seconds.unwrap_or(DEFAULT_QR_SECONDS);
    let (ticket, url) = loop {
        let ticket = format!("gQ{}", state.random_text(62));
        let url = format!("http://weixin.qq.com/q/{}", state.random_text(22));
        if !state.distribution.qrcodes.contains_key(&ticket)
            && !state.distribution.qr_urls.contains_key(&url)
        {
            break (ticket, url);
        }
    };
    let expires_at = state.now().saturating_add(i64::from(seconds));
    state
        .distribution
        .qr_urls
        .insert(url.clone(), ticket.clone());
    state.distribution.qrcodes.insert(
        ticket.clone(),
        QrCode {
            expires_at,
            cards: items,
            unique,
            scanned: false,
        },
    );
    let answer = CreateQrcodeResponse::new()
        .show_qrcode_url(format!(
            "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket={}",
            percent_encode(&ticket)
        ))
        .ticket(ticket)
        .expire_seconds(seconds)
        .url(url);
    to_value(&answer)
}

/// `card/landingpage/create`.
pub(crate) fn create_landing_page(state: &mut State, request: &Value) -> Outcome<Value> {
    let typed_request: CreateLandingPageRequest = typed(request)?;
    for card in &typed_request.card_list {
        state.live_card(&card.card_id)?;
    }
    let page_id = state.distribution.pages.len() as u64 + 1;
    let url = format!(
        "https://mp.weixin.qq.com/bizmall/cardlandingpage?biz={}&page_id={page_id}&scene={}#wechat_redirect",
        percent_encode(&biz(state)),
        typed_request.scene.as_str()
    );
    state.distribution.pages.push(typed_request);
    to_value(&CreateLandingPageResponse::new().url(url).page_id(page_id))
}

/// `card/code/deposit`: new codes in `succ_code`; codes already imported for the card (or
/// twice in the request) in `duplicate_code`; empty codes, codes already received and codes
/// imported for another card in `fail_code`.
pub(crate) fn deposit_codes(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: DepositCodesRequest = typed(request)?;
    let card_id = request.card_id.as_str();
    state.live_card(card_id)?;
    state.deposit_card(card_id)?;
    let (mut succ, mut duplicate, mut fail) = (Vec::new(), Vec::new(), Vec::new());
    for code in request.code {
        let known = state
            .distribution
            .deposits
            .get(card_id)
            .is_some_and(|d| d.imported.contains(&code));
        if known {
            duplicate.push(code);
        } else if code.trim().is_empty()
            || state.codes.contains_key(&code)
            || state.distribution.imported_elsewhere(card_id, &code)
        {
            fail.push(code);
        } else {
            let deposit = state
                .distribution
                .deposits
                .entry(card_id.to_owned())
                .or_default();
            deposit.imported.insert(code.clone());
            deposit.unused.insert(code.clone());
            deposit.queue.push_back(code.clone());
            succ.push(code);
        }
    }
    to_value(
        &DepositCodesResponse::new()
            .succ_code(succ)
            .duplicate_code(duplicate)
            .fail_code(fail),
    )
}

/// `card/code/getdepositcount`: every code imported, received or not.
pub(crate) fn get_deposit_count(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: GetDepositCountRequest = typed(request)?;
    state.deposit_card(&request.card_id)?;
    let count = state
        .distribution
        .deposits
        .get(&request.card_id)
        .map_or(0, |d| d.imported.len() as u64);
    to_value(&GetDepositCountResponse::new().count(count))
}

/// `card/code/checkcode`: which codes were imported (received or not).
pub(crate) fn check_codes(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: CheckCodesRequest = typed(request)?;
    state.deposit_card(&request.card_id)?;
    let deposit = state.distribution.deposits.get(&request.card_id);
    let (exist, not_exist): (Vec<String>, Vec<String>) = request
        .code
        .into_iter()
        .partition(|code| deposit.is_some_and(|d| d.imported.contains(code)));
    to_value(
        &CheckCodesResponse::new()
            .exist_code(exist)
            .not_exist_code(not_exist),
    )
}

/// `card/mpnews/gethtml`: the iframe that embeds the card in an article.
pub(crate) fn get_mpnews_html(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: GetMpnewsHtmlRequest = typed(request)?;
    let card_id = request.card_id.as_str();
    let card = state.live_card(card_id)?;
    let imported = state
        .distribution
        .deposits
        .get(card_id)
        .is_some_and(|d| !d.imported.is_empty());
    if card.use_custom_code() && !imported {
        return Err(Refusal::new(
            NO_CUSTOM_CODE_PERMISSION,
            "a card with custom codes can be sent in an article only once its codes are imported (card/code/deposit)",
        ));
    }
    let content = format!(
        "<iframe class=\"res_iframe card_iframe js_editor_card\" data-src=\"http://mp.weixin.qq.com/bizmall/appmsgcard?action=show&biz={}&cardid={}&wechat_card_js=1#wechat_redirect\"></iframe>",
        percent_encode(&biz(state)),
        percent_encode(card_id)
    );
    to_value(&GetMpnewsHtmlResponse::new().content(content))
}

/// `card/testwhitelist/set`: replaces the whole whitelist (duplicates counted once).
pub(crate) fn set_test_whitelist(state: &mut State, request: &Value) -> Outcome<Value> {
    let request: SetTestWhitelistRequest = typed(request)?;
    let dedup = |list: Option<Vec<String>>| {
        let mut seen = HashSet::new();
        list.unwrap_or_default()
            .into_iter()
            .filter(|item| !item.is_empty() && seen.insert(item.clone()))
            .collect::<Vec<String>>()
    };
    let openids = dedup(request.openid);
    let usernames = dedup(request.username);
    let size = u32::try_from(openids.len() + usernames.len()).unwrap_or(u32::MAX);
    state.distribution.whitelist_openids = openids.clone();
    state.distribution.whitelist_usernames = usernames.clone();
    to_value(
        &SetTestWhitelistResponse::new()
            .white_list_size(size)
            .success_openid(openids)
            .success_username(usernames),
    )
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The answer's fields as JSON.
pub(crate) fn to_value<T: serde::Serialize>(answer: &T) -> Outcome<Value> {
    serde_json::to_value(answer)
        .map_err(|e| Refusal::new(-1, format!("system error: the answer is not JSON ({e})")))
}

/// The account's `biz` parameter of mp.weixin.qq.com links: base64 of an id (here, the appid).
pub(crate) fn biz(state: &State) -> String {
    biz_of(&state.config.appid)
}

fn biz_of(appid: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(appid.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biz_is_padded_standard_base64_of_the_appid() {
        assert_eq!(biz_of("wxfoo"), "d3hmb28=");
        assert_eq!(biz_of("wx+/?"), "d3grLz8=");
    }
}
