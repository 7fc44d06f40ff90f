//! Cards in the sandbox: review status, `card/get` with the read-only fields, `card/batchget`,
//! `card/update` and `send_check`, stock changes, deletion — through the typed client.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use sandbox_support::{approved, discount_card, errcode, gift_card, member_card, setup};
use serde_json::json;
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, TypeKind};
use wechat_card::{
    BaseInfo, BaseInfoUpdate, BatchGetCardsRequest, Card, CardStatus, CardUpdate,
    ConsumeCodeRequest, DateInfoUpdate, DateType, DeleteCardRequest, GetCardRequest,
    ModifyStockRequest, UpdateCardRequest,
};

fn base_info(client: &AnyClient, card_id: &str) -> BaseInfo {
    match crate::call!(client.get_card(&GetCardRequest::new(card_id)))
        .unwrap()
        .card
    {
        Card::Discount(card) => card.base_info,
        Card::Gift(card) => card.base_info,
        Card::MemberCard(card) => card.base_info,
        other => panic!("unexpected card {other:?}"),
    }
}

#[test]
fn a_card_waits_for_review_and_shows_its_read_only_fields() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        sandbox.set_time(1_700_000_000);
        let card_id = sandbox.add_card(&discount_card(100, json!({}))).unwrap();
        assert_eq!(card_id.len(), 28);
        let base = base_info(&client, &card_id);
        assert_eq!(base.id.as_deref(), Some(card_id.as_str()));
        assert_eq!(base.status, Some(CardStatus::NotVerify));
        assert_eq!(
            (base.sku.quantity, base.sku.total_quantity),
            (100, Some(100))
        );
        assert_eq!(
            (base.create_time, base.update_time),
            (Some(1_700_000_000), Some(1_700_000_000))
        );
        assert_eq!(base.title, "咖啡券", "the card as created");
        assert_eq!(
            base.color, "#63b359",
            "colour names come back as hex values"
        );

        sandbox.approve_card(&card_id).unwrap();
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));
        assert_eq!(
            base_info(&client, &card_id).status,
            Some(CardStatus::VerifyOk)
        );
        sandbox.reject_card(&card_id).unwrap();
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyFail));

        assert_eq!(
            errcode(crate::call!(
                client.get_card(&GetCardRequest::new("pNoSuchCard"))
            )),
            40073
        );
    });
}

#[test]
fn auto_approve_and_typed_cards() {
    let sandbox = Sandbox::builder().auto_approve(true).start().unwrap();
    let typed: Card = serde_json::from_value(member_card(5)).unwrap();
    let card_id = sandbox.add_card(&typed).unwrap();
    assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));
    // The card/create body is accepted too.
    let wrapped = sandbox.add_card(&json!({ "card": gift_card(1) })).unwrap();
    assert_eq!(sandbox.card_status(&wrapped), Some(CardStatus::VerifyOk));
    // Cards are checked with the spec.
    let mut bad = gift_card(1);
    bad["gift"]["base_info"]["title"] = json!("一二三四五六七八九十");
    let refused = sandbox.add_card(&bad).unwrap_err();
    assert_eq!(refused.errcode(), Some(45021), "{refused}");
    let refused = sandbox
        .add_card(&json!({ "card_type": "LUCKY_MONEY", "lucky_money": {} }))
        .unwrap_err();
    assert_eq!(refused.errcode(), Some(40071), "{refused}");
    let mut missing = gift_card(1);
    missing["gift"]["base_info"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let refused = sandbox.add_card(&missing).unwrap_err();
    assert_eq!(refused.errcode(), Some(41011), "{refused}");
    assert!(refused.to_string().contains("base_info.title"), "{refused}");
}

