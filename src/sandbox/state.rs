//! The sandbox's world: clock, tokens, cards, codes and the event log the statistics are
//! computed from. Everything here runs under one lock (see `Shared`), so every operation is
//! atomic with respect to every other: a code is consumed once, stock changes add up.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::dates::{DAY, day_of, start_of_day};
use crate::ConsumeSource;
use crate::Secret;
use crate::validate::{Rule, Validate, ValidationError};

pub(crate) use super::errcodes::{Outcome, Refusal};

// One typed struct per domain, each in a file of its own; the handlers that change them are the
// domain modules (`distribute.rs`, `membercard.rs`, `services.rs`), which import this one.
pub(crate) mod distribution;
mod members;
pub(crate) mod outbox;
mod services;
pub(crate) use distribution::Distribution;
pub(crate) use members::{Member, MemberCards};
pub(crate) use outbox::Outbox;
pub(crate) use services::{QUALIFICATION_RESULTS, Services};

// WeChat's error codes used by the sandbox: all of them live in `errcodes.rs`.
pub(crate) use super::errcodes::{
    CODE_CONSUMED, GET_LIMIT, INVALID_ARGS, INVALID_CARD_ID, INVALID_CARD_STATUS,
    INVALID_CARD_TYPE, INVALID_CODE, INVALID_CREDENTIAL, INVALID_OPENID, INVALID_SERIAL_CODE,
    INVALID_STOCK, INVALID_TIME, INVALID_USER_CARD_STATUS, MISSING_FIELD,
    NO_CUSTOM_CODE_PERMISSION, STOCK_EMPTY, TOKEN_EXPIRED,
};

/// Longest stock WeChat accepts (`sku.quantity`).
const MAX_STOCK: u64 = 100_000_000;
/// How long a classic token that was replaced stays usable (WeChat: about five minutes).
const CLASSIC_OVERLAP: i64 = 300;
/// Default `get_limit` of a card (WeChat: 50).
const DEFAULT_GET_LIMIT: u64 = 50;

/// Fixed settings of a sandbox.
pub(crate) struct Config {
    pub appid: String,
    pub secret: Secret,
    pub token_ttl: i64,
    pub auto_approve: bool,
    /// Whether `card/create` creates coupon-type cards (WeChat stopped on 2021-04-01).
    pub coupon_creation: bool,
    /// How long a push waits for the callback's answer.
    pub callback_timeout: std::time::Duration,
}

/// The sandbox clock: Unix seconds, standing still unless moved, or following the wall clock.
struct Clock {
    base: i64,
    since: Instant,
    running: bool,
}

impl Clock {
    fn now(&self) -> i64 {
        if self.running {
            let elapsed = i64::try_from(self.since.elapsed().as_secs()).unwrap_or(i64::MAX);
            self.base.saturating_add(elapsed)
        } else {
            self.base
        }
    }
}

/// One issued access token or ticket.
#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    expires_at: i64,
    /// From this time on the token is "not latest" (40001): replaced by a newer one.
    revoked_at: Option<i64>,
}

impl Token {
    fn revoked(&self, now: i64) -> bool {
        self.revoked_at.is_some_and(|at| at <= now)
    }
}

/// A card (template).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CardRecord {
    pub id: String,
    pub card_type: String,
    /// `{"card_type": …, "<type>": {…}}` as created (normalized by the typed `Card`), updated by
    /// `card/update`. Read-only fields are added when answering.
    pub card: Value,
    /// Saved beside the card (`Saved::card_status`): serde would borrow a `&str` field.
    #[serde(skip)]
    pub status: &'static str,
    pub quantity: u64,
    pub total_quantity: u64,
    pub create_time: i64,
    pub update_time: i64,
    seq: u64,
}

impl CardRecord {
    /// The payload key: the lower-cased card type.
    pub(crate) fn payload_key(&self) -> String {
        self.card_type.to_ascii_lowercase()
    }

    fn payload(&self) -> Option<&Map<String, Value>> {
        self.card.get(self.payload_key())?.as_object()
    }

    fn base_info(&self) -> Option<&Map<String, Value>> {
        self.payload()?.get("base_info")?.as_object()
    }

