//! Card events pushed to a callback URL the user registers
//! ([`Sandbox::register_callback`]), as WeChat pushes them to a merchant's server.
//!
//! What happens in the sandbox and what is pushed:
//!
//! | in the sandbox | event |
//! |---|---|
//! | a card passes review ([`Sandbox::approve_card`], or created with `auto_approve`) | `card_pass_check` |
//! | a card fails review ([`Sandbox::reject_card`]) | `card_not_pass_check` |
//! | a user receives a card ([`Sandbox::receive_card`]) | `user_get_card` |
//! | the stock reaches 0, or falls to 100 or less from more than 200 (at most every 12 hours of the sandbox clock) | `card_sku_remind` |
//! | a friend accepts a gift ([`Sandbox::accept_gift`]) | `user_gifting_card` (from the giver), then `user_get_card` (from the friend, `IsGiveByFriend` 1) |
//! | a gift is not accepted in time ([`Sandbox::gift_timeout`]) | `user_gifting_card` with `IsReturnBack` 1 |
//! | a code is consumed (`card/code/consume`) | `user_consume_card` (`FROM_API`) |
//! | a user deletes a card ([`Sandbox::delete_code`]) | `user_del_card` |
//! | a user opens a card ([`Sandbox::view_card`]) | `user_view_card` |
//! | a member's bonus or balance changes (`card/membercard/updateuser`) | `update_member_card` |
//! | a gift card's bonus or balance changes (`card/generalcard/updateuser`) | `update_member_card` |
//! | a coin order is paid ([`Sandbox::pay_coin_order`]) or spent (`card/pay/confirm`) | `card_pay_order` |
//! | a user pays through a pay cell ([`Sandbox::pay_with_pay_cell`]) | `user_pay_from_pay_cell` |
//! | a user enters the chat from a card ([`Sandbox::enter_session`]) | `user_enter_session_from_card` |
//! | a user submits the member-card activation form ([`Sandbox::submit_member_info`]) | `submit_membercard_user_info` |
//! | a user buys a gift card ([`Sandbox::buy_gift_card`]) | `giftcard_pay_done` |
//! | the buyer gives it to a friend ([`Sandbox::give_gift_card`]) | `giftcard_send_to_friend`, then `giftcard_user_accept` |
//! | a sub-merchant's review ends ([`Sandbox::review_sub_merchant`]) | `card_merchant_check_result` |
//!
//! `user_gifting_card` carries the friend's openid (`FriendUserName`) or `IsReturnBack`, which
//! are known only once the gift is accepted or returned, so the sandbox pushes it then rather
//! than when the user starts gifting ([`Sandbox::gift_code`] pushes nothing). WeChat's page says
//! only "when the user gifts a card" (用户在转赠卡券时); this timing is the sandbox's reading.
//!
//! Messages are built with the same [`Callback::push`] a handler's tests would use: signed
//! with the token, and encrypted (safe mode, `encrypt_type=aes`) when an EncodingAESKey is
//! given. They are POSTed in order by a background thread, so the sandbox never waits for the
//! callback.
//!
//! **Retries, as WeChat does.** A push the callback did not answer with a 2xx within the
//! callback timeout (WeChat's 5 s, [`SandboxBuilder::callback_timeout`](super::SandboxBuilder::callback_timeout)
//! for a shorter one in tests) is sent again, the same message (same `CreateTime`,
//! `FromUserName`, event and elements; a new `nonce` and signature), up to three times, then
//! dropped. Two controls make a handler meet those repeats on purpose:
//! [`Sandbox::repush_last_event`] (`POST /sandbox/callback/repush`) pushes the last event again,
//! and [`Sandbox::delay_callback_answers`] (`POST /sandbox/callback/delay_answers`, `times`) is a
//! fault: the callback's next answers count as arriving after the timeout, so the sandbox
//! retries each push as WeChat retries a slow server's (the callback did handle it each time).
//! A handler de-duplicates them with [`Dedup`](crate::events::Dedup).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::shared::Shared;
use super::state::{INVALID_ARGS, Outcome, Refusal, State};
use std::io::Read as _;

