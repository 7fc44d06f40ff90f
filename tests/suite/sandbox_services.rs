//! The endpoints around the cards keep what they are told and answer later calls from it: cells,
//! pay-gift rules, coins, 门店小程序 cards, special tickets, the activation form's answers,
//! sub-merchants and qualifications, gift-card pages, orders and gift cards. The controls for
//! what users and WeChat do push their events to a listener on 127.0.0.1.
#![cfg(all(feature = "sandbox", feature = "events"))]

use crate::clients::{AnyClient, Flavor};
use crate::sandbox_support;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use sandbox_support::complete::Generator;
use sandbox_support::errcode;
use serde_json::{Value, json};
use wechat_card::events::{Callback, CallbackQuery};
use wechat_card::sandbox::Sandbox;
use wechat_card::{CardEvent, Error};

const TOKEN: &str = "sandbox-services-token";

/// A listener answering `success`; the pushed events arrive on the channel.
fn listener() -> (String, mpsc::Receiver<CardEvent>) {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/callback", socket.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let callback = Callback::new(TOKEN);
        for stream in socket.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            while let Some((target, body)) = sandbox_support::read_request(&mut reader) {
                let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
                let message = callback
                    .receive(&CallbackQuery::parse(query), &body)
                    .expect("a valid push");
                let _ = tx.send(message.event);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccess");
            }
        }
    });
    (url, rx)
}

fn next(rx: &mpsc::Receiver<CardEvent>) -> CardEvent {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("an event within 10 seconds")
}

fn call(client: &AnyClient, path: &str, body: Value) -> Result<Value, Error> {
    match client.invoke_path(path, &body) {
        Ok(answer) => Ok(answer),
        Err(wechat_card::tooling::HookError::Call(e)) => Err(e),
        Err(e) => panic!("{path} {body}: {e}"),
    }
}

fn ok(client: &AnyClient, path: &str, body: Value) -> Value {
    call(client, path, body.clone()).unwrap_or_else(|e| panic!("{path} {body}: {e}"))
}

/// A complete card of `card_type`, approved, with or without a store.
fn card(sandbox: &Sandbox, card_type: &str, store: bool) -> String {
    let mut card = Generator::new(0).card(card_type);
    let base = &mut card[card_type.to_ascii_lowercase()]["base_info"];
    if !store {
        let base = base.as_object_mut().unwrap();
        base.remove("location_id_list");
        base.remove("use_all_locations");
    }
    base["sku"]["quantity"] = json!(100);
    base["get_limit"] = json!(50);
    base["use_custom_code"] = json!(false);
    base["bind_openid"] = json!(false);
    base["date_info"] = json!({ "type": "DATE_TYPE_PERMANENT" });
    let card_id = sandbox.add_card(&card).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    card_id
}

fn setup(flavor: Flavor) -> (Sandbox, AnyClient, mpsc::Receiver<CardEvent>) {
    let sandbox = Sandbox::builder()
        .start_time(1_710_000_000)
        .start()
        .unwrap();
    let client = AnyClient::of(
        flavor,
        sandbox
            .client_builder()
            .component_token("SANDBOX-COMPONENT-TOKEN"),
    );
    let (url, rx) = listener();
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    (sandbox, client, rx)
}

