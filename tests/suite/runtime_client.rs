//! The hand-written runtime over real HTTP on 127.0.0.1: wire format, access tokens, retries,
//! answer decoding, body cap, secrets, connection reuse.
//!
//! Calls go through the escape hatch `Client::call_json` and through `Client::execute` with the
//! spec's endpoint descriptors, so these tests do not depend on any generated method.

use crate::clients::{self, AnyClient, Flavor};
use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use support::{Reply, Server, unused_local_url};
use wechat_card::schema::{self, HttpMethod};
use wechat_card::validate::{self as validate, ValidationError};
use wechat_card::{Client, ClientBuilder, Error, Secret, TokenProvider, TokenSource, Validate};

const TOKEN: &str = "TOKEN-SECRET-123";
const TOKEN_2: &str = "TOKEN-SECRET-456";
const TOKEN_3: &str = "TOKEN-SECRET-789";
const APPID: &str = "wxAPPID0000000001";
const APP_SECRET: &str = "APP-SECRET-0123456789";

const GET_CODE: &str = "card/code/get";
const GET_CODE_PATH: &str = "/card/code/get";
const CONSUME: &str = "card/code/consume";
const CONSUME_PATH: &str = "/card/code/consume";
const STABLE: &str = "/cgi-bin/stable_token";
const CLASSIC: &str = "/cgi-bin/token";

const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

/// A builder for `server` with credentials, fast retries and no proxy.
fn builder(server: &Server) -> ClientBuilder {
    Client::builder()
        .base_url(server.url())
        .credentials(APPID, APP_SECRET)
        .env_proxy(false)
        .retry_backoff(Duration::from_millis(1))
        .timeout(Duration::from_secs(20))
}

/// The client of `flavor` for `server`: the tests of this file run against both clients
/// (`crate::clients`).
fn client(server: &Server, flavor: Flavor) -> AnyClient {
    AnyClient::of(flavor, builder(server))
}

fn post(client: &AnyClient, path: &str, body: &Value, idempotent: bool) -> Result<Value, Error> {
    client.call_json(HttpMethod::Post, path, body, idempotent)
}

fn get_code(client: &AnyClient) -> Result<Value, Error> {
    post(client, GET_CODE, &json!({ "code": "110201201245" }), true)
}

fn consume(client: &AnyClient) -> Result<Value, Error> {
    post(client, CONSUME, &json!({ "code": "110201201245" }), false)
}

/// Every way of printing an error.
fn printed(error: &Error) -> String {
    format!("{error} | {error:?} | {:?}", error.to_string())
}

fn assert_no_secrets(text: &str) {
    for secret in [TOKEN, TOKEN_2, TOKEN_3, APP_SECRET] {
        assert!(!text.contains(secret), "{secret} leaked in: {text}");
    }
    // Nor a recognisable piece of one.
    assert!(!text.contains("SECRET-"), "a secret leaked in: {text}");
}

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Ordered<'a> {
    code: &'a str,
    title: &'a str,
    amount: u32,
}

#[test]
fn post_sends_compact_raw_utf8_json_with_the_token_in_the_query() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(
            GET_CODE_PATH,
            Reply::json(r#"{"errcode":0,"errmsg":"ok","can_consume":true}"#),
        );
        let client = client(&server, flavor);
        let answer: Value = client
            .call_json(
                HttpMethod::Post,
                "/card/code/get",
                &Ordered {
                    code: "110201201245",
                    title: "微信卡券 \"优惠\"",
                    amount: 100,
                },
                true,
            )
            .unwrap();
        assert_eq!(answer["can_consume"], json!(true));

        let calls = server.requests_to(GET_CODE_PATH);
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call.method, "POST");
        assert_eq!(call.raw_query, format!("access_token={TOKEN}"));
        assert_eq!(
            call.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        // Compact, in field order, raw UTF-8 (not \u escapes).
        let expected =
            "{\"code\":\"110201201245\",\"title\":\"微信卡券 \\\"优惠\\\"\",\"amount\":100}";
        assert_eq!(String::from_utf8(call.body.clone()).unwrap(), expected);
        assert!(call.body.windows(3).any(|w| w == "微".as_bytes()));
        assert!(!call.body.windows(2).any(|w| w == b"\\u"));
    });
}

#[test]
fn get_sends_fields_in_the_query_string() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(
            "/cgi-bin/ticket/getticket",
            Reply::json(r#"{"errcode":0,"ticket":"T","expires_in":7200}"#),
        );
        let client = client(&server, flavor);
        let _: Value = client
            .call_json(
                HttpMethod::Get,
                "cgi-bin/ticket/getticket",
                &json!({ "type": "wx_card", "n": 3, "flag": false, "missing": null, "name": "卡 券&=" }),
                true,
            )
            .unwrap();
        let call = &server.requests_to("/cgi-bin/ticket/getticket")[0];
        assert_eq!(call.method, "GET");
        assert!(call.body.is_empty());
        assert_eq!(call.header("content-type"), None);
        let query: Vec<(&str, &str)> = call
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("access_token", TOKEN),
                ("flag", "false"),
                ("n", "3"),
                ("name", "卡 券&="),
                ("type", "wx_card"),
            ]
        );
        assert!(
            call.raw_query
                .starts_with(&format!("access_token={TOKEN}&"))
        );
    });
}

