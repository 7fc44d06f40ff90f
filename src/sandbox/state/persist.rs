//! Saved state (`Sandbox::builder().state(path)`, `--state FILE`): what is saved and how it is read back; the file handling is `saved.rs`.

use super::*;

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
