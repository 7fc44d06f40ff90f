//! Distribution in the sandbox — QR codes that users scan, card shelves, imported codes
//! (预存code模式), the article HTML and the test whitelist — through the typed client over HTTP
//! on 127.0.0.1.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use std::time::Duration;

use sandbox_support::{approved, discount_card, errcode, gift_card, http_json, setup};
use serde_json::json;
use wechat_card::sandbox::Sandbox;
use wechat_card::{
    Card, CheckCodesRequest, ConsumeCodeRequest, CreateCardRequest, CreateLandingPageRequest,
    CreateLandingPageRequestRequired, CreateQrcodeRequest, CreateQrcodeResponse, DeleteCardRequest,
    DepositCodesRequest, Error, GetCardRequest, GetCodeRequest, GetDepositCountRequest,
    GetMpnewsHtmlRequest, GetUserCardListRequest, LandingPageCard, LandingPageScene,
    ModifyStockRequest, QrcodeActionInfo, QrcodeActionName, QrcodeCard, QrcodeMultipleCard,
    SetTestWhitelistRequest,
};

fn refused<T: std::fmt::Debug>(result: Result<T, wechat_card::sandbox::SandboxError>) -> i64 {
    match result {
        Err(e) => e.errcode().unwrap_or_else(|| panic!("not a refusal: {e}")),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// A `QR_CARD` request for one card.
fn qr_card(card: QrcodeCard) -> CreateQrcodeRequest {
    CreateQrcodeRequest::new(QrcodeActionName::Card, QrcodeActionInfo::new().card(card))
}

/// A `QR_MULTIPLE_CARD` request.
fn qr_cards(cards: Vec<QrcodeCard>) -> CreateQrcodeRequest {
    CreateQrcodeRequest::new(
        QrcodeActionName::MultipleCard,
        QrcodeActionInfo::new().multiple_card(QrcodeMultipleCard::new(cards)),
    )
}

fn ticket_of(answer: &CreateQrcodeResponse) -> String {
    answer.ticket.clone().expect("ticket")
}

fn stock(client: &AnyClient, card_id: &str) -> (u64, Option<u64>) {
    let card = crate::call!(client.get_card(&GetCardRequest::new(card_id)))
        .unwrap()
        .card;
    let base = match card {
        Card::Gift(card) => card.base_info,
        Card::Discount(card) => card.base_info,
        other => panic!("unexpected card {other:?}"),
    };
    (base.sku.quantity, base.sku.total_quantity)
}

/// A discount card with custom codes imported with `card/code/deposit` (created with stock 0).
fn deposit_card(sandbox: &Sandbox) -> String {
    approved(
        sandbox,
        &discount_card(
            0,
            json!({ "use_custom_code": true, "get_custom_code_mode": "GET_CUSTOM_CODE_MODE_DEPOSIT" }),
        ),
    )
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

#[test]
fn a_qr_code_is_scanned_into_the_card_bag() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &discount_card(3, json!({ "get_limit": 2 })));
        let answer = crate::call!(client.create_qrcode(
            &qr_card(QrcodeCard::new(card_id.as_str()).outer_str("menu")).expire_seconds(1800),
        ))
        .unwrap();
        let ticket = ticket_of(&answer);
        let url = answer.url.clone().unwrap();
        assert_eq!(answer.expire_seconds, Some(1800));
        assert!(url.starts_with("http://weixin.qq.com/q/"), "{url}");
        let show = answer.show_qrcode_url.clone().unwrap();
        assert!(
            show.starts_with("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="),
            "{show}"
        );
        assert!(
            show.ends_with(&ticket),
            "URL-safe tickets need no escaping: {show}"
        );

        // By the ticket or by the url the QR image encodes.
        let first = sandbox.scan_qrcode("o-alice", &ticket).unwrap();
        assert_eq!(first.len(), 1);
        let state = crate::call!(client.get_code(&GetCodeRequest::new(first[0].as_str()))).unwrap();
        assert_eq!(state.openid, "o-alice");
        assert_eq!(state.card.card_id.as_deref(), Some(card_id.as_str()));
        assert_eq!(
            state.outer_str.as_deref(),
            Some("menu"),
            "outer_str is kept"
        );
        sandbox.scan_qrcode("o-alice", &url).unwrap();
        assert_eq!(stock(&client, &card_id), (1, Some(3)));

        // get_limit, then stock.
        assert_eq!(refused(sandbox.scan_qrcode("o-alice", &ticket)), 45033);
        sandbox.scan_qrcode("o-bob", &ticket).unwrap();
        assert_eq!(refused(sandbox.scan_qrcode("o-carol", &ticket)), 45031);
        crate::call!(
            client.modify_stock(&ModifyStockRequest::new(card_id.as_str()).increase_stock_value(5))
        )
        .unwrap();
        sandbox.scan_qrcode("o-carol", &ticket).unwrap();

        // Unknown, then expired.
        assert_eq!(
            refused(sandbox.scan_qrcode("o-carol", "no-such-ticket")),
            40097
        );
        sandbox.advance(Duration::from_secs(1800));
        assert_eq!(refused(sandbox.scan_qrcode("o-dave", &ticket)), 40079);

        // Without expire_seconds a QR code lasts 365 days.
        let answer =
            crate::call!(client.create_qrcode(&qr_card(QrcodeCard::new(card_id.as_str()))))
                .unwrap();
        assert_eq!(answer.expire_seconds, Some(365 * 86_400));
        sandbox.advance(Duration::from_secs(364 * 86_400));
        sandbox.scan_qrcode("o-dave", &ticket_of(&answer)).unwrap();
        sandbox.advance(Duration::from_secs(86_400));
        assert_eq!(
            refused(sandbox.scan_qrcode("o-erin", &ticket_of(&answer))),
            40079
        );
    });
}

