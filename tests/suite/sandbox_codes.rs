//! Codes in the sandbox: receiving (stock, get_limit), `card/code/get` with the exact
//! `check_consume` semantics, consume, unavailable, code update, decrypt, a user's card list,
//! gifting, deletion and expiry — all through the typed client over HTTP on 127.0.0.1.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use std::time::Duration;

use sandbox_support::{approved, discount_card, errcode, gift_card, setup};
use serde_json::json;
use wechat_card::sandbox::Sandbox;
use wechat_card::{
    ConsumeCodeRequest, DecryptCodeRequest, GetCardRequest, GetCodeRequest, GetUserCardListRequest,
    SetCodeUnavailableRequest, UpdateCodeRequest, UserCardStatus,
};

/// Something a user (or the merchant) does to a code.
type Act = fn(&Sandbox, &str);

fn status(client: &AnyClient, code: &str) -> (Option<UserCardStatus>, Option<bool>) {
    let answer = crate::call!(client.get_code(&GetCodeRequest::new(code).check_consume(false)))
        .expect("get_code with check_consume false");
    (answer.user_card_status, answer.can_consume)
}

#[test]
fn receiving_takes_stock_and_respects_get_limit_and_review() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let pending = sandbox.add_card(&gift_card(5)).unwrap();
        let refused = sandbox.receive_card("o-1", &pending).unwrap_err();
        assert_eq!(refused.errcode(), Some(40078), "{refused}");

        let limited = approved(
            &sandbox,
            &discount_card(2, json!({ "get_limit": 1, "can_share": true })),
        );
        sandbox.receive_card("o-1", &limited).unwrap();
        let refused = sandbox.receive_card("o-1", &limited).unwrap_err();
        assert_eq!(refused.errcode(), Some(45033), "{refused}");
        sandbox.receive_card("o-2", &limited).unwrap();
        let refused = sandbox.receive_card("o-3", &limited).unwrap_err();
        assert_eq!(refused.errcode(), Some(45031), "{refused}");

        let card = crate::call!(client.get_card(&GetCardRequest::new(limited))).unwrap();
        let wechat_card::Card::Discount(discount) = card.card else {
            panic!("not a discount card");
        };
        let sku = &discount.base_info.sku;
        assert_eq!((sku.quantity, sku.total_quantity), (0, Some(2)));

        let refused = sandbox.receive_card("o-1", "pUnknownCard").unwrap_err();
        assert_eq!(refused.errcode(), Some(40073));
    });
}