#[test]
fn base_url_with_or_without_trailing_slash() {
    clients::each(|flavor| {
        for suffix in ["", "/", "//"] {
            let server = Server::with_token(TOKEN);
            server.reply(GET_CODE_PATH, Reply::json(OK));
            let client = AnyClient::of(
                flavor,
                builder(&server).base_url(format!("{}{suffix}", server.url())),
            );
            get_code(&client).unwrap();
            assert_eq!(server.count(GET_CODE_PATH), 1, "suffix {suffix:?}");
        }
    });
}

#[test]
fn escape_hatch_rejects_paths_that_are_not_paths() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = client(&server, flavor);
        for bad in ["", "/", "card/get?x=1", "card/get#x", "card get"] {
            let err = post(&client, bad, &json!({}), true).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad:?}: {err:?}");
        }
        assert!(server.requests().is_empty());
    });
}

// ---------------------------------------------------------------------------------------------
// execute(): validation before I/O, the endpoint's method and idempotence
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct CodeRequest {
    code: String,
}

impl Validate for CodeRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::max_bytes("code", &self.code, 20)
    }
}

/// The call descriptor of the spec's endpoint `path`, as a generated method passes it.
fn endpoint(path: &str) -> schema::Call {
    schema::endpoint(path)
        .unwrap_or_else(|| panic!("{path} is in the spec"))
        .call()
}

#[test]
fn execute_validates_before_any_io() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = client(&server, flavor);
        let err = client
            .execute::<_, Value>(
                &endpoint(GET_CODE),
                &CodeRequest {
                    code: "1".repeat(21),
                },
            )
            .unwrap_err();
        let validation = err.as_validation().expect("a validation error");
        assert_eq!(validation.path(), "code");
        assert!(err.surely_not_sent());
        // Not even a token was fetched.
        assert!(server.requests().is_empty());
    });
}

#[test]
fn execute_follows_the_endpoint_idempotence() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply_n(GET_CODE_PATH, 1, Reply::errcode(-1, "system busy"));
        server.reply(
            GET_CODE_PATH,
            Reply::json(r#"{"errcode":0,"errmsg":"ok","openid":"o"}"#),
        );
        server.reply(CONSUME_PATH, Reply::errcode(-1, "system busy"));
        let client = client(&server, flavor);
        let request = CodeRequest {
            code: "110201201245".into(),
        };
        let answer: Value = client.execute(&endpoint(GET_CODE), &request).unwrap();
        assert_eq!(answer["openid"], json!("o"));
        assert_eq!(server.count(GET_CODE_PATH), 2);

        let err = client
            .execute_unit(&endpoint(CONSUME), &request)
            .unwrap_err();
        assert_eq!(err.errcode(), Some(-1));
        assert_eq!(server.count(CONSUME_PATH), 1);
        assert_eq!(
            server.requests_to(CONSUME_PATH)[0].json(),
            json!({"code": "110201201245"})
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn stable_token_request_format() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(GET_CODE_PATH, Reply::json(OK));
        let client = client(&server, flavor);
        get_code(&client).unwrap();
        let fetches = server.requests_to(STABLE);
        assert_eq!(fetches.len(), 1);
        let fetch = &fetches[0];
        assert_eq!(fetch.method, "POST");
        assert_eq!(fetch.raw_query, "");
        assert_eq!(
            String::from_utf8(fetch.body.clone()).unwrap(),
            format!(
                r#"{{"grant_type":"client_credential","appid":"{APPID}","secret":"{APP_SECRET}","force_refresh":false}}"#
            )
        );
        assert_eq!(server.count(CLASSIC), 0);
    });
}

#[test]
fn classic_token_request_format() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(GET_CODE_PATH, Reply::json(OK));
        let client = AnyClient::of(flavor, builder(&server).token_source(TokenSource::Classic));
        get_code(&client).unwrap();
        let fetches = server.requests_to(CLASSIC);
        assert_eq!(fetches.len(), 1);
        assert_eq!(fetches[0].method, "GET");
        let query: Vec<(&str, &str)> = fetches[0]
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("appid", APPID),
                ("grant_type", "client_credential"),
                ("secret", APP_SECRET)
            ]
        );
        assert_eq!(server.count(STABLE), 0);
        assert_eq!(
            server.requests_to(GET_CODE_PATH)[0].query["access_token"],
            TOKEN
        );
    });
}

#[test]
fn token_is_cached_between_calls() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(GET_CODE_PATH, Reply::json(OK));
        let client = client(&server, flavor);
        for _ in 0..5 {
            get_code(&client).unwrap();
        }
        // Clones share the cache.
        get_code(&client.clone()).unwrap();
        assert_eq!(server.count(STABLE), 1);
        assert_eq!(server.count(GET_CODE_PATH), 6);
        assert_eq!(client.access_token().unwrap().expose(), TOKEN);
        assert_eq!(server.count(STABLE), 1);
    });
}