#[test]
fn qr_code_creation_is_refused_like_wechat() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let generated = approved(&sandbox, &gift_card(10));
        let custom = approved(
            &sandbox,
            &discount_card(10, json!({ "use_custom_code": true })),
        );
        let bound = approved(&sandbox, &discount_card(10, json!({ "bind_openid": true })));
        let pending = sandbox.add_card(&gift_card(10)).unwrap();
        let empty = approved(&sandbox, &gift_card(0));
        let deleted = approved(&sandbox, &gift_card(10));
        crate::call!(client.delete_card(&DeleteCardRequest::new(deleted.as_str()))).unwrap();
        let create = |request: CreateQrcodeRequest| crate::call!(client.create_qrcode(&request));

        assert_eq!(
            errcode(create(qr_card(QrcodeCard::new("pNoSuchCard")))),
            40073
        );
        assert_eq!(
            errcode(create(qr_card(QrcodeCard::new(deleted.as_str())))),
            40078
        );
        // action_name and action_info must agree.
        let mismatch = CreateQrcodeRequest::new(
            QrcodeActionName::MultipleCard,
            QrcodeActionInfo::new().card(QrcodeCard::new(generated.as_str())),
        );
        assert_eq!(errcode(create(mismatch)), 40053);
        // A custom-code card needs its code; other cards must not have one.
        assert_eq!(
            errcode(create(qr_card(QrcodeCard::new(custom.as_str())))),
            41011
        );
        assert_eq!(
            errcode(create(qr_card(
                QrcodeCard::new(generated.as_str()).code("123")
            ))),
            43009
        );
        // bind_openid cards name their user.
        let missing = create(qr_card(QrcodeCard::new(bound.as_str()))).unwrap_err();
        assert_eq!(missing.errcode(), Some(41011));
        assert!(
            missing.to_string().contains("action_info.card.openid"),
            "{missing}"
        );
        create(qr_card(QrcodeCard::new(bound.as_str()).openid("o-1"))).unwrap();
        // is_unique_code needs an approved card in stock; without it any card will do.
        assert_eq!(
            errcode(create(qr_card(
                QrcodeCard::new(pending.as_str()).is_unique_code(true)
            ))),
            40078
        );
        assert_eq!(
            errcode(create(qr_card(
                QrcodeCard::new(empty.as_str()).is_unique_code(true)
            ))),
            45031
        );
        create(qr_card(QrcodeCard::new(pending.as_str()))).unwrap();
        // In a multiple-card QR code the failing card is named by its index.
        let error = create(qr_cards(vec![
            QrcodeCard::new(generated.as_str()),
            QrcodeCard::new(custom.as_str()),
        ]))
        .unwrap_err();
        assert_eq!(error.errcode(), Some(41011));
        assert!(
            error
                .to_string()
                .contains("action_info.multiple_card.card_list[1].code"),
            "{error}"
        );
    });
}

