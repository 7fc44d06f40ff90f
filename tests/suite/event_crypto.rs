//! Safe-mode (AES-256-CBC) messages and callback verification, against vectors from an
//! independent implementation.
//!
//! The vectors were made outside the library: the key is Python's
//! `base64.b64decode(EncodingAESKey + "=")`, the plaintext `random(16) + struct.pack(">I", len) +
//! xml + appid` padded by hand (PKCS#7 to 32 bytes), encrypted with
//! `openssl enc -aes-256-cbc -K <key hex> -iv <first 16 bytes hex> -nopad -nosalt -base64 -A`
//! and cross-checked with Python's `cryptography` (AES, CBC); `msg_signature` is
//! `hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])))`.
//! `tests/vectors/event_crypto.py` re-derives every vector that way and compares it with the
//! constants below; [`vectors_agree_with_an_independent_implementation`] runs it, and fails
//! with how to get them when python3 or its `cryptography` package is missing.

#![cfg(feature = "events")]

use wechat_card::events::{
    Callback, CallbackQuery, EventError, EventFields, Message, MessageCrypto, callback_signature,
    msg_signature,
};
use wechat_card::{CardEvent, ConsumeSource};

/// Its 43rd character (`G`) has non-zero unused bits, as random WeChat keys often do.
const EAK: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx1234567890abcdef";
const TOKEN: &str = "my-token";
const TIMESTAMP: &str = "1700000000";
const NONCE: &str = "1320562132";

/// 408 bytes of XML: 2 bytes of padding.
const XML: &str = "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><FromUserName><![CDATA[oZI8Fj040-be6rlDohc6gkoPOQTQ]]></FromUserName><CreateTime>1472549042</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_consume_card]]></Event><CardId><![CDATA[pZI8Fj8y-E8hpvho2d1ZvpGwQBvA]]></CardId><UserCardCode><![CDATA[452998530302]]></UserCardCode><ConsumeSource><![CDATA[FROM_API]]></ConsumeSource></xml>";
/// `XML` with the random prefix `0123456789abcdef`.
const ENCRYPT: &str = "Q3stYC6hdFzMh9T8HCvyDPVyvDJW79qmabUIrQh/JT0Djot/8Xg+VQLdB0f4FM1njJ1ZWViMeKoO9sCV4tMG8GZaD086bk97Khj0oOish92Q7Q1bi008pW24VCmANI5FRjlulSDZsmqeCE5aZhiQTrHSmqidoJ3hH6b6NbZVG62CMFCK8qHmQbRuB8B4ke3kjRuOx20WtNGyTKa/QvpfHTj+GxxNYCckx3WatMOnOeTXsO+aBvTHZnNOcxCHpY7GuZN6CFJmZKGRUXRpR+5Q10Ig+zssm2V7KQ0L2skTpVvLVrhmsnfLhw89kVkpFJgdXcc5u1qRqA/+sEne1jWLbog9wnA0hTmxc7nEqpSKb5h8wGvekGSu6Aiy6SEBxhaq2oKjJgI4dzrXN5YHcQmvLphHCbhWakrohDSkzIPIgmWDrtw/jAAG+vL34Exh9KpXHlacCxoVtYciNcMkzyyv0Vns8Ni6xYM9yACmkEloGQ5R9Fb6X6KxHHh+oqEA42b8bGBqlNjMMCvTg77lZ5BbROyRTF8p/JauhCe0t/dzRDT7FHuu3ZN7JG7FMAGkhJ9r/o2vHSxzlDmKDlqZfhQB6A==";
const MSG_SIGNATURE: &str = "3032df0757985b524740b3185c2c99c255d72711";
/// 58 x's: the content is a multiple of 32 bytes, so a whole block of padding (32 × 0x20);
/// random prefix: 16 zero bytes.
const ENCRYPT_FULL_PAD: &str = "sLR/n4SbHXvKAdlBki8FGKqxgFZ0YZRM5k3a5wAza3xOm7O/D8EKdk7Nqcco6LOSuSAKDPG0dxINnEwM5IAmUf38dp7U6SnFBsqMi8qm0d+MLRjP+MVL4vAzqsLtQfdpOF/K9cw2HNZRSN/VBMBnnbIpMKpCO+KogNCixY1f+Qc=";
/// `<xml><A><![CDATA[微信卡券]]></A></xml>` with the random prefix 16 × 0xff.
const ENCRYPT_UTF8: &str = "3ZiZyZISPGZgZNHKBD3XP3ZfknXcVcNPeSDC6ZOqg3I0TF1QHR31n9kSdM9KsMT/B295wKk9buAQRHjXJg2apCYs13ChlUpuLKWetg9OsmEyscCjt5ApvBFzT0afZU3h";
/// `<xml/>x` for the appid `wxOTHERAPPID00000`.
const ENCRYPT_OTHER_APPID: &str =
    "Q3stYC6hdFzMh9T8HCvyDIYWaN/LlztxYLHj93nQuqAwKvYEYYcJ89rC43nGuuwJYCT0P8I/ki4OQQlvBcJw5Q==";