use super::state::outbox::{Attempt, Deliveries, Delivery};
use super::{Sandbox, SandboxError};
use crate::events::{Callback, Message};
use crate::{
    CardEvent, CardNotPassCheckEvent, CardPassCheckEvent, CardSkuRemindEvent, ConsumeSource,
    UpdateMemberCardEvent, UserConsumeCardEvent, UserDelCardEvent, UserGetCardEvent,
    UserGiftingCardEvent, UserViewCardEvent,
};

/// A stock reminder at most this often per card (WeChat: every 12 hours).
const REMIND_EVERY: i64 = 12 * 3600;

impl Sandbox {
    /// Pushes card events to `url` from now on (replacing any earlier registration): an HTTP
    /// `POST` of each event's XML, signed with `token` (`signature`, `timestamp`, `nonce` in the
    /// query string) and, when `encoding_aes_key` is given (43 characters), encrypted in safe
    /// mode with the sandbox's appid. Only `http://` URLs on the loopback interface are
    /// accepted. See the module's table for which event is pushed when.
    pub fn register_callback(
        &self,
        url: &str,
        token: &str,
        encoding_aes_key: Option<&str>,
    ) -> Result<(), SandboxError> {
        register(&self.shared, url, token, encoding_aes_key)
    }

    /// Stops pushing events (events already queued are still delivered).
    pub fn unregister_callback(&self) {
        self.shared.state().outbox.sender = None;
    }

    /// Pushes the last event pushed again: the same message (same `CreateTime`,
    /// `FromUserName`, event and elements), as WeChat does when it retries. Refused when no
    /// callback is registered or nothing was pushed since it was.
    pub fn repush_last_event(&self) -> Result<(), SandboxError> {
        repush(&self.shared).map_err(|why| SandboxError::Config(why.to_owned()))
    }

    /// A fault of the callback: its next `times` answers count as arriving after the callback
    /// timeout ([`SandboxBuilder::callback_timeout`](super::SandboxBuilder::callback_timeout),
    /// WeChat's 5 s). The sandbox waits out the timeout, then sends the same push again, as
    /// WeChat retries a server that answers too slowly; a push is sent at most four times (three
    /// retries). `0` clears the fault.
    pub fn delay_callback_answers(&self, times: usize) {
        self.shared
            .state()
            .outbox
            .late_answers
            .store(times, Ordering::SeqCst);
    }
}

/// Queues the last message again.
fn repush(shared: &Shared) -> Result<(), &'static str> {
    let state = shared.state();
    let Some(sender) = &state.outbox.sender else {
        return Err("no callback is registered (sandbox/callback)");
    };
    let last = state
        .outbox
        .last
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let Some(message) = last else {
        return Err("no event was pushed since the callback was registered");
    };
    sender
        .send(message)
        .map_err(|_| "the callback's delivery thread is gone")
}

/// The `sandbox/callback/repush` control.
pub(crate) fn repush_control(shared: &Shared) -> Outcome<Value> {
    repush(shared).map_err(|why| Refusal::new(INVALID_ARGS, format!("invalid args: {why}")))?;
    Ok(json!({}))
}

/// The `sandbox/callback/delay_answers` control: `times` (0 to 1000) answers count as late.
pub(crate) fn delay_control(shared: &Shared, times: usize) -> Outcome<Value> {
    shared
        .state()
        .outbox
        .late_answers
        .store(times, Ordering::SeqCst);
    Ok(json!({}))
}