#[test]
fn get_code_follows_check_consume() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-user", &card_id).unwrap();

        // Normal: same answer either way.
        for check in [true, false] {
            let answer = crate::call!(
                client.get_code(&GetCodeRequest::new(code.as_str()).check_consume(check))
            )
            .unwrap();
            assert_eq!(answer.openid, "o-user");
            assert_eq!(answer.card.card_id.as_deref(), Some(card_id.as_str()));
            assert_eq!(answer.card.code.as_deref(), Some(code.as_str()));
            assert_eq!(answer.can_consume, Some(true));
            assert_eq!(answer.user_card_status, Some(UserCardStatus::Normal));
            let (begin, end) = (
                answer.card.begin_time.unwrap(),
                answer.card.end_time.unwrap(),
            );
            assert!(begin <= sandbox.now() && sandbox.now() <= end);
            assert_eq!(end - begin + 1, 30 * 86_400, "fixed_term 30 days");
        }
        // Absent check_consume behaves like true.
        let consumed = sandbox.receive_card("o-user", &card_id).unwrap();
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(consumed.as_str()))).unwrap();
        assert_eq!(
            errcode(crate::call!(
                client.get_code(&GetCodeRequest::new(consumed.as_str()))
            )),
            40099
        );
        assert_eq!(
            errcode(crate::call!(client.get_code(
                &GetCodeRequest::new(consumed.as_str()).check_consume(true)
            ))),
            40099
        );
        assert_eq!(
            status(&client, &consumed),
            (Some(UserCardStatus::Consumed), Some(false))
        );

        // Every other abnormal state: 40127 with check_consume, the state without.
        let cases: [(&str, Act, UserCardStatus); 5] = [
            (
                "gifting",
                |s, c| s.gift_code(c).unwrap(),
                UserCardStatus::Gifting,
            ),
            (
                "gift timeout",
                |s, c| {
                    s.gift_code(c).unwrap();
                    s.gift_timeout(c).unwrap();
                },
                UserCardStatus::GiftTimeout,
            ),
            (
                "deleted",
                |s, c| s.delete_code(c).unwrap(),
                UserCardStatus::Delete,
            ),
            (
                "expired",
                |s, c| s.expire_code(c).unwrap(),
                UserCardStatus::Expire,
            ),
            (
                "unavailable",
                |s, c| {
                    let client = s.client().unwrap();
                    client
                        .set_code_unavailable(&SetCodeUnavailableRequest::new(c))
                        .unwrap();
                },
                UserCardStatus::Unavailable,
            ),
        ];
        for (name, act, expected) in cases {
            let code = sandbox
                .receive_card(&format!("o-{name}"), &card_id)
                .unwrap();
            act(&sandbox, &code);
            assert_eq!(
                errcode(crate::call!(client.get_code(
                    &GetCodeRequest::new(code.as_str()).check_consume(true)
                ))),
                40127,
                "{name}"
            );
            assert_eq!(
                status(&client, &code),
                (Some(expected), Some(false)),
                "{name}"
            );
            assert_eq!(
                errcode(crate::call!(
                    client.consume_code(&ConsumeCodeRequest::new(code.as_str()))
                )),
                40127,
                "{name}: consume"
            );
        }

        // Unknown codes, and codes of another card: 40056 whatever check_consume says.
        for check in [true, false] {
            assert_eq!(
                errcode(crate::call!(client.get_code(
                    &GetCodeRequest::new("999999999999").check_consume(check)
                ))),
                40056
            );
            assert_eq!(
                errcode(crate::call!(
                    client.get_code(
                        &GetCodeRequest::new(code.as_str())
                            .card_id("pOtherCard")
                            .check_consume(check)
                    )
                )),
                40056
            );
        }
    });
}

#[test]
fn a_gifted_away_code_is_an_invalid_serial_code() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-giver", &card_id).unwrap();
        sandbox.gift_code(&code).unwrap();
        let friends = sandbox.accept_gift(&code, "o-friend").unwrap();
        assert_ne!(friends, code);
        for check in [true, false] {
            assert_eq!(
                errcode(crate::call!(client.get_code(
                    &GetCodeRequest::new(code.as_str()).check_consume(check)
                ))),
                40056
            );
        }
        assert_eq!(sandbox.code_status(&code), Some(UserCardStatus::GiftSucc));
        let answer = crate::call!(client.get_code(&GetCodeRequest::new(friends.as_str()))).unwrap();
        assert_eq!(answer.openid, "o-friend");
        assert_eq!(answer.user_card_status, Some(UserCardStatus::Normal));
    });
}

#[test]
fn consume_is_irreversible() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-user", &card_id).unwrap();
        let answer =
            crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(answer.openid.as_deref(), Some("o-user"));
        assert_eq!(
            answer.card.and_then(|c| c.card_id).as_deref(),
            Some(card_id.as_str())
        );
        assert_eq!(
            errcode(crate::call!(
                client.consume_code(&ConsumeCodeRequest::new(code.as_str()))
            )),
            40099
        );
        assert_eq!(sandbox.code_status(&code), Some(UserCardStatus::Consumed));
        // Neither unavailable nor a new code brings it back.
        assert_eq!(
            errcode(crate::call!(client.set_code_unavailable(
                &SetCodeUnavailableRequest::new(code.as_str())
            ))),
            40099
        );
    });
}

