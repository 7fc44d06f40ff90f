//! A token endpoint and API answers that misbehave (issue 18): a token too long for any URL,
//! envelopes with numeric-string, duplicate or non-UTF-8 fields, and a broken token endpoint
//! that the client must not hammer. Counts, not durations.

use crate::clients::{AnyClient, Flavor};
use crate::support;

use std::time::{Duration, Instant};

use support::{Reply, Server};
use wechat_card::{Client, ConsumeCodeRequest, Error, FIRST_FAILURE_PAUSE, GetCodeRequest};

const STABLE: &str = "/cgi-bin/stable_token";
const TICKET: &str = "/cgi-bin/ticket/getticket";
const SECRET: &str = "APP-SECRET-0123456789";

fn client(server: &Server, flavor: Flavor) -> AnyClient {
    AnyClient::of(
        flavor,
        Client::builder()
            .base_url(server.url())
            .credentials("wxAPPID0000000001", SECRET)
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(1)),
    )
}

fn bytes(body: &[u8]) -> Reply {
    Reply::Answer {
        status: 200,
        content_type: "application/json; charset=utf-8",
        body: body.to_vec(),
    }
}

#[test]
fn a_token_longer_than_512_characters_is_refused_and_never_cached() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        let long = "A".repeat(1 << 20);
        server.reply(STABLE, Reply::token(&long));
        server.default_reply(STABLE, Reply::token("GOOD-TOKEN"));
        server.default_reply("/card/code/get", Reply::errcode(40056, "invalid code"));
        let client = client(&server, flavor);
        let err = client.access_token().unwrap_err();
        let Error::Decode(e) = &err else {
            panic!("not a decode error: {err:?}")
        };
        assert!(e.message.contains("access_token"), "{err}");
        assert!(e.message.contains("512"), "{err}");
        assert!(e.message.contains("1048576"), "{err}");
        assert!(!err.to_string().contains("AAAAAAAAAA"), "{err}");
        // Not cached: the next call fetches again (one failure does not pause the next fetch) and gets the good token; calls work.
        assert_eq!(client.access_token().unwrap().expose(), "GOOD-TOKEN");
        for _ in 0..5 {
            match crate::call!(client.get_code(&GetCodeRequest::new("000000000000"))) {
                Err(Error::Api(e)) => assert_eq!(e.errcode, 40056),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(server.count(STABLE), 2);
    });
}

#[test]
fn a_ticket_longer_than_512_characters_or_with_spaces_is_refused() {
    crate::clients::each(|flavor| {
        for bad in ["T".repeat(513), "TICKET WITH SPACE".to_owned()] {
            let server = Server::with_token("GOOD-TOKEN");
            server.reply(
                TICKET,
                Reply::json(
                    serde_json::json!({"errcode": 0, "errmsg": "ok", "ticket": bad, "expires_in": 7200})
                        .to_string(),
                ),
            );
            let err = client(&server, flavor).api_ticket().unwrap_err();
            assert!(matches!(err, Error::Decode(_)), "{err:?}");
            assert!(err.to_string().contains("ticket"), "{err}");
            assert!(!err.to_string().contains(&bad), "{err}");
        }
    });
}

