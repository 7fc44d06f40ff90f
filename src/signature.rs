//! JS-SDK card signatures: wx.addCard's `cardExt` and wx.chooseCard's `cardSign`.
//!
//! Both are a SHA-1 (lowercase hex) of the **values** of the signed parameters that are present,
//! sorted as strings (byte order) and joined without a separator. The signing credential is the
//! card `api_ticket` (`cgi-bin/ticket/getticket?type=wx_card`, see [`Client::api_ticket`]), not
//! the `jsapi_ticket` of `wx.config`: a signature made with the wrong ticket is the most common
//! reason WeChat rejects a card call.
//!
//! ```
//! use wechat_card::Secret;
//! use wechat_card::signature::{CardExt, ChooseCard};
//!
//! # fn main() -> Result<(), wechat_card::ValidationError> {
//! let ticket = Secret::new("api-ticket-from-the-cache");
//! // wx.addCard({ cardList: [ { cardId, cardExt } ] })
//! let signed = CardExt::new("pFS7Fjg8kV1IdDz01r4SQwMkuCKc")
//!     .code("110201201245")
//!     .outer_str("spring-campaign") // not signed, carried to the user_get_card event
//!     .sign(&ticket)?;
//! let card_list = serde_json::to_string(&[&signed]).unwrap(); // [{"cardId":…,"cardExt":"{…}"}]
//! assert!(card_list.contains("\"cardExt\""));
//!
//! // wx.chooseCard({ shopId, cardType, cardId, timestamp, nonceStr, signType, cardSign })
//! let params = ChooseCard::new().card_type("GROUPON").sign("wx1234567890abcdef", &ticket)?;
//! assert_eq!(params.sign_type, "SHA1");
//! # Ok(()) }
//! ```

use crate::random::random_u64;

use serde::Serialize;

use crate::validate::{self, ValidationError};
use crate::{Client, Error, Secret};

/// SHA-1 (lowercase hex) of `values` sorted as strings and joined without a separator: the
/// signature scheme of the card JS-SDK calls and of WeChat's callbacks. Empty values add nothing
/// to the joined text, so leaving a value out and passing it empty sign the same.
///
/// ```
/// // echo -n "1700000000abcnonce" | sha1sum  (sorted: "1700000000" < "abc" < "nonce")
/// assert_eq!(
///     wechat_card::signature::sha1_sorted(&["nonce", "abc", "1700000000"]),
///     wechat_card::signature::sha1_sorted(&["1700000000", "abc", "nonce"]),
/// );
/// ```
pub fn sha1_sorted(values: &[&str]) -> String {
    let mut sorted: Vec<&str> = values.to_vec();
    sorted.sort_unstable();
    let mut hasher = sha1_smol::Sha1::new();
    for value in sorted {
        hasher.update(value.as_bytes());
    }
    hasher.digest().to_string()
}

/// Compares two signatures without stopping at the first difference (case-insensitively, as
/// hex).
pub(crate) fn same_signature(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.trim().as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

/// A fresh `nonce_str`: 32 characters of `[0-9A-Za-z]` (WeChat's limit is 32).
pub fn nonce_str() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(32);
    while out.len() < 32 {
        let mut bits = random_u64();
        for _ in 0..8 {
            if out.len() == 32 {
                break;
            }
            out.push(char::from(ALPHABET[(bits % 62) as usize]));
            bits /= 62;
        }
    }
    out
}

/// The current Unix time in seconds, as the signatures' `timestamp`.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const NONCE_MAX_BYTES: usize = 32;

fn check_nonce(path: &str, nonce: &str) -> Result<(), ValidationError> {
    validate::max_bytes(path, nonce, NONCE_MAX_BYTES)
}

// ---------------------------------------------------------------------------------------------
// wx.addCard: cardExt
// ---------------------------------------------------------------------------------------------

/// Builds the `cardExt` of one card for `wx.addCard` (also the `card_ext` of custom and mass
/// sends). Signed: `api_ticket`, `timestamp`, `card_id`, `code`, `openid`, `nonce_str`; not
/// signed: `outer_str`, `fixed_begintimestamp`, `outer_id`.
///
/// `timestamp` and `nonce_str` are generated when not given (the current time; 32 random
/// characters): WeChat wants them to differ for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CardExt {
    card_id: String,
    code: Option<String>,
    openid: Option<String>,
    timestamp: Option<i64>,
    nonce_str: Option<String>,
    outer_str: Option<String>,
    fixed_begintimestamp: Option<i64>,
    outer_id: Option<u64>,
}

impl CardExt {
    /// The `cardExt` of the card `card_id`.
    pub fn new(card_id: impl Into<String>) -> Self {
        CardExt {
            card_id: card_id.into(),
            code: None,
            openid: None,
            timestamp: None,
            nonce_str: None,
            outer_str: None,
            fixed_begintimestamp: None,
            outer_id: None,
        }
    }

    /// The code the user gets: required for cards with `use_custom_code` (and only for them); a
    /// code can be received once. Signed.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The only user who may receive the card: required for cards with `bind_openid`. Signed.
    pub fn openid(mut self, openid: impl Into<String>) -> Self {
        self.openid = Some(openid.into());
        self
    }

