//! Every documented XML example of every event in the spec, parsed into the typed event and
//! written back: the event must be the typed variant (not `Unknown`), no element may be left
//! over (a documented element the spec lacks fails here), and the round trip must keep every
//! element and value.

#![cfg(feature = "events")]

use wechat_card::events::{ElementKind, EventFields, Message};
use wechat_card::schema::EVENTS;
use wechat_card::{CardEvent, CoinOrderStatus, ConsumeSource, UserGetCardEvent};

fn sorted_pairs(fields: &EventFields) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = fields
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn every_event_has_an_example() {
    assert_eq!(EVENTS.len(), 17);
    for info in EVENTS {
        assert!(!info.examples.is_empty(), "{} has no example", info.event);
    }
}

#[test]
fn every_example_round_trips_through_the_typed_event() {
    let mut checked = 0;
    for info in EVENTS {
        for example in info.examples {
            let what = format!("{} / {}", info.event, example.name);
            let elements = EventFields::parse(example.xml)
                .unwrap_or_else(|e| panic!("{what}: not a message: {e}"));
            let message = Message::parse(example.xml).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(message.event.name(), info.event, "{what}");
            assert!(
                !matches!(message.event, CardEvent::Unknown { .. }),
                "{what}: decoded as Unknown"
            );
            assert!(
                message.extra.is_empty(),
                "{what}: elements the spec lacks: {:?}",
                message.extra.pairs()
            );
            assert_eq!(message.msg_type, "event", "{what}");
            // The typed event's element names are the spec's, and every field of the spec is
            // one of them.
            assert_eq!(
                message.event.elements(),
                info.fields.iter().map(|f| f.wire).collect::<Vec<_>>(),
                "{what}"
            );
            // Lossless: the same elements with the same values (order as the spec writes them).
            assert_eq!(
                sorted_pairs(&message.to_fields()),
                sorted_pairs(&elements),
                "{what}"
            );
            // Written back and read again: the same message.
            let xml = message.to_xml();
            let again = Message::parse(&xml).unwrap_or_else(|e| panic!("{what}: {e}\n{xml}"));
            assert_eq!(again, message, "{what}");
            // Numbers are written as text, strings in CDATA, like WeChat does.
            for element in &message.to_fields() {
                let is_number = element.name == "CreateTime"
                    || info.fields.iter().any(|f| {
                        f.wire == element.name
                            && matches!(f.ty, wechat_card::schema::Ty::Int { .. })
                    });
                let expected = if is_number {
                    ElementKind::Plain
                } else {
                    ElementKind::Cdata
                };
                assert_eq!(element.kind, expected, "{what}: {}", element.name);
            }
            checked += 1;
        }
    }
    assert!(checked >= EVENTS.len());
}

#[test]
fn typed_fields_have_their_types() {
    let info = EVENTS.iter().find(|e| e.event == "user_get_card").unwrap();
    let message = Message::parse(info.examples[0].xml).unwrap();
    let CardEvent::UserGetCard(event) = &message.event else {
        panic!()
    };
    assert_eq!(event.card_id, "pZI8Fjwsy5fVPRBeD78J4RmqVvBc");
    assert_eq!(event.is_give_by_friend, Some(0));
    assert_eq!(event.outer_str.as_deref(), Some("12b"));
    assert_eq!(event.friend_user_name.as_deref(), Some(""));
    assert_eq!(event.union_id, None);
    assert_eq!(message.to_user_name, "gh_fc0a06a20993");
    assert_eq!(message.create_time, 1_472_551_036);

    let info = EVENTS.iter().find(|e| e.event == "card_pay_order").unwrap();
    let CardEvent::CardPayOrder(order) = Message::parse(info.examples[0].xml).unwrap().event else {
        panic!()
    };
    assert_eq!(order.status, Some(CoinOrderStatus::FinanceSucc));
    assert_eq!(order.create_order_time, Some(1_453_295_737));
}

#[test]
fn built_events_write_what_they_read() {
    let event = UserGetCardEvent::new("pCard")
        .user_card_code("12345")
        .is_give_by_friend(1)
        .friend_user_name("o-giver")
        .outer_str("qr ]]> odd");
    let message = Message::new(
        "gh_1",
        "o-friend",
        1_700_000_000,
        CardEvent::UserGetCard(event),
    );
    let xml = message.to_xml();
    assert!(xml.contains("<IsGiveByFriend>1</IsGiveByFriend>"), "{xml}");
    assert_eq!(Message::parse(&xml).unwrap(), message);
}

#[test]
fn unknown_events_and_values_are_kept() {
    let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>\
        <CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[card_new_thing]]></Event>\
        <CardId><![CDATA[p1]]></CardId><Level>3</Level><Nested><A>1</A><B/></Nested></xml>";
    let message = Message::parse(xml).unwrap();
    let CardEvent::Unknown { event, fields } = &message.event else {
        panic!("{:?}", message.event)
    };
    assert_eq!(event, "card_new_thing");
    assert_eq!(
        fields.pairs(),
        [("CardId", "p1"), ("Level", "3"), ("Nested", "<A>1</A><B/>")]
    );
    assert!(message.extra.is_empty());
    assert_eq!(Message::parse(&message.to_xml()).unwrap(), message);

    // A new element of a known event is kept in `extra`; a new enum value as `Unknown`.
    let consume = "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>2</CreateTime>\
        <MsgType>event</MsgType><Event>user_consume_card</Event><CardId>p1</CardId>\
        <ConsumeSource>FROM_ROBOT</ConsumeSource><NewThing>x &amp; y</NewThing></xml>";
    let message = Message::parse(consume).unwrap();
    let CardEvent::UserConsumeCard(event) = &message.event else {
        panic!()
    };
    assert_eq!(
        event.consume_source,
        Some(ConsumeSource::Unknown("FROM_ROBOT".into()))
    );
    assert_eq!(message.extra.pairs(), [("NewThing", "x & y")]);
    assert_eq!(Message::parse(&message.to_xml()).unwrap(), message);

    // A repeated element of a known event: the first is read, the repeat kept in `extra`.
    let repeated = consume.replace(
        "<CardId>p1</CardId>",
        "<CardId>p1</CardId><CardId>p2</CardId>",
    );
    let message = Message::parse(&repeated).unwrap();
    let CardEvent::UserConsumeCard(event) = &message.event else {
        panic!()
    };
    assert_eq!(event.card_id, "p1");
    assert_eq!(
        message.extra.pairs(),
        [("CardId", "p2"), ("NewThing", "x & y")]
    );

    // A message that is not an event.
    let text = "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>3</CreateTime>\
        <MsgType>text</MsgType><Content>你好</Content><MsgId>42</MsgId></xml>";
    let message = Message::parse(text).unwrap();
    assert_eq!(message.msg_type, "text");
    assert_eq!(message.event.name(), "");
    assert_eq!(Message::parse(&message.to_xml()).unwrap(), message);
}
