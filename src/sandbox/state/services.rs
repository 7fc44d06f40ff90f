//! What the service endpoints keep (cells, pay-gift rules, coins, store mini programs, tickets,
//! sub-merchants and qualifications, gift-card pages and orders); the handlers are in
//! `services.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

/// What the service endpoints keep.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Services {
    pub(crate) pay_cells: HashMap<String, bool>,
    pub(crate) self_consume_cells: HashMap<String, crate::SetSelfConsumeCellRequest>,
    pub(crate) rules: BTreeMap<u64, crate::PayGiftRuleInfo>,
    pub(crate) next_rule: u64,
    pub(crate) coin_account: bool,
    pub(crate) free_coin: u64,
    pub(crate) pay_coin: u64,
    pub(crate) quotes: HashMap<String, (String, u64, u64)>,
    pub(crate) coin_orders: Vec<crate::CoinOrder>,
    pub(crate) store_cards: HashMap<u64, String>,
    pub(crate) tickets: HashMap<String, Map<String, Value>>,
    pub(crate) activate_tickets: HashMap<String, crate::MemberCardUserInfo>,
    pub(crate) merchants: BTreeMap<u64, crate::SubMerchantDetail>,
    /// Saved beside the rest (`State::saved_value`): serde would borrow a `&str` field.
    #[serde(skip)]
    pub(crate) agent_qualification: Option<&'static str>,
    pub(crate) qualifications: BTreeMap<String, crate::SubMerchantAccount>,
    pub(crate) pages: BTreeMap<String, crate::GiftCardPageInfo>,
    pub(crate) maintained: HashSet<String>,
    pub(crate) pay_whitelist: HashSet<String>,
    pub(crate) bound_wxa: HashMap<String, String>,
    pub(crate) page_wxa: HashMap<String, String>,
    pub(crate) orders: Vec<crate::GiftCardOrder>,
    pub(crate) refunded: HashSet<String>,
}

/// The results an agent qualification's review can have.
pub(crate) const QUALIFICATION_RESULTS: &[&str] =
    &["RESULT_CHECKING", "RESULT_PASS", "RESULT_NOT_PASS"];

impl Services {
    pub(crate) fn agent_qualification(&self) -> Option<&'static str> {
        self.agent_qualification
    }

    pub(crate) fn set_agent_qualification(&mut self, result: Option<&'static str>) {
        self.agent_qualification = result;
    }

    /// Whether the entity a request field names exists, for the fields that name one of the
    /// entities kept here (`rule_id`, `merchant_id`, `page_id`, `order_id`); `None` for any
    /// other field. Endpoints without a handler are checked with it (`State::check_references`).
    pub(crate) fn knows(&self, field: &str, value: &Value) -> Option<bool> {
        let number = || value.as_u64().or_else(|| value.as_str()?.parse().ok());
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .or_else(|| value.as_u64().map(|n| n.to_string()))
        };
        Some(match field {
            "rule_id" => number().is_some_and(|id| self.rules.contains_key(&id)),
            "merchant_id" => number().is_some_and(|id| self.merchants.contains_key(&id)),
            "page_id" => text().is_some_and(|id| self.pages.contains_key(&id)),
            "order_id" => text().is_some_and(|id| {
                self.quotes.contains_key(&id)
                    || self
                        .coin_orders
                        .iter()
                        .any(|o| o.order_id.as_deref() == Some(id.as_str()))
                    || self
                        .orders
                        .iter()
                        .any(|o| o.order_id.as_deref() == Some(id.as_str()))
            }),
            _ => return None,
        })
    }
}