#[test]
fn batchget_pages_and_filters() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let a = approved(&sandbox, &gift_card(1));
        let b = sandbox.add_card(&gift_card(1)).unwrap();
        let c = approved(&sandbox, &discount_card(1, json!({})));
        let d = approved(&sandbox, &gift_card(1));
        crate::call!(client.delete_card(&DeleteCardRequest::new(d.as_str()))).unwrap();

        let all = crate::call!(client.batch_get_cards(&BatchGetCardsRequest::new(0, 50))).unwrap();
        assert_eq!(
            all.card_id_list.unwrap(),
            [a.clone(), b.clone(), c.clone(), d.clone()]
        );
        assert_eq!(all.total_num, Some(4));

        let page = crate::call!(client.batch_get_cards(&BatchGetCardsRequest::new(1, 2))).unwrap();
        assert_eq!(page.card_id_list.unwrap(), [b.clone(), c.clone()]);
        assert_eq!(page.total_num, Some(4));

        let approved_only = crate::call!(client.batch_get_cards(
            &BatchGetCardsRequest::new(0, 10).status_list(vec![CardStatus::VerifyOk])
        ))
        .unwrap();
        assert_eq!(approved_only.card_id_list.unwrap(), [a.clone(), c.clone()]);
        assert_eq!(approved_only.total_num, Some(2));

        let some = crate::call!(
            client.batch_get_cards(
                &BatchGetCardsRequest::new(0, 10)
                    .status_list(vec![CardStatus::NotVerify, CardStatus::Delete]),
            )
        )
        .unwrap();
        assert_eq!(some.card_id_list.unwrap(), [b.clone(), d.clone()]);

        let past_the_end =
            crate::call!(client.batch_get_cards(&BatchGetCardsRequest::new(9, 10))).unwrap();
        assert_eq!(past_the_end.card_id_list.unwrap_or_default().len(), 0);
    });
}

/// The fields that send a card back to review are those marked `review` in the spec.
#[test]
fn update_sends_back_to_review_when_a_review_field_changes() {
    crate::clients::each(|flavor| {
        let review_fields: Vec<&str> = match schema::type_info("BaseInfoUpdate").unwrap().kind {
            TypeKind::Object { fields, .. } => {
                fields.iter().filter(|f| f.review).map(|f| f.wire).collect()
            }
            _ => unreachable!(),
        };
        assert!(review_fields.contains(&"notice") && !review_fields.contains(&"service_phone"));

        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &discount_card(10, json!({})));
        let update = |base: BaseInfoUpdate| {
            crate::call!(client.update_card(
                &UpdateCardRequest::new(card_id.as_str()).discount(CardUpdate::new(base))
            ))
            .unwrap()
            .send_check
        };

        assert_eq!(
            update(BaseInfoUpdate::new().service_phone("020-88888888")),
            Some(false)
        );
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));
        let base = base_info(&client, &card_id);
        assert_eq!(base.service_phone.as_deref(), Some("020-88888888"));

        // The same value again is no change.
        assert_eq!(
            update(BaseInfoUpdate::new().notice("请出示二维码")),
            Some(false)
        );
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::VerifyOk));

        assert_eq!(update(BaseInfoUpdate::new().notice("到店出示")), Some(true));
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::NotVerify));
        assert_eq!(base_info(&client, &card_id).notice, "到店出示");
        sandbox.approve_card(&card_id).unwrap();

        // get_limit is read by receipts after an update.
        assert_eq!(update(BaseInfoUpdate::new().get_limit(1)), Some(false));
        sandbox.receive_card("o-1", &card_id).unwrap();
        assert_eq!(
            sandbox.receive_card("o-1", &card_id).unwrap_err().errcode(),
            Some(45033)
        );

        // The payload must be under the card's own type.
        let wrong = UpdateCardRequest::new(card_id.as_str())
            .gift(CardUpdate::new(BaseInfoUpdate::new().notice("x")));
        assert_eq!(errcode(crate::call!(client.update_card(&wrong))), 40071);

        // A validity period can only widen.
        let range = |begin: u32, end: u32| {
            UpdateCardRequest::new(card_id.as_str()).discount(CardUpdate::new(
                BaseInfoUpdate::new().date_info(
                    DateInfoUpdate::new()
                        .date_type(DateType::FixTimeRange)
                        .begin_timestamp(begin)
                        .end_timestamp(end),
                ),
            ))
        };
        assert_eq!(
            errcode(crate::call!(
                client.update_card(&range(1_400_000_000, 3_000_000_000))
            )),
            40079
        );
        assert_eq!(
            errcode(crate::call!(
                client.update_card(&range(1_500_000_000, 4_000_000_000))
            )),
            40079
        );
        crate::call!(client.update_card(&range(1_300_000_000, 4_100_000_000))).unwrap();
    });
}