#[test]
fn a_qr_code_of_several_cards_is_received_all_or_nothing() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let coffee = approved(&sandbox, &gift_card(5));
        let cake = approved(&sandbox, &discount_card(0, json!({})));
        let answer = crate::call!(client.create_qrcode(&qr_cards(vec![
            QrcodeCard::new(coffee.as_str()).outer_str("poster"),
            QrcodeCard::new(cake.as_str()),
        ])))
        .unwrap();
        let ticket = ticket_of(&answer);
        assert_eq!(refused(sandbox.scan_qrcode("o-alice", &ticket)), 45031);
        assert_eq!(stock(&client, &coffee).0, 5, "nothing received");
        let held = crate::call!(client.get_user_card_list(&GetUserCardListRequest::new("o-alice")))
            .unwrap();
        assert!(held.card_list.unwrap_or_default().is_empty());

        crate::call!(
            client.modify_stock(&ModifyStockRequest::new(cake.as_str()).increase_stock_value(1))
        )
        .unwrap();
        let received = sandbox.scan_qrcode("o-alice", &ticket).unwrap();
        assert_eq!(received.len(), 2);
        let held = crate::call!(client.get_user_card_list(&GetUserCardListRequest::new("o-alice")))
            .unwrap()
            .card_list
            .unwrap();
        let pairs: Vec<(String, String)> = held
            .iter()
            .map(|c| (c.card_id.clone(), c.code.clone()))
            .collect();
        assert_eq!(
            pairs,
            [
                (coffee.clone(), received[0].clone()),
                (cake.clone(), received[1].clone())
            ]
        );
        assert_eq!((stock(&client, &coffee).0, stock(&client, &cake).0), (4, 0));

        // The same card twice in one QR code takes two of its stock, and the user's get_limit.
        let twice = crate::call!(client.create_qrcode(&qr_cards(vec![
            QrcodeCard::new(coffee.as_str()),
            QrcodeCard::new(coffee.as_str()),
        ])))
        .unwrap();
        assert_eq!(
            sandbox
                .scan_qrcode("o-bob", &ticket_of(&twice))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(stock(&client, &coffee).0, 2);
    });
}

#[test]
fn qr_codes_with_a_code_an_openid_or_a_unique_code() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let custom = approved(
            &sandbox,
            &discount_card(10, json!({ "use_custom_code": true })),
        );
        let answer = crate::call!(
            client.create_qrcode(&qr_card(
                QrcodeCard::new(custom.as_str())
                    .code("VIP-0001")
                    .openid("o-alice"),
            ))
        )
        .unwrap();
        let ticket = ticket_of(&answer);
        assert_eq!(refused(sandbox.scan_qrcode("o-bob", &ticket)), 40003);
        assert_eq!(
            sandbox.scan_qrcode("o-alice", &ticket).unwrap(),
            ["VIP-0001"]
        );
        let state = crate::call!(
            client.get_code(&GetCodeRequest::new("VIP-0001").card_id(custom.as_str()))
        )
        .unwrap();
        assert_eq!(state.openid, "o-alice");
        // The code is taken now.
        assert_eq!(refused(sandbox.scan_qrcode("o-alice", &ticket)), 40116);

        let card_id = approved(&sandbox, &gift_card(10));
        let unique = crate::call!(client.create_qrcode(&qr_card(
            QrcodeCard::new(card_id.as_str()).is_unique_code(true),
        )))
        .unwrap();
        sandbox.scan_qrcode("o-alice", &ticket_of(&unique)).unwrap();
        assert_eq!(
            refused(sandbox.scan_qrcode("o-bob", &ticket_of(&unique))),
            40097
        );
        // A failed scan does not use a unique QR code up.
        let other = crate::call!(client.create_qrcode(&qr_card(
            QrcodeCard::new(card_id.as_str()).is_unique_code(true),
        )))
        .unwrap();
        assert_eq!(refused(sandbox.scan_qrcode("", &ticket_of(&other))), 40003);
        sandbox.scan_qrcode("o-bob", &ticket_of(&other)).unwrap();
    });
}

