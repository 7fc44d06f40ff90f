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
// domain modules (`distribute.rs`, `membercard.rs`, `services/`), which import this one.
mod cards;
mod code_life;
mod codes;
pub(crate) mod distribution;
mod members;
pub(crate) mod outbox;
mod persist;
mod services;
mod tokens;
pub(crate) use distribution::Distribution;
pub(crate) use members::{Member, MemberCards};
pub(crate) use outbox::Outbox;
pub(crate) use services::{QUALIFICATION_RESULTS, Services, TicketDetails};

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
}