#[test]
fn sixteen_threads_with_an_empty_cache_fetch_one_token() {
    clients::each(|flavor| {
        let server = Server::start();
        // A slow token endpoint, so that all threads are waiting while it answers.
        server.default_reply(
            STABLE,
            Reply::token(TOKEN).delayed(Duration::from_millis(300)),
        );
        server.default_reply(GET_CODE_PATH, Reply::json(OK));
        let client = AnyClient::of(flavor, builder(&server).max_idle_connections(16));
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (client, barrier) = (client.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    get_code(&client)
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        assert_eq!(server.count(STABLE), 1);
        let calls = server.requests_to(GET_CODE_PATH);
        assert_eq!(calls.len(), 16);
        assert!(calls.iter().all(|c| c.query["access_token"] == TOKEN));
    });
}

#[test]
fn token_fetch_failure_is_shared_by_waiting_threads() {
    clients::each(|flavor| {
        let server = Server::start();
        server.default_reply(
            STABLE,
            Reply::errcode(40013, "invalid appid").delayed(Duration::from_millis(300)),
        );
        let client = client(&server, flavor);
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (client, barrier) = (client.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    get_code(&client)
                })
            })
            .collect();
        for thread in threads {
            let err = thread.join().unwrap().unwrap_err();
            assert_eq!(err.errcode(), Some(40013));
            assert_eq!(err.endpoint(), Some("cgi-bin/stable_token"));
        }
        // Threads that arrived while the fetch was under way shared its outcome; threads that
        // arrived after it fetched again. The API itself was never called.
        assert!(server.count(STABLE) <= 8);
        assert_eq!(server.count(GET_CODE_PATH), 0);
    });
}

#[test]
fn token_endpoint_errors_are_api_errors_of_that_endpoint() {
    clients::each(|flavor| {
        for (source, path, endpoint) in [
            (TokenSource::Stable, STABLE, "cgi-bin/stable_token"),
            (TokenSource::Classic, CLASSIC, "cgi-bin/token"),
        ] {
            let server = Server::start();
            server.reply(path, Reply::errcode(40125, "invalid appsecret"));
            let client = AnyClient::of(flavor, builder(&server).token_source(source));
            let err = get_code(&client).unwrap_err();
            let Error::Api(api) = &err else {
                panic!("{err:?}")
            };
            assert_eq!((api.endpoint.as_str(), api.errcode), (endpoint, 40125));
            assert_eq!(api.errmsg, "invalid appsecret");
            assert_eq!(server.count(path), 1, "an API error is not retried");
            assert_eq!(server.count(GET_CODE_PATH), 0);
        }
    });
}

#[test]
fn rejected_token_is_refreshed_once_and_the_call_retried_once() {
    clients::each(|flavor| {
        for errcode in [40001, 40014, 42001] {
            let server = Server::start();
            server.reply(STABLE, Reply::token(TOKEN));
            server.reply(STABLE, Reply::token(TOKEN_2));
            server.reply(CONSUME_PATH, Reply::errcode(errcode, "invalid credential"));
            server.reply(CONSUME_PATH, Reply::json(OK));
            let client = client(&server, flavor);
            // Even a non-idempotent call: WeChat rejected it before running it.
            consume(&client).unwrap();
            let calls = server.requests_to(CONSUME_PATH);
            assert_eq!(calls.len(), 2);
            assert_eq!(calls[0].query["access_token"], TOKEN);
            assert_eq!(calls[1].query["access_token"], TOKEN_2);
            let fetches = server.requests_to(STABLE);
            assert_eq!(fetches.len(), 2);
            assert!(
                fetches
                    .iter()
                    .all(|f| f.json()["force_refresh"] == json!(false))
            );
            // The new token is cached.
            consume(&client).unwrap_err();
            assert_eq!(
                server.requests_to(CONSUME_PATH)[2].query["access_token"],
                TOKEN_2
            );
            assert_eq!(server.count(STABLE), 2);
        }
    });
}

#[test]
fn a_second_token_rejection_is_returned_without_looping() {
    clients::each(|flavor| {
        let server = Server::start();
        server.reply(STABLE, Reply::token(TOKEN));
        server.reply(STABLE, Reply::token(TOKEN_2));
        server.default_reply(GET_CODE_PATH, Reply::errcode(40001, "invalid credential"));
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        assert!(err.is_token_error());
        assert!(!err.is_retryable());
        assert_eq!(err.endpoint(), Some(GET_CODE));
        assert_eq!(server.count(GET_CODE_PATH), 2);
        assert_eq!(server.count(STABLE), 2);
    });
}