    fn base_bool(&self, key: &str, default: bool) -> bool {
        self.base_info()
            .and_then(|b| b.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    pub(crate) fn use_custom_code(&self) -> bool {
        self.base_bool("use_custom_code", false)
    }

    /// Whether the card hands out imported codes (预存code模式): `use_custom_code` with
    /// `get_custom_code_mode` `GET_CUSTOM_CODE_MODE_DEPOSIT`.
    pub(crate) fn deposit_mode(&self) -> bool {
        self.use_custom_code()
            && self
                .base_info()
                .and_then(|b| b.get("get_custom_code_mode"))
                .and_then(Value::as_str)
                == Some(DEPOSIT_MODE)
    }

    pub(crate) fn bind_openid(&self) -> bool {
        self.base_bool("bind_openid", false)
    }

    fn get_limit(&self) -> u64 {
        self.base_info()
            .and_then(|b| b.get("get_limit"))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_GET_LIMIT)
    }

    fn can_give_friend(&self) -> bool {
        self.base_bool("can_give_friend", true)
    }

    pub(crate) fn is_member_card(&self) -> bool {
        self.card_type == "MEMBER_CARD"
    }

    fn auto_activate(&self) -> bool {
        self.payload()
            .and_then(|p| p.get("auto_activate"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub(crate) fn deleted(&self) -> bool {
        self.status == CARD_DELETE
    }

    fn date_info(&self) -> Option<&Map<String, Value>> {
        self.base_info()?.get("date_info")?.as_object()
    }

    /// The validity of a code received at `now`: first and last second (`None`: no end).
    fn validity(&self, now: i64) -> (i64, Option<i64>) {
        let Some(date) = self.date_info() else {
            return (now, None);
        };
        let int = |key: &str| date.get(key).and_then(Value::as_i64);
        match date.get("type").and_then(Value::as_str) {
            Some("DATE_TYPE_FIX_TIME_RANGE") => {
                (int("begin_timestamp").unwrap_or(now), int("end_timestamp"))
            }
            Some("DATE_TYPE_FIX_TERM") => {
                let begin = start_of_day(day_of(now))
                    .saturating_add(int("fixed_begin_term").unwrap_or(0).saturating_mul(DAY));
                // fixed_term 0 means "valid on the day of receipt" (001's card/get table).
                let days = int("fixed_term").unwrap_or(0).max(1);
                let mut end = begin
                    .saturating_add(days.saturating_mul(DAY))
                    .saturating_sub(1);
                if let Some(cap) = int("end_timestamp").filter(|t| *t > 0) {
                    end = end.min(cap);
                }
                (begin, Some(end))
            }
            _ => (now, None),
        }
    }

    /// The card as `card/get` shows it: as created plus the read-only fields.
    pub(crate) fn to_json(&self) -> Value {
        let mut card = self.card.clone();
        let key = self.payload_key();
        if let Some(base) = card
            .get_mut(&key)
            .and_then(|p| p.get_mut("base_info"))
            .and_then(Value::as_object_mut)
        {
            base.insert("id".into(), json!(self.id));
            base.insert("status".into(), json!(self.status));
            if let Some(color) = base.get("color").and_then(Value::as_str) {
                if let Some(hex) = color_hex(color) {
                    base.insert("color".into(), json!(hex));
                }
            }
            let sku = base.entry("sku").or_insert_with(|| json!({}));
            if let Some(sku) = sku.as_object_mut() {
                sku.insert("quantity".into(), json!(self.quantity));
                sku.insert("total_quantity".into(), json!(self.total_quantity));
            }
            base.insert("create_time".into(), json!(self.create_time));
            base.insert("update_time".into(), json!(self.update_time));
            base.entry("area_code_list").or_insert_with(|| json!([]));
        }
        card
    }
}

/// The colours a card can have (`card/getcolors`): name and the value `card/get` shows.
pub(crate) const COLORS: &[(&str, &str)] = &[
    ("Color010", "#63b359"),
    ("Color020", "#2c9f67"),
    ("Color030", "#509fc9"),
    ("Color040", "#5885cf"),
    ("Color050", "#9062c0"),
    ("Color060", "#d09a45"),
    ("Color070", "#e4b138"),
    ("Color080", "#ee903c"),
    ("Color081", "#f08500"),
    ("Color082", "#a9d92d"),
    ("Color090", "#dd6549"),
    ("Color100", "#cc463d"),
    ("Color101", "#cf3e36"),
    ("Color102", "#5E6671"),
];

/// The hex value `card/get` shows for a colour name given at creation (`card/getcolors`).
fn color_hex(name: &str) -> Option<&'static str> {
    COLORS.iter().find(|(n, _)| *n == name).map(|(_, hex)| *hex)
}

pub(crate) const CARD_NOT_VERIFY: &str = "CARD_STATUS_NOT_VERIFY";
pub(crate) const CARD_VERIFY_FAIL: &str = "CARD_STATUS_VERIFY_FAIL";
pub(crate) const CARD_VERIFY_OK: &str = "CARD_STATUS_VERIFY_OK";
pub(crate) const CARD_DELETE: &str = "CARD_STATUS_DELETE";
/// `get_custom_code_mode` of a card whose codes are imported with `card/code/deposit`.
pub(crate) const DEPOSIT_MODE: &str = "GET_CUSTOM_CODE_MODE_DEPOSIT";
/// How long a mark (`card/code/mark`) holds a code (WeChat: about five minutes).
pub(crate) const MARK_TTL: i64 = 300;

/// The state of a user's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum CodeStatus {
    Normal,
    Consumed,
    Expire,
    Gifting,
    GiftTimeout,
    Delete,
    Unavailable,
    /// A friend accepted the gift: for WeChat the code no longer exists (40056).
    GiftedAway,
}

impl CodeStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Normal => "NORMAL",
            CodeStatus::Consumed => "CONSUMED",
            CodeStatus::Expire => "EXPIRE",
            CodeStatus::Gifting => "GIFTING",
            CodeStatus::GiftTimeout => "GIFT_TIMEOUT",
            CodeStatus::Delete => "DELETE",
            CodeStatus::Unavailable => "UNAVAILABLE",
            CodeStatus::GiftedAway => "GIFT_SUCC",
        }
    }
}