#[test]
fn custom_codes_need_their_card_id_and_can_be_changed() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(
            &sandbox,
            &discount_card(10, json!({ "use_custom_code": true })),
        );
        let refused = sandbox.receive_card("o-user", &card_id).unwrap_err();
        assert_eq!(
            refused.errcode(),
            Some(41011),
            "a custom-code card needs a code"
        );
        let code = sandbox
            .receive_card_with_code("o-user", &card_id, "CUSTOM-0001")
            .unwrap();
        assert_eq!(code, "CUSTOM-0001");
        let refused = sandbox
            .receive_card_with_code("o-other", &card_id, "CUSTOM-0001")
            .unwrap_err();
        assert_eq!(refused.errcode(), Some(40116), "codes are unique");

        assert_eq!(
            errcode(crate::call!(
                client.get_code(&GetCodeRequest::new("CUSTOM-0001"))
            )),
            40056
        );
        let answer = crate::call!(
            client.get_code(&GetCodeRequest::new("CUSTOM-0001").card_id(card_id.as_str()))
        )
        .unwrap();
        assert_eq!(answer.can_consume, Some(true));

        crate::call!(client.update_code(
            &UpdateCodeRequest::new("CUSTOM-0001", "CUSTOM-0002").card_id(card_id.as_str()),
        ))
        .unwrap();
        assert_eq!(
            errcode(crate::call!(client.get_code(
                &GetCodeRequest::new("CUSTOM-0001").card_id(card_id.as_str())
            ))),
            40056
        );
        crate::call!(
            client.consume_code(&ConsumeCodeRequest::new("CUSTOM-0002").card_id(card_id.as_str()))
        )
        .unwrap();

        // Generated codes cannot be changed.
        let generated_card = approved(&sandbox, &gift_card(1));
        let generated = sandbox.receive_card("o-user", &generated_card).unwrap();
        assert_eq!(
            errcode(crate::call!(client.update_code(&UpdateCodeRequest::new(
                generated.as_str(),
                "NEW-CODE"
            )))),
            43009
        );
    });
}

#[test]
fn decrypt_returns_codes_the_sandbox_encrypted() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(1));
        let code = sandbox.receive_card("o-user", &card_id).unwrap();
        let encrypted = sandbox.encrypt_code(&code);
        assert_ne!(encrypted, code);
        let answer =
            crate::call!(client.decrypt_code(&DecryptCodeRequest::new(encrypted.as_str())))
                .unwrap();
        assert_eq!(answer.code.as_deref(), Some(code.as_str()));
        assert_eq!(
            errcode(crate::call!(client.decrypt_code(&DecryptCodeRequest::new(
                "not-an-encrypted-code"
            )))),
            40075
        );
    });
}

#[test]
fn a_users_card_list_shows_usable_codes() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let first = approved(&sandbox, &gift_card(10));
        let second = approved(&sandbox, &discount_card(10, json!({})));
        let a = sandbox.receive_card("o-user", &first).unwrap();
        let b = sandbox.receive_card("o-user", &second).unwrap();
        let c = sandbox.receive_card("o-user", &first).unwrap();
        sandbox.receive_card("o-someone-else", &first).unwrap();
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(c.as_str()))).unwrap();

        let list = crate::call!(client.get_user_card_list(&GetUserCardListRequest::new("o-user")))
            .unwrap();
        let pairs: Vec<(String, String)> = list
            .card_list
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.card_id, c.code))
            .collect();
        assert_eq!(pairs, [(first.clone(), a), (second.clone(), b.clone())]);

        let only =
            crate::call!(client.get_user_card_list(
                &GetUserCardListRequest::new("o-user").card_id(second.as_str())
            ))
            .unwrap();
        assert_eq!(only.card_list.unwrap_or_default().len(), 1);
        let nobody =
            crate::call!(client.get_user_card_list(&GetUserCardListRequest::new("o-nobody")))
                .unwrap();
        assert_eq!(nobody.card_list.unwrap_or_default().len(), 0);
    });
}

#[test]
fn codes_expire_with_the_sandbox_clock() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-user", &card_id).unwrap();
        let end = crate::call!(client.get_code(&GetCodeRequest::new(code.as_str())))
            .unwrap()
            .card
            .end_time
            .unwrap();
        sandbox.set_time(end);
        assert_eq!(status(&client, &code).0, Some(UserCardStatus::Normal));
        sandbox.advance(Duration::from_secs(1));
        assert_eq!(
            status(&client, &code),
            (Some(UserCardStatus::Expire), Some(false))
        );
        assert_eq!(
            errcode(crate::call!(
                client.consume_code(&ConsumeCodeRequest::new(code.as_str()))
            )),
            40127
        );
    });
}
