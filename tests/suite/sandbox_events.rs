//! The sandbox pushes card events to a registered callback, plain or encrypted, and the client's
//! api_ticket and signatures work against it. A small HTTP listener on 127.0.0.1 plays the
//! merchant's server and checks every push with `events::Callback`, as a handler would.
#![cfg(all(feature = "sandbox", feature = "events"))]

use crate::sandbox_support;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, RwLock, mpsc};
use std::time::Duration;

use sandbox_support::gift_card;
use wechat_card::events::{Callback, CallbackQuery, Message};
use wechat_card::sandbox::Sandbox;
use wechat_card::signature::{CardExt, ChooseCard, sha1_sorted};
use wechat_card::{CardEvent, ConsumeCodeRequest, ConsumeSource};

const TOKEN: &str = "sandbox-callback-token";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// One request the listener received.
struct Push {
    query: String,
    body: Vec<u8>,
}

/// A listener answering every request with `success`; pushes arrive on the channel.
fn listener() -> (String, mpsc::Receiver<Push>) {
    listener_gated(Arc::new(RwLock::new(())))
}

/// A listener that puts each push on the channel as soon as it has read it, and answers it
/// with `success` only while nobody holds `gate` for writing: a callback as slow as a test
/// wants.
fn listener_gated(gate: Arc<RwLock<()>>) -> (String, mpsc::Receiver<Push>) {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wechat/callback", socket.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in socket.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            let gate = gate.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some((target, body)) = sandbox_support::read_request(&mut reader) {
                    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
                    let _ = tx.send(Push {
                        query: query.to_owned(),
                        body,
                    });
                    drop(gate.read().unwrap_or_else(|p| p.into_inner()));
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: text/plain\r\n\r\nsuccess",
                    );
                }
            });
        }
    });
    (url, rx)
}

fn next(rx: &mpsc::Receiver<Push>) -> Push {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("an event within 10 seconds")
}

fn receive(callback: &Callback, push: &Push) -> Message {
    callback
        .receive(&CallbackQuery::parse(&push.query), &push.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&push.body)))
}

/// Every kind of push, in the order things happen, through `callback`.
fn run_scenario(sandbox: &Sandbox, callback: &Callback, rx: &mpsc::Receiver<Push>) {
    let client = sandbox.client().unwrap();
    let card_id = sandbox.add_card(&gift_card(10)).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    let m = receive(callback, &next(rx));
    assert!(matches!(&m.event, CardEvent::CardPassCheck(e) if e.card_id == card_id));
    assert!(m.to_user_name.starts_with("gh_"));
    assert_eq!(m.create_time, sandbox.now());

    let code = sandbox.receive_card("o-alice", &card_id).unwrap();
    let m = receive(callback, &next(rx));
    assert_eq!(m.from_user_name, "o-alice");
    let CardEvent::UserGetCard(get) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(get.user_card_code.as_deref(), Some(code.as_str()));
    assert_eq!(get.is_give_by_friend, Some(0));

    client
        .consume_code(&ConsumeCodeRequest::new(code.as_str()))
        .unwrap();
    let m = receive(callback, &next(rx));
    let CardEvent::UserConsumeCard(consume) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(consume.consume_source, Some(ConsumeSource::Api));
    assert_eq!(consume.user_card_code.as_deref(), Some(code.as_str()));

    let code = sandbox.receive_card("o-alice", &card_id).unwrap();
    let _ = next(rx);
    sandbox.gift_code(&code).unwrap();
    let friend_code = sandbox.accept_gift(&code, "o-bob").unwrap();
    let m = receive(callback, &next(rx));
    let CardEvent::UserGiftingCard(gift) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(m.from_user_name, "o-alice");
    assert_eq!(gift.friend_user_name.as_deref(), Some("o-bob"));
    assert_eq!(gift.is_return_back, Some(0));
    let m = receive(callback, &next(rx));
    let CardEvent::UserGetCard(get) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(m.from_user_name, "o-bob");
    assert_eq!(get.is_give_by_friend, Some(1));
    assert_eq!(get.friend_user_name.as_deref(), Some("o-alice"));
    assert_eq!(get.old_user_card_code.as_deref(), Some(code.as_str()));
    assert_eq!(get.user_card_code.as_deref(), Some(friend_code.as_str()));

    sandbox.delete_code(&friend_code).unwrap();
    let m = receive(callback, &next(rx));
    assert!(
        matches!(&m.event, CardEvent::UserDelCard(e) if e.user_card_code.as_deref() == Some(friend_code.as_str()))
    );

    sandbox.view_card("o-alice", &card_id).unwrap();
    let m = receive(callback, &next(rx));
    assert!(matches!(&m.event, CardEvent::UserViewCard(_)));

    let other = sandbox.add_card(&gift_card(1)).unwrap();
    sandbox.reject_card(&other).unwrap();
    let m = receive(callback, &next(rx));
    assert!(matches!(&m.event, CardEvent::CardNotPassCheck(e) if e.card_id == other));
}

