//! What the service endpoints keep (cells, pay-gift rules, coins, store mini programs, tickets,
//! sub-merchants and qualifications, gift-card pages and orders); the handlers are in
//! `services.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::{
    CheckInBoardingPassRequest, UpdateMeetingTicketUserRequest, UpdateMovieTicketUserRequest,
};

/// What the service endpoints keep: one typed struct per domain.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Services {
    pub(crate) cells: Cells,
    pub(crate) pay_gift: PayGiftRules,
    pub(crate) coins: Coins,
    pub(crate) stores: StoreCards,
    pub(crate) tickets: Tickets,
    pub(crate) sub_merchants: SubMerchants,
    pub(crate) gift_cards: GiftCards,
}

/// The pay (买单) and self-consume (自助核销) cells, per card.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Cells {
    pub(crate) pay_cells: HashMap<String, bool>,
    pub(crate) self_consume_cells: HashMap<String, crate::SetSelfConsumeCellRequest>,
}

/// Pay-gift rules (支付后投放卡券) by `rule_id`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct PayGiftRules {
    pub(crate) rules: BTreeMap<u64, crate::PayGiftRuleInfo>,
    pub(crate) next_rule: u64,
}

/// The coin (券点) account: balances, open quotes (`order_id` -> card, quantity, price) and
/// orders.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Coins {
    pub(crate) coin_account: bool,
    pub(crate) free_coin: u64,
    pub(crate) pay_coin: u64,
    pub(crate) quotes: HashMap<String, (String, u64, u64)>,
    pub(crate) coin_orders: Vec<crate::CoinOrder>,
}

impl Coins {
    /// The coin order `order_id`.
    pub(crate) fn order(&self, order_id: &str) -> Option<&crate::CoinOrder> {
        self.coin_orders
            .iter()
            .find(|o| o.order_id.as_deref() == Some(order_id))
    }
}

/// The card of each store mini program (门店小程序), by `poi_id`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoreCards {
    pub(crate) store_cards: HashMap<u64, String>,
}

/// Special tickets' details per code, and the member-card activation forms users submitted
/// (by `activate_ticket`).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tickets {
    pub(crate) details: HashMap<String, TicketDetails>,
    pub(crate) activation_forms: HashMap<String, crate::MemberCardUserInfo>,
}

/// Sub-merchants (by `merchant_id`) and the open platform's qualifications (the agent's, and
/// the sub-merchants' by appid).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SubMerchants {
    pub(crate) merchants: BTreeMap<u64, crate::SubMerchantDetail>,
    /// Saved beside the rest (`State::saved_value`): serde would borrow a `&str` field.
    #[serde(skip)]
    pub(crate) agent_qualification: Option<&'static str>,
    pub(crate) qualifications: BTreeMap<String, crate::SubMerchantAccount>,
}

/// Gift-card (礼品卡) pages and their state, the WeChat Pay sub-merchants, and orders.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct GiftCards {
    pub(crate) pages: BTreeMap<String, crate::GiftCardPageInfo>,
    pub(crate) maintained: HashSet<String>,
    pub(crate) pay_whitelist: HashSet<String>,
    pub(crate) bound_wxa: HashMap<String, String>,
    pub(crate) page_wxa: HashMap<String, String>,
    pub(crate) orders: Vec<crate::GiftCardOrder>,
    pub(crate) refunded: HashSet<String>,
}

/// What the ticket endpoints set for a code: the last update of its type, merged field by
/// field with the earlier ones; `None` when nothing is set (or a check-in was cancelled).
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum TicketDetails {
    #[default]
    None,
    Meeting(UpdateMeetingTicketUserRequest),
    Movie(UpdateMovieTicketUserRequest),
    Boarding(CheckInBoardingPassRequest),
}

