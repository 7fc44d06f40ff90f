//! Odd token and ticket lifetimes and panicking token sources never panic the client nor leave
//! a thread blocked: an `expires_in` near `i64::MAX` is clamped to a day, a negative one is taken
//! as zero, and a panicking `TokenProvider` fails every call that needs it with an error.

use crate::clients::{AnyClient, Flavor};
use crate::support;

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use support::{Reply, Server};
use wechat_card::{Client, Error, GetCardMerchantRequest, GetCodeRequest, Secret, TokenProvider};

const TOKEN: &str = "TOKEN-SECRET-123";
const TICKET: &str = "TICKET-SECRET-abc";
const THREADS: usize = 16;
/// Only a guard against a hang: the threads are expected back at once.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn client(server: &Server, flavor: Flavor) -> AnyClient {
    AnyClient::of(
        flavor,
        Client::builder()
            .base_url(server.url())
            .credentials("wxAPPID0000000001", "APP-SECRET-0123456789")
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(1)),
    )
}

/// Runs `call` on `THREADS` threads started together; every result, or a failure naming the
/// threads that never came back.
fn on_threads<T: Send + 'static>(
    call: impl Fn() -> Result<T, Error> + Send + Sync + 'static,
) -> Vec<Result<T, Error>> {
    let call = Arc::new(call);
    let barrier = Arc::new(Barrier::new(THREADS));
    let (tx, rx) = mpsc::channel();
    for _ in 0..THREADS {
        let (call, barrier, tx) = (call.clone(), barrier.clone(), tx.clone());
        std::thread::spawn(move || {
            barrier.wait();
            // A panic drops `tx` without sending: counted as missing below.
            let _ = tx.send(call());
        });
    }
    drop(tx);
    let mut results = Vec::new();
    while results.len() < THREADS {
        match rx.recv_timeout(HANG_GUARD) {
            Ok(r) => results.push(r),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{} of {THREADS} threads still blocked",
                THREADS - results.len()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{} of {THREADS} threads panicked", THREADS - results.len())
            }
        }
    }
    results
}

fn token_answer(expires_in: &str) -> Reply {
    Reply::json(format!(
        r#"{{"access_token":"{TOKEN}","expires_in":{expires_in}}}"#
    ))
}

#[test]
fn a_huge_token_lifetime_is_clamped_not_a_panic() {
    crate::clients::each(|flavor| {
        for expires_in in [
            "1000000000000000000",
            "9223372036854775807",
            "9223372036854775000",
        ] {
            let server = Server::start();
            server.default_reply(
                "/cgi-bin/stable_token",
                token_answer(expires_in).delayed(Duration::from_millis(50)),
            );
            let client = client(&server, flavor);
            let c = client.clone();
            for result in on_threads(move || c.access_token()) {
                assert_eq!(result.unwrap().expose(), TOKEN, "expires_in {expires_in}");
            }
            // Cached (for at most a day), not fetched again.
            assert_eq!(client.access_token().unwrap().expose(), TOKEN);
            assert_eq!(server.count("/cgi-bin/stable_token"), 1, "{expires_in}");
        }
    });
}

#[test]
fn a_negative_token_lifetime_is_used_once_then_fetched_again() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        server.default_reply(
            "/cgi-bin/stable_token",
            token_answer("-9223372036854775808"),
        );
        let client = client(&server, flavor);
        assert_eq!(client.access_token().unwrap().expose(), TOKEN);
        assert_eq!(client.access_token().unwrap().expose(), TOKEN);
        assert_eq!(server.count("/cgi-bin/stable_token"), 2);
    });
}

#[test]
fn a_huge_ticket_lifetime_is_clamped_not_a_panic() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(
            "/cgi-bin/ticket/getticket",
            Reply::json(format!(
                r#"{{"errcode":0,"errmsg":"ok","ticket":"{TICKET}","expires_in":{}}}"#,
                i64::MAX
            ))
            .delayed(Duration::from_millis(50)),
        );
        let client = client(&server, flavor);
        let c = client.clone();
        for result in on_threads(move || c.api_ticket()) {
            assert_eq!(result.unwrap().expose(), TICKET);
        }
        assert_eq!(client.api_ticket().unwrap().expose(), TICKET);
        assert_eq!(server.count("/cgi-bin/ticket/getticket"), 1);
    });
}

/// A provider that panics on every call, after a pause that lets the threads pile up.
struct Panicking;

impl TokenProvider for Panicking {
    fn token(&self) -> Result<Secret, Error> {
        std::thread::sleep(Duration::from_millis(20));
        panic!("provider bug");
    }

    fn invalidate(&self, _rejected: &Secret) {
        panic!("provider bug");
    }
}

fn assert_provider_error(results: Vec<Result<Secret, Error>>) {
    assert_eq!(results.len(), THREADS);
    for result in results {
        match result {
            Err(Error::Config(message)) => assert!(message.contains("panicked"), "{message}"),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
}

#[test]
fn a_panicking_token_provider_fails_every_call_with_an_error() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .token_provider(Arc::new(Panicking))
                .env_proxy(false),
        );
        let c = client.clone();
        assert_provider_error(on_threads(move || c.access_token()));
        // An API call too, before anything is sent.
        let c = client.clone();
        let results = on_threads(move || {
            crate::call!(c.get_code(&GetCodeRequest::new("123")))?;
            Ok(Secret::new("unreachable"))
        });
        assert_provider_error(results);
        assert!(server.requests().is_empty());
        // The ticket needs the token: its waiters are not stranded either.
        let c = client.clone();
        assert_provider_error(on_threads(move || c.api_ticket()));
    });
}

#[test]
fn a_panicking_component_token_provider_fails_with_an_error() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .credentials("wxAPPID0000000001", "APP-SECRET-0123456789")
                .component_token_provider(Arc::new(Panicking))
                .env_proxy(false),
        );
        let c = client.clone();
        let results = on_threads(move || {
            crate::call!(c.get_card_merchant(&GetCardMerchantRequest::new("wx1")))?;
            Ok(Secret::new("unreachable"))
        });
        assert_provider_error(results);
        assert!(
            server
                .requests_to("/cgi-bin/component/get_card_merchant")
                .is_empty()
        );
    });
}