/// Content followed by zero bytes instead of padding.
const ENCRYPT_ZERO_PAD: &str =
    "Q3stYC6hdFzMh9T8HCvyDPpjM91qOop5uqlO3WG4HpuVjcAizbIirHeqZ5V5QBQ9K9O3P0pUYL6221uLdDOcdA==";
/// Padding bytes `13 … 13 02 13`: the last byte says 19 but the bytes disagree.
const ENCRYPT_MIXED_PAD: &str =
    "Q3stYC6hdFzMh9T8HCvyDPpjM91qOop5uqlO3WG4HptlYzm6HRbj4fo+M5NiH6BbwOg/O7mXqzg/M2eVn8vnjg==";

fn crypto() -> MessageCrypto {
    MessageCrypto::new(TOKEN, EAK, APPID).expect("valid key")
}

#[test]
fn signature_vector() {
    assert_eq!(
        msg_signature(TOKEN, TIMESTAMP, NONCE, ENCRYPT),
        MSG_SIGNATURE
    );
    assert_eq!(crypto().signature(TIMESTAMP, NONCE, ENCRYPT), MSG_SIGNATURE);
}

#[test]
fn decrypts_what_openssl_encrypted() {
    let xml = crypto()
        .decrypt(MSG_SIGNATURE, TIMESTAMP, NONCE, ENCRYPT)
        .expect("decrypts");
    assert_eq!(xml, XML);
    let message = Message::parse(&xml).unwrap();
    let CardEvent::UserConsumeCard(event) = &message.event else {
        panic!("{:?}", message.event)
    };
    assert_eq!(event.consume_source, Some(ConsumeSource::Api));
    assert_eq!(event.user_card_code.as_deref(), Some("452998530302"));
    assert_eq!(
        crypto().decrypt_content(ENCRYPT_FULL_PAD).unwrap(),
        "x".repeat(58)
    );
    assert_eq!(
        crypto().decrypt_content(ENCRYPT_UTF8).unwrap(),
        "<xml><A><![CDATA[微信卡券]]></A></xml>"
    );
}

#[test]
fn encrypts_like_openssl() {
    let c = crypto();
    assert_eq!(c.encrypt_content_with(XML, b"0123456789abcdef"), ENCRYPT);
    assert_eq!(
        c.encrypt_content_with(&"x".repeat(58), &[0; 16]),
        ENCRYPT_FULL_PAD
    );
    assert_eq!(
        c.encrypt_content_with("<xml><A><![CDATA[微信卡券]]></A></xml>", &[0xff; 16]),
        ENCRYPT_UTF8
    );
    // With a random prefix the text differs every time and still decrypts.
    let (a, b) = (c.encrypt_content(XML), c.encrypt_content(XML));
    assert_ne!(a, b);
    assert_eq!(c.decrypt_content(&a).unwrap(), XML);
}