#[test]
fn cells_colours_and_store_cards() {
    crate::clients::each(|flavor| {
        let (sandbox, client, rx) = setup(flavor);
        let without_store = card(&sandbox, "MEMBER_CARD", false);
        let with_store = card(&sandbox, "MEMBER_CARD", true);
        let _ = (next(&rx), next(&rx));

        for path in ["card/paycell/set", "card/selfconsumecell/set"] {
            let body = json!({ "card_id": without_store, "is_open": true });
            assert_eq!(errcode(call(&client, path, body)), 43017, "{path}");
            ok(
                &client,
                path,
                json!({ "card_id": with_store, "is_open": true }),
            );
        }
        // Closing needs no store; the pay cell is closed by default for a card never set.
        ok(
            &client,
            "card/paycell/set",
            json!({ "card_id": without_store, "is_open": false }),
        );
        let code = sandbox.receive_card("o-payer", &with_store).unwrap();
        assert!(matches!(next(&rx), CardEvent::UserGetCard(_)));
        let trans_id = sandbox.pay_with_pay_cell(&code, 800, 1000).unwrap();
        let CardEvent::UserPayFromPayCell(paid) = next(&rx) else {
            panic!("not a pay-cell event")
        };
        assert_eq!(
            (paid.fee, paid.original_fee, paid.trans_id.as_deref()),
            (Some(800), Some(1000), Some(trans_id.as_str()))
        );
        ok(
            &client,
            "card/paycell/set",
            json!({ "card_id": with_store, "is_open": false }),
        );
        assert_eq!(
            sandbox
                .pay_with_pay_cell(&code, 800, 1000)
                .unwrap_err()
                .errcode(),
            Some(40097),
            "the pay cell is closed now"
        );
        sandbox.enter_session(&code).unwrap();
        assert!(matches!(
            next(&rx),
            CardEvent::UserEnterSessionFromCard(e) if e.user_card_code.as_deref() == Some(code.as_str())
        ));

        let colors = ok(&client, "card/getcolors", json!({}));
        assert_eq!(colors["colors"].as_array().unwrap().len(), 14, "{colors}");

        assert_eq!(
            errcode(call(&client, "card/storewxa/get", json!({ "poi_id": 7 }))),
            40097
        );
        ok(
            &client,
            "card/storewxa/set",
            json!({ "poi_id": 7, "card_id": with_store }),
        );
        let got = ok(&client, "card/storewxa/get", json!({ "poi_id": 7 }));
        assert_eq!(got["card_id"], json!(with_store));
    });
}

#[test]
fn pay_gift_rules_are_kept() {
    crate::clients::each(|flavor| {
        let (sandbox, client, _rx) = setup(flavor);
        let member = card(&sandbox, "MEMBER_CARD", true);
        let other = card(&sandbox, "GIFT", true);
        let rule = |card_id: &str, mchids: Value| {
            json!({ "rule_info": { "type": "RULE_TYPE_PAY_MEMBER_CARD",
                "base_info": { "mchid_list": mchids, "begin_time": 1_700_000_000, "end_time": 1_800_000_000 },
                "member_rule": { "card_id": card_id, "least_cost": 100, "max_cost": 10_000 } } })
        };
        assert_eq!(
            errcode(call(
                &client,
                "card/paygiftcard/add",
                rule(&other, json!(["1"]))
            )),
            40071
        );
        let first = ok(
            &client,
            "card/paygiftcard/add",
            rule(&member, json!(["1900000001"])),
        );
        let rule_id = first["rule_id"].as_u64().unwrap();
        // A mchid of a live rule is listed as failed, the others succeed.
        let second = ok(
            &client,
            "card/paygiftcard/add",
            rule(&member, json!(["1900000001", "1900000002"])),
        );
        assert_eq!(second["succ_mchid_list"], json!(["1900000002"]));
        assert_eq!(second["fail_mchid_list"][0]["errcode"], 72004);
        assert_eq!(second["fail_mchid_list"][0]["occupy_rule_id"], rule_id);

        let got = ok(
            &client,
            "card/paygiftcard/getbyid",
            json!({ "rule_id": rule_id }),
        );
        assert_eq!(got["rule_info"]["member_rule"]["card_id"], json!(member));
        assert_eq!(got["rule_info"]["base_info"]["status"], "RULE_STATUS_OK");
        let list = ok(
            &client,
            "card/paygiftcard/batchget",
            json!({ "type": "RULE_TYPE_PAY_MEMBER_CARD", "effective": true, "offset": 0, "count": 10 }),
        );
        assert_eq!(list["total_count"], 2, "{list}");
        ok(
            &client,
            "card/paygiftcard/delete",
            json!({ "rule_id": rule_id }),
        );
        for path in ["card/paygiftcard/getbyid", "card/paygiftcard/delete"] {
            assert_eq!(
                errcode(call(&client, path, json!({ "rule_id": rule_id }))),
                40097
            );
        }
        assert_eq!(
            errcode(call(
                &client,
                "card/paygiftcard/getbyid",
                json!({ "rule_id": 999 })
            )),
            40097
        );
    });
}