#[test]
fn stable_token_force_refresh_when_the_same_token_comes_back() {
    clients::each(|flavor| {
        let server = Server::start();
        // Normal fetches keep answering TOKEN (WeChat's stable token until it expires); a forced
        // one gives TOKEN_2.
        server.reply(STABLE, Reply::token(TOKEN));
        server.reply(STABLE, Reply::token(TOKEN));
        server.reply(STABLE, Reply::token(TOKEN_2));
        server.reply(GET_CODE_PATH, Reply::errcode(40001, "invalid credential"));
        server.reply(GET_CODE_PATH, Reply::json(OK));
        let client = client(&server, flavor);
        get_code(&client).unwrap();

        let fetches = server.requests_to(STABLE);
        let forced: Vec<bool> = fetches
            .iter()
            .map(|f| f.json()["force_refresh"] == json!(true))
            .collect();
        assert_eq!(forced, [false, false, true]);
        let calls = server.requests_to(GET_CODE_PATH);
        assert_eq!(calls[1].query["access_token"], TOKEN_2);

        // Another rejection right away: the normal fetch gives the rejected token again, and
        // forcing is rate-limited (once per minute), so the error is returned.
        server.reply(STABLE, Reply::token(TOKEN_2));
        server.reply(GET_CODE_PATH, Reply::errcode(40001, "invalid credential"));
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        let fetches = server.requests_to(STABLE);
        assert_eq!(fetches.len(), 4);
        assert_eq!(fetches[3].json()["force_refresh"], json!(false));
        // One call with TOKEN_2, no repetition with the same token.
        assert_eq!(server.count(GET_CODE_PATH), 3);
    });
}

#[test]
fn classic_token_never_forces_and_gives_up_on_the_same_token() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(GET_CODE_PATH, Reply::errcode(42001, "access_token expired"));
        let client = AnyClient::of(flavor, builder(&server).token_source(TokenSource::Classic));
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(42001));
        // The token endpoint gave the rejected token again: no second call with it.
        assert_eq!(server.count(CLASSIC), 2);
        assert_eq!(server.count(GET_CODE_PATH), 1);
    });
}

#[test]
fn fixed_token_is_never_refreshed() {
    clients::each(|flavor| {
        let server = Server::start();
        server.reply(GET_CODE_PATH, Reply::json(OK));
        server.reply(GET_CODE_PATH, Reply::errcode(40001, "invalid credential"));
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token(TOKEN)
                .env_proxy(false),
        );
        get_code(&client).unwrap();
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        assert_eq!(server.count(GET_CODE_PATH), 2);
        assert_eq!(server.count(STABLE) + server.count(CLASSIC), 0);
        assert!(
            server
                .requests_to(GET_CODE_PATH)
                .iter()
                .all(|c| c.query["access_token"] == TOKEN)
        );
    });
}

/// A provider that hands out tokens from a list and records invalidations.
struct ListProvider {
    tokens: Mutex<Vec<&'static str>>,
    invalidated: Mutex<Vec<String>>,
    calls: AtomicUsize,
}

impl TokenProvider for ListProvider {
    fn token(&self) -> Result<Secret, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .first()
            .map(|t| Secret::new(*t))
            .ok_or_else(|| Error::Config("no token".into()))
    }

    fn invalidate(&self, rejected: &Secret) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.first() == Some(&rejected.expose()) {
            tokens.remove(0);
        }
        self.invalidated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rejected.expose().to_owned());
    }
}

#[test]
fn token_provider_is_asked_and_told_about_rejections() {
    clients::each(|flavor| {
        let server = Server::start();
        server.reply(CONSUME_PATH, Reply::errcode(40014, "invalid access_token"));
        server.reply(CONSUME_PATH, Reply::json(OK));
        server.reply(CONSUME_PATH, Reply::errcode(40014, "invalid access_token"));
        let provider = Arc::new(ListProvider {
            tokens: Mutex::new(vec![TOKEN, TOKEN_2]),
            invalidated: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        });
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .token_provider(provider.clone())
                .env_proxy(false),
        );
        consume(&client).unwrap();
        let calls = server.requests_to(CONSUME_PATH);
        assert_eq!(calls[0].query["access_token"], TOKEN);
        assert_eq!(calls[1].query["access_token"], TOKEN_2);
        assert_eq!(*provider.invalidated.lock().unwrap(), [TOKEN]);

        // TOKEN_2 rejected and the provider has nothing else: its error is returned.
        let err = consume(&client).unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m == "no token"),
            "{err:?}"
        );
        assert_eq!(*provider.invalidated.lock().unwrap(), [TOKEN, TOKEN_2]);
        assert_eq!(server.count(CONSUME_PATH), 3);
        assert_eq!(server.count(STABLE), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

#[test]
fn system_busy_is_retried_for_an_idempotent_call_a_bounded_number_of_times() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(GET_CODE_PATH, Reply::errcode(-1, "system error"));
        let client = AnyClient::of(flavor, builder(&server).max_retries(3));
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(-1));
        assert!(err.is_retryable());
        assert_eq!(server.count(GET_CODE_PATH), 4);

        // Retries can be switched off.
        let server = Server::with_token(TOKEN);
        server.default_reply(GET_CODE_PATH, Reply::errcode(-1, "system error"));
        let client = AnyClient::of(flavor, builder(&server).max_retries(0));
        get_code(&client).unwrap_err();
        assert_eq!(server.count(GET_CODE_PATH), 1);
    });
}

