//! Bounded work on pushed events: the body cap comes before any parsing, the `Encrypt` element is
//! found without building a tree, `msg_signature` is checked before the decrypted XML is parsed,
//! and a parse's peak memory stays within a small multiple of the body.
//!
//! The memory is measured in a child process (this test binary, run again for one case) from
//! the kernel's peak resident set size (`VmHWM` in `/proc/self/status`, reset through
//! `/proc/self/clear_refs`): the crate forbids `unsafe`, so a counting allocator is not an
//! option, and a child process keeps other tests' threads out of the figure.

#![cfg(feature = "events")]

use wechat_card::CardEvent;
use wechat_card::events::{
    Callback, CallbackQuery, DEFAULT_MAX_BODY, EventError, MAX_ELEMENTS, Message,
    callback_signature,
};

const TOKEN: &str = "my-token";
const EAK: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx1234567890abcdef";
const TIMESTAMP: &str = "1700000000";
const NONCE: &str = "42";

fn plain_query() -> CallbackQuery {
    CallbackQuery::parse(&format!(
        "signature={}&timestamp={TIMESTAMP}&nonce={NONCE}",
        callback_signature(TOKEN, TIMESTAMP, NONCE)
    ))
}

fn safe_query(msg_signature: &str) -> CallbackQuery {
    CallbackQuery::parse(&format!(
        "signature={}&timestamp={TIMESTAMP}&nonce={NONCE}&encrypt_type=aes&msg_signature={msg_signature}",
        callback_signature(TOKEN, TIMESTAMP, NONCE)
    ))
}

fn safe() -> Callback {
    Callback::with_aes_key(TOKEN, EAK, APPID).expect("valid key")
}

const HEADER: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\
    <FromUserName><![CDATA[o-user]]></FromUserName><CreateTime>1700000000</CreateTime>\
    <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_del_card]]></Event>\
    <CardId><![CDATA[pCard]]></CardId><UserCardCode><![CDATA[12312312]]></UserCardCode>";

/// A message of exactly `size` bytes: the header, then `<a/>` elements (and spaces to fill).
fn small_elements(size: usize) -> String {
    let mut body = String::with_capacity(size);
    body.push_str(HEADER);
    while body.len() + 4 + 6 <= size {
        body.push_str("<a/>");
    }
    while body.len() + 6 < size {
        body.push(' ');
    }
    body.push_str("</xml>");
    assert_eq!(body.len(), size);
    body
}

/// A message of about `size` bytes with `count` extra elements of equal length.
fn wide_elements(size: usize, count: usize) -> String {
    let each = (size - HEADER.len() - 6) / count;
    let filler = "x".repeat(each - "<Extra></Extra>".len());
    let mut body = String::with_capacity(size);
    body.push_str(HEADER);
    for _ in 0..count {
        body.push_str("<Extra>");
        body.push_str(&filler);
        body.push_str("</Extra>");
    }
    body.push_str("</xml>");
    body
}

#[test]
fn the_body_cap_comes_first() {
    assert_eq!(DEFAULT_MAX_BODY, 64 * 1024);
    // One byte over the cap: refused, whatever the body holds, even with a bad signature.
    let over = small_elements(DEFAULT_MAX_BODY + 1);
    let bad = CallbackQuery::parse("signature=x&timestamp=1&nonce=2&encrypt_type=aes");
    for callback in [Callback::new(TOKEN), safe()] {
        for query in [plain_query(), bad.clone()] {
            assert_eq!(
                callback.receive(&query, over.as_bytes()),
                Err(EventError::TooLarge {
                    size: DEFAULT_MAX_BODY + 1,
                    limit: DEFAULT_MAX_BODY
                })
            );
        }
    }
    let err = Callback::new(TOKEN)
        .open(&plain_query(), over.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the pushed body is 65537 bytes, more than the limit of 65536 bytes"
    );
    // Not even UTF-8 is looked at.
    let junk = vec![0xffu8; DEFAULT_MAX_BODY + 1];
    assert!(matches!(
        Callback::new(TOKEN).open(&plain_query(), &junk),
        Err(EventError::TooLarge { .. })
    ));

    // At the cap: read (and refused for its element count, not its size).
    let at = small_elements(DEFAULT_MAX_BODY);
    match Callback::new(TOKEN).receive(&plain_query(), at.as_bytes()) {
        Err(EventError::Xml(message)) => {
            assert!(message.contains(&format!("more than {MAX_ELEMENTS} elements")))
        }
        other => panic!("{other:?}"),
    }

    // The cap is configurable both ways.
    let wide = wide_elements(200_000, 100);
    assert!(matches!(
        Callback::new(TOKEN).receive(&plain_query(), wide.as_bytes()),
        Err(EventError::TooLarge { .. })
    ));
    let message = Callback::new(TOKEN)
        .max_body(1 << 20)
        .receive(&plain_query(), wide.as_bytes())
        .expect("within a raised cap");
    assert!(matches!(message.event, CardEvent::UserDelCard(_)));
    assert_eq!(message.extra.len(), 100);
    let short = Callback::new(TOKEN).max_body(100);
    assert!(matches!(
        short.receive(&plain_query(), HEADER.as_bytes()),
        Err(EventError::TooLarge { limit: 100, .. })
    ));
}

