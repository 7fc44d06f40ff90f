//! What distribution keeps (QR codes, card shelves, imported codes, the test whitelist), with
//! the reads the rest of the state needs; the handlers are in `distribute.rs`.

use std::collections::{HashMap, HashSet, VecDeque};

/// Everything distribution keeps.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Distribution {
    /// QR codes by ticket.
    pub(crate) qrcodes: HashMap<String, QrCode>,
    /// The ticket of each QR code's `url` (what the QR image encodes).
    pub(crate) qr_urls: HashMap<String, String>,
    /// The requests of the card shelves, `page_id` = index + 1.
    pub(crate) pages: Vec<crate::CreateLandingPageRequest>,
    /// Imported codes by card.
    pub(crate) deposits: HashMap<String, Deposit>,
    pub(crate) whitelist_openids: Vec<String>,
    pub(crate) whitelist_usernames: Vec<String>,
}

/// A QR code of `card/qrcode/create`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct QrCode {
    pub(crate) expires_at: i64,
    pub(crate) cards: Vec<QrItem>,
    /// `is_unique_code` on any card: one scan only.
    pub(crate) unique: bool,
    pub(crate) scanned: bool,
}

/// One card of a QR code, as the merchant asked for it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct QrItem {
    pub(crate) card_id: String,
    pub(crate) code: Option<String>,
    pub(crate) openid: Option<String>,
    pub(crate) outer_str: Option<String>,
    pub(crate) outer_id: Option<u64>,
}

/// The imported codes of a deposit-mode card.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Deposit {
    /// Every code imported, received or not (`getdepositcount`, `checkcode`).
    pub(crate) imported: HashSet<String>,
    /// Imported codes not yet received, in import order (entries no longer in `unused` are
    /// skipped).
    pub(crate) queue: VecDeque<String>,
    pub(crate) unused: HashSet<String>,
}

impl Distribution {
    /// Whether `openid` is on the test whitelist.
    pub(crate) fn whitelisted(&self, openid: &str) -> bool {
        self.whitelist_openids.iter().any(|o| o == openid)
    }

    /// Imported codes of `card_id` not yet received (0 for other cards).
    pub(crate) fn available(&self, card_id: &str) -> u64 {
        self.deposits
            .get(card_id)
            .map_or(0, |d| d.unused.len() as u64)
    }

    /// Whether `code` is an imported code of `card_id` not yet received.
    pub(crate) fn is_available(&self, card_id: &str, code: &str) -> bool {
        self.deposits
            .get(card_id)
            .is_some_and(|d| d.unused.contains(code))
    }

    /// Takes an imported code of `card_id` out of the unused ones: `code`, or the next one in
    /// import order. `None` when there is none.
    pub(crate) fn take_deposited(&mut self, card_id: &str, code: Option<&str>) -> Option<String> {
        let deposit = self.deposits.get_mut(card_id)?;
        match code {
            Some(code) => deposit.unused.remove(code).then(|| code.to_owned()),
            None => {
                while let Some(next) = deposit.queue.pop_front() {
                    if deposit.unused.remove(&next) {
                        return Some(next);
                    }
                }
                None
            }
        }
    }

    /// Whether `code` was imported for a card other than `card_id`.
    pub(crate) fn imported_elsewhere(&self, card_id: &str, code: &str) -> bool {
        self.deposits
            .iter()
            .any(|(id, d)| id != card_id && d.imported.contains(code))
    }
}