#[test]
fn errcode_as_a_numeric_string_is_that_code() {
    crate::clients::each(|flavor| {
        let server = Server::with_token("GOOD-TOKEN");
        server.reply(
            "/card/code/get",
            Reply::json(r#"{"errcode":"40099","errmsg":"code consumed"}"#),
        );
        match {
            let c = client(&server, flavor);
            crate::call!(c.get_code(&GetCodeRequest::new("000000000000")))
        } {
            Err(Error::Api(e)) => {
                assert_eq!(e.errcode, 40099);
                assert_eq!(e.errmsg, "code consumed");
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_duplicate_errcode_or_errmsg_is_refused_never_success() {
    crate::clients::each(|flavor| {
        for body in [
            r#"{"errcode":40099,"errmsg":"code consumed","errcode":0}"#,
            r#"{"errcode":0,"errmsg":"ok","errmsg":"ok","openid":"o1","card":{"card_id":"c"}}"#,
            r#"{"errcode":"0","errcode":"0","errmsg":"ok"}"#,
        ] {
            let server = Server::with_token("GOOD-TOKEN");
            server.reply("/card/code/consume", Reply::json(body));
            let result = {
                let c = client(&server, flavor);
                crate::call!(c.consume_code(&ConsumeCodeRequest::new("123456789012")))
            };
            let err = match result {
                Ok(answer) => panic!("{body} read as success: {answer:?}"),
                Err(e) => e,
            };
            let Error::Decode(e) = &err else {
                panic!("{body}: {err:?}")
            };
            assert!(e.message.contains("duplicate"), "{body}: {err}");
            assert!(
                e.message.contains("errcode") || e.message.contains("errmsg"),
                "{err}"
            );
        }
    });
}

#[test]
fn an_errmsg_with_invalid_utf8_is_read_lossily() {
    crate::clients::each(|flavor| {
        let server = Server::with_token("GOOD-TOKEN");
        server.reply(
            "/card/code/get",
            bytes(b"{\"errcode\":40099,\"errmsg\":\"bad \xff\xfe code\"}"),
        );
        match {
            let c = client(&server, flavor);
            crate::call!(c.get_code(&GetCodeRequest::new("000000000000")))
        } {
            Err(Error::Api(e)) => {
                assert_eq!(e.errcode, 40099);
                assert_eq!(e.errmsg, "bad \u{fffd}\u{fffd} code");
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn expires_in_as_a_numeric_string_is_that_lifetime() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        server.default_reply(
            STABLE,
            Reply::json(r#"{"access_token":"GOOD-TOKEN","expires_in":"7200"}"#),
        );
        let client = client(&server, flavor);
        for _ in 0..50 {
            assert_eq!(client.access_token().unwrap().expose(), "GOOD-TOKEN");
        }
        assert_eq!(server.count(STABLE), 1);
    });
}

#[test]
fn envelope_errors_say_what_was_wrong() {
    crate::clients::each(|flavor| {
        for (body, says) in [
            (r#"[1,2]"#, "not a JSON object"),
            (r#"{"errcode":"forty","errmsg":"x"}"#, "errcode"),
            (r#"{"errcode":1.5,"errmsg":"x"}"#, "errcode"),
            (r#"{"errcode":40001,"errmsg":7}"#, "errmsg"),
            (r#"{"errcode":40001"#, "not valid JSON"),
        ] {
            let server = Server::with_token("GOOD-TOKEN");
            server.reply("/card/code/get", Reply::json(body));
            let err = {
                let c = client(&server, flavor);
                crate::call!(c.get_code(&GetCodeRequest::new("000000000000")))
            }
            .unwrap_err();
            let Error::Decode(e) = &err else {
                panic!("{body}: {err:?}")
            };
            assert!(e.message.contains(says), "{body}: {}", e.message);
        }
    });
}

/// Runs 100 calls against a token endpoint that always answers `reply`: the requests it got
/// and the bound the back-off allows: two failed fetches of up to `attempts` requests each, then
/// one per pause, the pause being at least one second (`wechat_card::FIRST_FAILURE_PAUSE`).
fn hammer(flavor: Flavor, reply: Reply, attempts: usize) -> (usize, usize) {
    let server = Server::start();
    server.default_reply(STABLE, reply);
    let client = client(&server, flavor);
    let started = Instant::now();
    let mut last = None;
    for _ in 0..100 {
        let err = crate::call!(client.get_code(&GetCodeRequest::new("000000000000"))).unwrap_err();
        if let Some(last) = &last {
            assert_eq!(&err.to_string(), last, "callers get the last fetch error");
        }
        last = Some(err.to_string());
    }
    let fetches =
        2 + usize::try_from(started.elapsed().as_millis() / FIRST_FAILURE_PAUSE.as_millis())
            .unwrap();
    (server.count(STABLE), fetches * attempts)
}

#[test]
fn failed_token_fetches_back_off() {
    crate::clients::each(|flavor| {
        // An unusable answer (not retried: one request per fetch), and system busy (-1), which
        // each fetch retries: 3 requests per fetch.
        let (unusable, unusable_bound) =
            hammer(flavor, Reply::json(r#"{"errcode":0,"errmsg":"ok"}"#), 1);
        let (busy, busy_bound) = hammer(flavor, Reply::errcode(-1, "system busy"), 3);
        eprintln!("token requests in 100 calls: {unusable} (unusable answer), {busy} (errcode -1)");
        assert!(
            unusable <= unusable_bound,
            "{unusable} (bound {unusable_bound})"
        );
        assert!(busy <= busy_bound, "{busy} (bound {busy_bound})");
    });
}
