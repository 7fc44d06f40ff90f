//! Decoding is tolerant where WeChat says it may grow: unknown response fields are ignored,
//! unknown enum values and card types are kept and sent back unchanged.

use serde_json::{Value, json};
use wechat_card::{
    BatchGetCardsResponse, Card, CardStatus, GetCardResponse, GetCodeResponse, ModifyStockRequest,
    UserCardStatus,
};

#[test]
fn unknown_response_fields_are_ignored() {
    let body = json!({
        "card": { "card_id": "p1", "begin_time": 1, "end_time": 2, "brand_new": [1, 2] },
        "openid": "o1",
        "can_consume": true,
        "user_card_status": "NORMAL",
        "field_added_in_2030": { "nested": true }
    });
    let decoded: GetCodeResponse = serde_json::from_value(body).unwrap();
    assert_eq!(decoded.openid, "o1");
    assert_eq!(decoded.user_card_status, Some(UserCardStatus::Normal));
}

/// WeChat sometimes writes response integers as numeric strings (`"total_num": "3"`); they decode
/// like numbers in every type an answer holds, at any depth, the card body included (the list
/// forms are unit-tested in `wire`). Requests still send numbers, and the sandbox refuses strings
/// in them as WeChat does (`tests/suite/sandbox_fidelity.rs`).
#[test]
fn response_integers_may_be_numeric_strings() {
    let decoded: BatchGetCardsResponse =
        serde_json::from_value(json!({ "card_id_list": ["p1"], "total_num": "3" })).unwrap();
    assert_eq!(decoded.total_num, Some(3));
    let decoded: GetCodeResponse = serde_json::from_value(json!({
        "card": { "card_id": "p1", "begin_time": "1397577600", "end_time": -1 },
        "openid": "o1",
        "can_consume": true
    }))
    .unwrap();
    assert_eq!(decoded.card.begin_time, Some(1_397_577_600));
    assert_eq!(decoded.card.end_time, Some(-1));

    // The card body of card/get: the documented answer, with its integers sent as strings.
    let example = wechat_card::ENDPOINTS
        .iter()
        .find(|e| e.path == "card/get")
        .and_then(|e| e.examples.iter().find_map(|x| x.response))
        .expect("card/get has a documented answer");
    let mut answer: serde_json::Value = serde_json::from_str(example).unwrap();
    let mut strings = 0;
    stringify_integers(&mut answer["card"], &mut strings);
    assert!(strings > 0, "the card/get example holds integers");
    let decoded: GetCardResponse = serde_json::from_value(answer).unwrap();
    let original: GetCardResponse = serde_json::from_value(
        serde_json::from_str::<serde_json::Value>(example).unwrap()["card"].clone(),
    )
    .map(GetCardResponse::new)
    .unwrap();
    assert_eq!(decoded, original);

    // Anything else is still a clear error naming what was expected.
    let e = serde_json::from_value::<BatchGetCardsResponse>(json!({ "total_num": "3 cards" }))
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#"invalid value: string "3 cards""#), "{e}");
    let e = serde_json::from_value::<BatchGetCardsResponse>(json!({ "total_num": "-3" }))
        .unwrap_err()
        .to_string();
    assert!(e.contains("-3 is out of range for u32"), "{e}");
    let decoded: BatchGetCardsResponse =
        serde_json::from_value(json!({ "total_num": null })).unwrap();
    assert_eq!(decoded.total_num, None);
}

/// Requests send numbers, and a type only requests use stays strict when it is read from JSON
/// (which needs the `serde-full` feature: a client only writes requests).
#[test]
fn request_integers_stay_numbers() {
    let request = ModifyStockRequest::new("p1").increase_stock_value(5);
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({ "card_id": "p1", "increase_stock_value": 5 })
    );
    #[cfg(feature = "serde-full")]
    assert!(
        serde_json::from_value::<ModifyStockRequest>(
            json!({ "card_id": "p1", "increase_stock_value": "5" })
        )
        .is_err()
    );
}

#[test]
fn unknown_enum_values_round_trip() {
    let status: UserCardStatus = serde_json::from_value(json!("FROZEN_BY_2030_RULES")).unwrap();
    assert_eq!(
        status,
        UserCardStatus::Unknown("FROZEN_BY_2030_RULES".into())
    );
    assert_eq!(status.as_str(), "FROZEN_BY_2030_RULES");
    // An enum that requests carry too (`status_list` of card/batchget) is sent as it came.
    let status: CardStatus = serde_json::from_value(json!("CARD_STATUS_2030")).unwrap();
    assert_eq!(status, CardStatus::Unknown("CARD_STATUS_2030".into()));
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!("CARD_STATUS_2030")
    );
    // Known values keep their wire spelling, with the enum's own name stripped from the Rust name.
    let ok: CardStatus = serde_json::from_value(json!("CARD_STATUS_VERIFY_OK")).unwrap();
    assert_eq!(ok, CardStatus::VerifyOk);
    assert_eq!(ok.to_string(), "CARD_STATUS_VERIFY_OK");
}

#[test]
fn unknown_card_type_keeps_its_json() {
    let card = json!({
        "card_type": "LUCKY_MONEY",
        "lucky_money": { "base_info": { "title": "红包" }, "balance": 100 },
        "extra": [1, { "a": null }]
    });
    let body = json!({ "card": card.clone() });
    let decoded: GetCardResponse = serde_json::from_value(body).unwrap();
    match &decoded.card {
        Card::Unknown(object) => assert_eq!(Value::Object(object.clone()), card),
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(decoded.card.tag(), "LUCKY_MONEY");
    assert_eq!(serde_json::to_value(&decoded.card).unwrap(), card);
}

#[test]
fn known_card_type_round_trips_through_the_tagged_union() {
    let ep = wechat_card::schema::endpoint("card/get").unwrap();
    let example = ep.examples.iter().find_map(|e| e.response).unwrap();
    let body: Value = serde_json::from_str(example).unwrap();
    let decoded: GetCardResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(
        decoded.card.tag(),
        body["card"]["card_type"].as_str().unwrap()
    );
    assert_eq!(serde_json::to_value(&decoded.card).unwrap(), body["card"]);
}

#[test]
fn tagged_union_errors_are_clear() {
    let missing_tag = serde_json::from_value::<Card>(json!({ "discount": {} })).unwrap_err();
    assert!(
        missing_tag.to_string().contains("card_type"),
        "{missing_tag}"
    );
    let missing_payload =
        serde_json::from_value::<Card>(json!({ "card_type": "DISCOUNT" })).unwrap_err();
    assert!(
        missing_payload.to_string().contains("discount"),
        "{missing_payload}"
    );
}

/// Turns every integer below `value` into its decimal string, counting them.
fn stringify_integers(value: &mut serde_json::Value, count: &mut usize) {
    match value {
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
            *value = serde_json::Value::String(n.to_string());
            *count += 1;
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|item| stringify_integers(item, count)),
        serde_json::Value::Object(map) => map
            .values_mut()
            .for_each(|item| stringify_integers(item, count)),
        _ => {}
    }
}
