//! The endpoints around the cards: pay and self-consume cells, pay-gift rules, coins (券点),
//! 门店小程序 cards, special tickets, the member-card activation form's answers, sub-merchants
//! and their qualifications, gift-card pages and orders, and gift cards (GENERAL_CARD).
//!
//! Every one keeps what it is told and answers later calls from it, and refuses what does not
//! exist. WeChat's specific errcode for an unknown rule, page, order, sub-merchant, POI or
//! activate_ticket is not documented: the sandbox answers its general 40097 "invalid args" with
//! an errmsg saying what does not exist.
//!
//! | endpoint | keeps | refusals |
//! |---|---|---|
//! | `card/paycell/set`, `card/selfconsumecell/set` | the cell's settings, per card (read by the `sandbox/paycell/pay` control) | 40073 unknown card, 40078 deleted card, 43017 opening a cell on a card without a store (`location_id_list` or `use_all_locations`) |
//! | `card/getcolors` | (the colours `card/get` shows) | |
//! | `card/paygiftcard/add` | the rule (`getbyid`, `batchget`); a mchid of another live rule is listed in `fail_mchid_list` (72004) | 40073 unknown card, 40071 not a member card, 72004 every mchid taken |
//! | `card/paygiftcard/delete`, `getbyid` | | 40097 unknown `rule_id` |
//! | `card/pay/activate`, `getcoinsinfo` | the coin account: 200 free coins once (the documented reward) | |
//! | `card/pay/getpayprice`, `confirm` | a quote (1 coin per 100 codes, rounded up), then the stock and the coin order | 40073, 40097 unknown or changed quote, not enough coins |
//! | `card/pay/recharge`, `getorder`, `getorderlist` | coin orders (paid with the `sandbox/coin/pay` control) | 40097 unknown `order_id` |
//! | `card/storewxa/set`, `get` | the card of each POI | 40073 unknown card, 40097 a POI without a card |
//! | `card/meetingticket/updateuser`, `movieticket/updateuser`, `boardingpass/checkin` | the ticket's details, per code (`is_cancel` clears a check-in) | 40056 unknown code, 40071 a card of another type |
//! | `card/membercard/activatetempinfo/get` | (what the user submitted, `sandbox/membercard/submit`) | 40097 unknown `activate_ticket` |
//! | `card/submerchant/submit`, `update`, `get`, `batchget` | sub-merchants (`CHECKING` until the `sandbox/submerchant/review` control) | 40097 unknown `merchant_id` or category |
//! | `cgi-bin/component/*` | the agent's and the sub-merchants' qualifications (reviewed with `sandbox/qualification/review`) | 61022 resubmitting, 40097 unknown `appid` |
//! | `card/giftcard/page/*`, `maintain/set`, `wxa/set` | pages, their maintenance state and mini program | 40073 unknown card on a page, 40071 not a GENERAL_CARD, 40097 unknown `page_id`, a mini program no sub-merchant was bound to |
//! | `card/giftcard/pay/whitelist/add`, `pay/submch/bind` | the whitelisted and bound sub-merchants | 40097 binding a sub-merchant not whitelisted |
//! | `card/giftcard/order/*` | orders (bought with the `sandbox/giftcard/buy` control) | 40097 unknown `order_id`, refunding twice |
//! | `card/generalcard/activate`, `unactivate`, `updateuser` | the gift card's activation, bonus and balance | 40056, 40071 not a GENERAL_CARD, 40127 activating twice or unactivating an inactive card |

use serde_json::{Value, json};

use super::errcodes::{
    CAN_NOT_RESUBMIT, INVALID_ARGS, INVALID_CARD_TYPE, INVALID_USER_CARD_STATUS, MCHID_OCCUPIED,
    REQUIRE_LOCATION, errmsg,
};
use super::request::typed;
use super::state::{CardRecord, Outcome, Refusal, State};
use crate::CardEvent;

/// The refusal for something that does not exist (see the module docs).
fn unknown(what: &str, value: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        INVALID_ARGS,
        format!("{}: {what} {value} does not exist", errmsg(INVALID_ARGS)),
    )
}

fn invalid(message: impl std::fmt::Display) -> Refusal {
    Refusal::new(INVALID_ARGS, format!("{}: {message}", errmsg(INVALID_ARGS)))
}

fn ok() -> Outcome<Value> {
    Ok(json!({}))
}

/// Whether a card has a store: `location_id_list` not empty or `use_all_locations`.
fn has_store(card: &CardRecord) -> bool {
    let base = card
        .card
        .get(card.payload_key())
        .and_then(|p| p.get("base_info"));
    let locations = base
        .and_then(|b| b.get("location_id_list"))
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    let all = base
        .and_then(|b| b.get("use_all_locations"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    locations || all
}

/// A card of `card_type` (40073 unknown, 40071 another type).
fn card_of_type<'a>(state: &'a State, card_id: &str, card_type: &str) -> Outcome<&'a CardRecord> {
    let card = state.card(card_id)?;
    if card.card_type != card_type {
        return Err(Refusal::new(
            INVALID_CARD_TYPE,
            format!(
                "{}: card {card_id:?} is {}, not {card_type}",
                errmsg(INVALID_CARD_TYPE),
                card.card_type
            ),
        ));
    }
    Ok(card)
}

/// The code of a card of `card_type` (40056 unknown, 40071 another type): `(code, openid)`.
fn code_of_type(
    state: &State,
    code: &str,
    card_id: Option<&str>,
    card_type: &str,
) -> Outcome<(String, String, String)> {
    let record = state.find_code(code, card_id)?;
    card_of_type(state, &record.card_id, card_type)?;
    Ok((
        record.code.clone(),
        record.card_id.clone(),
        record.openid.clone(),
    ))
}

/// `items[offset..offset + count]`.
fn page_of<T: Clone>(items: &[T], offset: u32, count: u32) -> Vec<T> {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    items.iter().skip(offset).take(count).cloned().collect()
}

mod activation_form;
mod card_ext;
mod cells;
mod coins;
mod giftcards;
mod paygift;
mod submerchants;
mod tickets;

pub(crate) use activation_form::*;
pub(crate) use cells::*;
pub(crate) use coins::*;
pub(crate) use giftcards::*;
pub(crate) use paygift::*;
pub(crate) use submerchants::*;
pub(crate) use tickets::*;