#[test]
fn the_signature_is_checked_before_anything_is_decrypted() {
    let c = crypto();
    let wrong = "0".repeat(40);
    assert_eq!(
        c.decrypt(&wrong, TIMESTAMP, NONCE, ENCRYPT),
        Err(EventError::BadSignature("msg_signature"))
    );
    // Garbage with a wrong signature is refused for its signature, not its base64.
    assert_eq!(
        c.decrypt(&wrong, TIMESTAMP, NONCE, "***not base64***"),
        Err(EventError::BadSignature("msg_signature"))
    );
    // Another timestamp or nonce breaks the signature too.
    assert!(
        c.decrypt(MSG_SIGNATURE, "1700000001", NONCE, ENCRYPT)
            .is_err()
    );
    // Upper-case hex is the same signature.
    assert!(
        c.decrypt(&MSG_SIGNATURE.to_uppercase(), TIMESTAMP, NONCE, ENCRYPT)
            .is_ok()
    );
}

#[test]
fn decryption_failures_are_clear_errors() {
    let c = crypto();
    let signed = |encrypt: &str| {
        c.decrypt(
            &c.signature(TIMESTAMP, NONCE, encrypt),
            TIMESTAMP,
            NONCE,
            encrypt,
        )
    };
    assert_eq!(
        signed(ENCRYPT_OTHER_APPID),
        Err(EventError::WrongAppId {
            expected: APPID.into(),
            found: "wxOTHERAPPID00000".into()
        })
    );
    assert_eq!(signed(ENCRYPT_ZERO_PAD), Err(EventError::BadPadding));
    assert_eq!(signed(ENCRYPT_MIXED_PAD), Err(EventError::BadPadding));
    assert_eq!(signed("%%%%"), Err(EventError::BadBase64));
    // Not a whole number of AES blocks.
    assert_eq!(signed("AAAAAAAA"), Err(EventError::BadPadding));
    assert_eq!(signed(""), Err(EventError::BadPadding));
    // The right ciphertext under another key: padding (almost surely) or content is wrong.
    let other = MessageCrypto::new(TOKEN, "B".repeat(43), APPID).unwrap();
    let err = other.decrypt_content(ENCRYPT).unwrap_err();
    assert!(
        matches!(
            err,
            EventError::BadPadding | EventError::BadContent(_) | EventError::WrongAppId { .. }
        ),
        "{err:?}"
    );
    for e in [EventError::BadPadding, EventError::BadBase64] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn keys_are_checked_and_never_shown() {
    for bad in [
        &EAK[..42],
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!",
        "",
    ] {
        let err = MessageCrypto::new(TOKEN, bad, APPID).unwrap_err();
        assert!(matches!(err, EventError::InvalidKey(_)), "{err:?}");
        if !bad.is_empty() {
            assert!(!err.to_string().contains(bad) && !format!("{err:?}").contains(bad));
        }
    }
    let callback = Callback::with_aes_key(TOKEN, EAK, APPID).unwrap();
    let shown = format!("{callback:?} {:?}", crypto());
    assert!(!shown.contains(EAK) && !shown.contains(TOKEN), "{shown}");
    assert!(shown.contains(APPID));
}

fn query(text: &str) -> CallbackQuery {
    CallbackQuery::parse(text)
}

#[test]
fn callback_receives_the_independent_message() {
    let callback = Callback::with_aes_key(TOKEN, EAK, APPID).unwrap();
    let signature = callback_signature(TOKEN, TIMESTAMP, NONCE);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
    );
    let q = query(&format!(
        "signature={signature}&timestamp={TIMESTAMP}&nonce={NONCE}&openid=oZI8Fj040-be6rlDohc6gkoPOQTQ&encrypt_type=aes&msg_signature={MSG_SIGNATURE}"
    ));
    let message = callback.receive(&q, body.as_bytes()).unwrap();
    assert_eq!(message.event.name(), "user_consume_card");
    assert_eq!(message.from_user_name, "oZI8Fj040-be6rlDohc6gkoPOQTQ");
    // Percent-encoded base64 signatures and `+` survive the query parsing.
    assert_eq!(query("a=1&nonce=x%2By+z").nonce.as_deref(), Some("x+y z"));

    // Missing msg_signature, a wrong `signature`, an encrypted body without a key.
    let without = query(&format!(
        "signature={signature}&timestamp={TIMESTAMP}&nonce={NONCE}&encrypt_type=aes"
    ));
    assert_eq!(
        callback.receive(&without, body.as_bytes()),
        Err(EventError::MissingParameter("msg_signature"))
    );
    let wrong_plain = query(&format!(
        "signature={}&timestamp={TIMESTAMP}&nonce={NONCE}&encrypt_type=aes&msg_signature={MSG_SIGNATURE}",
        "f".repeat(40)
    ));
    assert_eq!(
        callback.receive(&wrong_plain, body.as_bytes()),
        Err(EventError::BadSignature("signature"))
    );
    assert!(matches!(
        Callback::new(TOKEN).receive(&q, body.as_bytes()),
        Err(EventError::NotEncrypted(_))
    ));
    // Compatible mode: the plain elements beside `Encrypt` are read without a key.
    let compatible = XML.replace(
        "</xml>",
        &format!("<Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"),
    );
    let plain = Callback::new(TOKEN)
        .receive(&q, compatible.as_bytes())
        .unwrap();
    assert_eq!(plain, Message::parse(XML).unwrap());
    assert_eq!(callback.receive(&q, compatible.as_bytes()).unwrap(), plain);
    assert!(matches!(
        callback.receive(&q, b"<xml><ToUserName>x</ToUserName></xml>"),
        Err(EventError::NotEncrypted(_))
    ));
}