#[test]
fn coins_buy_stock() {
    crate::clients::each(|flavor| {
        let (sandbox, client, rx) = setup(flavor);
        let card_id = card(&sandbox, "MEMBER_CARD", true);
        let _ = next(&rx);
        assert_eq!(ok(&client, "card/pay/activate", json!({}))["reward"], "200");
        assert_eq!(ok(&client, "card/pay/activate", json!({}))["reward"], "0");
        let quote = ok(
            &client,
            "card/pay/getpayprice",
            json!({ "card_id": card_id, "quantity": 30_000 }),
        );
        assert_eq!(
            (
                quote["price"].clone(),
                quote["free_coin"].clone(),
                quote["pay_coin"].clone()
            ),
            (json!("300"), json!("200"), json!("100"))
        );
        let order_id = quote["order_id"].as_str().unwrap().to_owned();
        let confirm = json!({ "card_id": card_id, "order_id": order_id, "quantity": 30_000 });
        // Not enough coins yet.
        assert_eq!(
            errcode(call(&client, "card/pay/confirm", confirm.clone())),
            40097
        );
        let recharge = ok(&client, "card/pay/recharge", json!({ "coin_count": 100 }));
        let recharge_id = recharge["order_id"].as_str().unwrap().to_owned();
        let waiting = ok(
            &client,
            "card/pay/getorder",
            json!({ "order_id": recharge_id }),
        );
        assert_eq!(waiting["order_info"]["status"], "ORDER_STATUS_WAITING");
        sandbox.pay_coin_order(&recharge_id).unwrap();
        let CardEvent::CardPayOrder(paid) = next(&rx) else {
            panic!("not card_pay_order")
        };
        assert_eq!(paid.order_id, recharge_id);
        let coins = ok(&client, "card/pay/getcoinsinfo", json!({}));
        assert_eq!(coins["total_coin"], 300, "{coins}");

        ok(&client, "card/pay/confirm", confirm.clone());
        assert!(matches!(next(&rx), CardEvent::CardPayOrder(_)));
        // A quote is used once.
        assert_eq!(errcode(call(&client, "card/pay/confirm", confirm)), 40097);
        let got = ok(&client, "card/get", json!({ "card_id": card_id }));
        assert_eq!(
            got["card"]["member_card"]["base_info"]["sku"]["quantity"],
            30_100
        );
        let coins = ok(&client, "card/pay/getcoinsinfo", json!({}));
        assert_eq!(coins["total_coin"], 0, "{coins}");
        let list = ok(
            &client,
            "card/pay/getorderlist",
            json!({ "offset": 0, "count": 10, "order_type": "ORDER_TYPE_REDUCE" }),
        );
        assert_eq!(list["total_num"], 1, "{list}");
        assert_eq!(
            errcode(call(
                &client,
                "card/pay/getorder",
                json!({ "order_id": "nope" })
            )),
            40097
        );
    });
}

