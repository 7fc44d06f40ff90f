//! Transport failures read in plain words, name the client's setting that decided them, and keep
//! ureq's error as the `source()`. No test here asserts on wall-clock time.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use std::error::Error as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use wechat_card::sandbox::Sandbox;
use wechat_card::{Client, Error, GetCardRequest};

#[test]
fn a_slow_answer_names_the_clients_timeout() {
    crate::clients::each(|flavor| {
        let sandbox = Sandbox::start().expect("sandbox");
        let client = AnyClient::of(
            flavor,
            sandbox
                .client_builder()
                .timeout(Duration::from_millis(1500))
                .max_retries(0),
        );
        client.access_token().unwrap();
        sandbox.delay_next("card/get", Duration::from_secs(5), 1);
        let err = crate::call!(client.get_card(&GetCardRequest::new("p-none"))).unwrap_err();
        let Error::Transport(transport) = &err else {
            panic!("expected a transport error, got {err:?}")
        };
        // The server sends nothing at all: the wait for the answer is one read, limited by
        // `timeout`.
        assert_eq!(
            err.to_string(),
            "card/get: the server sent nothing for 1.5 s (the client's timeout)"
        );
        assert!(transport.maybe_sent);
        if client.flavor() == crate::clients::Flavor::Blocking {
            let source = err.source().expect("ureq's error as the source");
            assert!(
                matches!(
                    source.downcast_ref::<ureq::Error>(),
                    Some(ureq::Error::Timeout(_))
                ),
                "{source:?}"
            );
        }
    });
}

#[test]
fn a_refused_connection_says_so() {
    crate::clients::each(|flavor| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(format!("http://{addr}"))
                .fixed_token("token-not-in-messages")
                .env_proxy(false)
                .max_retries(0),
        );
        let err = crate::call!(client.get_card(&GetCardRequest::new("p-none"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("card/get: ")
                && (text.contains("refused the connection") || text.contains("no connection")),
            "{text}"
        );
        assert!(err.surely_not_sent(), "{err:?}");
        assert!(err.source().is_some(), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("token-not-in-messages"));
    });
}

/// A server that keeps sending, one byte at a time, never finishing its answer: each read gets
/// data in time, and the exchange as a whole is cut at `timeout` plus 1 %.
#[test]
fn an_answer_that_never_ends_is_cut_by_the_exchange_deadline() {
    crate::clients::each(|flavor| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // The request head, up to its blank line (the body is not needed).
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                line.clear();
            }
            let mut stream = stream;
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            // A byte every 10 ms, until the client hangs up (bounded, should it never).
            for _ in 0..2000 {
                std::thread::sleep(Duration::from_millis(10));
                if stream
                    .write_all(b" ")
                    .and_then(|()| stream.flush())
                    .is_err()
                {
                    return;
                }
            }
        });
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(format!("http://{addr}"))
                .fixed_token("token-not-in-messages")
                .env_proxy(false)
                .timeout(Duration::from_millis(400))
                .max_retries(0),
        );
        let err = crate::call!(client.get_card(&GetCardRequest::new("p-none"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "card/get: no complete answer within 404 ms (the client's timeout, plus 1 %)"
        );
        let Error::Transport(transport) = &err else {
            panic!("expected a transport error, got {err:?}")
        };
        assert!(transport.maybe_sent);
        drop(client);
        server.join().unwrap();
    });
}
