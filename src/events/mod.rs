//! Card events WeChat pushes to the merchant's server: typed messages, callback verification and
//! safe-mode (AES) decryption.
//!
//! WeChat POSTs an XML message to the server URL configured for the official account whenever
//! something happens to a card or a code: a user received, gifted, deleted or consumed one, a
//! review passed, stock ran low, … (`spec/events.yaml` lists them; [`crate::EVENTS`] at run
//! time). The query string carries `signature`, `timestamp` and `nonce` (and, in safe mode,
//! `encrypt_type=aes` and `msg_signature`).
//!
//! - `Callback` (feature `events`) does the whole job: verifies the signature, decrypts a
//!   safe-mode message (checking `msg_signature` first and the appid after), parses the XML into a
//!   [`Message`] with a typed [`CardEvent`].
//! - `Message::parse` (feature `events`) and [`Message::to_xml`] read and write the XML alone;
//!   `MessageCrypto` (feature `events`) is the AES-256-CBC scheme alone.
//! - `Dedup` (feature `events`) handles each push once, across WeChat's retries and several
//!   instances: an in-memory store, and a Redis one with feature `redis` (see its
//!   documentation for the key, the window and what happens when Redis is down);
//!   `Callback::deduplicate` applies it in `Callback::receive_once`.
//! - The event types, [`EventFields`] and [`callback_signature`] need no feature.
//!
//! ```
//! # #[cfg(feature = "events")]
//! # fn main() -> Result<(), wechat_card::events::EventError> {
//! use wechat_card::CardEvent;
//! use wechat_card::events::{Callback, CallbackQuery, callback_signature};
//!
//! let callback = Callback::new("my-token"); // the Token configured on the 公众平台
//! let body = "<xml><ToUserName><![CDATA[gh_123]]></ToUserName>\
//!     <FromUserName><![CDATA[o-user]]></FromUserName><CreateTime>1700000000</CreateTime>\
//!     <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_del_card]]></Event>\
//!     <CardId><![CDATA[pCard]]></CardId><UserCardCode><![CDATA[12312312]]></UserCardCode></xml>";
//! // What WeChat puts in the URL: ?signature=…&timestamp=…&nonce=…
//! let query = format!(
//!     "signature={}&timestamp=1700000000&nonce=42",
//!     callback_signature("my-token", "1700000000", "42")
//! );
//! let message = callback.receive(&CallbackQuery::parse(&query), body.as_bytes())?;
//! match &message.event {
//!     CardEvent::UserDelCard(event) => {
//!         assert_eq!(event.card_id, "pCard");
//!         assert_eq!(message.from_user_name, "o-user");
//!     }
//!     other => println!("another event: {}", other.name()),
//! }
//! // Answer WeChat with "success" (or an empty body) within 5 seconds.
//! # Ok(()) }
//! # #[cfg(not(feature = "events"))]
//! # fn main() {}
//! ```

#[cfg(feature = "events")]
mod callback;
#[cfg(feature = "events")]
mod crypto;
#[cfg(feature = "events")]
mod dedup;
#[cfg(feature = "events")]
mod xml;

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "events")]
pub use callback::{Callback, CallbackQuery, DEFAULT_MAX_BODY};
#[cfg(feature = "events")]
pub use crypto::MessageCrypto;
#[cfg(all(feature = "events", feature = "redis"))]
pub use dedup::RedisDedup;
#[cfg(feature = "events")]
pub use dedup::{DEFAULT_CAPACITY, DEFAULT_WINDOW, Dedup, DedupStore, MemoryDedup, PushKey, Seen};
#[cfg(feature = "events")]
pub use xml::MAX_ELEMENTS;

use crate::CardEvent;

/// How an element's text is written in XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementKind {
    /// In a CDATA section (`<A><![CDATA[text]]></A>`): WeChat's strings.
    Cdata,
    /// As escaped text (`<A>12</A>`): WeChat's numbers.
    Plain,
    /// Child elements, kept as their raw XML (events of other kinds have some, card events none).
    Markup,
}

/// One child element of a message: its name and text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Element {
    /// The element's name, e.g. `CardId`.
    pub name: String,
    /// Its text (CDATA unwrapped, entities decoded); for [`ElementKind::Markup`] the raw XML
    /// inside it.
    pub value: String,
    /// How it is written.
    pub kind: ElementKind,
}

/// The child elements of a pushed message, in order. What the generated event structs are
/// decoded from and encoded to, and what [`CardEvent::Unknown`] keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventFields {
    elements: Vec<Element>,
}

