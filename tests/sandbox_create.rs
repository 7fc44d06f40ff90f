//! `card/create` round-trips a complete card of every card type: created through
//! `Client::create_card`, `Client::get_card` returns the same card plus the read-only fields.
//! "Complete" is checked against the spec: every field of every type a card body can hold
//! appears in at least one of the cards (the read-only fields aside).
#![cfg(feature = "sandbox")]

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, HttpMethod, Ty, TypeKind};
use wechat_card::{Card, CreateCardRequest, GetCardRequest};

/// Fields `card/get` adds (or changes) and that a create request leaves out: `(type, field)`.
const READ_ONLY: &[(&str, &str)] = &[
    ("BaseInfo", "id"),
    ("BaseInfo", "status"),
    ("BaseInfo", "create_time"),
    ("BaseInfo", "update_time"),
    ("BaseInfo", "area_code_list"),
    ("Sku", "total_quantity"),
    ("AdvancedInfo", "share_friends"),
    ("AdvancedInfo", "consume_share_card_list"),
];

/// `base_info` with every field a card of any type may carry, for a card of `title`, plus
/// `extra` (fields of some types only; `null` removes a field).
fn base_info(title: &str, quantity: u64, date_info: Value, extra: Value) -> Value {
    let mut base = json!({
        "logo_url": "http://mmbiz.qpic.cn/mmbiz/iaL1LJM1mF9aRKPZ/0",
        "code_type": "CODE_TYPE_QRCODE",
        "brand_name": "微信餐厅",
        "title": title,
        "sub_title": "周末双人套餐",
        "color": "Color010",
        "notice": "使用时向服务员出示此券",
        "description": "不可与其他优惠同享\n如需团购券发票,请在消费时向商户提出",
        "sku": { "quantity": quantity },
        "date_info": date_info,
        "use_custom_code": false,
        "bind_openid": false,
        "service_phone": "020-88888888",
        "location_id_list": [123, 12321, 345345],
        "center_title": "顶部居中按钮",
        "center_sub_title": "按钮下方的wording",
        "center_url": "http://www.qq.com",
        "center_app_brand_user_name": "gh_86a091e50ad4@app",
        "center_app_brand_pass": "API/cardPage",
        "custom_url_name": "立即使用",
        "custom_url": "http://www.qq.com",
        "custom_url_sub_title": "6个汉字tips",
        "custom_app_brand_user_name": "gh_86a091e50ad4@app",
        "custom_app_brand_pass": "API/customPage",
        "promotion_url_name": "更多优惠",
        "promotion_url": "http://www.qq.com",
        "promotion_url_sub_title": "卖场大优惠。",
        "promotion_app_brand_user_name": "gh_86a091e50ad4@app",
        "promotion_app_brand_pass": "API/promotionPage",
        "get_limit": 3,
        "use_limit": 100,
        "can_share": true,
        "can_give_friend": true,
        "source": "大众点评",
        "sub_merchant_info": { "merchant_id": 12 }
    });
    merge(&mut base, extra);
    base
}

/// `advanced_info` with every field a create request can hold.
fn advanced_info() -> Value {
    json!({
        "use_condition": {
            "accept_category": "鞋类",
            "reject_category": "阿迪达斯",
            "least_cost": 10000,
            "object_use_for": "火锅套餐",
            "can_use_with_other_discount": true
        },
        "abstract": {
            "abstract": "微信餐厅推出多种新季菜品,期待您的光临",
            "icon_url_list": ["http://mmbiz.qpic.cn/mmbiz/p98FjXy8LacgHxp3sJ3vn97bGLz0ib0Sfz1bjiaoOYA027iasqSG0sjpiby4vce3AtaPu6cIhBHkt6IjlkY9YnDsfw/0"]
        },
        "text_image_list": [
            { "image_url": "http://mmbiz.qpic.cn/mmbiz/dish-1/0", "text": "此菜品精选食材,以独特的烹饪方法,最大程度地刺激食客的味蕾" },
            { "image_url": "http://mmbiz.qpic.cn/mmbiz/dish-2/0", "text": "此菜品迎合大众口味,老少皆宜,营养均衡" }
        ],
        "business_service": ["BIZ_SERVICE_FREE_WIFI", "BIZ_SERVICE_WITH_PET", "BIZ_SERVICE_FREE_PARK", "BIZ_SERVICE_DELIVER"],
        "time_limit": [
            { "type": "MONDAY", "begin_hour": 0, "end_hour": 10, "begin_minute": 10, "end_minute": 59 },
            { "type": "SATURDAY", "begin_hour": 9, "end_hour": 21, "begin_minute": 0, "end_minute": 30 },
            { "type": "HOLIDAY" }
        ]
    })
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        for (k, v) in extra {
            if v.is_null() {
                target.remove(&k);
            } else {
                target.insert(k, v);
            }
        }
    }
}