#[test]
fn imported_codes_are_received_in_order_and_bound_the_stock() {
    crate::clients::each(|flavor| {
        // card/create of a (pre-2021) coupon type.
        let sandbox = Sandbox::builder()
            .allow_coupon_creation(true)
            .start()
            .unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        // A deposit-mode card is created with stock 0.
        let mut with_stock = discount_card(
            5,
            json!({ "use_custom_code": true, "get_custom_code_mode": "GET_CUSTOM_CODE_MODE_DEPOSIT" }),
        );
        let typed: Card = serde_json::from_value(with_stock.clone()).unwrap();
        assert_eq!(
            errcode(crate::call!(
                client.create_card(&CreateCardRequest::new(typed))
            )),
            40122
        );
        with_stock["discount"]["base_info"]["sku"]["quantity"] = json!(0);
        let typed: Card = serde_json::from_value(with_stock).unwrap();
        let card_id = crate::call!(client.create_card(&CreateCardRequest::new(typed)))
            .unwrap()
            .card_id;
        sandbox.approve_card(&card_id).unwrap();

        let answer = crate::call!(client.deposit_codes(&DepositCodesRequest::new(
            card_id.as_str(),
            codes(&["A1", "A2", "A3"]),
        )))
        .unwrap();
        assert_eq!(answer.succ_code.unwrap(), ["A1", "A2", "A3"]);
        assert_eq!(answer.duplicate_code.unwrap_or_default().len(), 0);
        let answer = crate::call!(client.deposit_codes(&DepositCodesRequest::new(
            card_id.as_str(),
            codes(&["A2", "A4", "A4", ""]),
        )))
        .unwrap();
        assert_eq!(answer.succ_code.unwrap(), ["A4"]);
        assert_eq!(answer.duplicate_code.unwrap(), ["A2", "A4"]);
        assert_eq!(answer.fail_code.unwrap(), [""]);
        let count = |client: &AnyClient| {
            crate::call!(client.get_deposit_count(&GetDepositCountRequest::new(card_id.as_str())))
                .unwrap()
                .count
        };
        assert_eq!(count(&client), Some(4));
        let checked = crate::call!(client.check_codes(&CheckCodesRequest::new(
            card_id.as_str(),
            codes(&["A1", "ZZ", "A4"]),
        )))
        .unwrap();
        assert_eq!(checked.exist_code.unwrap(), ["A1", "A4"]);
        assert_eq!(checked.not_exist_code.unwrap(), ["ZZ"]);

        // The stock never exceeds the imported codes not yet received.
        let raise =
            |n: u32| {
                crate::call!(client.modify_stock(
                    &ModifyStockRequest::new(card_id.as_str()).increase_stock_value(n)
                ))
            };
        assert_eq!(errcode(raise(5)), 40122);
        raise(4).unwrap();
        assert_eq!(stock(&client, &card_id), (4, Some(4)));

        // Users receive the imported codes in import order, by any route.
        assert_eq!(sandbox.receive_card("o-1", &card_id).unwrap(), "A1");
        let qr = crate::call!(client.create_qrcode(&qr_card(QrcodeCard::new(card_id.as_str()))))
            .unwrap();
        assert_eq!(sandbox.scan_qrcode("o-2", &ticket_of(&qr)).unwrap(), ["A2"]);
        assert_eq!(
            sandbox
                .receive_card_with_code("o-3", &card_id, "A4")
                .unwrap(),
            "A4"
        );
        assert_eq!(
            refused(sandbox.receive_card_with_code("o-3", &card_id, "NOT-IMPORTED")),
            40116
        );
        assert_eq!(sandbox.receive_card("o-4", &card_id).unwrap(), "A3");
        assert_eq!(stock(&client, &card_id).0, 0);
        assert_eq!(count(&client), Some(4), "received codes still count");
        assert_eq!(errcode(raise(1)), 40122, "every imported code is taken");
        crate::call!(client.consume_code(&ConsumeCodeRequest::new("A1").card_id(card_id.as_str())))
            .unwrap();
        // A received code is a duplicate; a QR code of a deposit-mode card carries no code.
        let again = crate::call!(client.deposit_codes(&DepositCodesRequest::new(
            card_id.as_str(),
            codes(&["A1", "A5"]),
        )))
        .unwrap();
        assert_eq!(
            (again.succ_code.unwrap(), again.duplicate_code.unwrap()),
            (codes(&["A5"]), codes(&["A1"]))
        );
        raise(1).unwrap();
        assert_eq!(
            errcode(crate::call!(client.create_qrcode(&qr_card(
                QrcodeCard::new(card_id.as_str()).code("A5")
            )))),
            43009
        );

        // Only deposit-mode cards import codes; codes belong to one card.
        let plain = approved(&sandbox, &gift_card(1));
        let custom = approved(
            &sandbox,
            &discount_card(1, json!({ "use_custom_code": true })),
        );
        for other in [&plain, &custom] {
            let request = DepositCodesRequest::new(other.as_str(), codes(&["B1"]));
            assert_eq!(errcode(crate::call!(client.deposit_codes(&request))), 43009);
            let request = GetDepositCountRequest::new(other.as_str());
            assert_eq!(
                errcode(crate::call!(client.get_deposit_count(&request))),
                43009
            );
        }
        let second = deposit_card(&sandbox);
        let answer = crate::call!(client.deposit_codes(&DepositCodesRequest::new(
            second.as_str(),
            codes(&["A5", "B1"]),
        )))
        .unwrap();
        assert_eq!(
            (answer.succ_code.unwrap(), answer.fail_code.unwrap()),
            (codes(&["B1"]), codes(&["A5"]))
        );
        assert_eq!(
            errcode(crate::call!(client.deposit_codes(
                &DepositCodesRequest::new("pNoSuchCard", codes(&["C"]))
            ))),
            40073
        );
    });
}