fn register(
    shared: &Shared,
    url: &str,
    token: &str,
    encoding_aes_key: Option<&str>,
) -> Result<(), SandboxError> {
    let url = check_url(url)?;
    if token.is_empty() {
        return Err(SandboxError::Config("the token must not be empty".into()));
    }
    let (appid, timeout, late, log) = {
        let state = shared.state();
        (
            state.config.appid.clone(),
            state.config.callback_timeout,
            state.outbox.late_answers.clone(),
            state.outbox.deliveries.clone(),
        )
    };
    let callback = match encoding_aes_key {
        None => Callback::new(token),
        Some(key) => Callback::with_aes_key(token, key, appid)
            .map_err(|e| SandboxError::Config(e.to_string()))?,
    };
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("wechat-card-sandbox-events".into())
        .spawn(move || deliver(&url, &callback, &receiver, timeout, &late, &log))
        .map_err(SandboxError::Start)?;
    // The previous thread ends when its sender is dropped here.
    let mut state = shared.state();
    state.outbox.sender = Some(sender);
    *state.outbox.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    Ok(())
}

/// The `sandbox/callback` control: `url`, `token` and optionally `encoding_aes_key` register a
/// callback; an empty or absent `url` unregisters it.
pub(crate) fn control(shared: &Shared, request: &Value) -> Outcome<Value> {
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    match text("url").filter(|u| !u.is_empty()) {
        None => shared.state().outbox.sender = None,
        Some(url) => register(
            shared,
            url,
            text("token").unwrap_or_default(),
            text("encoding_aes_key"),
        )
        .map_err(|e| Refusal::new(INVALID_ARGS, format!("invalid args: {e}")))?,
    }
    Ok(json!({}))
}

fn check_url(url: &str) -> Result<String, SandboxError> {
    let bad = |why: &str| SandboxError::Config(format!("callback URL {url:?} {why}"));
    let uri: ureq::http::Uri = url.trim().parse().map_err(|_| bad("is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("must start with http://"));
    }
    match uri.host() {
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1") => Ok(url.trim().to_owned()),
        _ => Err(bad("must be on the loopback interface (127.0.0.1)")),
    }
}

/// WeChat sends a push at most this often: once and three retries.
const ATTEMPTS: u32 = 4;

/// The delivery thread: one POST per event, in order, until the sandbox or the registration
/// goes away. A push without a 2xx answer within `timeout` (or whose answer the
/// `late` fault counts as too late) is sent again, at most [`ATTEMPTS`] times in all.
fn deliver(
    url: &str,
    callback: &Callback,
    events: &mpsc::Receiver<Message>,
    timeout: Duration,
    late: &Arc<AtomicUsize>,
    log: &Deliveries,
) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .proxy(None)
            .build(),
    );
    let separator = if url.contains('?') { '&' } else { '?' };
    while let Ok(message) = events.recv() {
        let timestamp = message.create_time.to_string();
        let mut delivery = Delivery {
            event: message.event.name().to_owned(),
            from: message.from_user_name.clone(),
            create_time: message.create_time,
            attempts: Vec::new(),
        };
        for attempt in 1..=ATTEMPTS {
            let nonce = (crate::random::random_u64() % 10_000_000_000).to_string();
            let (query, body) = callback.push(&message, &timestamp, &nonce);
            let target = format!("{url}{separator}{query}");
            let started = Instant::now();
            let mut sent = agent
                .post(&target)
                .header("Content-Type", "text/xml; charset=utf-8")
                .send(body.as_bytes());
            let answered = matches!(&sent, Ok(response) if response.status().is_success());
            let (status, answer) = match &mut sent {
                Ok(response) => (Some(response.status().as_u16()), {
                    let mut start = Vec::new();
                    match response
                        .body_mut()
                        .as_reader()
                        .take(ANSWER_SHOWN)
                        .read_to_end(&mut start)
                    {
                        Ok(_) => String::from_utf8_lossy(&start).into_owned(),
                        Err(e) => format!("(the answer could not be read: {e})"),
                    }
                }),
                Err(e) => (None, format!("(no answer: {e})")),
            };
            // The fault: this answer counts as arriving after the timeout (only an answer
            // uses it up; a failed attempt is retried anyway).
            let too_late = answered
                && late
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            delivery.attempts.push(Attempt {
                status,
                answer,
                late: too_late,
            });
            if (answered && !too_late) || attempt == ATTEMPTS {
                break;
            }
            // WeChat sends the retry once the timeout has passed; an error that came at once
            // is retried after a short pause.
            let pause = if too_late {
                timeout.saturating_sub(started.elapsed())
            } else {
                Duration::from_millis(100).min(timeout)
            };
            std::thread::sleep(pause);
        }
        log.record(delivery);
    }
}