fn range(begin: u64, end: u64) -> Value {
    json!({ "type": "DATE_TYPE_FIX_TIME_RANGE", "begin_timestamp": begin, "end_timestamp": end })
}

fn term(days: u64, after: u64) -> Value {
    json!({ "type": "DATE_TYPE_FIX_TERM", "fixed_term": days, "fixed_begin_term": after, "end_timestamp": 1_900_000_000u64 })
}

fn permanent() -> Value {
    json!({ "type": "DATE_TYPE_PERMANENT" })
}

/// `{"card_type": tag, "<tag lower-cased>": {base_info, advanced_info, …fields}}`.
fn card(tag: &str, base: Value, fields: Value) -> Value {
    let mut payload = json!({ "base_info": base, "advanced_info": advanced_info() });
    merge(&mut payload, fields);
    let mut card = Map::new();
    card.insert("card_type".into(), json!(tag));
    card.insert(tag.to_ascii_lowercase(), payload);
    Value::Object(card)
}

fn custom_field(name_type: &str, name: &str) -> Value {
    json!({
        "name_type": name_type,
        "name": name,
        "url": "http://www.qq.com/member",
        "app_brand_user_name": "gh_86a091e50ad4@app",
        "app_brand_pass": "API/memberPage"
    })
}

fn custom_cell(name: &str) -> Value {
    json!({
        "name": name,
        "tips": "激活后显示",
        "url": "http://www.xxx.com",
        "app_brand_user_name": "gh_86a091e50ad4@app",
        "app_brand_pass": "API/cellPage"
    })
}