#[test]
fn plain_callbacks_and_url_checks() {
    let callback = Callback::new(TOKEN);
    let signature = callback_signature(TOKEN, TIMESTAMP, NONCE);
    let q = query(&format!(
        "signature={signature}&timestamp={TIMESTAMP}&nonce={NONCE}&echostr=hello"
    ));
    assert_eq!(callback.verify_url(&q).unwrap(), "hello");
    let message = callback.receive(&q, XML.as_bytes()).unwrap();
    assert_eq!(message.create_time, 1_472_549_042);
    let bad = query(&format!(
        "signature={}&timestamp={TIMESTAMP}&nonce={NONCE}&echostr=hello",
        "0".repeat(40)
    ));
    assert_eq!(
        callback.verify_url(&bad),
        Err(EventError::BadSignature("signature"))
    );
    assert_eq!(
        callback.receive(&query("timestamp=1&nonce=2"), XML.as_bytes()),
        Err(EventError::MissingParameter("signature"))
    );
    assert!(callback.receive(&q, b"\xff\xfe").is_err());
}

/// `signature` covers the token, timestamp and nonce but not the body, so a safe-mode callback
/// refuses a plain body even with a valid `signature` (someone who saw one push's query string
/// could otherwise attach any body to it), unless told to accept plain messages.
#[test]
fn safe_mode_refuses_plain_bodies_unless_told_otherwise() {
    let signature = callback_signature(TOKEN, TIMESTAMP, NONCE);
    let q = query(&format!(
        "signature={signature}&timestamp={TIMESTAMP}&nonce={NONCE}"
    ));
    let safe = Callback::with_aes_key(TOKEN, EAK, APPID).unwrap();
    assert!(matches!(
        safe.receive(&q, XML.as_bytes()),
        Err(EventError::NotEncrypted(_))
    ));
    let relaxed = safe.clone().accept_plain(true);
    assert_eq!(
        relaxed.receive(&q, XML.as_bytes()).unwrap().create_time,
        1_472_549_042
    );
    // Relaxed or not, the signature is still checked.
    let forged = query(&format!(
        "signature={}&timestamp={TIMESTAMP}&nonce={NONCE}",
        "0".repeat(40)
    ));
    assert_eq!(
        relaxed.receive(&forged, XML.as_bytes()),
        Err(EventError::BadSignature("signature"))
    );
    // Plain mode always reads plain messages.
    let plain = Callback::new(TOKEN).accept_plain(false);
    assert!(plain.receive(&q, XML.as_bytes()).is_ok());
}