#[test]
fn element_count_is_bounded() {
    // Exactly MAX_ELEMENTS children: read; one more: refused.
    let mut xml = String::from(HEADER);
    let header_elements = 7;
    for _ in header_elements..MAX_ELEMENTS {
        xml.push_str("<a/>");
    }
    let at = format!("{xml}</xml>");
    let message = Message::parse(&at).expect("at the bound");
    assert_eq!(message.extra.len(), MAX_ELEMENTS - header_elements);
    let over = format!("{xml}<a>1</a></xml>");
    assert!(matches!(Message::parse(&over), Err(EventError::Xml(m)) if m.contains("1024")));
}

#[test]
fn msg_signature_is_checked_before_the_decrypted_xml_is_parsed() {
    let callback = safe();
    // A well-formed envelope whose Encrypt decrypts to garbage: with a wrong msg_signature the
    // answer is about the signature, not about what the decryption would give.
    let crypto = callback.crypto().expect("safe mode");
    let encrypt = crypto.encrypt_content("<xml><not closed");
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    assert_eq!(
        callback.receive(&safe_query("0000"), body.as_bytes()),
        Err(EventError::BadSignature("msg_signature"))
    );
    // With the right one, the XML is parsed (and found malformed).
    let good = crypto.signature(TIMESTAMP, NONCE, &encrypt);
    assert!(matches!(
        callback.receive(&safe_query(&good), body.as_bytes()),
        Err(EventError::Xml(_))
    ));
    // Plain elements beside Encrypt are never parsed before the signature check: a malformed
    // tail after the Encrypt element fails the streaming read itself, before any decryption.
    let broken = format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><A><B></A></xml>");
    assert!(matches!(
        callback.receive(&safe_query(&good), broken.as_bytes()),
        Err(EventError::Xml(_))
    ));
}

#[test]
fn compatible_mode_without_a_key_checks_the_signature_first() {
    let crypto = safe().crypto().expect("safe mode").clone();
    let encrypt = crypto.encrypt_content("<xml/>");
    let body = format!("{HEADER}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
    let plain = Callback::new(TOKEN);
    let message = plain
        .receive(&plain_query(), body.as_bytes())
        .expect("compatible mode");
    assert!(matches!(message.event, CardEvent::UserDelCard(_)));
    let bad = CallbackQuery::parse("signature=00&timestamp=1&nonce=2");
    assert_eq!(
        plain.receive(&bad, body.as_bytes()),
        Err(EventError::BadSignature("signature"))
    );
}

// ---------------------------------------------------------------------------------------------
// Peak memory, measured in a child process
// ---------------------------------------------------------------------------------------------

/// The environment variable that makes this binary run one measurement and print it.
const CASE_VAR: &str = "WECHAT_CARD_EVENT_MEMORY_CASE";

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The body, query and callback of `case` for a body of about `size` bytes.
fn build_case<'a>(
    case: &str,
    size: usize,
    plain: &'a Callback,
    safe: &'a Callback,
) -> (String, CallbackQuery, &'a Callback) {
    let crypto = safe.crypto().expect("safe mode").clone();
    match case {
        // 16 thousand `<a/>`: refused at the element bound.
        "plain-small-elements" => (small_elements(size), plain_query(), plain),
        // 1000 elements of ~60 bytes: accepted, each kept in `extra`.
        "plain-wide-elements" => (
            wide_elements(size, (size / 64).min(1000)),
            plain_query(),
            plain,
        ),
        // One large element: accepted.
        "plain-one-element" => (wide_elements(size, 1), plain_query(), plain),
        // Small elements beside an Encrypt, at a safe-mode callback with a wrong msg_signature.
        "safe-small-elements" => {
            let mut body = small_elements(size - 60);
            body.insert_str(5, "<Encrypt><![CDATA[AAAAAAAAAAAAAAAA]]></Encrypt>");
            (body, safe_query("00"), safe)
        }
        // A valid safe-mode message whose decrypted XML is 11/16 of the size (44 KiB) in small
        // elements.
        "safe-valid" => {
            let xml = small_elements(size * 11 / 16);
            let encrypt = crypto.encrypt_content(&xml);
            let body = format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
            let signature = crypto.signature(TIMESTAMP, NONCE, &encrypt);
            (body, safe_query(&signature), safe)
        }
        other => panic!("unknown case {other}"),
    }
}