#[test]
fn stock_never_goes_below_zero() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        sandbox.receive_card("o-1", &card_id).unwrap();
        crate::call!(
            client.modify_stock(
                &ModifyStockRequest::new(card_id.as_str())
                    .increase_stock_value(5)
                    .reduce_stock_value(3),
            )
        )
        .unwrap();
        let sku = base_info(&client, &card_id).sku;
        assert_eq!((sku.quantity, sku.total_quantity), (11, Some(12)));

        let too_much = ModifyStockRequest::new(card_id.as_str()).reduce_stock_value(12);
        assert_eq!(errcode(crate::call!(client.modify_stock(&too_much))), 40122);
        let sku = base_info(&client, &card_id).sku;
        assert_eq!(
            (sku.quantity, sku.total_quantity),
            (11, Some(12)),
            "unchanged"
        );

        crate::call!(
            client.modify_stock(&ModifyStockRequest::new(card_id.as_str()).reduce_stock_value(11))
        )
        .unwrap();
        assert_eq!(
            sandbox.receive_card("o-2", &card_id).unwrap_err().errcode(),
            Some(45031)
        );
        assert_eq!(
            errcode(crate::call!(client.modify_stock(
                &ModifyStockRequest::new("pNoSuchCard").increase_stock_value(1)
            ))),
            40073
        );
    });
}

#[test]
fn deleted_cards_keep_their_received_codes() {
    crate::clients::each(|flavor| {
        let (sandbox, client) = setup(flavor);
        let card_id = approved(&sandbox, &gift_card(10));
        let code = sandbox.receive_card("o-1", &card_id).unwrap();
        crate::call!(client.delete_card(&DeleteCardRequest::new(card_id.as_str()))).unwrap();
        assert_eq!(
            base_info(&client, &card_id).status,
            Some(CardStatus::Delete)
        );
        assert_eq!(
            errcode(crate::call!(client.modify_stock(
                &ModifyStockRequest::new(card_id.as_str()).increase_stock_value(1)
            ))),
            40078
        );
        assert_eq!(
            errcode(crate::call!(
                client.delete_card(&DeleteCardRequest::new(card_id.as_str()))
            )),
            40078
        );
        assert_eq!(
            sandbox.receive_card("o-2", &card_id).unwrap_err().errcode(),
            Some(40078)
        );
        crate::call!(client.consume_code(&ConsumeCodeRequest::new(code.as_str()))).unwrap();
        assert_eq!(
            errcode(crate::call!(
                client.delete_card(&DeleteCardRequest::new("pNoSuchCard"))
            )),
            40073
        );
    });
}

/// `card/create` is served statefully as soon as the spec has it: the card is kept, waits for
/// review and is what `card/get` shows.
#[test]
fn card_create_is_stateful_once_in_the_spec() {
    crate::clients::each(|flavor| {
        let Some(create) = schema::endpoint("card/create") else {
            return;
        };
        // Coupon types are refused by default, as WeChat refuses them since 2021-04-01, with the
        // sandbox's own errcode 99001.
        let (_default, client) = setup(flavor);
        let error = client
            .invoke(create, &json!({ "card": gift_card(7) }))
            .unwrap_err();
        assert_eq!(error.errcode(), Some(99001), "{error}");
        assert!(error.to_string().contains("2021-04-01"), "{error}");

        // The flag brings the old behaviour back.
        let sandbox = Sandbox::builder()
            .allow_coupon_creation(true)
            .start()
            .unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let answer = client
            .invoke(create, &json!({ "card": gift_card(7) }))
            .unwrap();
        let card_id = answer["card_id"].as_str().unwrap().to_owned();
        assert_eq!(sandbox.card_status(&card_id), Some(CardStatus::NotVerify));
        let base = base_info(&client, &card_id);
        assert_eq!((base.title.as_str(), base.sku.quantity), ("咖啡券", 7));

        // Unchecked requests are answered as WeChat would.
        let mut missing = gift_card(1);
        missing["gift"]["base_info"]
            .as_object_mut()
            .unwrap()
            .remove("brand_name");
        let error = client
            .call_json::<_, serde_json::Value>(
                schema::HttpMethod::Post,
                "card/create",
                &json!({ "card": missing }),
                false,
            )
            .unwrap_err();
        assert_eq!(error.errcode(), Some(41011), "{error}");
        assert!(
            error.to_string().contains("card.gift.base_info.brand_name"),
            "{error}"
        );
    });
}
