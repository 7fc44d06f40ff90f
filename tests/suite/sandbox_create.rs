//! `card/create` round-trips a complete card of every card type: created through
//! `Client::create_card`, `Client::get_card` returns the same card plus the read-only fields.
//! "Complete" is checked against the spec: every field of every type a card body can hold
//! appears in at least one of the cards (the read-only fields aside). The cards are generated
//! from the spec (`sandbox_support::complete`), so a field added to the card body needs a spec
//! edit only.
#![cfg(feature = "sandbox")]

use crate::clients::AnyClient;
use crate::sandbox_support;

use std::collections::BTreeSet;

use sandbox_support::complete::{READ_ONLY, every_card};
use serde_json::{Value, json};
use wechat_card::sandbox::Sandbox;
use wechat_card::schema::{self, HttpMethod, Ty, TypeKind};
use wechat_card::{Card, CreateCardRequest, GetCardRequest};

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
    assert_eq!(
        &tags[..all.len()],
        &all[..],
        "one card per card type, in the spec's order"
    );
    let payload_of = |card: &Value| {
        let card_type = card[tag].as_str().unwrap();
        let (_, payload) = variants.iter().find(|(t, _)| *t == card_type).unwrap();
        (card_type.to_ascii_lowercase(), *payload)
    };

    let mut types = BTreeSet::new();
    reachable("Card", &mut types);
    let mut seen = BTreeSet::new();
    for card in &cards {
        let (key, payload) = payload_of(card);
        present(payload, &card[key], &mut seen);
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
fn strip_read_only(got: &mut Value, card_id: &str, created: &Value, now: i64, colors: &[Value]) {
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
    let hex = colors
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["value"].as_str())
        .unwrap_or_else(|| panic!("card/getcolors has no {name}"));
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
    crate::clients::each(|flavor| {
        // The coupon types too: WeChat created them before 2021-04-01.
        let sandbox = Sandbox::builder()
            .start_time(1_710_000_000)
            .allow_coupon_creation(true)
            .start()
            .unwrap();
        let client = AnyClient::of(flavor, sandbox.client_builder());
        let colors: Value = client
            .call_json(HttpMethod::Get, "card/getcolors", &json!({}), true)
            .unwrap();
        let colors = colors["colors"].as_array().unwrap().clone();
        for body in every_card() {
            let tag = body["card_type"].as_str().unwrap().to_owned();
            let card: Card =
                serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{tag}: {e}"));
            assert!(!matches!(card, Card::Unknown(_)), "{tag}");
            let created = serde_json::to_value(&card).unwrap();
            assert_eq!(created, body, "{tag}: the typed card keeps every field");

            let card_id = crate::call!(client.create_card(&CreateCardRequest::new(card)))
                .unwrap_or_else(|e| panic!("{tag}: {e}"))
                .card_id;

            // Through the typed client…
            let got = crate::call!(client.get_card(&GetCardRequest::new(card_id.as_str())))
                .unwrap()
                .card;
            assert_eq!(got.tag(), tag);
            let mut got = serde_json::to_value(&got).unwrap();
            strip_read_only(&mut got, &card_id, &created, sandbox.now(), &colors);
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
            strip_read_only(&mut raw_card, &card_id, &created, sandbox.now(), &colors);
            assert_eq!(raw_card, created, "{tag}: the JSON of card/get");
        }
    });
}
