//! The generator's edge-case fixture (`codegen/tests/fixtures/edge`), compiled in test builds.
//!
//! Its generated code is kept as a snapshot in `codegen/tests/snapshots/edge/` (the codegen tests
//! fail when it differs from the generator's output), and it exercises the emitter's rarest paths:
//! keyword renames, lists of objects and lists of lists, unions, rules over optional fields, GET
//! requests, pushed events. Compiling the snapshot here proves that output is valid Rust against
//! the runtime, and the tests below check what the nested validation reports.

// The fixture's items are only used by the tests below.
#![allow(dead_code, unreachable_pub)]

// The snapshot is the generator's text, byte for byte: rustfmt must leave it alone.
#[rustfmt::skip]
#[path = "../codegen/tests/snapshots/edge/api.rs"]
mod generated;

use crate::Validate;
use generated::*;

fn put() -> PutThingRequest {
    PutThingRequest::new("abc", "2024-01-01").x(true)
}

#[test]
fn lists_of_lists_check_the_inner_list_and_its_items() {
    let ok = put().grid(vec![vec!["abcd".into()], vec!["a".into(), "b".into()]]);
    assert_eq!(ok.validate(), Ok(()));

    let long = put().grid(vec![vec!["a".into()], vec!["a".into(), "abcde".into()]]);
    let err = long.validate().unwrap_err();
    assert_eq!(err.path(), "grid[1][1]", "{err}");

    let empty = put().grid(vec![vec!["a".into()], vec![]]);
    assert_eq!(empty.validate().unwrap_err().path(), "grid[1]");
}

#[test]
fn list_items_and_nested_objects_are_validated() {
    let bad = Shape::RoundThing(Round::new(0));
    let err = put()
        .sets(vec![vec![], vec![bad.clone()]])
        .validate()
        .unwrap_err();
    assert_eq!(err.path(), "sets[1][0].round_thing.radius", "{err}");
    let err = put().shapes(vec![bad]).validate().unwrap_err();
    assert_eq!(err.path(), "shapes[0].round_thing.radius", "{err}");
    let err = put().counts(vec![1, 10]).validate().unwrap_err();
    assert_eq!(err.path(), "counts[1]", "{err}");
    let err = put()
        .days(vec!["2024-02-30".into()])
        .validate()
        .unwrap_err();
    assert_eq!(err.path(), "days[0]", "{err}");
}

#[test]
fn event_round_trips_through_its_elements() {
    let event = ThingMovedEvent::new("t")
        .count(3)
        .level(Level::from("LEVEL_LOW"));
    let mut fields = crate::events::EventFields::new();
    crate::events::EventBody::to_fields(&event, &mut fields);
    let back: ThingMovedEvent = crate::events::EventBody::from_fields(&fields).unwrap();
    assert_eq!(back, event);
    assert_eq!(ThingPingedEvent::ELEMENTS, &[] as &[&str]);
}