#[test]
fn whitelisted_users_receive_cards_under_review() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let pending = sandbox.add_card(&gift_card(10)).unwrap();
        assert_eq!(refused(sandbox.receive_card("o-tester", &pending)), 40078);

        let answer = crate::call!(
            client.set_test_whitelist(
                &SetTestWhitelistRequest::new()
                    .openid(codes(&["o-tester", "o-tester", "o-qa"]))
                    .username(codes(&["wx-tester"])),
            )
        )
        .unwrap();
        assert_eq!(answer.white_list_size, Some(3));
        assert_eq!(answer.success_openid.unwrap(), ["o-tester", "o-qa"]);
        assert_eq!(answer.success_username.unwrap(), ["wx-tester"]);
        sandbox.receive_card("o-tester", &pending).unwrap();
        assert_eq!(refused(sandbox.receive_card("o-user", &pending)), 40078);
        let qr = crate::call!(client.create_qrcode(&qr_card(QrcodeCard::new(pending.as_str()))))
            .unwrap();
        sandbox.scan_qrcode("o-qa", &ticket_of(&qr)).unwrap();
        assert_eq!(
            refused(sandbox.scan_qrcode("o-user", &ticket_of(&qr))),
            40078
        );
        // A refused card too, but not a deleted one.
        sandbox.reject_card(&pending).unwrap();
        sandbox.receive_card("o-tester", &pending).unwrap();
        crate::call!(client.delete_card(&DeleteCardRequest::new(pending.as_str()))).unwrap();
        assert_eq!(refused(sandbox.receive_card("o-tester", &pending)), 40078);

        // Each call replaces the whole list.
        let other = sandbox.add_card(&gift_card(10)).unwrap();
        let answer = crate::call!(
            client.set_test_whitelist(&SetTestWhitelistRequest::new().openid(codes(&["o-qa"])))
        )
        .unwrap();
        assert_eq!(answer.white_list_size, Some(1));
        assert_eq!(refused(sandbox.receive_card("o-tester", &other)), 40078);
        sandbox.receive_card("o-qa", &other).unwrap();
        crate::call!(client.set_test_whitelist(&SetTestWhitelistRequest::new())).unwrap();
        assert_eq!(refused(sandbox.receive_card("o-qa", &other)), 40078);

        // At most 10 users: stopped by the client, and by the sandbox for other clients.
        let eleven: Vec<String> = (0..11).map(|i| format!("o-{i}")).collect();
        let request = SetTestWhitelistRequest::new().openid(eleven.clone());
        assert!(matches!(
            crate::call!(client.set_test_whitelist(&request)),
            Err(Error::Validation(_))
        ));
        let raw = client.call_json::<_, serde_json::Value>(
            wechat_card::schema::HttpMethod::Post,
            "card/testwhitelist/set",
            &json!({ "openid": eleven }),
            false,
        );
        assert_eq!(errcode(raw), 40097);
    });
}

