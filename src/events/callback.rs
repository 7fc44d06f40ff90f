//! The merchant's side of a callback: query parameters in, verified (and decrypted) message out.

use super::{
    Dedup, ElementKind, EventError, EventFields, Message, MessageCrypto, Seen,
    verify_callback_signature,
};
use crate::Secret;

/// The default largest body [`Callback::open`] and [`Callback::receive`] accept: 64 KiB.
/// WeChat's pushes are a few KB; change it with [`Callback::max_body`].
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The query parameters WeChat puts in the callback URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackQuery {
    /// `signature`: SHA-1 of the token, `timestamp` and `nonce`.
    pub signature: Option<String>,
    /// `timestamp`.
    pub timestamp: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `echostr`: the text to answer when WeChat checks the URL (a `GET`).
    pub echostr: Option<String>,
    /// `encrypt_type`: `aes` in safe mode.
    pub encrypt_type: Option<String>,
    /// `msg_signature`: SHA-1 of the token, `timestamp`, `nonce` and the `Encrypt` text.
    pub msg_signature: Option<String>,
    /// `openid`: the user's openid (WeChat adds it to message pushes).
    pub openid: Option<String>,
}

impl CallbackQuery {
    /// Reads a query string (`signature=…&timestamp=…`, with or without the leading `?`),
    /// percent-decoding the values (`+` as a space). Unknown parameters are ignored.
    pub fn parse(query: &str) -> CallbackQuery {
        let mut out = CallbackQuery::default();
        for (key, value) in crate::percent::parse_query(query.trim_start_matches('?')) {
            let value = Some(value);
            match key.as_str() {
                "signature" => out.signature = value,
                "timestamp" => out.timestamp = value,
                "nonce" => out.nonce = value,
                "echostr" => out.echostr = value,
                "encrypt_type" => out.encrypt_type = value,
                "msg_signature" => out.msg_signature = value,
                "openid" => out.openid = value,
                _ => {}
            }
        }
        out
    }

    fn need<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, EventError> {
        value.as_deref().ok_or(EventError::MissingParameter(name))
    }
}

/// A merchant's callback endpoint: verifies what WeChat pushes and turns it into a [`Message`].
///
/// Plain mode ([`Callback::new`]) checks `signature` with the token. Safe mode
/// ([`Callback::with_aes_key`]) also decrypts messages that come with `encrypt_type=aes` (or an
/// `Encrypt` element): `msg_signature` is verified first, then the message is decrypted and
/// its appid checked. A message without `Encrypt` is refused in safe mode: its `signature` covers
/// only the token, timestamp and nonce, not the body, so anyone who saw one push's query string
/// could pair it with a body of their own ([`Callback::accept_plain`] relaxes this while an
/// account moves between modes). In compatible mode (兼容模式: plain elements beside
/// `Encrypt`) a callback without a key reads the plain elements, checked with `signature`.
///
/// A body larger than [`max_body`](Callback::max_body) ([`DEFAULT_MAX_BODY`], 64 KiB, unless
/// changed) is refused before anything else is done with it. The `Encrypt` element is found by
/// a streaming read that keeps only its text; the decrypted message is parsed only after
/// `msg_signature` matched, and a parse takes memory within a small multiple of the body.
///
/// With [`deduplicate`](Callback::deduplicate), [`receive_once`](Callback::receive_once)
/// also drops WeChat's retries of a push already received (see [`Dedup`]).
///
/// `Debug` shows neither the token nor the key.
#[derive(Debug, Clone)]
pub struct Callback {
    token: Secret,
    crypto: Option<MessageCrypto>,
    accept_plain: bool,
    max_body: usize,
    dedup: Option<Dedup>,
}

impl Callback {
    /// Plain mode (明文模式) with the token configured on the 公众平台.
    pub fn new(token: impl Into<Secret>) -> Callback {
        Callback {
            token: token.into(),
            crypto: None,
            accept_plain: true,
            max_body: DEFAULT_MAX_BODY,
            dedup: None,
        }
    }