#[test]
fn tickets_and_activation_forms_are_kept() {
    crate::clients::each(|flavor| {
        let (sandbox, client, rx) = setup(flavor);
        let movie = card(&sandbox, "MOVIE_TICKET", true);
        let boarding = card(&sandbox, "BOARDING_PASS", true);
        let member = card(&sandbox, "MEMBER_CARD", true);
        for _ in 0..3 {
            let _ = next(&rx);
        }
        let movie_code = sandbox.receive_card("o-fan", &movie).unwrap();
        let boarding_code = sandbox.receive_card("o-fan", &boarding).unwrap();
        let member_code = sandbox.receive_card("o-fan", &member).unwrap();
        for _ in 0..3 {
            let _ = next(&rx);
        }
        ok(
            &client,
            "card/movieticket/updateuser",
            json!({ "code": movie_code, "screening_room": "5号厅", "seat_number": ["5排14号"] }),
        );
        assert_eq!(
            sandbox.ticket_details(&movie_code),
            Some(json!({ "screening_room": "5号厅", "seat_number": ["5排14号"] }))
        );
        // A code of another card type is refused.
        assert_eq!(
            errcode(call(
                &client,
                "card/boardingpass/checkin",
                json!({ "code": movie_code, "seat": "1A" })
            )),
            40071
        );
        ok(
            &client,
            "card/boardingpass/checkin",
            json!({ "code": boarding_code, "seat": "1A", "gate": "3" }),
        );
        ok(
            &client,
            "card/boardingpass/checkin",
            json!({ "code": boarding_code, "is_cancel": true }),
        );
        assert_eq!(sandbox.ticket_details(&boarding_code), Some(json!({})));

        let info = json!({ "common_field_list": [{ "name": "USER_FORM_INFO_FLAG_MOBILE", "value": "13800000000" }],
            "custom_field_list": [] });
        let ticket = sandbox.submit_member_info(&member_code, &info).unwrap();
        assert!(matches!(
            next(&rx),
            CardEvent::SubmitMembercardUserInfo(e) if e.card_id == member
        ));
        let got = ok(
            &client,
            "card/membercard/activatetempinfo/get",
            json!({ "activate_ticket": ticket }),
        );
        assert_eq!(got["info"]["common_field_list"][0]["value"], "13800000000");
        assert_eq!(
            errcode(call(
                &client,
                "card/membercard/activatetempinfo/get",
                json!({ "activate_ticket": "nope" })
            )),
            40097
        );
    });
}

#[test]
fn sub_merchants_and_qualifications_are_kept() {
    crate::clients::each(|flavor| {
        let (sandbox, client, rx) = setup(flavor);
        let info = json!({ "brand_name": "兰州拉面", "logo_url": "http://mmbiz.qpic.cn/mmbiz/logo/0",
            "protocol": "MEDIA", "end_time": 1_800_000_000u32, "primary_category_id": 1,
            "secondary_category_id": 101 });
        let mut bad = info.clone();
        bad["secondary_category_id"] = json!(999);
        assert_eq!(
            errcode(call(
                &client,
                "card/submerchant/submit",
                json!({ "info": bad })
            )),
            40097
        );
        let submitted = ok(&client, "card/submerchant/submit", json!({ "info": info }));
        let merchant_id = submitted["info"]["merchant_id"].as_u64().unwrap();
        assert_eq!(submitted["info"]["status"], "CHECKING");
        sandbox.review_sub_merchant(merchant_id, true, "").unwrap();
        let CardEvent::CardMerchantCheckResult(result) = next(&rx) else {
            panic!("not card_merchant_check_result")
        };
        assert_eq!(
            (result.merchant_id, result.is_pass),
            (i64::try_from(merchant_id).unwrap(), Some(1))
        );
        let got = ok(
            &client,
            "card/submerchant/get",
            json!({ "merchant_id": merchant_id }),
        );
        assert_eq!(got["info"]["status"], "APPROVED");
        let updated = ok(
            &client,
            "card/submerchant/update",
            json!({ "info": { "merchant_id": merchant_id, "brand_name": "新店名" } }),
        );
        assert_eq!(updated["info"]["brand_name"], "新店名");
        assert_eq!(updated["info"]["status"], "CHECKING");
        let list = ok(
            &client,
            "card/submerchant/batchget",
            json!({ "begin_id": 0, "limit": 10, "status": "CHECKING" }),
        );
        assert_eq!(list["info_list"].as_array().unwrap().len(), 1);
        for path in ["card/submerchant/get", "card/submerchant/update"] {
            let body = if path.ends_with("get") {
                json!({ "merchant_id": 424_242 })
            } else {
                json!({ "info": { "merchant_id": 424_242 } })
            };
            assert_eq!(errcode(call(&client, path, body)), 40097, "{path}");
        }

        let check = "cgi-bin/component/check_card_agent_qualification";
        assert_eq!(
            ok(&client, check, json!({}))["result"],
            "RESULT_NOTHING_TO_CHECK"
        );
        let upload = json!({ "register_capital": 1, "business_license_media_id": "a",
            "tax_registration_certificate_media_id": "b", "last_quarter_tax_listing_media_id": "c" });
        ok(
            &client,
            "cgi-bin/component/upload_card_agent_qualification",
            upload.clone(),
        );
        assert_eq!(ok(&client, check, json!({}))["result"], "RESULT_CHECKING");
        assert_eq!(
            errcode(call(
                &client,
                "cgi-bin/component/upload_card_agent_qualification",
                upload
            )),
            61022
        );
        sandbox.review_qualification(None, true).unwrap();
        assert_eq!(ok(&client, check, json!({}))["result"], "RESULT_PASS");

        let appid = "wx1234567890abcdef";
        assert_eq!(
            errcode(call(
                &client,
                "cgi-bin/component/get_card_merchant",
                json!({ "appid": appid })
            )),
            40097
        );
        ok(
            &client,
            "cgi-bin/component/upload_card_merchant_qualification",
            json!({ "appid": appid, "name": "兰州拉面", "logo_media_id": "l",
                "business_license_media_id": "b", "agreement_file_media_id": "a",
                "primary_category_id": 1, "secondary_category_id": 101 }),
        );
        sandbox.review_qualification(Some(appid), false).unwrap();
        let account = ok(
            &client,
            "cgi-bin/component/get_card_merchant",
            json!({ "appid": appid }),
        );
        assert_eq!(account["result"], "RESULT_NOT_PASS");
        let all = ok(
            &client,
            "cgi-bin/component/batchget_card_merchant",
            json!({ "next_get": "" }),
        );
        assert_eq!(all["list"][0]["appid"], appid);
    });
}