#[test]
fn card_shelves_and_article_html() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let coffee = approved(&sandbox, &gift_card(10));
        let cake = approved(&sandbox, &discount_card(10, json!({})));
        let shelf = |cards: &[&str]| {
            crate::call!(client.create_landing_page(&CreateLandingPageRequest::new(
                CreateLandingPageRequestRequired {
                    banner: "http://mmbiz.qpic.cn/mmbiz/banner/0".into(),
                    page_title: "惠城优惠大派送".into(),
                    can_share: true,
                    scene: LandingPageScene::Menu,
                    card_list: cards.iter().map(|c| LandingPageCard::new(*c)).collect(),
                },
            )))
        };
        let first = shelf(&[&coffee, &cake]).unwrap();
        assert_eq!(first.page_id, Some(1));
        let url = first.url.unwrap();
        assert!(url.starts_with("https://mp.weixin.qq.com/"), "{url}");
        assert!(
            url.contains("page_id=1") && url.contains("scene=SCENE_MENU"),
            "{url}"
        );
        assert_eq!(shelf(&[&coffee]).unwrap().page_id, Some(2));
        assert_eq!(errcode(shelf(&[&coffee, "pNoSuchCard"])), 40073);
        crate::call!(client.delete_card(&DeleteCardRequest::new(cake.as_str()))).unwrap();
        assert_eq!(errcode(shelf(&[&cake])), 40078);

        let html = |card_id: &str| {
            crate::call!(client.get_mpnews_html(&GetMpnewsHtmlRequest::new(card_id)))
        };
        let content = html(&coffee).unwrap().content.unwrap();
        assert!(content.starts_with("<iframe"), "{content}");
        assert!(content.contains(&format!("cardid={coffee}")), "{content}");
        assert_eq!(errcode(html("pNoSuchCard")), 40073);
        assert_eq!(errcode(html(&cake)), 40078);
        // Custom codes only once imported.
        let custom = approved(
            &sandbox,
            &discount_card(1, json!({ "use_custom_code": true })),
        );
        assert_eq!(errcode(html(&custom)), 43009);
        let deposit = deposit_card(&sandbox);
        assert_eq!(errcode(html(&deposit)), 43009);
        crate::call!(
            client.deposit_codes(&DepositCodesRequest::new(deposit.as_str(), codes(&["D1"])))
        )
        .unwrap();
        assert!(html(&deposit).unwrap().content.unwrap().contains(&deposit));
    });
}

/// Clients in other languages scan through `POST /sandbox/qrcode/scan`.
#[test]
fn scanning_over_http() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let answer =
            crate::call!(client.create_qrcode(&qr_card(QrcodeCard::new(card_id.as_str()))))
                .unwrap();
        let body = json!({ "openid": "o-http", "url": answer.url.unwrap() }).to_string();
        let scanned = http_json(
            sandbox.addr(),
            "POST",
            "/sandbox/qrcode/scan",
            body.as_bytes(),
        );
        assert_eq!(scanned["errcode"], 0, "{scanned}");
        assert_eq!(scanned["card_list"][0]["card_id"], card_id.as_str());
        let code = scanned["card_list"][0]["code"].as_str().unwrap().to_owned();
        assert_eq!(
            crate::call!(client.get_code(&GetCodeRequest::new(code)))
                .unwrap()
                .openid,
            "o-http"
        );
        let body = json!({ "openid": "o-http", "ticket": "nope" }).to_string();
        let refused = http_json(
            sandbox.addr(),
            "POST",
            "/sandbox/qrcode/scan",
            body.as_bytes(),
        );
        assert_eq!(refused["errcode"], 40097, "{refused}");
        let refused = http_json(
            sandbox.addr(),
            "POST",
            "/sandbox/qrcode/scan",
            b"{\"openid\":\"o\"}",
        );
        assert_eq!(refused["errcode"], 41011, "{refused}");
    });
}