#[test]
fn push_and_receive_round_trip_in_both_modes() {
    let message = Message::parse(XML).unwrap();
    for callback in [
        Callback::new(TOKEN),
        Callback::with_aes_key(TOKEN, EAK, APPID).unwrap(),
    ] {
        let (q, body) = callback.push(&message, "1700000123", "987654");
        let received = callback.receive(&query(&q), body.as_bytes()).unwrap();
        assert_eq!(received, message);
        if callback.crypto().is_some() {
            assert!(q.contains("encrypt_type=aes") && !body.contains("user_consume_card"));
        }
    }
    // A reply in safe mode decrypts back.
    let reply = crypto().encrypt_reply("<xml><A>1</A></xml>", "17", "n1");
    let fields = EventFields::parse(&reply).unwrap();
    let encrypt = fields.get("Encrypt").unwrap();
    let signature = fields.get("MsgSignature").unwrap();
    assert_eq!(
        crypto().decrypt(signature, "17", "n1", encrypt).unwrap(),
        "<xml><A>1</A></xml>"
    );
}

#[test]
fn malformed_xml_is_an_error() {
    for bad in [
        "",
        "not xml",
        "<xml><ToUserName>a</ToUserName>",
        "<root><A>1</A></root>",
        "<xml><A>1</B></xml>",
        "<xml>text<A>1</A></xml>",
        "<xml><A>1</A></xml><xml/>",
        "<xml><A>&unknown;</A></xml>",
        "<xml><A><![CDATA[x</A></xml>",
    ] {
        assert!(
            matches!(Message::parse(bad), Err(EventError::Xml(_))),
            "{bad:?}: {:?}",
            Message::parse(bad)
        );
    }
    // Well-formed but incomplete or mistyped.
    let missing = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><MsgType>event</MsgType><Event>x</Event></xml>";
    assert_eq!(
        Message::parse(missing),
        Err(EventError::MissingElement {
            event: String::new(),
            element: "CreateTime".into()
        })
    );
    let bad_time = missing.replace("<MsgType>", "<CreateTime>soon</CreateTime><MsgType>");
    assert!(matches!(
        Message::parse(&bad_time),
        Err(EventError::InvalidElement { .. })
    ));
    let bad_number = XML.replace(
        "<ConsumeSource>",
        "<LocationId>north</LocationId><ConsumeSource>",
    );
    let err = Message::parse(&bad_number).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the user_consume_card event's <LocationId> is \"north\", not an integer"
    );
    let no_card = XML.replace(
        "<CardId><![CDATA[pZI8Fj8y-E8hpvho2d1ZvpGwQBvA]]></CardId>",
        "",
    );
    assert_eq!(
        Message::parse(&no_card),
        Err(EventError::MissingElement {
            event: "user_consume_card".into(),
            element: "CardId".into()
        })
    );
}

/// Whatever bytes come in, parsing and decrypting return errors, never panic.
#[test]
fn arbitrary_input_never_panics() {
    let c = crypto();
    let callback = Callback::with_aes_key(TOKEN, EAK, APPID).unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples = [
        XML.as_bytes(),
        ENCRYPT.as_bytes(),
        b"<xml><A><![CDATA[1]]></A></xml>",
    ];
    for round in 0..3000 {
        let mut bytes = samples[round % samples.len()].to_vec();
        for _ in 0..1 + next() % 6 {
            if bytes.is_empty() {
                break;
            }
            let at = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => {
                    bytes.truncate(at);
                }
                _ => bytes.insert(at, b"<>&;]/=+"[(next() % 8) as usize]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Message::parse(&text);
        let _ = EventFields::parse(&text);
        let _ = c.decrypt_content(&text);
        let q = query(&format!(
            "timestamp=1&nonce=2&encrypt_type=aes&msg_signature={}",
            c.signature("1", "2", &text)
        ));
        let _ = callback.receive(&q, &bytes);
    }
}

/// Runs `tests/vectors/event_crypto.py`: Python's `cryptography` derives every constant above
/// again. Without python3 or the package the test fails and says how to get them
/// (`scripts/test.sh`, the README's test command, installs both).
#[test]
fn vectors_agree_with_an_independent_implementation() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/event_crypto.py");
    let output = match std::process::Command::new("python3").arg(script).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "this test needs python3 ({e}): install it with its `cryptography` package \
             (Debian: `apt-get install python3 python3-cryptography`), or run the README's test \
             command, scripts/test.sh, which does"
        ),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok  ")).count(),
        7,
        "{stdout}"
    );
}