    /// Safe mode (安全模式, or 兼容模式): the token, the 43-character EncodingAESKey and the
    /// official account's appid (messages for another appid are refused).
    pub fn with_aes_key(
        token: impl Into<Secret>,
        encoding_aes_key: impl Into<Secret>,
        appid: impl Into<String>,
    ) -> Result<Callback, EventError> {
        let token = token.into();
        let crypto = MessageCrypto::new(token.clone(), encoding_aes_key, appid)?;
        Ok(Callback {
            token,
            crypto: Some(crypto),
            accept_plain: false,
            max_body: DEFAULT_MAX_BODY,
            dedup: None,
        })
    }

    /// In safe mode, whether a message without `Encrypt` is also accepted (read as plain text
    /// after its `signature` is checked). Off by default, since `signature` does not cover the
    /// body; turn it on only while the account switches from plain to safe mode. Plain mode
    /// always accepts plain messages.
    pub fn accept_plain(mut self, yes: bool) -> Callback {
        self.accept_plain = yes || self.crypto.is_none();
        self
    }

    /// The largest body accepted, in bytes ([`DEFAULT_MAX_BODY`], 64 KiB, by default). A larger
    /// body is an [`EventError::TooLarge`], refused before it is read in any way.
    pub fn max_body(mut self, bytes: usize) -> Callback {
        self.max_body = bytes;
        self
    }

    /// De-duplicates in [`receive_once`](Callback::receive_once) with `dedup` (an in-memory
    /// store for one instance, `RedisDedup` with feature `redis` for several).
    pub fn deduplicate(mut self, dedup: Dedup) -> Callback {
        self.dedup = Some(dedup);
        self
    }

    /// The de-duplication step, if one is set.
    pub fn dedup(&self) -> Option<&Dedup> {
        self.dedup.as_ref()
    }

    /// The encryption, in safe mode.
    pub fn crypto(&self) -> Option<&MessageCrypto> {
        self.crypto.as_ref()
    }

    /// WeChat's check of the URL (a `GET` with `signature`, `timestamp`, `nonce`, `echostr`):
    /// returns the `echostr` to answer with when the signature matches.
    pub fn verify_url(&self, query: &CallbackQuery) -> Result<String, EventError> {
        self.check_signature(query)?;
        Ok(CallbackQuery::need(&query.echostr, "echostr")?.to_owned())
    }

    /// Checks `signature` against the token.
    pub fn check_signature(&self, query: &CallbackQuery) -> Result<(), EventError> {
        verify_callback_signature(
            self.token.expose(),
            CallbackQuery::need(&query.timestamp, "timestamp")?,
            CallbackQuery::need(&query.nonce, "nonce")?,
            CallbackQuery::need(&query.signature, "signature")?,
        )
    }

