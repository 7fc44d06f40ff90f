//! The client under faults injected by the sandbox, and the sandbox under concurrent calls.
//! No test here asserts on wall-clock time.
#![cfg(feature = "sandbox")]

use crate::clients::{AnyClient, Flavor};
use crate::sandbox_support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use sandbox_support::{approved, gift_card};
use wechat_card::sandbox::{Fault, Sandbox};
use wechat_card::{
    Card, ConsumeCodeRequest, Error, GetCardRequest, GetCodeRequest, ModifyStockRequest,
    UserCardStatus,
};

/// A sandbox with one approved card (stock 100) and one code received by `o-user`.
fn setup(flavor: Flavor) -> (Sandbox, AnyClient, String, String) {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = AnyClient::of(flavor, sandbox.client_builder());
    let card_id = approved(&sandbox, &gift_card(100));
    let code = sandbox.receive_card("o-user", &card_id).unwrap();
    (sandbox, client, card_id, code)
}

#[test]
fn system_busy_is_retried_for_reads_and_never_for_consume() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, code) = setup(flavor);
        sandbox.fail_next("card/code/get", -1, 2);
        let answer = crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(answer.user_card_status, Some(UserCardStatus::Normal));
        assert_eq!(
            sandbox.calls("card/code/get"),
            3,
            "two -1 answers, then the real one"
        );

        sandbox.fail_next("card/code/consume", -1, 1);
        let error =
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap_err();
        assert_eq!(error.errcode(), Some(-1));
        assert!(error.is_retryable());
        assert_eq!(
            sandbox.calls("card/code/consume"),
            1,
            "consume is never re-sent"
        );
        assert_eq!(sandbox.code_status(&code), Some(UserCardStatus::Normal));
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();

        // More -1 answers than retries: the last one is returned.
        sandbox.fail_next("card/code/get", -1, 3);
        let error = crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap_err();
        assert_eq!(error.errcode(), Some(-1));
        assert_eq!(sandbox.calls("card/code/get"), 6);
    });
}

#[test]
fn a_dropped_connection_on_consume_consumes_at_most_once() {
    crate::clients::each(|flavor| {
        let (sandbox, client, card_id, code) = setup(flavor);
        // The consume runs, the answer is lost.
        sandbox.inject("card/code/consume", Fault::DropAfterHandling, 1);
        let error =
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap_err();
        let Error::Transport(transport) = &error else {
            panic!("expected a transport error, got {error:?}");
        };
        assert!(transport.maybe_sent);
        assert_eq!(sandbox.calls("card/code/consume"), 1, "not re-sent");
        assert_eq!(sandbox.code_status(&code), Some(UserCardStatus::Consumed));
        // What the caller should do next: ask, and see it consumed.
        let state =
            crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(false)))
                .unwrap();
        assert_eq!(state.user_card_status, Some(UserCardStatus::Consumed));
        assert_eq!(
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str())))
                .unwrap_err()
                .errcode(),
            Some(40099)
        );

        // The connection is closed before the consume runs: nothing happened.
        let other = sandbox.receive_card("o-user", &card_id).unwrap();
        sandbox.drop_next("card/code/consume", 1);
        let error = crate::call!(client.consume_code(&ConsumeCodeRequest::new(other.as_str())))
            .unwrap_err();
        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert_eq!(sandbox.code_status(&other), Some(UserCardStatus::Normal));
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(other.as_str()))).unwrap();
    });
}

#[test]
fn dropped_connections_and_error_pages_are_retried_for_reads() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, code) = setup(flavor);
        sandbox.drop_next("card/code/get", 1);
        crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(sandbox.calls("card/code/get"), 2);

        sandbox.inject("card/code/get", Fault::HttpStatus(502), 1);
        crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(sandbox.calls("card/code/get"), 4);

        sandbox.inject("card/code/consume", Fault::HttpStatus(502), 1);
        let error =
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap_err();
        assert!(
            matches!(&error, Error::Decode(d) if d.status == 502),
            "{error:?}"
        );
        assert_eq!(sandbox.calls("card/code/consume"), 1);

        // A delay is only a delay.
        sandbox.delay_next("card/code/get", Duration::from_millis(20), 1);
        crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap();
    });
}

#[test]
fn injected_errcodes_on_any_path() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, code) = setup(flavor);
        // Token rejections are renewed and repeated once, for every endpoint.
        sandbox.fail_next("card/code/consume", 40001, 1);
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(sandbox.calls("card/code/consume"), 2);

        sandbox.inject("card/code/get", Fault::ExpireToken, 1);
        crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap_err(); // 40099: consumed

        // Quota and whitelist errors come back as they are.
        for errcode in [45009, 40164, 48001] {
            sandbox.fail_next("card/code/get", errcode, 1);
            let error =
                crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap_err();
            assert_eq!(error.errcode(), Some(errcode));
        }

        // The token endpoint fails too: the call fails with its error.
        let fresh = AnyClient::of(flavor, sandbox.client_builder());
        sandbox.fail_next("cgi-bin/stable_token", 45009, 1);
        let error = crate::call!(fresh.get_code(&GetCodeRequest::new(code.as_str()))).unwrap_err();
        assert_eq!(error.errcode(), Some(45009));
        assert_eq!(error.endpoint(), Some("cgi-bin/stable_token"));

        // `*` matches every path (the token endpoints too); a path's own faults come first.
        fresh.access_token().unwrap();
        sandbox.fail_next("*", 45009, 1);
        sandbox.fail_next("card/get", 48001, 1);
        let card = GetCardRequest::new("pAnything");
        assert_eq!(
            crate::call!(fresh.get_card(&card)).unwrap_err().errcode(),
            Some(48001)
        );
        assert_eq!(
            crate::call!(fresh.get_card(&card)).unwrap_err().errcode(),
            Some(45009)
        );
        sandbox.fail_next("*", 45009, 5);
        sandbox.clear_faults();
        assert_eq!(
            crate::call!(fresh.get_card(&card)).unwrap_err().errcode(),
            Some(40073)
        );
    });
}