#[test]
fn gift_card_pages_orders_and_cards_are_kept() {
    crate::clients::each(|flavor| {
        let (sandbox, client, rx) = setup(flavor);
        let gift_card = card(&sandbox, "GENERAL_CARD", true);
        let member = card(&sandbox, "MEMBER_CARD", true);
        let _ = (next(&rx), next(&rx));
        let page = |card_id: &str| {
            json!({ "page": { "page_title": "礼品卡", "banner_pic_url": "http://mmbiz.qpic.cn/b/0",
                "address": "广州", "service_phone": "020-1", "biz_description": "说明",
                "theme_list": [{ "theme_pic_url": "http://mmbiz.qpic.cn/t/0", "title": "感谢",
                    "title_color": "#FB966E", "item_list": [{ "card_id": card_id }],
                    "pic_item_list": [{ "background_pic_url": "http://mmbiz.qpic.cn/p/0" }] }] } })
        };
        assert_eq!(
            errcode(call(&client, "card/giftcard/page/add", page(&member))),
            40071
        );
        let page_id = ok(&client, "card/giftcard/page/add", page(&gift_card))["page_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let got = ok(
            &client,
            "card/giftcard/page/get",
            json!({ "page_id": page_id }),
        );
        assert_eq!(got["page"]["page_title"], "礼品卡");
        ok(
            &client,
            "card/giftcard/page/update",
            json!({ "page": { "page_id": page_id, "page_title": "新货架" } }),
        );
        let got = ok(
            &client,
            "card/giftcard/page/get",
            json!({ "page_id": page_id }),
        );
        assert_eq!(got["page"]["page_title"], "新货架");
        assert_eq!(
            ok(&client, "card/giftcard/page/batchget", json!({}))["page_id_list"],
            json!([page_id])
        );
        assert_eq!(
            errcode(call(
                &client,
                "card/giftcard/page/get",
                json!({ "page_id": "nope" })
            )),
            40097
        );

        // Mini program: the sub-merchant is whitelisted, then bound, then set on the page.
        let bind = json!({ "sub_mch_id": "1900000109", "wxa_appid": "wxa1234567890abcde" });
        assert_eq!(
            errcode(call(&client, "card/giftcard/pay/submch/bind", bind.clone())),
            40097
        );
        let wxa = json!({ "wxa_appid": "wxa1234567890abcde", "page_id": page_id });
        assert_eq!(
            errcode(call(&client, "card/giftcard/wxa/set", wxa.clone())),
            40097
        );
        ok(
            &client,
            "card/giftcard/pay/whitelist/add",
            json!({ "sub_mch_id": "1900000109" }),
        );
        ok(&client, "card/giftcard/pay/submch/bind", bind);
        ok(&client, "card/giftcard/wxa/set", wxa);

        // Maintenance stops sales.
        let maintained = ok(
            &client,
            "card/giftcard/maintain/set",
            json!({ "page_id": page_id, "maintain": true }),
        );
        assert_eq!(
            maintained["control_info"]["list"][0]["page_control_type"],
            "PAGE_CONTROL_TYPE_MAINTAIN"
        );
        assert!(sandbox.buy_gift_card("o-buyer", &page_id, None).is_err());
        ok(
            &client,
            "card/giftcard/maintain/set",
            json!({ "all": true, "maintain": false }),
        );

        let order_id = sandbox.buy_gift_card("o-buyer", &page_id, None).unwrap();
        let _ = next(&rx); // user_get_card
        assert!(matches!(next(&rx), CardEvent::GiftcardPayDone(e) if e.order_id == order_id));
        sandbox.give_gift_card(&order_id, "o-friend").unwrap();
        assert!(matches!(next(&rx), CardEvent::GiftcardSendToFriend(_)));
        assert!(matches!(next(&rx), CardEvent::GiftcardUserAccept(_)));
        let order = ok(
            &client,
            "card/giftcard/order/get",
            json!({ "order_id": order_id }),
        );
        assert_eq!(order["order"]["accepter_openid"], "o-friend");
        let code = order["order"]["card_list"][0]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let now = sandbox.now();
        let list = ok(
            &client,
            "card/giftcard/order/batchget",
            json!({ "begin_time": now - 60, "end_time": now + 60, "offset": 0, "count": 10 }),
        );
        assert_eq!(list["total_count"], 1, "{list}");

        // The gift card itself.
        let card_code = json!({ "card_id": gift_card, "code": code });
        assert_eq!(
            errcode(call(
                &client,
                "card/generalcard/unactivate",
                card_code.clone()
            )),
            40127
        );
        ok(&client, "card/generalcard/activate", card_code.clone());
        assert_eq!(
            errcode(call(
                &client,
                "card/generalcard/activate",
                card_code.clone()
            )),
            40127
        );
        let updated = ok(
            &client,
            "card/generalcard/updateuser",
            json!({ "card_id": gift_card, "code": code, "balance": 8000, "bonus": 10 }),
        );
        assert_eq!(
            (
                updated["result_balance"].clone(),
                updated["result_bonus"].clone()
            ),
            (json!(8000), json!(10))
        );
        assert!(matches!(next(&rx), CardEvent::UpdateMemberCard(_)));
        ok(&client, "card/generalcard/unactivate", card_code);

        ok(
            &client,
            "card/giftcard/order/refund",
            json!({ "order_id": order_id }),
        );
        assert_eq!(
            errcode(call(
                &client,
                "card/giftcard/order/refund",
                json!({ "order_id": order_id })
            )),
            40097
        );
        assert_eq!(
            sandbox.code_status(&code),
            Some(wechat_card::UserCardStatus::Unavailable)
        );
    });
}