#[test]
fn system_busy_then_success() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(GET_CODE_PATH, Reply::errcode(-1, "system error"));
        server.reply(GET_CODE_PATH, Reply::errcode(-1, "system error"));
        server.reply(GET_CODE_PATH, Reply::json(r#"{"errcode":0,"openid":"o"}"#));
        let client = client(&server, flavor);
        assert_eq!(get_code(&client).unwrap()["openid"], json!("o"));
        assert_eq!(server.count(GET_CODE_PATH), 3);
    });
}

#[test]
fn system_busy_is_not_retried_for_a_non_idempotent_call() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(CONSUME_PATH, Reply::errcode(-1, "system error"));
        let client = AnyClient::of(flavor, builder(&server).max_retries(5));
        let err = consume(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(-1));
        assert_eq!(server.count(CONSUME_PATH), 1);
    });
}

#[test]
fn other_api_errors_are_never_retried() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(GET_CODE_PATH, Reply::errcode(40056, "invalid serial code"));
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        let Error::Api(api) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (api.endpoint.as_str(), api.errcode, api.errmsg.as_str()),
            (GET_CODE, 40056, "invalid serial code")
        );
        assert_eq!(api.code(), wechat_card::ErrorCode::InvalidSerialCode);
        assert_eq!(err.code(), Some(wechat_card::ErrorCode::InvalidSerialCode));
        // WeChat's errmsg first, then the catalog's meaning (spec/errors.yaml).
        assert_eq!(
            err.to_string(),
            "card/code/get failed: errcode 40056: invalid serial code (The code does not exist for \
             this card, or it was taken over by gifting.)"
        );
        assert!(!err.is_retryable());
        assert_eq!(server.count(GET_CODE_PATH), 1);
    });
}

#[test]
fn operational_errors_say_what_to_check() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(
            GET_CODE_PATH,
            Reply::errcode(
                40164,
                "invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist",
            ),
        );
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.code(), Some(wechat_card::ErrorCode::IpNotWhitelisted));
        let text = err.to_string();
        assert!(
            text.starts_with(
                "card/code/get failed: errcode 40164: invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, \
                 not in whitelist (The calling IP address is not on the account's IP whitelist. Hint: "
            ),
            "{text}"
        );
        assert!(text.contains("IP白名单"), "{text}");
        // A code the catalog lacks keeps WeChat's errmsg alone.
        server.default_reply(GET_CODE_PATH, Reply::errcode(99999, "something new"));
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.code(), Some(wechat_card::ErrorCode::Unknown(99999)));
        assert_eq!(
            err.to_string(),
            "card/code/get failed: errcode 99999: something new"
        );
    });
}

#[test]
fn a_connection_closed_without_answer_on_consume_is_not_retried() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(CONSUME_PATH, Reply::Close);
        server.reply(CONSUME_PATH, Reply::json(OK));
        let client = AnyClient::of(flavor, builder(&server).max_retries(5));
        let err = consume(&client).unwrap_err();
        let Error::Transport(transport) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(transport.endpoint, CONSUME);
        assert!(transport.maybe_sent);
        assert!(err.is_retryable());
        assert!(!err.surely_not_sent());
        // The server saw the request exactly once.
        assert_eq!(server.count(CONSUME_PATH), 1);
        assert_no_secrets(&printed(&err));
    });
}

/// Every call whose repetition could change state twice is marked `idempotent: false` in the
/// spec, and its typed method sends it once whatever happens: neither `-1` (system busy) nor a
/// connection closed without an answer leads to a second request. Each such endpoint of
/// [`schema::ENDPOINTS`] is called with its first documented example request that passes the
/// client's checks.
#[test]
#[cfg(feature = "tooling")]
fn state_changing_calls_are_never_sent_twice() {
    clients::each(|flavor| {
        let mut covered = Vec::new();
        for info in schema::ENDPOINTS.iter().filter(|e| !e.idempotent) {
            let path = info.path;
            let hooks = wechat_card::tooling::hooks(info);
            let requests: Vec<Value> = if info.request.is_none() {
                vec![json!({})]
            } else {
                info.examples
                    .iter()
                    .filter_map(|e| e.request)
                    .map(|r| serde_json::from_str(r).expect("example request"))
                    .collect()
            };
            let request = requests
                .into_iter()
                .find(|r| (hooks.check_request)(r).is_ok())
                .unwrap_or_else(|| {
                    panic!("{path}: no documented example request passes the checks")
                });
            let route = format!("/{path}");
            for reply in [Reply::errcode(-1, "system busy"), Reply::Close] {
                let server = Server::with_token(TOKEN);
                server.reply(&route, reply);
                server.default_reply(&route, Reply::json(OK));
                let client = AnyClient::of(
                    flavor,
                    builder(&server)
                        .component_token("COMPONENT-TOKEN")
                        .max_retries(5),
                );
                let Err(err) = client.invoke(info, &request) else {
                    panic!("{path} was sent {} times", server.count(&route));
                };
                assert!(
                    err.errcode() == Some(-1)
                        || matches!(
                            err,
                            wechat_card::tooling::HookError::Call(Error::Transport(_))
                        ),
                    "{path}: {err:?}"
                );
                assert_eq!(server.count(&route), 1, "{path} was sent again after {err}");
            }
            covered.push(path);
        }
        // The calls that must never be repeated are among them.
        for path in [
            "card/code/consume",
            "card/modifystock",
            "card/code/update",
            "card/code/unavailable",
            "card/delete",
        ] {
            assert!(
                covered.contains(&path),
                "{path} must be `idempotent: false`"
            );
        }
    });
}

