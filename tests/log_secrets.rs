//! Secrets in log records (issue 10 item 3).
//!
//! ureq writes the request line (with `?access_token=…`) and hex dumps of what it sends and
//! receives at TRACE; nothing the library can configure or wrap keeps it from doing so (the
//! line is formatted before any transport sees it). The README says which targets do this and
//! gives the filter line. This test installs a logger that captures every record and checks:
//!
//! 1. at DEBUG and below (every target), no record holds the access token, the app secret or
//!    the api_ticket, nor a 6-character piece of one;
//! 2. at TRACE with the README's filter (`ureq=debug,ureq_proto=debug`), the same;
//! 3. at TRACE without a filter, the only records that hold a secret come from the targets the
//!    README names (`ureq` and `ureq_proto`).
//!
//! One test function: the logger is global to the process.

#[path = "suite/support/mod.rs"]
mod support;

use std::sync::Mutex;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use serde_json::{Value, json};
use support::{Reply, Server};
use wechat_card::schema::HttpMethod;
use wechat_card::{Client, Error, TokenSource};

const TOKEN: &str = "Tk7q9ZxW3vBn5Lm2Pd8R";
const APP_SECRET: &str = "Sx4Jh6Kq1Wz8Nc3Vb5Gy";
const TICKET: &str = "Kt2Mn7Bv4Cx9Zl1Qw6Hf";
const APPID: &str = "wxAPPID0000000001";

/// Captured records: target, level, text.
static RECORDS: Mutex<Vec<(String, Level, String)>> = Mutex::new(Vec::new());
/// The filter: a default level and per-target-prefix levels (longest prefix wins), as
/// `env_logger`'s `RUST_LOG=<default>,<target>=<level>,…` reads.
static FILTER: Mutex<(LevelFilter, Vec<(&'static str, LevelFilter)>)> =
    Mutex::new((LevelFilter::Off, Vec::new()));

struct Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let filter = FILTER.lock().unwrap_or_else(|e| e.into_inner());
        let level = filter
            .1
            .iter()
            .filter(|(prefix, _)| {
                metadata.target() == *prefix
                    || metadata
                        .target()
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with("::"))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(filter.0, |(_, level)| *level);
        metadata.level() <= level
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            RECORDS.lock().unwrap_or_else(|e| e.into_inner()).push((
                record.target().to_owned(),
                record.level(),
                record.args().to_string(),
            ));
        }
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

fn set_filter(default: LevelFilter, targets: &[(&'static str, LevelFilter)]) {
    *FILTER.lock().unwrap_or_else(|e| e.into_inner()) = (default, targets.to_vec());
    RECORDS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

fn take_records() -> Vec<(String, Level, String)> {
    std::mem::take(&mut *RECORDS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Which secret a record shows, whole or as a 6-character piece (hex dumps cut lines every 16
/// bytes).
fn leaked(text: &str) -> Option<&'static str> {
    [TOKEN, APP_SECRET, TICKET].into_iter().find(|secret| {
        secret
            .as_bytes()
            .windows(6)
            .any(|piece| text.contains(std::str::from_utf8(piece).unwrap_or("\u{0}")))
    })
}

/// Everything that sends or receives a secret: both token grants (the classic one puts the app
/// secret in the URL, stable_token in the body), the api_ticket, calls with the token in the
/// query (POST and GET), WeChat's errors and a body that cannot be decoded.
fn exercise() {
    let server = Server::with_token(TOKEN);
    server.default_reply(
        "/cgi-bin/ticket/getticket",
        Reply::json(
            json!({ "errcode": 0, "errmsg": "ok", "ticket": TICKET, "expires_in": 7200 })
                .to_string(),
        ),
    );
    server.reply("/card/x", Reply::json(r#"{"errcode":0,"errmsg":"ok"}"#));
    server.reply(
        "/card/x",
        Reply::errcode(40056, &format!("invalid code {TOKEN}")),
    );
    server.reply("/card/x", Reply::html(502, format!("<p>{TOKEN}</p>")));
    server.reply("/card/y", Reply::json(r#"{"errcode":0}"#));
    for source in [TokenSource::Stable, TokenSource::Classic] {
        let client = Client::builder()
            .base_url(server.url())
            .credentials(APPID, APP_SECRET)
            .token_source(source)
            .env_proxy(false)
            .max_retries(0)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        assert_eq!(client.access_token().expect("token").expose(), TOKEN);
        assert_eq!(client.api_ticket().expect("ticket").expose(), TICKET);
        if source == TokenSource::Stable {
            let post = |body: Value| {
                client.call_json::<_, Value>(HttpMethod::Post, "card/x", &body, false)
            };
            post(json!({ "code": "1" })).expect("ok");
            assert_eq!(post(json!({})).unwrap_err().errcode(), Some(40056));
            assert!(matches!(post(json!({})), Err(Error::Decode(_))));
            let _: Value = client
                .call_json(HttpMethod::Get, "card/y", &json!({ "a": 1 }), true)
                .expect("get");
        }
    }
}

#[test]
fn secrets_stay_out_of_log_records() {
    log::set_logger(&LOGGER).expect("the only logger of this binary");
    log::set_max_level(LevelFilter::Trace);

    // 1. DEBUG and below, every target.
    for level in [
        LevelFilter::Debug,
        LevelFilter::Info,
        LevelFilter::Warn,
        LevelFilter::Error,
    ] {
        set_filter(level, &[]);
        exercise();
        let records = take_records();
        if level == LevelFilter::Debug {
            // The logger did see ureq's records (the request line, masked).
            assert!(
                records.iter().any(|(target, _, text)| target.starts_with("ureq")
                    && text.contains("/******")),
                "no ureq request line captured: {records:?}"
            );
        }
        for (target, record_level, text) in &records {
            assert_eq!(
                leaked(text),
                None,
                "at {level}: {target} {record_level}: {text}"
            );
        }
    }

    // 2. TRACE with the README's filter line.
    set_filter(
        LevelFilter::Trace,
        &[
            ("ureq", LevelFilter::Debug),
            ("ureq_proto", LevelFilter::Debug),
        ],
    );
    exercise();
    let records = take_records();
    assert!(!records.is_empty());
    for (target, level, text) in &records {
        assert_eq!(
            leaked(text),
            None,
            "filtered TRACE: {target} {level}: {text}"
        );
    }

    // 3. TRACE everywhere: only the targets the README names print secrets.
    set_filter(LevelFilter::Trace, &[]);
    exercise();
    let mut leaking: Vec<(String, Level)> = take_records()
        .into_iter()
        .filter(|(_, _, text)| leaked(text).is_some())
        .map(|(target, level, _)| (target, level))
        .collect();
    leaking.sort();
    leaking.dedup();
    for (target, level) in &leaking {
        assert!(
            target == "ureq" || target.starts_with("ureq::") || target.starts_with("ureq_proto"),
            "{target} at {level} prints a secret; the README names only ureq and ureq_proto"
        );
    }
    eprintln!("targets that print a secret at TRACE: {leaking:?}");
}