/// A complete card of every type.
fn every_card() -> Vec<Value> {
    let all_locations = json!({ "location_id_list": null, "use_all_locations": true });
    vec![
        card(
            "GROUPON",
            base_info(
                "132元双人火锅套餐",
                500,
                range(1_397_577_600, 1_900_000_000),
                json!({}),
            ),
            json!({ "deal_detail": "以下锅底2选1(有菌王锅、麻辣锅、大骨锅、番茄锅):\n大锅1份 12元\n小锅2份 16元" }),
        ),
        card(
            "CASH",
            base_info("50元代金券", 1000, term(30, 0), all_locations.clone()),
            json!({ "least_cost": 10000, "reduce_cost": 5000 }),
        ),
        card(
            "DISCOUNT",
            base_info(
                "9折优惠券",
                100,
                range(1_704_038_400, 1_900_000_000),
                json!({ "code_type": "CODE_TYPE_BARCODE", "color": "Color030" }),
            ),
            json!({ "discount": 10 }),
        ),
        card(
            "GIFT",
            base_info(
                "可乐兑换券",
                100,
                term(7, 1),
                json!({ "code_type": "CODE_TYPE_TEXT", "color": "Color040" }),
            ),
            json!({ "gift": "可乐一杯" }),
        ),
        card(
            "GENERAL_COUPON",
            base_info(
                "甜品优惠券",
                0,
                term(15, 1),
                json!({
                    "code_type": "CODE_TYPE_ONLY_QRCODE",
                    "color": "Color050",
                    "use_custom_code": true,
                    "get_custom_code_mode": "GET_CUSTOM_CODE_MODE_DEPOSIT",
                    "bind_openid": true
                }),
            ),
            json!({ "default_detail": "甜品买一送一" }),
        ),
        card(
            "MEMBER_CARD",
            base_info(
                "海底捞会员卡",
                50_000_000,
                permanent(),
                json!({
                    "code_type": "CODE_TYPE_TEXT",
                    "color": "Color100",
                    "need_push_on_view": true,
                    "pay_info": { "swipe_card": { "is_swipe_card": true } },
                    "is_pay_and_qrcode": true
                }),
            ),
            json!({
                "background_pic_url": "https://mmbiz.qlogo.cn/mmbiz/background/0",
                "prerogative": "会员享受全场九折,生日当月双倍积分",
                "auto_activate": false,
                "wx_activate": true,
                "wx_activate_after_submit": true,
                "wx_activate_after_submit_url": "https://www.qq.com/activate/after",
                "activate_url": "https://www.qq.com/activate",
                "activate_app_brand_user_name": "gh_86a091e50ad4@app",
                "activate_app_brand_pass": "API/activatePage",
                "supply_bonus": true,
                "supply_balance": true,
                "bonus_url": "https://www.qq.com/bonus",
                "bonus_app_brand_user_name": "gh_86a091e50ad4@app",
                "bonus_app_brand_pass": "API/bonusPage",
                "balance_url": "https://www.qq.com/balance",
                "balance_app_brand_user_name": "gh_86a091e50ad4@app",
                "balance_app_brand_pass": "API/balancePage",
                "bonus_cleared": "每年12月31日清零",
                "bonus_rules": "每消费1元获得1积分",
                "balance_rules": "储值可在全部门店使用",
                "bonus_rule": {
                    "cost_money_unit": 100,
                    "increase_bonus": 1,
                    "max_increase_bonus": 200,
                    "init_increase_bonus": 10,
                    "cost_bonus_unit": 5,
                    "reduce_money": 100,
                    "least_money_to_use_bonus": 1000,
                    "max_reduce_bonus": 50
                },
                "custom_field1": custom_field("FIELD_NAME_TYPE_LEVEL", "等级"),
                "custom_field2": custom_field("FIELD_NAME_TYPE_COUPON", "优惠券"),
                "custom_field3": custom_field("FIELD_NAME_TYPE_MILEAGE", "里程"),
                "custom_cell1": custom_cell("使用入口1"),
                "custom_cell2": custom_cell("使用入口2"),
                "custom_cell3": custom_cell("使用入口3"),
                "discount": 10,
                "bind_old_card_url": "https://www.qq.com/bind"
            }),
        ),
        card(
            "SCENIC_TICKET",
            base_info(
                "平日全票",
                500,
                range(1_704_038_400, 1_900_000_000),
                json!({ "color": "Color060" }),
            ),
            json!({ "ticket_class": "平日全票", "guide_url": "http://www.example.com/guide.jpg" }),
        ),
        card(
            "MOVIE_TICKET",
            base_info(
                "电影票",
                200,
                term(10, 0),
                json!({ "color": "Color070", "code_type": "CODE_TYPE_ONLY_BARCODE" }),
            ),
            json!({ "detail": "电影名:微信大电影\n导演:微信团队\n主演:微信用户" }),
        ),
        card(
            "BOARDING_PASS",
            base_info(
                "登机牌",
                100,
                range(1_704_038_400, 1_704_124_799),
                json!({ "color": "Color080" }),
            ),
            json!({
                "from": "成都",
                "to": "广州",
                "flight": "CE123",
                "departure_time": 1_704_067_200,
                "landing_time": 1_704_075_000,
                "check_in_url": "http://www.example.com/checkin",
                "gate": "3",
                "boarding_time": 1_704_065_400,
                "air_model": "空客A320"
            }),
        ),
        card(
            "MEETING_TICKET",
            base_info(
                "微信公开课门票",
                1000,
                range(1_704_038_400, 1_704_124_799),
                json!({ "color": "Color081" }),
            ),
            json!({ "meeting_detail": "会议时间:2024年1月1日 9:00\n地点:广州", "map_url": "http://www.example.com/map.jpg" }),
        ),
        card(
            "BUS_TICKET",
            base_info(
                "汽车票",
                50,
                range(1_704_038_400, 1_704_124_799),
                json!({ "color": "Color082", "code_type": "CODE_TYPE_NONE" }),
            ),
            json!({}),
        ),
        card(
            "GENERAL_CARD",
            base_info(
                "咖啡礼品卡",
                0,
                permanent(),
                json!({
                    "color": "Color090",
                    "location_id_list": null,
                    "use_all_locations": true,
                    "giftcard_info": { "price": 10000 },
                    "max_give_friend_times": 1
                }),
            ),
            json!({
                "sub_card_type": "GIFT_CARD",
                "background_pic_url": "http://mmbiz.qpic.cn/mmbiz/background/0",
                "prerogative": "礼品卡余额可在全部门店消费",
                "auto_activate": true,
                "supply_bonus": true,
                "init_bonus": 100,
                "supply_balance": true,
                "init_balance": 10000,
                "custom_field1": custom_field("FIELD_NAME_TYPE_STAMP", "卡号"),
                "custom_field2": custom_field("FIELD_NAME_TYPE_SET_POINTS", "集点"),
                "custom_field3": custom_field("FIELD_NAME_TYPE_TIMS", "次数")
            }),
        ),
    ]
}

