//! The card api_ticket over real HTTP on 127.0.0.1: always `type=wx_card`, cached, one fetch at
//! a time, refreshed ahead of `expires_in`, fetched again after a token rejection, and never
//! shown in errors or `Debug`.

use crate::clients::{AnyClient, Flavor};
use crate::support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{Reply, Server};
use wechat_card::signature::{CardExt, sha1_sorted};
use wechat_card::{Client, Error};

const TOKEN: &str = "TOKEN-SECRET-123";
const TOKEN_2: &str = "TOKEN-SECRET-456";
const TICKET: &str = "TICKET-SECRET-abc";
const TICKET_2: &str = "TICKET-SECRET-def";
const PATH: &str = "/cgi-bin/ticket/getticket";

fn ticket(ticket: &str, expires_in: i64) -> Reply {
    Reply::json(
        serde_json::json!({ "errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": expires_in })
            .to_string(),
    )
}

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

#[test]
fn fetches_the_wx_card_ticket_once() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(PATH, ticket(TICKET, 7200));
        let client = client(&server, flavor);
        for _ in 0..5 {
            assert_eq!(client.api_ticket().unwrap().expose(), TICKET);
        }
        let calls = server.requests_to(PATH);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "GET");
        assert_eq!(
            calls[0].query.get("type").map(String::as_str),
            Some("wx_card")
        );
        assert_eq!(
            calls[0].query.get("access_token").map(String::as_str),
            Some(TOKEN)
        );
    });
}

#[test]
fn one_fetch_however_many_threads_wait() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(
            PATH,
            ticket(TICKET, 7200).delayed(Duration::from_millis(100)),
        );
        let client = client(&server, flavor);
        client.access_token().unwrap();
        let barrier = Arc::new(Barrier::new(12));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (client, barrier) = (client.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    client.api_ticket()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap().expose(), TICKET);
        }
        assert_eq!(server.count(PATH), 1);
    });
}

/// A ticket is cached while fresh and fetched again once its refresh time has come. The refresh
/// time itself (ahead of expiry: `refresh_margin`, at most half the lifetime) is unit-tested in
/// `src/token.rs` with a set clock; here no timing window is asserted: a 2-second ticket is
/// asked for until the next one comes (the 60-second deadline only guards against a hang), and
/// exactly one more fetch has been made, whatever the machine's load.
#[test]
fn refreshed_ahead_of_expiry() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(PATH, ticket(TICKET, 2));
        server.default_reply(PATH, ticket(TICKET_2, 7200));
        let client = client(&server, flavor);
        assert_eq!(client.api_ticket().unwrap().expose(), TICKET);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let current = client.api_ticket().unwrap();
            if current.expose() == TICKET_2 {
                break;
            }
            assert_eq!(current.expose(), TICKET);
            // Each call while the first ticket is fresh is answered from the cache.
            assert_eq!(server.count(PATH), 1);
            assert!(
                Instant::now() < deadline,
                "the 2-second ticket was never refreshed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(server.count(PATH), 2);
        // The 7200-second ticket is cached in turn.
        for _ in 0..5 {
            assert_eq!(client.api_ticket().unwrap().expose(), TICKET_2);
        }
        assert_eq!(server.count(PATH), 2);
    });
}

#[test]
fn a_rejected_token_is_renewed_and_the_ticket_fetched_again() {
    crate::clients::each(|flavor| {
        let server = Server::start();
        server.reply("/cgi-bin/stable_token", Reply::token(TOKEN));
        server.default_reply("/cgi-bin/stable_token", Reply::token(TOKEN_2));
        server.reply(PATH, Reply::errcode(42001, "access_token expired"));
        server.default_reply(PATH, ticket(TICKET, 7200));
        let client = client(&server, flavor);
        assert_eq!(client.api_ticket().unwrap().expose(), TICKET);
        let calls = server.requests_to(PATH);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[1].query.get("access_token").map(String::as_str),
            Some(TOKEN_2)
        );
    });
}

#[test]
fn renewal_after_wechat_rejects_a_signature() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(PATH, ticket(TICKET, 7200));
        server.default_reply(PATH, ticket(TICKET_2, 7200));
        let client = client(&server, flavor);
        let first = client.api_ticket().unwrap();
        let fresh = client.renew_api_ticket(&first).unwrap();
        assert_eq!(fresh.expose(), TICKET_2);
        // A thread that still holds the old ticket does not throw the fresh one away.
        assert_eq!(client.renew_api_ticket(&first).unwrap().expose(), TICKET_2);
        assert_eq!(client.api_ticket().unwrap().expose(), TICKET_2);
        assert_eq!(server.count(PATH), 2);
        let signed = client
            .sign_card_ext(&CardExt::new("pCard").timestamp(7).nonce_str("n"))
            .unwrap();
        assert_eq!(
            signed.signature,
            sha1_sorted(&[TICKET_2, "7", "pCard", "n"])
        );
    });
}

#[test]
fn failures_are_errors_without_the_ticket() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.reply(
            PATH,
            Reply::json(r#"{"errcode":0,"errmsg":"ok","ticket":""}"#),
        );
        let client = client(&server, flavor);
        assert!(matches!(client.api_ticket(), Err(Error::Decode(_))));

        server.reply(
            PATH,
            Reply::errcode(45009, "reach max api daily quota limit"),
        );
        assert_eq!(client.api_ticket().unwrap_err().errcode(), Some(45009));

        // Once cached, the ticket is masked in any later error, even one that quotes it.
        server.reply(PATH, ticket(TICKET, 7200));
        let ticket = client.api_ticket().unwrap();
        server.reply(
            "/card/code/get",
            Reply::errcode(40097, &format!("invalid args {TICKET}")),
        );
        let err =
            crate::call!(client.get_code(&wechat_card::GetCodeRequest::new("1"))).unwrap_err();
        let shown = format!("{err} {err:?} {client:?} {ticket:?}");
        assert!(!shown.contains(TICKET), "{shown}");
        assert!(shown.contains("invalid args ***"), "{shown}");

        // The typed endpoint's answer keeps the ticket a Secret too.
        server.reply(PATH, self::ticket(TICKET_2, 7200));
        let answer = crate::call!(
            client.get_api_ticket(&wechat_card::GetApiTicketRequest::new(
                wechat_card::ApiTicketType::WxCard,
            ))
        )
        .unwrap();
        assert_eq!(answer.ticket.expose(), TICKET_2);
        assert!(!format!("{answer:?}").contains(TICKET_2));
    });
}

#[test]
fn choose_card_needs_the_appid() {
    crate::clients::each(|flavor| {
        let server = Server::with_token(TOKEN);
        server.default_reply(PATH, ticket(TICKET, 7200));
        let fixed = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token(TOKEN)
                .env_proxy(false),
        );
        let choose = wechat_card::signature::ChooseCard::new();
        assert!(matches!(
            fixed.sign_choose_card(&choose),
            Err(Error::Config(_))
        ));
        let with_appid = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .fixed_token(TOKEN)
                .appid("wxAPPID0000000002")
                .env_proxy(false),
        );
        let params = with_appid
            .sign_choose_card(&choose.timestamp(3).nonce_str("x"))
            .unwrap();
        assert_eq!(
            params.card_sign,
            sha1_sorted(&[TICKET, "wxAPPID0000000002", "3", "x"])
        );
        // An appid that contradicts the credentials is refused.
        assert!(
            Client::builder()
                .credentials("wxA", "secret")
                .appid("wxB")
                .build()
                .is_err()
        );
    });
}