/// A code a user received.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CodeRecord {
    pub code: String,
    pub card_id: String,
    pub openid: String,
    pub status: CodeStatus,
    pub begin_time: i64,
    pub end_time: Option<i64>,
    pub outer_str: Option<String>,
    /// The legacy numeric channel of the receipt (`outer_id` of a QR code's card), pushed in
    /// `user_get_card` as `OuterId`.
    pub outer_id: Option<u64>,
    seq: u64,
    received_day: i64,
    /// The day the code stopped counting as held (consumed, deleted, expired, …), for
    /// `total_user`.
    removed_day: Option<i64>,
    /// Member-card data (activation, bonus, balance, custom values).
    pub member: Member,
    /// Who marked the code (`card/code/mark`) and until when.
    pub mark: Option<Mark>,
    /// Every status the code had, with the time it got it (the console shows it). Absent in a
    /// state saved before it was kept.
    #[serde(default)]
    pub history: Vec<(i64, CodeStatus)>,
}

/// Where a receipt came from, for statistics: kept with the code and pushed in
/// `user_get_card`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Channel {
    /// `outer_str` (kept; `card/code/get` returns it).
    pub outer_str: Option<String>,
    /// `outer_id`, the legacy numeric channel.
    pub outer_id: Option<u64>,
}

/// A mark on a code (`card/code/mark`): `openid` holds it until `until` (sandbox clock).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Mark {
    pub openid: String,
    pub until: i64,
}

/// Where the code of a receipt comes from, see [`State::plan_receipt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeSource {
    /// The merchant's own code (`use_custom_code`), or a chosen imported code.
    Custom(String),
    /// The next imported code of a deposit-mode card.
    Deposited,
    /// A code WeChat generates.
    Generated,
}

/// What happened, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum EventKind {
    View,
    Receive,
    Consume,
    Gift,
    Expire,
    Activate,
}

/// One event of the statistics' log.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Event {
    pub day: i64,
    pub kind: EventKind,
    pub card_id: String,
    pub openid: String,
}