#[test]
fn plain_pushes_for_everything_that_happens() {
    let sandbox = Sandbox::start().unwrap();
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    run_scenario(&sandbox, &Callback::new(TOKEN), &rx);
    // Another token would not verify them.
    let card_id = sandbox.add_card(&gift_card(5)).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    let push = next(&rx);
    assert!(
        Callback::new("another-token")
            .receive(&CallbackQuery::parse(&push.query), &push.body)
            .is_err()
    );
}

#[test]
fn encrypted_pushes_decrypt_with_the_key_and_appid() {
    let sandbox = Sandbox::start().unwrap();
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, Some(KEY)).unwrap();
    let callback = Callback::with_aes_key(TOKEN, KEY, sandbox.appid()).unwrap();
    run_scenario(&sandbox, &callback, &rx);

    let card_id = sandbox.add_card(&gift_card(5)).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    let push = next(&rx);
    let body = String::from_utf8(push.body.clone()).unwrap();
    assert!(push.query.contains("encrypt_type=aes") && push.query.contains("msg_signature="));
    assert!(body.contains("<Encrypt>") && !body.contains(&card_id));
    // The wrong appid is refused.
    let wrong = Callback::with_aes_key(TOKEN, KEY, "wx-someone-else").unwrap();
    assert!(
        wrong
            .receive(&CallbackQuery::parse(&push.query), &push.body)
            .is_err()
    );
}

#[test]
fn stock_reminders() {
    let sandbox = Sandbox::builder().auto_approve(true).start().unwrap();
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    let callback = Callback::new(TOKEN);
    let card_id = sandbox.add_card(&gift_card(1)).unwrap();
    // auto_approve: passed at creation.
    assert!(matches!(
        receive(&callback, &next(&rx)).event,
        CardEvent::CardPassCheck(_)
    ));
    sandbox.receive_card("o-1", &card_id).unwrap();
    assert!(matches!(
        receive(&callback, &next(&rx)).event,
        CardEvent::UserGetCard(_)
    ));
    let m = receive(&callback, &next(&rx));
    let CardEvent::CardSkuRemind(remind) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(remind.card_id, card_id);
    assert_eq!(
        remind.detail.as_deref(),
        Some("the card's quantity is equal to 0")
    );

    // More than 200 at first, 100 left: one reminder per 12 hours.
    let big = sandbox.add_card(&gift_card(201)).unwrap();
    let _ = next(&rx);
    for i in 0..100 {
        sandbox.receive_card(&format!("o-{i}"), &big).unwrap();
        assert!(matches!(
            receive(&callback, &next(&rx)).event,
            CardEvent::UserGetCard(_)
        ));
    }
    sandbox.receive_card("o-100", &big).unwrap(); // 100 left
    let _ = next(&rx);
    let m = receive(&callback, &next(&rx));
    assert!(
        matches!(&m.event, CardEvent::CardSkuRemind(r) if r.detail.as_deref() == Some("the card's quantity is less than or equal to 100"))
    );
    sandbox.receive_card("o-101", &big).unwrap();
    assert!(matches!(
        receive(&callback, &next(&rx)).event,
        CardEvent::UserGetCard(_)
    ));
    sandbox.advance(Duration::from_secs(12 * 3600));
    sandbox.receive_card("o-102", &big).unwrap();
    let _ = next(&rx);
    assert!(matches!(
        receive(&callback, &next(&rx)).event,
        CardEvent::CardSkuRemind(_)
    ));
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "no other push"
    );
}