impl TicketDetails {
    /// Applies `update`: the fields it sends replace these; another kind (or `None`) replaces
    /// all.
    pub(crate) fn merge(&mut self, update: TicketDetails) {
        macro_rules! keep_unsent {
            ($new:ident, $old:ident, $($field:ident),*) => {
                $(if $new.$field.is_none() {
                    $new.$field = $old.$field.take();
                })*
            };
        }
        let mut update = update;
        match (&mut update, std::mem::take(self)) {
            (TicketDetails::Meeting(new), TicketDetails::Meeting(mut old)) => {
                keep_unsent!(new, old, begin_time, end_time, zone, entrance, seat_number);
            }
            (TicketDetails::Movie(new), TicketDetails::Movie(mut old)) => {
                keep_unsent!(
                    new,
                    old,
                    ticket_class,
                    show_time,
                    duration,
                    screening_room,
                    seat_number
                );
            }
            (TicketDetails::Boarding(new), TicketDetails::Boarding(mut old)) => {
                keep_unsent!(
                    new,
                    old,
                    passenger_name,
                    cabin_class,
                    seat,
                    etkt_bnr,
                    qrcode_data,
                    gate,
                    boarding_time
                );
            }
            _ => {}
        }
        *self = update;
    }

    /// The fields set, as WeChat names them (without the code, the card and `is_cancel`).
    pub(crate) fn to_json(&self) -> Value {
        let value = match self {
            TicketDetails::None => return Value::Object(serde_json::Map::new()),
            TicketDetails::Meeting(t) => serde_json::to_value(t),
            TicketDetails::Movie(t) => serde_json::to_value(t),
            TicketDetails::Boarding(t) => serde_json::to_value(t),
        };
        let mut value = value.unwrap_or_else(|_| Value::Object(serde_json::Map::new()));
        if let Some(object) = value.as_object_mut() {
            for key in ["code", "card_id", "is_cancel"] {
                object.remove(key);
            }
        }
        value
    }
}

impl GiftCards {
    /// Where the gift-card order `order_id` is in `orders`.
    pub(crate) fn order_index(&self, order_id: &str) -> Option<usize> {
        self.orders
            .iter()
            .position(|o| o.order_id.as_deref() == Some(order_id))
    }
}

/// The results an agent qualification's review can have.
pub(crate) const QUALIFICATION_RESULTS: &[&str] =
    &["RESULT_CHECKING", "RESULT_PASS", "RESULT_NOT_PASS"];

impl Services {
    pub(crate) fn agent_qualification(&self) -> Option<&'static str> {
        self.sub_merchants.agent_qualification
    }

    pub(crate) fn set_agent_qualification(&mut self, result: Option<&'static str>) {
        self.sub_merchants.agent_qualification = result;
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
            "rule_id" => number().is_some_and(|id| self.pay_gift.rules.contains_key(&id)),
            "merchant_id" => {
                number().is_some_and(|id| self.sub_merchants.merchants.contains_key(&id))
            }
            "page_id" => text().is_some_and(|id| self.gift_cards.pages.contains_key(&id)),
            "order_id" => text().is_some_and(|id| {
                self.coins.quotes.contains_key(&id)
                    || self.coins.order(&id).is_some()
                    || self.gift_cards.order_index(&id).is_some()
            }),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::TicketDetails;

    fn movie(fields: serde_json::Value) -> TicketDetails {
        TicketDetails::Movie(serde_json::from_value(fields).unwrap())
    }

    #[test]
    fn a_ticket_update_replaces_what_it_sends_and_keeps_the_rest() {
        let mut details = TicketDetails::default();
        assert_eq!(details.to_json(), json!({}));
        details.merge(movie(
            json!({"code": "1", "screening_room": "5号厅", "seat_number": ["5排14号"]}),
        ));
        details.merge(movie(
            json!({"code": "1", "show_time": 1_700_000_000, "seat_number": ["6排1号"]}),
        ));
        assert_eq!(
            details.to_json(),
            json!({"screening_room": "5号厅", "seat_number": ["6排1号"], "show_time": 1_700_000_000})
        );
        // A cancelled check-in (or another kind of ticket) replaces everything.
        details.merge(TicketDetails::None);
        assert_eq!(details.to_json(), json!({}));
    }
}