#[test]
fn a_connection_closed_without_answer_is_retried_for_an_idempotent_call() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(GET_CODE_PATH, Reply::Close);
        server.reply(GET_CODE_PATH, Reply::Close);
        server.reply(GET_CODE_PATH, Reply::json(r#"{"errcode":0,"openid":"o"}"#));
        let client = client(&server, flavor);
        assert_eq!(get_code(&client).unwrap()["openid"], json!("o"));
        assert_eq!(server.count(GET_CODE_PATH), 3);

        // Bounded: the default is two retries.
        server.default_reply(GET_CODE_PATH, Reply::Close);
        let err = get_code(&client).unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        assert_eq!(server.count(GET_CODE_PATH), 6);
    });
}

#[test]
fn an_html_error_page_is_a_decode_error_retried_only_when_idempotent() {
    clients::each(|flavor| {
        let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        for (idempotent, expected_attempts) in [(true, 3), (false, 1)] {
            let server = Server::with_token(TOKEN);
            server.default_reply(GET_CODE_PATH, Reply::html(502, page));
            let client = client(&server, flavor);
            let err = post(&client, GET_CODE, &json!({"code": "1"}), idempotent).unwrap_err();
            let Error::Decode(decode) = &err else {
                panic!("{err:?}")
            };
            assert_eq!(decode.status, 502);
            assert_eq!(decode.endpoint, GET_CODE);
            assert_eq!(decode.excerpt, page);
            assert!(err.to_string().contains("HTTP 502"), "{err}");
            assert!(err.is_retryable());
            assert_eq!(server.count(GET_CODE_PATH), expected_attempts);
        }
    });
}

#[test]
fn a_5xx_with_a_wechat_errcode_is_an_api_error() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(
            GET_CODE_PATH,
            Reply::status_json(
                503,
                r#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#,
            ),
        );
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        assert_eq!(err.errcode(), Some(45009));
        assert_eq!(server.count(GET_CODE_PATH), 1);
    });
}

#[test]
fn a_redirect_is_not_followed() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(
            GET_CODE_PATH,
            Reply::Answer {
                status: 302,
                content_type: "text/html",
                body: b"moved".to_vec(),
            },
        );
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        assert!(
            matches!(&err, Error::Decode(d) if d.status == 302),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        assert_eq!(server.count(GET_CODE_PATH), 1);
    });
}

/// A consume against `base_url`, where nothing can reach a server: the error must say so
/// (surely not sent, so retried even for this non-idempotent endpoint) and hold no secret.
fn consume_that_cannot_be_sent(flavor: Flavor, base_url: &str) -> Error {
    let client = AnyClient::of(
        flavor,
        Client::builder()
            .base_url(base_url)
            .fixed_token(TOKEN)
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(1)),
    );
    let err = consume(&client).unwrap_err();
    let Error::Transport(transport) = &err else {
        panic!("{err:?}")
    };
    assert!(!transport.maybe_sent, "{err:?}");
    assert!(err.surely_not_sent());
    assert_eq!(transport.endpoint, CONSUME);
    assert_no_secrets(&printed(&err));
    err
}

#[test]
fn a_refused_connection_surely_did_not_send() {
    clients::each(|flavor| {
        // Not idempotent, but nothing reached a server, so retrying is safe and allowed.
        consume_that_cannot_be_sent(flavor, &unused_local_url());
    });
}