impl EventFields {
    /// No elements.
    pub fn new() -> Self {
        EventFields::default()
    }

    /// The text of the first element named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_str())
    }

    /// Appends an element.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>, kind: ElementKind) {
        self.elements.push(Element {
            name: name.into(),
            value: value.into(),
            kind,
        });
    }

    /// The elements in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Element> {
        self.elements.iter()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// `(name, text)` pairs in order (how the message reads, whatever the CDATA choices).
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.elements
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect()
    }

    /// The message as XML: `<xml>…</xml>`, strings in CDATA sections, numbers as text.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(64 + self.elements.len() * 48);
        out.push_str("<xml>");
        for e in &self.elements {
            out.push('<');
            out.push_str(&e.name);
            out.push('>');
            match e.kind {
                ElementKind::Cdata => {
                    out.push_str("<![CDATA[");
                    // `]]>` cannot appear inside one CDATA section: split it across two.
                    out.push_str(&e.value.replace("]]>", "]]]]><![CDATA[>"));
                    out.push_str("]]>");
                }
                ElementKind::Plain => escape_text(&e.value, &mut out),
                ElementKind::Markup => out.push_str(&e.value),
            }
            out.push_str("</");
            out.push_str(&e.name);
            out.push('>');
        }
        out.push_str("</xml>");
        out
    }
}

impl<'a> IntoIterator for &'a EventFields {
    type Item = &'a Element;
    type IntoIter = std::slice::Iter<'a, Element>;
    fn into_iter(self) -> Self::IntoIter {
        self.elements.iter()
    }
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
}