/// Runs one case in this process (the child): builds its body, resets the peak, parses, and
/// prints the growth of the peak resident set in bytes.
///
/// The case is first parsed once at a sixteenth of its size, so that the code it runs is paged
/// in before the peak is reset: the resident set also counts the pages of the executable that a
/// parse touches for the first time (about 1.5 MiB of a debug build of the whole suite, one
/// binary), which say nothing about the body. The warm-up's heap is smaller than the case's and
/// freed, so the measured parse still allocates what it needs.
fn measure(case: &str) {
    let plain = Callback::new(TOKEN);
    let safe = safe();
    let (body, query, callback) = build_case(case, DEFAULT_MAX_BODY / 16, &plain, &safe);
    drop(callback.receive(&query, body.as_bytes()));
    drop((body, query));
    let (body, query, callback) = build_case(case, DEFAULT_MAX_BODY, &plain, &safe);
    // Reset the peak to the current resident set (Linux 4.0+); if that is not allowed the
    // child's peak so far (a fresh process, one test) is the baseline.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmHWM:").expect("VmHWM in /proc/self/status");
    let result = callback.receive(&query, body.as_bytes());
    let after = status_kib("VmHWM:").expect("VmHWM in /proc/self/status");
    let outcome = match &result {
        Ok(message) => format!("ok:{}", message.extra.len()),
        Err(e) => format!("err:{e}"),
    };
    drop(result);
    println!(
        "MEASURED {} {} {outcome}",
        body.len(),
        (after.saturating_sub(before)) * 1024
    );
}

#[test]
fn parse_peak_memory_is_a_small_multiple_of_the_body() {
    if let Ok(case) = std::env::var(CASE_VAR) {
        measure(&case);
        return;
    }
    if status_kib("VmHWM:").is_none() {
        eprintln!("no /proc/self/status here: peak memory not measured");
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    for case in [
        "plain-small-elements",
        "plain-wide-elements",
        "plain-one-element",
        "safe-small-elements",
        "safe-valid",
    ] {
        let output = std::process::Command::new(&exe)
            .args([
                "--exact",
                "event_limits::parse_peak_memory_is_a_small_multiple_of_the_body",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASE_VAR, case)
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{case}: {stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("MEASURED ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("{case}: no measurement in {stdout}"));
        let mut parts = line.splitn(3, ' ');
        let body: u64 = parts.next().and_then(|p| p.parse().ok()).expect("body");
        let peak: u64 = parts.next().and_then(|p| p.parse().ok()).expect("peak");
        let outcome = parts.next().unwrap_or_default();
        eprintln!("{case}: body {body} bytes, peak +{peak} bytes ({outcome})");
        // 1 MiB for a 64 KiB body: at most 16 times the body.
        assert!(
            peak <= 1 << 20,
            "{case}: parsing a {body}-byte body raised the peak by {peak} bytes ({outcome})"
        );
        match case {
            "plain-wide-elements" => assert_eq!(outcome, "ok:1000"),
            "plain-one-element" => assert_eq!(outcome, "ok:1"),
            "safe-small-elements" => assert!(outcome.contains("msg_signature"), "{outcome}"),
            "safe-valid" => assert!(outcome.contains("1024 elements"), "{outcome}"),
            _ => assert!(outcome.starts_with("err:"), "{outcome}"),
        }
    }
}
