//! The library's log records: one debug record per exchange (endpoint, attempt, duration,
//! errcode), info per token and api_ticket fetch, warn per retry and per renewal with the reason;
//! and no record, of this library or of ureq beneath it, ever holds a secret.
//!
//! The test logger captures every record up to `debug`. ureq's own `trace` records quote the
//! request URL (with the access token) by design; they are ureq's, enabled only by a logger that
//! asks for `trace` on ureq's targets.
#![cfg(feature = "sandbox")]

#[path = "suite/clients/mod.rs"]
mod clients;
#[path = "suite/sandbox_support/mod.rs"]
mod sandbox_support;

use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use sandbox_support::{approved, gift_card};
use wechat_card::GetCodeRequest;
use wechat_card::sandbox::{Fault, Sandbox};

struct Capture(Mutex<Vec<(Level, String, String)>>);

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Debug
    }
    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut records = self.0.lock().unwrap_or_else(|e| e.into_inner());
            records.push((
                record.level(),
                record.target().to_owned(),
                record.args().to_string(),
            ));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn records_tell_what_happened_and_hold_no_secret() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(LevelFilter::Debug);
    // Both clients write the same records.
    clients::each(records_of);
}

fn records_of(flavor: clients::Flavor) {
    CAPTURE.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let sandbox = Sandbox::start().expect("sandbox");
    let client = clients::AnyClient::of(flavor, sandbox.client_builder());
    let card_id = approved(&sandbox, &gift_card(10));
    let code = sandbox.receive_card("o-user", &card_id).unwrap();
    let request = GetCodeRequest::new(code.as_str());
    let mut secrets = vec![sandbox.secret().to_owned()];

    // A call (and the token fetch before it).
    call!(client.get_code(&request)).unwrap();
    secrets.push(client.access_token().unwrap().expose().to_owned());
    // The api_ticket, fetched and then renewed.
    let ticket = client.api_ticket().unwrap();
    secrets.push(ticket.expose().to_owned());
    secrets.push(
        client
            .renew_api_ticket(&ticket)
            .unwrap()
            .expose()
            .to_owned(),
    );
    // System busy once: retried.
    sandbox.fail_next("card/code/get", -1, 1);
    call!(client.get_code(&request)).unwrap();
    // A dropped connection: retried.
    sandbox.drop_next("card/code/get", 1);
    call!(client.get_code(&request)).unwrap();
    // The token expires: renewed, the call sent again.
    sandbox.inject("card/code/get", Fault::ExpireToken, 1);
    call!(client.get_code(&request)).unwrap();
    secrets.push(client.access_token().unwrap().expose().to_owned());

    let records = CAPTURE.0.lock().unwrap().clone();
    let ours: Vec<_> = records
        .iter()
        .filter(|(_, target, _)| target.starts_with("wechat_card"))
        .collect();
    let has = |level: Level, target: &str, needle: &str| {
        ours.iter()
            .any(|(l, t, m)| *l == level && t == target && m.contains(needle))
    };
    let all: Vec<String> = ours
        .iter()
        .map(|(l, t, m)| format!("{l} {t}: {m}"))
        .collect();
    let all = all.join("\n");

    // debug: one record per exchange, with endpoint, attempt, errcode and duration.
    assert!(
        has(
            Level::Debug,
            "wechat_card::call",
            "card/code/get attempt 1: errcode 0 ("
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Debug,
            "wechat_card::call",
            "card/code/get attempt 1: errcode -1 ("
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Debug,
            "wechat_card::call",
            "card/code/get attempt 2: errcode 0 ("
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Debug,
            "wechat_card::call",
            "card/code/get attempt 1: errcode 42001 ("
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Debug,
            "wechat_card::call",
            "cgi-bin/stable_token attempt 1: errcode 0 ("
        ),
        "{all}"
    );
    // info: each token and api_ticket fetch.
    assert!(
        has(
            Level::Info,
            "wechat_card::token",
            "fetched an access token from cgi-bin/stable_token"
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Info,
            "wechat_card::token",
            "fetched the card api_ticket from cgi-bin/ticket/getticket"
        ),
        "{all}"
    );
    // warn: each retry and each renewal, with the reason.
    assert!(
        has(
            Level::Warn,
            "wechat_card::retry",
            "card/code/get: retry 1 of 2 in "
        ) && has(
            Level::Warn,
            "wechat_card::retry",
            "after errcode -1: system error"
        ),
        "{all}"
    );
    assert!(
        ours.iter().any(|(l, t, m)| *l == Level::Warn
            && t == "wechat_card::retry"
            && m.contains("closed the connection")),
        "{all}"
    );
    assert!(
        has(
            Level::Warn,
            "wechat_card::token",
            "renewing the access token: card/code/get answered errcode 42001"
        ),
        "{all}"
    );
    assert!(
        has(
            Level::Warn,
            "wechat_card::token",
            "renewing the card api_ticket"
        ),
        "{all}"
    );

    // No record at all (ours or ureq's) holds a secret or a URL query. (hyper, under the async
    // client, logs through `tracing` only, which this build does not turn on.)
    if flavor == clients::Flavor::Blocking {
        assert!(
            records.len() > ours.len(),
            "ureq's records are captured too"
        );
    }
    for (level, target, message) in &records {
        for secret in &secrets {
            assert!(
                !message.contains(secret.as_str()),
                "a secret in {level} {target}: {message}"
            );
        }
        for leak in ["access_token=", "secret=", "SBX_"] {
            assert!(
                !message.contains(leak),
                "{leak:?} in {level} {target}: {message}"
            );
        }
    }
}