#[test]
fn a_slow_callback_never_slows_the_sandbox() {
    let sandbox = Arc::new(Sandbox::builder().auto_approve(true).start().unwrap());
    // The callback answers nothing until the gate opens.
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().unwrap();
    let (url, rx) = listener_gated(gate.clone());
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    let card_id = sandbox.add_card(&gift_card(50)).unwrap();
    // The first push (card_pass_check) has reached the callback, which holds its answer.
    let first = next(&rx);
    // Five users receive the card meanwhile; the sandbox does not wait for the callback. The
    // deadline only guards against a hang.
    let (done_tx, done_rx) = mpsc::channel();
    let users = {
        let sandbox = sandbox.clone();
        let card_id = card_id.clone();
        std::thread::spawn(move || {
            for i in 0..5 {
                sandbox.receive_card(&format!("o-{i}"), &card_id).unwrap();
            }
            let _ = done_tx.send(());
        })
    };
    assert!(
        done_rx.recv_timeout(Duration::from_secs(60)).is_ok(),
        "receive_card waited for a callback that does not answer"
    );
    users.join().unwrap();
    assert!(rx.try_recv().is_err(), "one push at a time");
    drop(closed);
    // All delivered later, in order.
    let callback = Callback::new(TOKEN);
    assert!(matches!(
        receive(&callback, &first).event,
        CardEvent::CardPassCheck(_)
    ));
    for i in 0..5 {
        assert_eq!(
            receive(&callback, &next(&rx)).from_user_name,
            format!("o-{i}")
        );
    }
}

#[test]
fn registrations_are_checked() {
    let sandbox = Sandbox::start().unwrap();
    assert!(
        sandbox
            .register_callback("http://example.com/cb", TOKEN, None)
            .is_err()
    );
    assert!(
        sandbox
            .register_callback("https://127.0.0.1/cb", TOKEN, None)
            .is_err()
    );
    assert!(
        sandbox
            .register_callback("http://127.0.0.1:9/cb", "", None)
            .is_err()
    );
    let err = sandbox
        .register_callback("http://127.0.0.1:9/cb", TOKEN, Some("short-key"))
        .unwrap_err();
    assert!(!err.to_string().contains("short-key"), "{err}");
    // Nothing registered, or a dead callback: the sandbox carries on.
    let card_id = sandbox.add_card(&gift_card(5)).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    sandbox
        .register_callback("http://127.0.0.1:9/nobody-listens", TOKEN, None)
        .unwrap();
    sandbox.receive_card("o-1", &card_id).unwrap();
    sandbox.unregister_callback();
    sandbox.receive_card("o-2", &card_id).unwrap();
}

#[test]
fn api_ticket_is_cached_and_signs() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client().unwrap();
    let ticket = client.api_ticket().unwrap();
    assert_eq!(client.api_ticket().unwrap(), ticket);
    assert_eq!(sandbox.calls("cgi-bin/ticket/getticket"), 1);
    // The ticket never shows.
    assert_eq!(format!("{ticket:?} {ticket}"), "*** ***");
    assert!(!format!("{client:?}").contains(ticket.expose()));

    let signed = client
        .sign_card_ext(&CardExt::new("pCard").timestamp(1).nonce_str("n"))
        .unwrap();
    assert_eq!(
        signed.signature,
        sha1_sorted(&[ticket.expose(), "1", "pCard", "n"])
    );
    let params = client
        .sign_choose_card(&ChooseCard::new().timestamp(2).nonce_str("m"))
        .unwrap();
    assert_eq!(
        params.card_sign,
        sha1_sorted(&[ticket.expose(), sandbox.appid(), "2", "m"])
    );

    // Refreshed ahead of expiry: after 6480 s of a 7200 s ticket, a new fetch.
    sandbox.advance(Duration::from_secs(6_000));
    client.api_ticket().unwrap();
    assert_eq!(sandbox.calls("cgi-bin/ticket/getticket"), 1);
    // The client's cache follows the real clock, not the sandbox's: renew explicitly.
    let renewed = client.renew_api_ticket(&ticket).unwrap();
    assert_eq!(sandbox.calls("cgi-bin/ticket/getticket"), 2);
    assert_eq!(
        renewed, ticket,
        "the sandbox hands out the current ticket while valid"
    );
    sandbox.advance(Duration::from_secs(7_200));
    let fresh = client.renew_api_ticket(&ticket).unwrap();
    assert_ne!(fresh, ticket);
    assert_eq!(client.api_ticket().unwrap(), fresh);
}