/// Everything the sandbox knows.
pub(crate) struct State {
    pub config: Config,
    clock: Clock,
    tokens: HashMap<String, Token>,
    stable_current: Option<String>,
    classic_current: Option<String>,
    tickets: HashMap<String, (String, i64)>,
    pub cards: HashMap<String, CardRecord>,
    pub codes: HashMap<String, CodeRecord>,
    encrypted: HashMap<String, String>,
    pub events: Vec<Event>,
    /// `(end_time, code)` of codes that may still expire.
    expiries: BTreeSet<(i64, String)>,
    seq: u64,
    /// QR codes, card shelves, imported codes and the test whitelist.
    pub distribution: Distribution,
    /// Member-card activation forms and plug-in URLs.
    pub member_cards: MemberCards,
    /// Card events for the registered callback (`sandbox/events.rs`).
    pub(crate) outbox: Outbox,
    /// Cells, pay-gift rules, coins, sub-merchants, gift-card pages and orders, … (`services.rs`).
    pub(crate) services: Services,
}

impl State {
    pub(crate) fn new(config: Config, start: i64, running_clock: bool) -> State {
        State {
            config,
            clock: Clock {
                base: start,
                since: Instant::now(),
                running: running_clock,
            },
            tokens: HashMap::new(),
            stable_current: None,
            classic_current: None,
            tickets: HashMap::new(),
            cards: HashMap::new(),
            codes: HashMap::new(),
            encrypted: HashMap::new(),
            events: Vec::new(),
            expiries: BTreeSet::new(),
            seq: 0,
            distribution: Distribution::default(),
            member_cards: MemberCards::default(),
            outbox: Outbox::default(),
            services: Services::default(),
        }
    }

    // ----------------------------------------------------------------------------------------
    // Clock
    // ----------------------------------------------------------------------------------------

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn today(&self) -> i64 {
        day_of(self.now())
    }

    pub(crate) fn set_time(&mut self, unix: i64) {
        self.clock.base = unix;
        self.clock.since = Instant::now();
        self.sweep();
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let now = self.now();
        self.set_time(now.saturating_add(secs));
    }

    /// Expires the codes whose validity ended, recording the expiry on the day it happened.
    pub(crate) fn sweep(&mut self) {
        let now = self.now();
        while let Some((end, code)) = self.expiries.first().cloned() {
            if end >= now {
                break;
            }
            self.expiries.pop_first();
            let Some(record) = self.codes.get_mut(&code) else {
                continue;
            };
            if record.end_time != Some(end)
                || !matches!(record.status, CodeStatus::Normal | CodeStatus::GiftTimeout)
            {
                continue;
            }
            record.status = CodeStatus::Expire;
            record
                .history
                .push((end.saturating_add(1), CodeStatus::Expire));
            let day = day_of(end.saturating_add(1));
            record.removed_day.get_or_insert(day);
            let (card_id, openid) = (record.card_id.clone(), record.openid.clone());
            self.events.push(Event {
                day,
                kind: EventKind::Expire,
                card_id,
                openid,
            });
        }
    }

    // ----------------------------------------------------------------------------------------
    // Identifiers
    // ----------------------------------------------------------------------------------------