#[test]
fn a_failed_dns_lookup_surely_did_not_send() {
    clients::each(|flavor| {
        // Names under .invalid never resolve (RFC 6761); the client fails them without asking any
        // DNS server, so this test needs no network.
        let err = consume_that_cannot_be_sent(flavor, "http://no-such-host.invalid");
        assert!(err.is_retryable());
        let Error::Transport(transport) = &err else {
            unreachable!("checked above")
        };
        assert!(transport.message.contains("DNS"), "{err}");
    });
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

#[test]
fn an_oversized_answer_is_a_decode_error() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let big = format!(r#"{{"errcode":0,"blob":"{}"}}"#, "x".repeat(64 * 1024));
        server.reply(GET_CODE_PATH, Reply::json(big.clone()));
        server.reply(GET_CODE_PATH, Reply::json(big));
        let client = AnyClient::of(flavor, builder(&server).max_response_bytes(1024));
        let err = get_code(&client).unwrap_err();
        let Error::Decode(decode) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(decode.status, 200);
        assert!(decode.message.contains("1024"), "{}", decode.message);
        assert!(!err.is_retryable());
        assert_eq!(server.count(GET_CODE_PATH), 1);

        // Just under the cap is fine.
        let server = Server::with_token(TOKEN);
        let body = format!(r#"{{"errcode":0,"blob":"{}"}}"#, "x".repeat(1000));
        server.reply(GET_CODE_PATH, Reply::json(body.clone()));
        let client = AnyClient::of(
            flavor,
            builder(&server).max_response_bytes(body.len() as u64),
        );
        assert_eq!(
            get_code(&client).unwrap()["blob"].as_str().unwrap().len(),
            1000
        );
    });
}

#[test]
fn malformed_answers_are_decode_errors_with_a_bounded_excerpt() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let long = format!("not json {}", "微".repeat(500));
        server.reply(GET_CODE_PATH, Reply::json(long));
        server.reply(GET_CODE_PATH, Reply::json("[1,2,3]"));
        server.reply(GET_CODE_PATH, Reply::json(""));
        let client = client(&server, flavor);
        for _ in 0..3 {
            let err = get_code(&client).unwrap_err();
            let Error::Decode(decode) = &err else {
                panic!("{err:?}")
            };
            assert_eq!(decode.status, 200);
            assert!(
                decode.excerpt.len() <= 256 + '…'.len_utf8(),
                "{}",
                decode.excerpt.len()
            );
        }
        assert_eq!(server.count(GET_CODE_PATH), 3);
    });
}