/// Object types of the spec reachable from `ty`.
fn reachable(ty: &str, out: &mut BTreeSet<&'static str>) {
    let Some(info) = schema::type_info(ty) else {
        return;
    };
    match info.kind {
        TypeKind::Object { fields, .. } if out.insert(info.name) => {
            for field in fields {
                reachable_ty(&field.ty, out);
            }
        }
        TypeKind::Union { variants, .. } => {
            for (_, payload) in variants {
                reachable(payload, out);
            }
        }
        _ => {}
    }
}

fn reachable_ty(ty: &Ty, out: &mut BTreeSet<&'static str>) {
    match ty {
        Ty::Ref(name) => reachable(name, out),
        Ty::List { item, .. } => reachable_ty(item, out),
        _ => {}
    }
}

/// Records `(type, field)` for every field present in `value` (of object type `ty`).
fn present(ty: &str, value: &Value, out: &mut BTreeSet<(String, String)>) {
    let Some(TypeKind::Object { fields, .. }) = schema::type_info(ty).map(|t| t.kind) else {
        return;
    };
    let Some(object) = value.as_object() else {
        return;
    };
    for field in fields {
        if let Some(inner) = object.get(field.wire) {
            out.insert((ty.to_owned(), field.wire.to_owned()));
            present_ty(&field.ty, inner, out);
        }
    }
}