/// wx.addCard's cardExt in the shapes WeChat documents and other SDKs send: WeChat's own example
/// (`"code": ""`, `"openid": ""`, no `nonce_str`), a numeric `timestamp`, and the signature over
/// the values present. Empty `code` and `openid` mean none (not a custom code, not a user "").
#[test]
fn card_ext_in_wechat_example_shape_is_accepted() {
    crate::clients::each(|flavor| {
        use wechat_card::signature::sha1_sorted;
        let (sandbox, client, rx) = setup(flavor);
        let card_id = card(&sandbox, "MEMBER_CARD", true);
        let _ = next(&rx);
        let ticket = client.api_ticket().unwrap();
        // `{"code": "", "openid": "", "timestamp": "…", "signature": "…"}`, as in WeChat's example.
        let signature = sha1_sorted(&[ticket.expose(), "1418301401", card_id.as_str()]);
        let example =
            json!({"code": "", "openid": "", "timestamp": "1418301401", "signature": signature})
                .to_string();
        let code = sandbox
            .add_card_by_jsapi("o-example", &card_id, &example)
            .unwrap();
        assert!(!code.is_empty());
        let CardEvent::UserGetCard(got) = next(&rx) else {
            panic!("not user_get_card")
        };
        assert_eq!(got.user_card_code.as_deref(), Some(code.as_str()));

        // A numeric timestamp and a nonce_str: signed over the number's text.
        let signature = sha1_sorted(&[ticket.expose(), "1418301402", card_id.as_str(), "n0nce"]);
        let numeric =
            json!({"timestamp": 1418301402, "nonce_str": "n0nce", "signature": signature})
                .to_string();
        sandbox
            .add_card_by_jsapi("o-numeric", &card_id, &numeric)
            .unwrap();
        // The signature still covers what is present: the nonce left out of it is refused.
        let unsigned_nonce =
            json!({"timestamp": 1418301402, "nonce_str": "other", "signature": signature})
                .to_string();
        assert_eq!(
            sandbox
                .add_card_by_jsapi("o-numeric2", &card_id, &unsigned_nonce)
                .unwrap_err()
                .errcode(),
            Some(40080)
        );
    });
}