#[test]
fn callbacks_are_registered_over_http_too() {
    use sandbox_support::http_json;
    let sandbox = Sandbox::builder().auto_approve(true).start().unwrap();
    let (url, rx) = listener();
    let body = serde_json::json!({ "url": url, "token": TOKEN, "encoding_aes_key": KEY });
    let answer = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/callback",
        body.to_string().as_bytes(),
    );
    assert_eq!(answer["errcode"], 0, "{answer}");
    sandbox.add_card(&gift_card(3)).unwrap();
    let callback = Callback::with_aes_key(TOKEN, KEY, sandbox.appid()).unwrap();
    assert!(matches!(
        receive(&callback, &next(&rx)).event,
        CardEvent::CardPassCheck(_)
    ));
    let bad = serde_json::json!({ "url": "http://example.com/", "token": TOKEN });
    let answer = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/callback",
        bad.to_string().as_bytes(),
    );
    assert_eq!(answer["errcode"], 40097, "{answer}");
    // No url: stop pushing.
    let answer = http_json(sandbox.addr(), "POST", "/sandbox/callback", b"{}");
    assert_eq!(answer["errcode"], 0);
    sandbox.add_card(&gift_card(3)).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
}

/// Staff consume a code in the official account's admin site (the console's Consume button):
/// pushed with ConsumeSource FROM_MP, and the code cannot be consumed again.
#[test]
fn a_code_consumed_in_the_admin_site_is_pushed_from_mp() {
    use sandbox_support::http_json;
    let sandbox = Sandbox::builder().auto_approve(true).start().unwrap();
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    let callback = Callback::new(TOKEN);
    let card_id = sandbox.add_card(&gift_card(3)).unwrap();
    let _ = next(&rx);
    let code = sandbox.receive_card("o-alice", &card_id).unwrap();
    let _ = next(&rx);
    let body = serde_json::json!({ "code": code });
    let answer = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/code/consume",
        body.to_string().as_bytes(),
    );
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["card_id"], card_id.as_str());
    let m = receive(&callback, &next(&rx));
    let CardEvent::UserConsumeCard(consume) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(consume.consume_source, Some(ConsumeSource::Mp));
    assert_eq!(m.from_user_name, "o-alice");
    let again = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/code/consume",
        body.to_string().as_bytes(),
    );
    assert_eq!(again["errcode"], 40099, "{again}");
}

#[test]
fn member_updates_are_pushed() {
    use wechat_card::UpdateMemberCardUserRequest;
    let sandbox = Sandbox::builder().auto_approve(true).start().unwrap();
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    let callback = Callback::new(TOKEN);
    let card_id = sandbox.add_card(&sandbox_support::member_card(10)).unwrap();
    let code = sandbox.receive_card("o-member", &card_id).unwrap();
    let _ = (next(&rx), next(&rx)); // card_pass_check, user_get_card
    let client = sandbox.client().unwrap();
    client
        .update_member_card_user(
            &UpdateMemberCardUserRequest::new(code.as_str(), card_id.as_str())
                .add_bonus(30)
                .add_balance(-0),
        )
        .unwrap();
    let m = receive(&callback, &next(&rx));
    let CardEvent::UpdateMemberCard(update) = &m.event else {
        panic!("{:?}", m.event)
    };
    assert_eq!(
        (update.modify_bonus, update.modify_balance),
        (Some(30), Some(0))
    );
    assert_eq!(update.user_card_code.as_deref(), Some(code.as_str()));
    assert_eq!(m.from_user_name, "o-member");
}