    /// The signature's time in Unix seconds (default: now). Signed.
    pub fn timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// The signature's random string, at most 32 bytes (default: 32 random characters).
    /// Signed.
    pub fn nonce_str(mut self, nonce: impl Into<String>) -> Self {
        self.nonce_str = Some(nonce.into());
        self
    }

    /// A channel label for statistics, sent back in the `user_get_card` event's `OuterStr`.
    /// Not signed.
    pub fn outer_str(mut self, outer_str: impl Into<String>) -> Self {
        self.outer_str = Some(outer_str.into());
        self
    }

    /// For `DATE_TYPE_FIX_TERM` cards: when the validity starts (Unix seconds). Not signed.
    pub fn fixed_begintimestamp(mut self, unix_seconds: i64) -> Self {
        self.fixed_begintimestamp = Some(unix_seconds);
        self
    }

    /// The legacy numeric channel (`outer_id`, superseded by `outer_str`). Not signed.
    pub fn outer_id(mut self, outer_id: u64) -> Self {
        self.outer_id = Some(outer_id);
        self
    }

    /// Signs with the card `api_ticket` (see [`Client::sign_card_ext`] to use the client's
    /// cached ticket). Fails when `nonce_str` is longer than 32 bytes.
    pub fn sign(&self, api_ticket: &Secret) -> Result<SignedCardExt, ValidationError> {
        let timestamp = self.timestamp.unwrap_or_else(unix_now).to_string();
        let nonce = self.nonce_str.clone().unwrap_or_else(nonce_str);
        check_nonce("nonce_str", &nonce)?;
        let mut values = vec![
            api_ticket.expose(),
            timestamp.as_str(),
            self.card_id.as_str(),
            nonce.as_str(),
        ];
        values.extend(self.code.as_deref());
        values.extend(self.openid.as_deref());
        let signature = sha1_sorted(&values);
        let ext = CardExtJson {
            code: self.code.as_deref(),
            openid: self.openid.as_deref(),
            timestamp: &timestamp,
            nonce_str: &nonce,
            fixed_begintimestamp: self.fixed_begintimestamp,
            outer_str: self.outer_str.as_deref(),
            outer_id: self.outer_id,
            signature: &signature,
        };
        // A struct of strings and integers always serializes.
        let card_ext = serde_json::to_string(&ext).unwrap_or_default();
        Ok(SignedCardExt {
            card_id: self.card_id.clone(),
            card_ext,
            timestamp,
            nonce_str: nonce,
            signature,
        })
    }
}

/// The `cardExt` JSON text, keys in the documented order.
#[derive(Serialize)]
struct CardExtJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    openid: Option<&'a str>,
    timestamp: &'a str,
    nonce_str: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_begintimestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_str: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_id: Option<u64>,
    signature: &'a str,
}

/// A signed `cardExt`: what one entry of `wx.addCard`'s `cardList` needs.
///
/// It serializes as that entry, `{"cardId": "…", "cardExt": "{…}"}` (`cardExt` is a JSON
/// *string*), so `serde_json::to_string(&[a, b])` is the whole `cardList`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedCardExt {
    /// The card.
    pub card_id: String,
    /// The `cardExt` JSON text: `code`/`openid` when given, `timestamp` (a string of seconds),
    /// `nonce_str`, the unsigned extras when given, and `signature`.
    pub card_ext: String,
    /// The signed timestamp, as it is in `card_ext`.
    pub timestamp: String,
    /// The signed nonce, as it is in `card_ext`.
    pub nonce_str: String,
    /// The signature (40 lowercase hex digits), as it is in `card_ext`.
    pub signature: String,
}

impl SignedCardExt {
    /// The `cardList` entry as JSON: `{"cardId": …, "cardExt": …}`.
    pub fn card_list_entry(&self) -> serde_json::Value {
        serde_json::json!({ "cardId": self.card_id, "cardExt": self.card_ext })
    }
}

impl Serialize for SignedCardExt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut entry = serializer.serialize_struct("CardListEntry", 2)?;
        entry.serialize_field("cardId", &self.card_id)?;
        entry.serialize_field("cardExt", &self.card_ext)?;
        entry.end()
    }
}

// ---------------------------------------------------------------------------------------------
// wx.chooseCard: cardSign
// ---------------------------------------------------------------------------------------------

/// Builds the parameters of `wx.chooseCard` (the user picks one of their cards). Signed:
/// `api_ticket`, `app_id`, `location_id` (the shop), `timestamp`, `nonce_str`, `card_id`,
/// `card_type`, those present. `app_id` must be signed, or the list comes back empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ChooseCard {
    shop_id: Option<String>,
    card_type: Option<String>,
    card_id: Option<String>,
    timestamp: Option<i64>,
    nonce_str: Option<String>,
}

impl ChooseCard {
    /// Any card of the account.
    pub fn new() -> Self {
        ChooseCard::default()
    }