    /// Verifies a pushed message (the `POST` body) and returns its XML, decrypted in safe mode.
    ///
    /// The body's size is checked first ([`max_body`](Callback::max_body)); an `Encrypt`
    /// element is looked for with a streaming read that copies nothing else, and nothing of the
    /// message is parsed before its signature matched.
    pub fn open(&self, query: &CallbackQuery, body: &[u8]) -> Result<String, EventError> {
        if body.len() > self.max_body {
            return Err(EventError::TooLarge {
                size: body.len(),
                limit: self.max_body,
            });
        }
        let body = std::str::from_utf8(body)
            .map_err(|_| EventError::Xml("the body is not UTF-8".into()))?;
        let encrypted = query.encrypt_type.as_deref() == Some("aes");
        let envelope = if encrypted || body.contains("<Encrypt") {
            super::xml::scan_envelope(body)?
        } else {
            super::xml::Envelope::default()
        };
        match (envelope.encrypt, &self.crypto) {
            (Some(encrypt), Some(crypto)) => {
                let timestamp = CallbackQuery::need(&query.timestamp, "timestamp")?;
                let nonce = CallbackQuery::need(&query.nonce, "nonce")?;
                let msg_signature = CallbackQuery::need(&query.msg_signature, "msg_signature")?;
                let xml = crypto.decrypt(msg_signature, timestamp, nonce, &encrypt)?;
                // WeChat also sends `signature`; when present it must match too.
                if query.signature.is_some() {
                    self.check_signature(query)?;
                }
                Ok(xml)
            }
            // Compatible mode (兼容模式) sends the plain elements beside `Encrypt`: without a
            // key, read those, checked with `signature` (before they are parsed).
            (Some(_), None) if envelope.has_msg_type => {
                self.check_signature(query)?;
                let fields = EventFields::parse(body)?;
                let mut plain = EventFields::new();
                for e in fields.iter().filter(|e| e.name != "Encrypt") {
                    plain.push(e.name.clone(), e.value.clone(), e.kind);
                }
                Ok(plain.to_xml())
            }
            (Some(_), None) => Err(EventError::NotEncrypted(
                "the message is encrypted but no EncodingAESKey is configured",
            )),
            (None, _) if encrypted => Err(EventError::NotEncrypted(
                "encrypt_type=aes but the message has no <Encrypt> element",
            )),
            (None, Some(_)) if !self.accept_plain => Err(EventError::NotEncrypted(
                "safe mode refuses a message without <Encrypt> (see Callback::accept_plain)",
            )),
            (None, _) => {
                self.check_signature(query)?;
                Ok(body.to_owned())
            }
        }
    }

    /// Verifies, decrypts (safe mode) and parses a pushed message.
    pub fn receive(&self, query: &CallbackQuery, body: &[u8]) -> Result<Message, EventError> {
        Message::parse(&self.open(query, body)?)
    }

    /// [`receive`](Callback::receive), then the de-duplication step
    /// ([`deduplicate`](Callback::deduplicate)): `Some(message)` the first time a push arrives,
    /// `None` for a repeat (WeChat's retry, here or at another instance sharing the store),
    /// which is answered [`ack`](Callback::ack) like the first and handled no further. The
    /// push's `CreateTime` is judged too ([`Dedup::max_age`]). Without a de-duplication step
    /// every push is `Some`.
    pub fn receive_once(
        &self,
        query: &CallbackQuery,
        body: &[u8],
    ) -> Result<Option<Message>, EventError> {
        let message = self.receive(query, body)?;
        match &self.dedup {
            Some(dedup) => Ok(match dedup.check(&message)? {
                Seen::First => Some(message),
                Seen::Repeat => None,
            }),
            None => Ok(Some(message)),
        }
    }

    /// What to answer a pushed event with: `success` (WeChat then neither retries nor tells the
    /// user the service is unavailable).
    pub fn ack() -> &'static str {
        "success"
    }

    /// Builds a push of `message` as WeChat sends it, for tests of a handler (the sandbox uses
    /// it): the query string (`signature`, `timestamp`, `nonce`, `openid`, and in safe mode
    /// `encrypt_type=aes` and `msg_signature`) and the body (plain XML, or in safe mode
    /// `<xml><ToUserName/><Encrypt/></xml>`).
    pub fn push(&self, message: &Message, timestamp: &str, nonce: &str) -> (String, String) {
        let xml = message.to_xml();
        let signature = super::callback_signature(self.token.expose(), timestamp, nonce);
        let encode = crate::percent::percent_encode;
        let mut query = format!(
            "signature={signature}&timestamp={}&nonce={}&openid={}",
            encode(timestamp),
            encode(nonce),
            encode(&message.from_user_name)
        );
        match &self.crypto {
            None => (query, xml),
            Some(crypto) => {
                let encrypt = crypto.encrypt_content(&xml);
                let msg_signature = crypto.signature(timestamp, nonce, &encrypt);
                query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_signature}"));
                let mut envelope = EventFields::new();
                envelope.push("ToUserName", &message.to_user_name, ElementKind::Cdata);
                envelope.push("Encrypt", encrypt, ElementKind::Cdata);
                (query, envelope.to_xml())
            }
        }
    }
}
