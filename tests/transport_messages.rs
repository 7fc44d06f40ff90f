//! Transport failures read in plain words, name the client's setting that decided them, and keep
//! ureq's error as the `source()`. No test here asserts on wall-clock time.
#![cfg(feature = "sandbox")]

use std::error::Error as _;
use std::net::TcpListener;
use std::time::Duration;

use wechat_card::sandbox::Sandbox;
use wechat_card::{Client, Error, GetCardRequest};

#[test]
fn a_slow_answer_names_the_clients_timeout() {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = sandbox
        .client_builder()
        .timeout(Duration::from_millis(1500))
        .max_retries(0)
        .build()
        .unwrap();
    client.access_token().unwrap();
    sandbox.delay_next("card/get", Duration::from_secs(5), 1);
    let err = client.get_card(&GetCardRequest::new("p-none")).unwrap_err();
    let Error::Transport(transport) = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert_eq!(
        err.to_string(),
        "card/get: no complete answer within 1.5 s (the client's timeout)"
    );
    assert!(transport.maybe_sent);
    let source = err.source().expect("ureq's error as the source");
    assert!(
        matches!(
            source.downcast_ref::<ureq::Error>(),
            Some(ureq::Error::Timeout(_))
        ),
        "{source:?}"
    );
}

#[test]
fn a_refused_connection_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .base_url(format!("http://{addr}"))
        .fixed_token("token-not-in-messages")
        .env_proxy(false)
        .max_retries(0)
        .build()
        .unwrap();
    let err = client.get_card(&GetCardRequest::new("p-none")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("card/get: ")
            && (text.contains("refused the connection") || text.contains("no connection")),
        "{text}"
    );
    assert!(err.surely_not_sent(), "{err:?}");
    assert!(err.source().is_some(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("token-not-in-messages"));
}