    pub(crate) fn random_text(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(len);
        while out.len() < len {
            let mut bits = crate::random::random_u64();
            for _ in 0..10 {
                if out.len() == len {
                    break;
                }
                out.push(char::from(ALPHABET[(bits & 63) as usize]));
                bits >>= 6;
            }
        }
        out
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A new card id: 28 characters like WeChat's (`pFS7Fjg8kV1IdDz01r4SQwMkuCKc`).
    fn new_card_id(&mut self) -> String {
        loop {
            let id = format!("p{}", self.random_text(27));
            if !self.cards.contains_key(&id) {
                return id;
            }
        }
    }

    /// A new 12-digit code.
    fn new_code(&mut self) -> String {
        loop {
            let code = format!("{:012}", crate::random::random_u64() % 1_000_000_000_000);
            if !self.codes.contains_key(&code) {
                return code;
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Tokens and tickets
    // ----------------------------------------------------------------------------------------

    fn issue_token(&mut self) -> String {
        let now = self.now();
        // Forget tokens that ended more than a day ago.
        self.tokens.retain(|_, t| {
            t.expires_at.min(t.revoked_at.unwrap_or(i64::MAX)) > now.saturating_sub(DAY)
        });
        let token = loop {
            let candidate = format!("SBX_{}", self.random_text(96));
            if !self.tokens.contains_key(&candidate) {
                break candidate;
            }
        };
        self.tokens.insert(
            token.clone(),
            Token {
                expires_at: now.saturating_add(self.config.token_ttl),
                revoked_at: None,
            },
        );
        token
    }

    /// `cgi-bin/token`: a new token each time; the previous one stays valid for five minutes.
    pub(crate) fn classic_token(&mut self) -> (String, i64) {
        let now = self.now();
        if let Some(previous) = self.classic_current.take() {
            if let Some(t) = self.tokens.get_mut(&previous) {
                let end = now.saturating_add(CLASSIC_OVERLAP);
                t.revoked_at = Some(t.revoked_at.map_or(end, |at| at.min(end)));
            }
        }
        let token = self.issue_token();
        self.classic_current = Some(token.clone());
        (token, self.config.token_ttl)
    }

    /// `cgi-bin/stable_token`: the current token while it is valid, unless `force_refresh`
    /// (which revokes it).
    pub(crate) fn stable_token(&mut self, force_refresh: bool) -> (String, i64) {
        let now = self.now();
        if let Some(current) = self.stable_current.clone() {
            if let Some(t) = self.tokens.get_mut(&current) {
                if !force_refresh && !t.revoked(now) && t.expires_at > now {
                    return (current, t.expires_at.saturating_sub(now));
                }
                if force_refresh {
                    t.revoked_at = Some(now);
                }
            }
        }
        let token = self.issue_token();
        self.stable_current = Some(token.clone());
        (token, self.config.token_ttl)
    }

    /// Checks an `access_token`: 40001 unknown or revoked, 42001 expired.
    pub(crate) fn check_token(&self, token: &str) -> Outcome<()> {
        match self.tokens.get(token) {
            None => Err(Refusal::new(
                INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            )),
            Some(t) if t.revoked(self.now()) => Err(Refusal::new(
                INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            )),
            Some(t) if t.expires_at <= self.now() => Err(Refusal::of(TOKEN_EXPIRED)),
            Some(_) => Ok(()),
        }
    }

    /// Ends every token now: the next call with any of them gets 42001.
    pub(crate) fn expire_tokens(&mut self) {
        let now = self.now();
        for token in self.tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
        for (_, (_, expires_at)) in self.tickets.iter_mut() {
            *expires_at = (*expires_at).min(now);
        }
    }

    /// The current, unexpired ticket of a type (`wx_card`), if one was issued.
    pub(crate) fn current_ticket(&self, kind: &str) -> Option<&str> {
        let now = self.now();
        self.tickets
            .get(kind)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(ticket, _)| ticket.as_str())
    }

    /// `cgi-bin/ticket/getticket`: the current ticket of its type while valid.
    pub(crate) fn ticket(&mut self, kind: &str) -> (String, i64) {
        let now = self.now();
        if let Some((ticket, expires_at)) = self.tickets.get(kind) {
            if *expires_at > now {
                return (ticket.clone(), expires_at.saturating_sub(now));
            }
        }
        let ticket = self.random_text(86);
        let ttl = self.config.token_ttl;
        self.tickets
            .insert(kind.to_owned(), (ticket.clone(), now.saturating_add(ttl)));
        (ticket, ttl)
    }

    // ----------------------------------------------------------------------------------------
    // Cards
    // ----------------------------------------------------------------------------------------

    /// Creates a card from its JSON body (`{"card_type": …, "<type>": {…}}`), checked with the
    /// generated `Card` type like `card/create` would be.
    pub(crate) fn create_card(&mut self, card: &Value) -> Outcome<String> {
        let mut card = card.clone();
        super::request::accept_numeric_timestamps(&mut card);
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
                return Err(super::request::validation_refusal(
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
            .map_err(|e| super::request::validation_refusal(&e.within("card"), None))?;
        let normalized = serde_json::to_value(&typed).map_err(|e| {
            Refusal::new(
                super::errcodes::DATA_FORMAT_ERROR,
                format!("data format error: {e}"),
            )
        })?;
        super::request::check_values("Card", &normalized, "card")?;
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

    fn add_code(
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
                                super::errcodes::errmsg(INVALID_ARGS)
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

// ---------------------------------------------------------------------------------------------
// Saved state (`Sandbox::builder().state(path)`, `--state FILE`, see `saved.rs`)
// ---------------------------------------------------------------------------------------------

/// The one of `known` that `text` is, or why not.
pub(crate) fn known_static(
    text: &str,
    known: &[&'static str],
    what: &str,
) -> Result<&'static str, String> {
    known
        .iter()
        .copied()
        .find(|k| *k == text)
        .ok_or_else(|| format!("{text:?} is not a {what} (one of {known:?})"))
}

/// The card review statuses a saved state may hold.
const SAVED_CARD_STATUSES: &[&str] = &[
    CARD_NOT_VERIFY,
    CARD_VERIFY_FAIL,
    CARD_VERIFY_OK,
    CARD_DELETE,
];

/// What a saved state holds: everything the sandbox knows except its settings (the builder's:
/// appid, secret, token lifetime, review and coupon switches) and the callback registration.
/// The clock is saved as the time it showed.
#[derive(serde::Serialize)]
struct SavedRef<'a> {
    now: i64,
    tokens: &'a HashMap<String, Token>,
    stable_current: &'a Option<String>,
    classic_current: &'a Option<String>,
    tickets: &'a HashMap<String, (String, i64)>,
    cards: &'a HashMap<String, CardRecord>,
    card_status: HashMap<&'a str, &'a str>,
    codes: &'a HashMap<String, CodeRecord>,
    encrypted: &'a HashMap<String, String>,
    events: &'a Vec<Event>,
    expiries: &'a BTreeSet<(i64, String)>,
    seq: u64,
    distribution: &'a Distribution,
    member_cards: &'a MemberCards,
    services: &'a Services,
    agent_qualification: Option<&'static str>,
}

/// [`SavedRef`], read back.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    now: i64,
    tokens: HashMap<String, Token>,
    stable_current: Option<String>,
    classic_current: Option<String>,
    tickets: HashMap<String, (String, i64)>,
    cards: HashMap<String, CardRecord>,
    card_status: HashMap<String, String>,
    codes: HashMap<String, CodeRecord>,
    encrypted: HashMap<String, String>,
    events: Vec<Event>,
    expiries: BTreeSet<(i64, String)>,
    seq: u64,
    distribution: Distribution,
    member_cards: MemberCards,
    services: Services,
    agent_qualification: Option<String>,
}

impl State {
    /// Everything to save, as JSON.
    pub(crate) fn saved_value(&self) -> Result<Value, String> {
        serde_json::to_value(SavedRef {
            now: self.now(),
            tokens: &self.tokens,
            stable_current: &self.stable_current,
            classic_current: &self.classic_current,
            tickets: &self.tickets,
            cards: &self.cards,
            card_status: self
                .cards
                .iter()
                .map(|(id, card)| (id.as_str(), card.status))
                .collect(),
            codes: &self.codes,
            encrypted: &self.encrypted,
            events: &self.events,
            expiries: &self.expiries,
            seq: self.seq,
            distribution: &self.distribution,
            member_cards: &self.member_cards,
            services: &self.services,
            agent_qualification: self.services.agent_qualification(),
        })
        .map_err(|e| e.to_string())
    }

    /// Replaces everything but the settings with a saved state (from [`saved_value`]); the
    /// clock continues from the time saved. Nothing changes when the value is not one.
    ///
    /// [`saved_value`]: State::saved_value
    pub(crate) fn restore(&mut self, value: Value) -> Result<(), String> {
        let mut saved: Saved = serde_json::from_value(value).map_err(|e| e.to_string())?;
        for (id, card) in &mut saved.cards {
            let status = saved
                .card_status
                .get(id)
                .ok_or_else(|| format!("card {id:?} has no status"))?;
            card.status = known_static(status, SAVED_CARD_STATUSES, "card status")?;
        }
        let qualification = saved
            .agent_qualification
            .as_deref()
            .map(|q| known_static(q, QUALIFICATION_RESULTS, "qualification result"))
            .transpose()?;
        saved.services.set_agent_qualification(qualification);
        self.clock = Clock {
            base: saved.now,
            since: Instant::now(),
            running: self.clock.running,
        };
        self.tokens = saved.tokens;
        self.stable_current = saved.stable_current;
        self.classic_current = saved.classic_current;
        self.tickets = saved.tickets;
        self.cards = saved.cards;
        self.codes = saved.codes;
        self.encrypted = saved.encrypted;
        self.events = saved.events;
        self.expiries = saved.expiries;
        self.seq = saved.seq;
        self.distribution = saved.distribution;
        self.member_cards = saved.member_cards;
        self.services = saved.services;
        Ok(())
    }
}