/// What went wrong with a pushed message. Never contains the token or the EncodingAESKey.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not well-formed XML, or not a `<xml>…</xml>` message (or it has more than
    /// `MAX_ELEMENTS` child elements).
    Xml(String),
    /// The body is larger than the callback accepts (`Callback::max_body`); nothing of it was
    /// read.
    TooLarge {
        /// The body's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A required element is missing. `event` is empty for the common header.
    MissingElement {
        /// The event (`Event` value), or empty for the header.
        event: String,
        /// The element's name.
        element: String,
    },
    /// An element's text is not of its type (an integer element that is not a number).
    InvalidElement {
        /// The event (`Event` value), or empty for the header.
        event: String,
        /// The element's name.
        element: String,
        /// The text (the first 64 characters).
        value: String,
    },
    /// A query parameter the callback needs is missing (`signature`, `timestamp`, `nonce`,
    /// `msg_signature`, `echostr`).
    MissingParameter(&'static str),
    /// The signature (`signature` or `msg_signature`) does not match: the message was not sent
    /// by WeChat with this token, or was changed on the way.
    BadSignature(&'static str),
    /// The EncodingAESKey is not 43 characters of base64 for 32 bytes.
    InvalidKey(&'static str),
    /// A safe-mode message came but no EncodingAESKey was configured, or the message has no
    /// `Encrypt` element (with `encrypt_type=aes`, or at a safe-mode callback that does not
    /// [accept plain messages](Callback::accept_plain)).
    NotEncrypted(&'static str),
    /// The `Encrypt` text is not base64.
    BadBase64,
    /// The decrypted data does not end in valid PKCS#7 padding (a 1..=32 byte block padding), or
    /// is not a whole number of AES blocks: the wrong key, or a corrupted message.
    BadPadding,
    /// The decrypted content is not `random(16) + length(4) + message + appid`.
    BadContent(&'static str),
    /// A time element is a number but not a plausible time for the push: a negative
    /// `CreateTime` (no Unix time), or one outside the de-duplication step's max age
    /// (`Dedup::max_age`, feature `events`).
    ImplausibleTime {
        /// The element's name (`CreateTime`).
        element: String,
        /// Its text (the first 64 characters).
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// The message was encrypted for another official account.
    WrongAppId {
        /// The appid this callback is configured for.
        expected: String,
        /// The appid at the end of the message.
        found: String,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Xml(message) => write!(f, "malformed event message: {message}"),
            EventError::TooLarge { size, limit } => write!(
                f,
                "the pushed body is {size} bytes, more than the limit of {limit} bytes"
            ),
            EventError::MissingElement { event, element } if event.is_empty() => {
                write!(f, "the message has no <{element}> element")
            }
            EventError::MissingElement { event, element } => {
                write!(f, "the {event} event has no <{element}> element")
            }
            EventError::InvalidElement {
                event,
                element,
                value,
            } => {
                let whose = if event.is_empty() {
                    "the message's".to_owned()
                } else {
                    format!("the {event} event's")
                };
                write!(f, "{whose} <{element}> is {value:?}, not an integer")
            }
            EventError::MissingParameter(name) => {
                write!(f, "the callback URL has no `{name}` query parameter")
            }
            EventError::BadSignature(which) => write!(
                f,
                "the `{which}` does not match: not signed by WeChat with this token"
            ),
            EventError::InvalidKey(why) => write!(f, "invalid EncodingAESKey: {why}"),
            EventError::NotEncrypted(why) => write!(f, "cannot decrypt: {why}"),
            EventError::BadBase64 => f.write_str("the Encrypt element is not valid base64"),
            EventError::BadPadding => f.write_str(
                "the decrypted message has no valid PKCS#7 padding (wrong EncodingAESKey or a corrupted message)",
            ),
            EventError::BadContent(why) => write!(f, "the decrypted message is malformed: {why}"),
            EventError::ImplausibleTime {
                element,
                value,
                why,
            } => write!(f, "the message's <{element}> is {value}: {why}"),
            EventError::WrongAppId { expected, found } => write!(
                f,
                "the message was encrypted for appid {found:?}, not {expected:?}"
            ),
        }
    }
}

impl std::error::Error for EventError {}

/// The first 64 characters of `text`, for error messages.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers of the generated event structs
// ---------------------------------------------------------------------------------------------

/// Conversion of a generated event struct from and to a message's elements (besides the common
/// header). Implemented by every event struct; [`CardEvent`] dispatches on the `Event` value.
pub trait EventBody: Sized {
    /// Reads the event from the elements.
    fn from_fields(fields: &EventFields) -> Result<Self, EventError>;

    /// Appends the event's elements, in spec order.
    fn to_fields(&self, fields: &mut EventFields);
}

/// A string element's text.
pub(crate) fn text(fields: &EventFields, element: &str) -> Option<String> {
    fields.get(element).map(str::to_owned)
}

/// An integer element; empty text counts as absent, other text that is not a number is an error.
pub(crate) fn number<T: FromStr>(
    fields: &EventFields,
    event: &str,
    element: &str,
) -> Result<Option<T>, EventError> {
    let Some(text) = fields.get(element).map(str::trim) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| EventError::InvalidElement {
            event: event.to_owned(),
            element: element.to_owned(),
            value: clip(text),
        })
}

/// An enum element (an unknown value is kept as the enum's `Unknown`); empty text counts as
/// absent.
pub(crate) fn enumeration<T: for<'a> From<&'a str>>(
    fields: &EventFields,
    element: &str,
) -> Option<T> {
    fields
        .get(element)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(T::from)
}

/// A required element's value, or [`EventError::MissingElement`].
pub(crate) fn required<T>(event: &str, element: &str, value: Option<T>) -> Result<T, EventError> {
    value.ok_or_else(|| EventError::MissingElement {
        event: event.to_owned(),
        element: element.to_owned(),
    })
}

/// Appends a string or enum element (CDATA) when present.
pub(crate) fn put_text<T: fmt::Display + ?Sized>(
    fields: &mut EventFields,
    element: &str,
    value: Option<&T>,
) {
    if let Some(value) = value {
        fields.push(element, value.to_string(), ElementKind::Cdata);
    }
}

/// Appends an integer element (plain text) when present.
pub(crate) fn put_number<T: fmt::Display + ?Sized>(
    fields: &mut EventFields,
    element: &str,
    value: Option<&T>,
) {
    if let Some(value) = value {
        fields.push(element, value.to_string(), ElementKind::Plain);
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// The common header's elements, read by [`Message`] rather than by the events.
pub const HEADER: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
];

/// A pushed message: the common header and the typed event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// `ToUserName`: the official account's original id (`gh_…`).
    pub to_user_name: String,
    /// `FromUserName`: the user's openid (for review and order events, a system account).
    pub from_user_name: String,
    /// `CreateTime`: when the event happened, Unix seconds.
    pub create_time: i64,
    /// `MsgType`: `event` for events (other kinds of messages decode as
    /// [`CardEvent::Unknown`] with an empty name).
    pub msg_type: String,
    /// The event, typed from `Event` and the elements.
    pub event: CardEvent,
    /// Elements the typed event does not read (an element WeChat added after this version),
    /// in order; written back after the event's own. Always empty for
    /// [`CardEvent::Unknown`], which keeps every element itself.
    pub extra: EventFields,
}

impl Message {
    /// An event message (`MsgType` `event`) without extra elements.
    pub fn new(
        to_user_name: impl Into<String>,
        from_user_name: impl Into<String>,
        create_time: i64,
        event: CardEvent,
    ) -> Self {
        Message {
            to_user_name: to_user_name.into(),
            from_user_name: from_user_name.into(),
            create_time,
            msg_type: "event".to_owned(),
            event,
            extra: EventFields::new(),
        }
    }

    /// Reads a message from all its elements (header included).
    pub fn from_fields(fields: &EventFields) -> Result<Message, EventError> {
        Message::from_owned_fields(fields.clone())
    }

    /// [`Message::from_fields`] taking the elements, so that their text is moved rather than
    /// copied (a parse holds each element once).
    pub(crate) fn from_owned_fields(fields: EventFields) -> Result<Message, EventError> {
        let header = |name: &str| required("", name, fields.get(name)).map(str::to_owned);
        let to_user_name = header("ToUserName")?;
        let from_user_name = header("FromUserName")?;
        // An empty CreateTime is not "absent" (as an empty optional number is): it names the
        // element and its value.
        if fields
            .get("CreateTime")
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(EventError::InvalidElement {
                event: String::new(),
                element: "CreateTime".to_owned(),
                value: String::new(),
            });
        }
        let create_time = required("", "CreateTime", number::<i64>(&fields, "", "CreateTime")?)?;
        let msg_type = header("MsgType")?;
        let name = if msg_type == "event" {
            header("Event")?
        } else {
            String::new()
        };
        let body = EventFields {
            elements: fields
                .elements
                .into_iter()
                .filter(|e| !HEADER.contains(&e.name.as_str()))
                .collect(),
        };
        let event = CardEvent::from_fields(name.trim(), &body)?;
        let known = event.elements();
        let extra = match event {
            CardEvent::Unknown { .. } => EventFields::new(),
            // The event read the first element of each known name; anything else (other names,
            // and repeats of a known name) is kept in `extra`.
            _ => {
                let mut read: Vec<&'static str> = Vec::new();
                let mut extra = EventFields::new();
                for e in body.elements {
                    match known.iter().find(|k| **k == e.name) {
                        Some(k) if !read.contains(k) => read.push(k),
                        _ => extra.elements.push(e),
                    }
                }
                extra
            }
        };
        Ok(Message {
            to_user_name,
            from_user_name,
            create_time,
            msg_type,
            event,
            extra,
        })
    }

    /// All the message's elements: the header, the event's, then the extra ones.
    pub fn to_fields(&self) -> EventFields {
        let mut out = EventFields::new();
        out.push("ToUserName", &self.to_user_name, ElementKind::Cdata);
        out.push("FromUserName", &self.from_user_name, ElementKind::Cdata);
        out.push(
            "CreateTime",
            self.create_time.to_string(),
            ElementKind::Plain,
        );
        out.push("MsgType", &self.msg_type, ElementKind::Cdata);
        let name = self.event.name();
        if !name.is_empty() || self.msg_type == "event" {
            out.push("Event", name, ElementKind::Cdata);
        }
        out.elements.extend(self.event.to_fields().elements);
        out.elements.extend(self.extra.elements.iter().cloned());
        out
    }

    /// The message as WeChat writes it: `<xml>…</xml>`, strings in CDATA, numbers as text.
    pub fn to_xml(&self) -> String {
        self.to_fields().to_xml()
    }
}

// ---------------------------------------------------------------------------------------------
// Callback signature
// ---------------------------------------------------------------------------------------------

/// The `signature` WeChat puts in the callback URL: SHA-1 (lowercase hex) of the token, the
/// `timestamp` and the `nonce`, sorted as strings and joined.
pub fn callback_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    crate::signature::sha1_sorted(&[token, timestamp, nonce])
}

/// Checks a callback URL's `signature` against the token (compared without early exit).
pub fn verify_callback_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    signature: &str,
) -> Result<(), EventError> {
    let expected = callback_signature(token, timestamp, nonce);
    if crate::signature::same_signature(&expected, signature) {
        Ok(())
    } else {
        Err(EventError::BadSignature("signature"))
    }
}

/// The `msg_signature` of a safe-mode message: SHA-1 of the token, `timestamp`, `nonce` and the
/// `Encrypt` text, sorted and joined.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    crate::signature::sha1_sorted(&[token, timestamp, nonce, encrypt])
}