fn present_ty(ty: &Ty, value: &Value, out: &mut BTreeSet<(String, String)>) {
    match ty {
        Ty::Ref(name) => present(name, value, out),
        Ty::List { item, .. } => {
            for v in value.as_array().into_iter().flatten() {
                present_ty(item, v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_cards_are_complete() {
    let cards = every_card();
    let TypeKind::Union { tag, variants } = schema::type_info("Card").unwrap().kind else {
        panic!("Card is a union");
    };
    let tags: Vec<&str> = cards.iter().map(|c| c[tag].as_str().unwrap()).collect();
    let all: Vec<&str> = variants.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, all, "one card per card type, in the spec's order");

    let mut types = BTreeSet::new();
    reachable("Card", &mut types);
    let mut seen = BTreeSet::new();
    for (card, (tag, payload)) in cards.iter().zip(variants.iter()) {
        present(payload, &card[tag.to_ascii_lowercase()], &mut seen);
    }
    let mut missing = Vec::new();
    for ty in &types {
        let Some(TypeKind::Object { fields, .. }) = schema::type_info(ty).map(|t| t.kind) else {
            continue;
        };
        for field in fields {
            let key = (ty.to_string(), field.wire.to_owned());
            if !seen.contains(&key) && !READ_ONLY.contains(&(ty, field.wire)) {
                missing.push(format!("{ty}.{}", field.wire));
            }
        }
    }
    assert!(missing.is_empty(), "fields no card sets: {missing:?}");
    // And each card type's own fields, in its own card.
    for (card, (tag, payload)) in cards.iter().zip(variants.iter()) {
        let Some(TypeKind::Object { fields, .. }) = schema::type_info(payload).map(|t| t.kind)
        else {
            panic!("{payload} is an object");
        };
        let body = &card[tag.to_ascii_lowercase()];
        for field in fields {
            assert!(
                body.get(field.wire).is_some(),
                "{tag}: {} missing",
                field.wire
            );
        }
    }
}

/// The card as `card/get` shows it, minus the read-only fields (checked here).
fn strip_read_only(got: &mut Value, card_id: &str, created: &Value, now: i64) {
    let tag = got["card_type"].as_str().unwrap().to_ascii_lowercase();
    let payload = &mut got[&tag];
    let base = payload["base_info"].as_object_mut().unwrap();
    assert_eq!(base.remove("id"), Some(json!(card_id)));
    assert_eq!(base.remove("status"), Some(json!("CARD_STATUS_NOT_VERIFY")));
    assert_eq!(base.remove("create_time"), Some(json!(now)));
    assert_eq!(base.remove("update_time"), Some(json!(now)));
    assert_eq!(base.remove("area_code_list"), Some(json!([])));
    let quantity = created[&tag]["base_info"]["sku"]["quantity"].clone();
    let sku = base["sku"].as_object_mut().unwrap();
    assert_eq!(sku.remove("total_quantity"), Some(quantity));
    // Colours are created by name and shown as their value (card/getcolors).
    let name = created[&tag]["base_info"]["color"].as_str().unwrap();
    let hex = match name {
        "Color010" => "#63b359",
        "Color030" => "#509fc9",
        "Color040" => "#5885cf",
        "Color050" => "#9062c0",
        "Color060" => "#d09a45",
        "Color070" => "#e4b138",
        "Color080" => "#ee903c",
        "Color081" => "#f08500",
        "Color082" => "#a9d92d",
        "Color090" => "#dd6549",
        "Color100" => "#cc463d",
        other => panic!("no hex value for {other}"),
    };
    assert_eq!(base.insert("color".into(), json!(name)), Some(json!(hex)));
    if let Some(advanced) = payload
        .get_mut("advanced_info")
        .and_then(Value::as_object_mut)
    {
        advanced.remove("share_friends");
        advanced.remove("consume_share_card_list");
    }
}

#[test]
fn every_card_type_round_trips_through_create_and_get() {
    let sandbox = Sandbox::builder()
        .start_time(1_710_000_000)
        .start()
        .unwrap();
    let client = sandbox.client().unwrap();
    for body in every_card() {
        let tag = body["card_type"].as_str().unwrap().to_owned();
        let card: Card =
            serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert!(!matches!(card, Card::Unknown(_)), "{tag}");
        let created = serde_json::to_value(&card).unwrap();
        assert_eq!(created, body, "{tag}: the typed card keeps every field");

        let card_id = client
            .create_card(&CreateCardRequest::new(card))
            .unwrap_or_else(|e| panic!("{tag}: {e}"))
            .card_id;

        // Through the typed client…
        let got = client
            .get_card(&GetCardRequest::new(card_id.as_str()))
            .unwrap()
            .card;
        assert_eq!(got.tag(), tag);
        let mut got = serde_json::to_value(&got).unwrap();
        strip_read_only(&mut got, &card_id, &created, sandbox.now());
        assert_eq!(got, created, "{tag}: card/get returns the card as created");

        // …and as the JSON on the wire, where nothing else is added.
        let raw: Value = client
            .call_json(
                HttpMethod::Post,
                "card/get",
                &json!({ "card_id": card_id }),
                true,
            )
            .unwrap();
        let mut raw_card = raw["card"].clone();
        strip_read_only(&mut raw_card, &card_id, &created, sandbox.now());
        assert_eq!(raw_card, created, "{tag}: the JSON of card/get");
    }
}