    /// Only cards usable at this store (`shopId`, signed as `location_id`).
    pub fn shop_id(mut self, location_id: impl Into<String>) -> Self {
        self.shop_id = Some(location_id.into());
        self
    }

    /// Only cards of this type (`GROUPON`, `CASH`, `DISCOUNT`, `GIFT`, `GENERAL_COUPON`, …).
    pub fn card_type(mut self, card_type: impl Into<String>) -> Self {
        self.card_type = Some(card_type.into());
        self
    }

    /// Only this card.
    pub fn card_id(mut self, card_id: impl Into<String>) -> Self {
        self.card_id = Some(card_id.into());
        self
    }

    /// The signature's time in Unix seconds (default: now).
    pub fn timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// The signature's random string, at most 32 bytes (default: 32 random characters).
    pub fn nonce_str(mut self, nonce: impl Into<String>) -> Self {
        self.nonce_str = Some(nonce.into());
        self
    }

    /// Signs for the official account `app_id` with the card `api_ticket` (see
    /// [`Client::sign_choose_card`] to use the client's cached ticket). Fails when `nonce_str`
    /// is longer than 32 bytes or `app_id` is empty.
    pub fn sign(
        &self,
        app_id: &str,
        api_ticket: &Secret,
    ) -> Result<ChooseCardParams, ValidationError> {
        if app_id.is_empty() {
            return Err(ValidationError::new(
                "app_id",
                validate::Rule::Decode {
                    message: "the appid must be signed (without it the card list comes back empty)"
                        .into(),
                },
            ));
        }
        let timestamp = self.timestamp.unwrap_or_else(unix_now).to_string();
        let nonce = self.nonce_str.clone().unwrap_or_else(nonce_str);
        check_nonce("nonce_str", &nonce)?;
        let mut values = vec![
            api_ticket.expose(),
            app_id,
            timestamp.as_str(),
            nonce.as_str(),
        ];
        values.extend(self.shop_id.as_deref());
        values.extend(self.card_id.as_deref());
        values.extend(self.card_type.as_deref());
        let card_sign = sha1_sorted(&values);
        Ok(ChooseCardParams {
            shop_id: self.shop_id.clone().unwrap_or_default(),
            card_type: self.card_type.clone().unwrap_or_default(),
            card_id: self.card_id.clone().unwrap_or_default(),
            timestamp,
            nonce_str: nonce,
            sign_type: "SHA1",
            card_sign,
        })
    }
}

/// Every parameter of `wx.chooseCard`. Serializes with the JS names (`shopId`, `cardType`,
/// `cardId`, `timestamp`, `nonceStr`, `signType`, `cardSign`), ready to hand to the page; absent
/// filters are empty strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChooseCardParams {
    /// `shopId`: the store filter, or empty.
    pub shop_id: String,
    /// `cardType`: the card type filter, or empty.
    pub card_type: String,
    /// `cardId`: the card filter, or empty.
    pub card_id: String,
    /// `timestamp`: the signed time in seconds.
    pub timestamp: String,
    /// `nonceStr`: the signed nonce.
    pub nonce_str: String,
    /// `signType`: always `SHA1`.
    pub sign_type: &'static str,
    /// `cardSign`: the signature (40 lowercase hex digits).
    pub card_sign: String,
}

// ---------------------------------------------------------------------------------------------
// With the client's cached ticket
// ---------------------------------------------------------------------------------------------

impl Client {
    /// Signs a `cardExt` with the client's cached card api_ticket ([`Client::api_ticket`]).
    pub fn sign_card_ext(&self, ext: &CardExt) -> Result<SignedCardExt, Error> {
        let ticket = self.api_ticket()?;
        Ok(ext.sign(&ticket)?)
    }

    /// Signs `wx.chooseCard`'s parameters with the client's appid (from
    /// [`credentials`](crate::ClientBuilder::credentials) or
    /// [`appid`](crate::ClientBuilder::appid)) and its cached card api_ticket.
    pub fn sign_choose_card(&self, choose: &ChooseCard) -> Result<ChooseCardParams, Error> {
        let appid = choose_card_appid(self.appid())?;
        let ticket = self.api_ticket()?;
        Ok(choose.sign(appid, &ticket)?)
    }
}

/// The appid wx.chooseCard's signature signs: the client's, which it must have.
pub(crate) fn choose_card_appid(appid: Option<&str>) -> Result<&str, Error> {
    appid.ok_or_else(|| {
        Error::Config(
            "wx.chooseCard's signature needs the appid: give it with ClientBuilder::appid".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_fit() {
        let a = nonce_str();
        let b = nonce_str();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn signature_comparison() {
        assert!(same_signature("ab12", "AB12"));
        assert!(!same_signature("ab12", "ab13"));
        assert!(!same_signature("ab12", "ab1"));
    }

    #[test]
    fn long_nonce_is_rejected() {
        let err = CardExt::new("c")
            .nonce_str("x".repeat(33))
            .sign(&Secret::new("t"))
            .unwrap_err();
        assert_eq!(err.path(), "nonce_str");
    }
}