/// wx.addCard: the cardExt is checked against the sandbox's wx_card ticket; `outer_id` (here and
/// on QR codes) is kept and pushed in `user_get_card`.
#[test]
fn card_ext_signatures_are_verified_and_outer_id_kept() {
    crate::clients::each(|flavor| {
        use wechat_card::signature::CardExt;
        let (sandbox, client, rx) = setup(flavor);
        let card_id = card(&sandbox, "MEMBER_CARD", true);
        let _ = next(&rx);

        let signed = client
            .sign_card_ext(
                &CardExt::new(card_id.as_str())
                    .openid("o-js")
                    .outer_str("banner")
                    .outer_id(7),
            )
            .unwrap();
        // Another user, a tampered signature, another card: 40080.
        assert_eq!(
            sandbox
                .add_card_by_jsapi("o-other", &card_id, &signed.card_ext)
                .unwrap_err()
                .errcode(),
            Some(40080)
        );
        let tampered = signed.card_ext.replace(&signed.signature, &"0".repeat(40));
        assert_eq!(
            sandbox
                .add_card_by_jsapi("o-js", &card_id, &tampered)
                .unwrap_err()
                .errcode(),
            Some(40080)
        );
        let other = card(&sandbox, "MEMBER_CARD", true);
        let _ = next(&rx);
        assert_eq!(
            sandbox
                .add_card_by_jsapi("o-js", &other, &signed.card_ext)
                .unwrap_err()
                .errcode(),
            Some(40080)
        );
        let code = sandbox
            .add_card_by_jsapi("o-js", &card_id, &signed.card_ext)
            .unwrap();
        let CardEvent::UserGetCard(got) = next(&rx) else {
            panic!("not user_get_card")
        };
        assert_eq!(got.user_card_code.as_deref(), Some(code.as_str()));
        assert_eq!(
            (got.outer_str.as_deref(), got.outer_id),
            (Some("banner"), Some(7))
        );

        // A QR code's outer_id too.
        let qr = ok(
            &client,
            "card/qrcode/create",
            json!({ "action_name": "QR_CARD",
                "action_info": { "card": { "card_id": card_id, "outer_id": 42 } } }),
        );
        sandbox
            .scan_qrcode("o-scan", qr["ticket"].as_str().unwrap())
            .unwrap();
        let CardEvent::UserGetCard(got) = next(&rx) else {
            panic!("not user_get_card")
        };
        assert_eq!(got.outer_id, Some(42));
    });
}
