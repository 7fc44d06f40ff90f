//! Each push handled once (issue 18): the key, the bounded in-memory store, the judged
//! `CreateTime`, and `Callback::receive_once`. The Redis store's tests are in
//! `push_dedup_redis.rs`.
#![cfg(feature = "events")]

use std::time::Duration;

use wechat_card::events::{
    Callback, CallbackQuery, Dedup, DedupStore, EventError, MemoryDedup, Message, PushKey, Seen,
    callback_signature,
};

const TOKEN: &str = "dedup-token";

fn xml(from: &str, create_time: &str, event: &str, code: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[{event}]]></Event><CardId><![CDATA[pCard]]></CardId>\
         <UserCardCode><![CDATA[{code}]]></UserCardCode></xml>"
    )
}

fn query() -> CallbackQuery {
    CallbackQuery::parse(&format!(
        "signature={}&timestamp=1700000000&nonce=7",
        callback_signature(TOKEN, "1700000000", "7")
    ))
}

#[test]
fn a_million_distinct_pushes_stay_within_the_bound() {
    const CAPACITY: usize = 10_000;
    let store = MemoryDedup::with_capacity(CAPACITY);
    let window = Duration::from_secs(300);
    let mut allocated_when_full = 0;
    let mut most_allocated = 0;
    for n in 0..1_000_000u64 {
        let key = PushKey::new(
            "gh_1",
            &format!("o-{n}"),
            1_700_000_000,
            "user_get_card",
            None,
        );
        assert!(store.first_seen(&key, window), "push {n} is new");
        assert!(store.len() <= CAPACITY, "{} keys after {n}", store.len());
        if n + 1 == CAPACITY as u64 {
            allocated_when_full = store.allocated_bytes();
        }
        if n % 1000 == 0 {
            most_allocated = most_allocated.max(store.allocated_bytes());
        }
    }
    most_allocated = most_allocated.max(store.allocated_bytes());
    assert_eq!(store.len(), CAPACITY);
    assert_eq!(store.evicted_early(), 1_000_000 - CAPACITY as u64);
    // Memory does not grow past what the capacity took, whatever the number of pushes: at most
    // a few hash-table growth steps beyond the moment it was first full, and a fixed number of
    // bytes per key of the capacity.
    let entry = 20 + std::mem::size_of::<std::time::Instant>();
    assert!(
        most_allocated <= 4 * allocated_when_full,
        "{most_allocated} bytes, {allocated_when_full} when full"
    );
    assert!(
        most_allocated <= 6 * entry * CAPACITY,
        "{most_allocated} bytes for {CAPACITY} keys of {entry} bytes"
    );
    println!(
        "1,000,000 distinct pushes, capacity {CAPACITY}: {} keys kept, at most {most_allocated} bytes allocated",
        store.len()
    );
}

#[test]
fn a_retried_push_is_handled_once_and_events_of_one_second_stay_apart() {
    // Before: Callback::receive accepts the same push each time it arrives.
    let plain = Callback::new(TOKEN);
    let push = xml("o-user", "1700000000", "user_consume_card", "111");
    let mut handled_before = 0;
    for _ in 0..4 {
        plain.receive(&query(), push.as_bytes()).unwrap();
        handled_before += 1;
    }
    // After: receive_once with a de-duplication step.
    let callback = Callback::new(TOKEN).deduplicate(Dedup::in_memory());
    let mut handled_after = 0;
    for _ in 0..4 {
        if callback
            .receive_once(&query(), push.as_bytes())
            .unwrap()
            .is_some()
        {
            handled_after += 1;
        }
    }
    println!(
        "pushes handled per push retried 3 times: before {handled_before}, after {handled_after}"
    );
    assert_eq!((handled_before, handled_after), (4, 1));
    // Same user and second, another event or another code: distinct pushes.
    for other in [
        xml("o-user", "1700000000", "user_get_card", "111"),
        xml("o-user", "1700000000", "user_consume_card", "222"),
        xml("o-other", "1700000000", "user_consume_card", "111"),
        xml("o-user", "1700000001", "user_consume_card", "111"),
    ] {
        assert!(
            callback
                .receive_once(&query(), other.as_bytes())
                .unwrap()
                .is_some(),
            "{other}"
        );
    }
    // Without a de-duplication step receive_once hands every push over.
    assert!(
        plain
            .receive_once(&query(), push.as_bytes())
            .unwrap()
            .is_some()
    );
}

#[test]
fn create_times_that_are_no_time_are_refused_naming_the_element_and_value() {
    let callback = Callback::new(TOKEN).deduplicate(Dedup::in_memory());
    for (value, expected) in [
        ("", "the message's <CreateTime> is \"\", not an integer"),
        (
            "abc",
            "the message's <CreateTime> is \"abc\", not an integer",
        ),
        (
            "-5",
            "the message's <CreateTime> is -5: negative, not a Unix time",
        ),
    ] {
        let body = xml("o-user", value, "user_del_card", "1");
        let err = callback
            .receive_once(&query(), body.as_bytes())
            .unwrap_err();
        assert_eq!(err.to_string(), expected, "{value:?}");
        match (value, &err) {
            ("-5", EventError::ImplausibleTime { element, value, .. }) => {
                assert_eq!((element.as_str(), value.as_str()), ("CreateTime", "-5"));
            }
            (
                _,
                EventError::InvalidElement {
                    element, value: v, ..
                },
            ) => {
                assert_eq!((element.as_str(), v.as_str()), ("CreateTime", value));
            }
            _ => panic!("{value:?}: {err:?}"),
        }
    }
    // A refused push is not recorded: the same push with a good time is new.
    let good = xml("o-user", "1700000000", "user_del_card", "1");
    assert!(
        callback
            .receive_once(&query(), good.as_bytes())
            .unwrap()
            .is_some()
    );
}

#[test]
fn the_max_age_is_opt_in() {
    let now = 1_700_000_000;
    let message = |t: i64| Message::parse(&xml("o", &t.to_string(), "user_del_card", "1")).unwrap();
    let lax = Dedup::in_memory();
    for t in [0, now - 86_400, 99_999_999_999_999] {
        assert_eq!(lax.check_at(&message(t), now).unwrap(), Seen::First, "{t}");
    }
    let strict = Dedup::in_memory().max_age(Duration::from_secs(600));
    assert_eq!(
        strict.check_at(&message(now - 600), now).unwrap(),
        Seen::First
    );
    assert_eq!(
        strict.check_at(&message(now - 600), now).unwrap(),
        Seen::Repeat
    );
    for t in [0, now - 601, now + 601, 99_999_999_999_999] {
        let err = strict.check_at(&message(t), now).unwrap_err();
        assert!(
            matches!(&err, EventError::ImplausibleTime { element, value, .. }
                if element == "CreateTime" && *value == t.to_string()),
            "{t}: {err:?}"
        );
        assert!(err.to_string().contains("max age of 600 s"), "{err}");
    }
}

#[test]
fn a_store_of_ones_own_plugs_in() {
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Table(Mutex<HashSet<PushKey>>);
    impl DedupStore for Table {
        fn first_seen(&self, key: &PushKey, _window: Duration) -> bool {
            self.0.lock().unwrap().insert(*key)
        }
    }
    let dedup = Dedup::new(Table::default()).window(Duration::from_secs(60));
    assert_eq!(dedup.window_len(), Duration::from_secs(60));
    let message = Message::parse(&xml("o", "1700000000", "user_view_card", "9")).unwrap();
    assert_eq!(dedup.check(&message).unwrap(), Seen::First);
    assert_eq!(dedup.clone().check(&message).unwrap(), Seen::Repeat);
}