#[test]
fn no_secret_in_any_error() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, code) = setup(flavor);
        let token = client.access_token().unwrap();
        let secrets = [sandbox.secret().to_owned(), token.expose().to_owned()];
        let mut errors: Vec<Error> = Vec::new();

        let wrong = AnyClient::of(
            flavor,
            wechat_card::Client::builder()
                .base_url(sandbox.base_url())
                .credentials(sandbox.appid(), "wrong-secret-that-must-not-leak")
                .env_proxy(false),
        );
        errors.push(crate::call!(wrong.get_code(&GetCodeRequest::new("1"))).unwrap_err());
        assert_eq!(errors[0].errcode(), Some(40125));

        sandbox.fail_next("card/code/get", 40001, 2);
        errors
            .push(crate::call!(client.get_code(&GetCodeRequest::new(code.as_str()))).unwrap_err());
        sandbox.drop_next("card/code/consume", 1);
        errors.push(
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap_err(),
        );
        sandbox.inject("card/code/consume", Fault::HttpStatus(503), 1);
        errors.push(
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap_err(),
        );
        errors
            .push(crate::call!(client.get_code(&GetCodeRequest::new("1".repeat(21)))).unwrap_err());
        errors.push(
            client
                .call_json::<_, serde_json::Value>(
                    wechat_card::schema::HttpMethod::Post,
                    "card/code/get",
                    &serde_json::json!({}),
                    true,
                )
                .unwrap_err(),
        );
        for error in &errors {
            let shown = format!("{error} {error:?}");
            for secret in &secrets {
                assert!(!shown.contains(secret.as_str()), "leaked in {shown}");
            }
            assert!(
                !shown.contains("wrong-secret-that-must-not-leak"),
                "{shown}"
            );
        }
        let handles = format!("{sandbox:?} {client:?} {:?}", sandbox.client_builder());
        for secret in &secrets {
            assert!(!handles.contains(secret.as_str()), "leaked in {handles}");
        }
    });
}

#[test]
fn eight_threads_consuming_one_code_give_one_success() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _, code) = setup(flavor);
        client.access_token().unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let results: Vec<Result<(), i64>> = (0..8)
            .map(|_| {
                let (client, barrier, code) = (client.clone(), barrier.clone(), code.clone());
                thread::spawn(move || {
                    barrier.wait();
                    crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str())))
                        .map(drop)
                        .map_err(|e| e.errcode().unwrap_or(0))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|handle| handle.join().expect("thread"))
            .collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .filter(|r| r.is_err())
                .all(|r| *r == Err(40099)),
            "{results:?}"
        );
        assert_eq!(sandbox.calls("card/code/consume"), 8);
    });
}

#[test]
fn concurrent_stock_changes_add_up() {
    crate::clients::each(|flavor| {
        let (sandbox, client, card_id, _) = setup(flavor);
        // Stock is 99 after setup's receipt.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (client, card_id) = (client.clone(), card_id.clone());
                thread::spawn(move || {
                    for _ in 0..20 {
                        let request = ModifyStockRequest::new(card_id.as_str())
                            .increase_stock_value(3)
                            .reduce_stock_value(1);
                        crate::call!(client.modify_stock(&request)).unwrap();
                    }
                    t
                })
            })
            .collect();
        for handle in threads {
            handle.join().unwrap();
        }
        // Receipts from several threads at once, through the handle.
        let sandbox = Arc::new(sandbox);
        let receipts: Vec<_> = (0..4)
            .map(|t| {
                let (sandbox, card_id) = (sandbox.clone(), card_id.clone());
                thread::spawn(move || {
                    for i in 0..10 {
                        sandbox
                            .receive_card(&format!("o-{t}-{i}"), &card_id)
                            .unwrap();
                    }
                })
            })
            .collect();
        for handle in receipts {
            handle.join().unwrap();
        }
        let Card::Gift(card) = crate::call!(client.get_card(&GetCardRequest::new(card_id)))
            .unwrap()
            .card
        else {
            panic!("not a gift card");
        };
        let sku = card.base_info.sku;
        assert_eq!(sku.quantity, 99 + 8 * 20 * 2 - 40);
        assert_eq!(sku.total_quantity, Some(100 + 8 * 20 * 2));
    });
}