#[test]
fn typed_answers_decode_and_shape_errors_are_reported() {
    clients::each(|flavor| {
        #[derive(serde::Deserialize, Debug)]
        struct Answer {
            can_consume: bool,
        }
        let server = Server::with_token(TOKEN);
        server.reply(
            GET_CODE_PATH,
            Reply::json(r#"{"errcode":0,"errmsg":"ok","can_consume":true,"new_field":[1]}"#),
        );
        server.reply(
            GET_CODE_PATH,
            Reply::json(r#"{"errcode":0,"can_consume":"yes"}"#),
        );
        let client = client(&server, flavor);
        let body = json!({"code": "1"});
        let answer: Answer = client
            .call_json(HttpMethod::Post, GET_CODE, &body, true)
            .unwrap();
        assert!(answer.can_consume);
        let err = client
            .call_json::<_, Answer>(HttpMethod::Post, GET_CODE, &body, true)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Decode(d) if d.status == 200),
            "{err:?}"
        );
        assert_eq!(
            server.count(GET_CODE_PATH),
            2,
            "a shape error is not retried"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn secrets_never_appear_in_errors_or_debug_output() {
    clients::each(|flavor| {
        let mut printed_errors = Vec::new();

        // Api: WeChat's message echoes the token and the secret.
        let server = Server::with_token(TOKEN);
        server.reply(
            GET_CODE_PATH,
            Reply::errcode(40056, &format!("bad code for {TOKEN} / {APP_SECRET}")),
        );
        let client = client(&server, flavor);
        let err = get_code(&client).unwrap_err();
        assert!(matches!(err, Error::Api(_)));
        printed_errors.push(printed(&err));

        // Decode: a body that echoes the token, the secret and the URL.
        let echo = format!(
            r#"<html>GET /card/code/get?access_token={TOKEN_3}&x=1 secret={APP_SECRET} {TOKEN}</html>"#
        );
        server.reply(GET_CODE_PATH, Reply::html(500, echo));
        let err = AnyClient::of(flavor, builder(&server).max_retries(0));
        let err = get_code(&err).unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
        printed_errors.push(printed(&err));

        // Decode on the token endpoint itself: the answer carries a token the client never saw.
        let token_server = Server::start();
        token_server.reply(
            STABLE,
            Reply::json(format!(
                r#"{{"access_token":"{TOKEN_2}","expires_in":"soon"}}"#
            )),
        );
        let err = get_code(&client_for(&token_server, flavor)).unwrap_err();
        assert!(
            matches!(&err, Error::Decode(d) if d.endpoint == "cgi-bin/stable_token"),
            "{err:?}"
        );
        printed_errors.push(printed(&err));

        // Api on the token endpoint.
        token_server.reply(
            STABLE,
            Reply::errcode(40125, &format!("invalid appsecret {APP_SECRET}")),
        );
        let err = get_code(&client_for(&token_server, flavor)).unwrap_err();
        assert_eq!(err.errcode(), Some(40125));
        printed_errors.push(printed(&err));

        // Transport: an unreachable port, and a connection closed without answer.
        let unreachable = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(unused_local_url())
                .fixed_token(TOKEN)
                .env_proxy(false)
                .max_retries(0),
        );
        let err = get_code(&unreachable).unwrap_err();
        assert!(matches!(err, Error::Transport(_)));
        printed_errors.push(printed(&err));
        let unreachable_credentials = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(unused_local_url())
                .credentials(APPID, APP_SECRET)
                .token_source(TokenSource::Classic)
                .env_proxy(false)
                .max_retries(0),
        );
        let err = get_code(&unreachable_credentials).unwrap_err();
        assert!(matches!(err, Error::Transport(_)));
        printed_errors.push(printed(&err));
        server.reply(GET_CODE_PATH, Reply::Close);
        let err = consume_like_get_code(&client).unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        printed_errors.push(printed(&err));

        // Validation.
        let err = client
            .execute::<_, Value>(
                &endpoint(GET_CODE),
                &CodeRequest {
                    code: "x".repeat(30),
                },
            )
            .unwrap_err();
        printed_errors.push(printed(&err));

        // Config.
        let err = Client::builder()
            .fixed_token(TOKEN)
            .credentials(APPID, APP_SECRET)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        printed_errors.push(printed(&err));
        let err = Client::builder()
            .base_url(format!("http://{TOKEN}:99999999/?access_token={TOKEN}"))
            .fixed_token(TOKEN)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        printed_errors.push(printed(&err));

        for text in &printed_errors {
            assert_no_secrets(text);
        }

        // Client and builder.
        let builder_with_everything = builder(&server).fixed_token(TOKEN);
        assert_no_secrets(&format!("{builder_with_everything:?}"));
        assert_no_secrets(&client.debug());
        assert_no_secrets(&format!("{:?}", client.access_token().unwrap()));
        assert!(client.debug().contains(APPID));
    });
}

fn client_for(server: &Server, flavor: Flavor) -> AnyClient {
    AnyClient::of(flavor, builder(server).max_retries(0))
}

/// `card/code/get` as a non-idempotent call, so a closed connection is not retried.
fn consume_like_get_code(client: &AnyClient) -> Result<Value, Error> {
    post(client, GET_CODE, &json!({"code": "1"}), false)
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn builder_rejects_bad_configurations() {
    clients::each(|flavor| {
        let cases: Vec<(&str, ClientBuilder)> = vec![
            ("no token source", Client::builder()),
            (
                "two token sources",
                Client::builder()
                    .fixed_token(TOKEN)
                    .credentials(APPID, APP_SECRET),
            ),
            (
                "token_source without credentials",
                Client::builder()
                    .fixed_token(TOKEN)
                    .token_source(TokenSource::Classic),
            ),
            ("empty secret", Client::builder().credentials(APPID, "")),
            ("empty fixed token", Client::builder().fixed_token("")),
            (
                "no scheme",
                Client::builder()
                    .fixed_token(TOKEN)
                    .base_url("api.weixin.qq.com"),
            ),
            (
                "ftp",
                Client::builder()
                    .fixed_token(TOKEN)
                    .base_url("ftp://127.0.0.1"),
            ),
            (
                "query",
                Client::builder()
                    .fixed_token(TOKEN)
                    .base_url("http://127.0.0.1/?a=b"),
            ),
            (
                "zero timeout",
                Client::builder().fixed_token(TOKEN).timeout(Duration::ZERO),
            ),
        ];
        for (name, builder) in cases {
            let err = builder.build().unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{name}: {err:?}");
            assert!(!err.is_retryable());
        }
        let client = AnyClient::of(flavor, Client::builder().fixed_token(TOKEN));
        assert_eq!(client.base_url(), "https://api.weixin.qq.com");
    });
}

#[test]
fn client_is_send_sync_clone_and_static() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Client>();
    check::<ClientBuilder>();
    fn check_error<T: Send + Sync + std::error::Error + 'static>() {}
    check_error::<Error>();
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

#[test]
fn sequential_calls_reuse_one_connection() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(GET_CODE_PATH, Reply::json(OK));
        server.default_reply(CONSUME_PATH, Reply::json(OK));
        let client = client(&server, flavor);
        for _ in 0..10 {
            get_code(&client).unwrap();
            consume(&client).unwrap();
        }
        // The token fetch and the 20 calls, all on one connection.
        assert_eq!(server.requests().len(), 21);
        assert_eq!(server.connections(), 1);
        assert!(server.requests().iter().all(|r| r.connection == 0));
    });
}

/// ureq probes a pooled connection before reusing it: one the server closed while idle is
/// replaced by a new connection before anything is written, so even a non-idempotent call goes
/// out exactly once and succeeds.
#[test]
fn an_idle_connection_the_server_closed_is_replaced_before_sending() {
    clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(CONSUME_PATH, Reply::json(OK).then_close());
        server.reply(CONSUME_PATH, Reply::json(OK));
        let client = client(&server, flavor);
        consume(&client).unwrap();
        assert!(server.wait_closed(1));
        consume(&client).unwrap();
        assert_eq!(server.count(CONSUME_PATH), 2);
        assert_eq!(server.connections(), 2);
    });
}