/// How much of a callback's answer the console shows (WeChat wants `success` or an empty body;
/// a passive reply message is longer, its start is enough to see what it is).
const ANSWER_SHOWN: u64 = 512;

/// The `ToUserName` of the sandbox's messages: an original id (`gh_…`) derived from the appid.
fn original_id(appid: &str) -> String {
    let hash = crate::signature::sha1_sorted(&[appid]);
    format!("gh_{}", &hash[..12])
}

impl State {
    /// Queues `event` from `from` (a user's openid, or the system for reviews) if a callback is
    /// registered.
    pub(crate) fn push_event(&self, from: &str, event: CardEvent) {
        if let Some(sender) = &self.outbox.sender {
            let message = Message::new(original_id(&self.config.appid), from, self.now(), event);
            *self.outbox.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.clone());
            // The delivery thread is gone only when the registration was replaced.
            let _ = sender.send(message);
        }
    }

    /// A card passed review at creation (`auto_approve`).
    pub(crate) fn notify_review_if(&self, card_id: &str, passed: bool) {
        if passed {
            self.notify_review(card_id, true);
        }
    }

    /// A card's review finished.
    pub(crate) fn notify_review(&self, card_id: &str, passed: bool) {
        let event = if passed {
            CardEvent::CardPassCheck(CardPassCheckEvent::new(card_id))
        } else {
            CardEvent::CardNotPassCheck(
                CardNotPassCheckEvent::new(card_id).refuse_reason("rejected in the sandbox"),
            )
        };
        self.push_event(&self.config.appid, event);
    }

    /// `openid` received `code` of `card_id` (from the merchant, or from `giver` whose code was
    /// `old_code`); then the stock reminder, if due.
    pub(crate) fn notify_receive(
        &mut self,
        openid: &str,
        card_id: &str,
        code: &str,
        giver: Option<(&str, &str)>,
    ) {
        let outer_str = self.codes.get(code).and_then(|c| c.outer_str.clone());
        let outer_id = self.codes.get(code).and_then(|c| c.outer_id);
        let mut event = UserGetCardEvent::new(card_id)
            .user_card_code(code)
            .is_give_by_friend(i64::from(giver.is_some()))
            .is_restore_member_card(0)
            .is_recommend_by_friend(0);
        if let Some((giver, old_code)) = giver {
            event = event.friend_user_name(giver).old_user_card_code(old_code);
        }
        if let Some(outer_str) = outer_str {
            event = event.outer_str(outer_str);
        }
        if let Some(outer_id) = outer_id.and_then(|id| i64::try_from(id).ok()) {
            event = event.outer_id(outer_id);
        }
        self.push_event(openid, CardEvent::UserGetCard(event));
        if giver.is_none() {
            self.remind_stock(card_id);
        }
    }

    fn remind_stock(&mut self, card_id: &str) {
        let Some(card) = self.cards.get(card_id) else {
            return;
        };
        let now = self.now();
        let detail = if card.quantity == 0 {
            "the card's quantity is equal to 0"
        } else if card.total_quantity > 200
            && card.quantity <= 100
            && self
                .outbox
                .reminded
                .get(card_id)
                .is_none_or(|at| now.saturating_sub(*at) >= REMIND_EVERY)
        {
            "the card's quantity is less than or equal to 100"
        } else {
            return;
        };
        self.outbox.reminded.insert(card_id.to_owned(), now);
        let event = CardSkuRemindEvent::new(card_id).detail(detail);
        self.push_event(&self.config.appid, CardEvent::CardSkuRemind(event));
    }

    /// `code` was consumed, through the API or by `source`.
    pub(crate) fn notify_consume(
        &self,
        openid: &str,
        card_id: &str,
        code: &str,
        source: ConsumeSource,
    ) {
        let event = UserConsumeCardEvent::new(card_id)
            .user_card_code(code)
            .consume_source(source);
        self.push_event(openid, CardEvent::UserConsumeCard(event));
    }

    /// `openid` gave `code` to `friend` (accepted), or got it back (`friend` `None`: the gift
    /// timed out).
    pub(crate) fn notify_gifting(
        &self,
        openid: &str,
        card_id: &str,
        code: &str,
        friend: Option<&str>,
    ) {
        let mut event = UserGiftingCardEvent::new(card_id)
            .user_card_code(code)
            .is_return_back(i64::from(friend.is_none()))
            .is_chat_room(0);
        if let Some(friend) = friend {
            event = event.friend_user_name(friend);
        }
        self.push_event(openid, CardEvent::UserGiftingCard(event));
    }

    /// `friend` accepted `giver`'s gift of `code`, now `new_code`: both events.
    pub(crate) fn notify_gift_accepted(
        &mut self,
        code: &str,
        giver: &str,
        friend: &str,
        new_code: &str,
    ) {
        let Some(card_id) = self.codes.get(new_code).map(|r| r.card_id.clone()) else {
            return;
        };
        self.notify_gifting(giver, &card_id, code, Some(friend));
        self.notify_receive(friend, &card_id, new_code, Some((giver, code)));
    }

    /// The user deleted `code` from the card bag.
    pub(crate) fn notify_delete(&self, code: &str) {
        if let Some(record) = self.codes.get(code) {
            let event = UserDelCardEvent::new(record.card_id.as_str()).user_card_code(code);
            self.push_event(&record.openid, CardEvent::UserDelCard(event));
        }
    }

    /// `openid` opened `card_id` (their latest code of it, if any).
    pub(crate) fn notify_view(&self, openid: &str, card_id: &str) {
        let mut event = UserViewCardEvent::new(card_id);
        if let Some(code) = self
            .codes_in_order()
            .into_iter()
            .rev()
            .find(|c| c.openid == openid && c.card_id == card_id)
        {
            event = event.user_card_code(code.code.as_str());
        }
        self.push_event(openid, CardEvent::UserViewCard(event));
    }

    /// A member's bonus or balance changed (`card/membercard/updateuser`) by `(bonus,
    /// balance)`; nothing is pushed when neither changed.
    pub(crate) fn notify_member_update(
        &self,
        openid: &str,
        card_id: &str,
        code: &str,
        (bonus, balance): (i64, i64),
    ) {
        if bonus == 0 && balance == 0 {
            return;
        }
        let event = UpdateMemberCardEvent::new(card_id)
            .user_card_code(code)
            .modify_bonus(bonus)
            .modify_balance(balance);
        self.push_event(openid, CardEvent::UpdateMemberCard(event));
    }

    /// `code` of `openid` came back from a gift that was not accepted.
    pub(crate) fn notify_gift_returned(&self, code: &str) {
        if let Some(record) = self.codes.get(code) {
            self.notify_gifting(&record.openid, &record.card_id, code, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_stay_on_loopback() {
        assert!(check_url("http://127.0.0.1:8080/wechat").is_ok());
        assert!(check_url("http://localhost/cb?x=1").is_ok());
        assert!(check_url("https://127.0.0.1/").is_err());
        assert!(check_url("http://example.com/").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn original_ids_look_like_wechats() {
        let id = original_id("wx00000sandbox0001");
        assert!(id.starts_with("gh_") && id.len() == 15, "{id}");
    }
}
