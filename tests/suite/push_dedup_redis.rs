//! `RedisDedup` (issue 18): one `SET NX PX` per push shared by every instance, and what happens
//! when Redis is down. Against a real `redis-server`.
#![cfg(all(feature = "redis", feature = "sandbox"))]

use crate::redis_support;
use crate::shared_store::log_capture;

use std::sync::Arc;
use std::time::Duration;

use redis_support::{Redis, free_port, unique_prefix};
use wechat_card::events::{DedupStore, PushKey, RedisDedup};
use wechat_card::store::RedisStore;

const WINDOW: Duration = Duration::from_secs(300);

fn instance(url: &str, prefix: &str) -> RedisDedup {
    RedisDedup::new(
        RedisStore::builder(url)
            .prefix(prefix)
            .timeout(Duration::from_millis(500))
            .retry_after(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
}

fn key(n: u32) -> PushKey {
    PushKey::new(
        "gh_1",
        "o-user",
        1_700_000_000,
        "user_consume_card",
        Some(&n.to_string()),
    )
}

#[test]
fn instances_sharing_redis_see_each_push_once() {
    let redis = Redis::shared();
    let prefix = unique_prefix("push_dedup");
    let a = instance(redis.url(), &prefix);
    let b = instance(redis.url(), &prefix);
    assert!(a.first_seen(&key(1), WINDOW));
    assert!(!b.first_seen(&key(1), WINDOW), "b sees a's record");
    assert!(!a.first_seen(&key(1), WINDOW));
    assert!(b.first_seen(&key(2), WINDOW));
    assert!(!a.first_seen(&key(2), WINDOW));
    // One key per push under the prefix, expiring with the window.
    let mut con = redis.connection();
    let name = a.key(&key(1));
    assert!(name.starts_with(&format!("{prefix}push:")), "{name}");
    let pttl: i64 = redis::cmd("PTTL").arg(&name).query(&mut con).unwrap();
    assert!(pttl > 0 && pttl <= 300_000, "{pttl}");
    let value: String = redis::cmd("GET").arg(&name).query(&mut con).unwrap();
    assert_eq!(value, "1");
    // A window longer than Redis accepts is cut down, not a Redis error.
    assert!(a.first_seen(&key(3), Duration::MAX));
    assert!(!b.first_seen(&key(3), Duration::MAX));
    // Another prefix is another set of instances.
    let other = instance(redis.url(), &unique_prefix("push_dedup_other"));
    assert!(other.first_seen(&key(1), WINDOW));
}

#[test]
fn of_many_instances_asking_at_once_exactly_one_handles_a_push() {
    let redis = Redis::shared();
    let prefix = unique_prefix("push_dedup_race");
    let url = redis.url().to_owned();
    for n in 0..20 {
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let firsts: usize = (0..8)
            .map(|_| {
                let (url, prefix, barrier) = (url.clone(), prefix.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let dedup = instance(&url, &prefix);
                    barrier.wait();
                    usize::from(dedup.first_seen(&key(n), WINDOW))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(firsts, 1, "push {n}");
    }
}

#[test]
fn redis_down_treats_a_push_as_new_logs_and_still_catches_retries_here() {
    log_capture::install();
    // Nothing listens on this port of 127.0.0.1.
    let url = format!("redis://:down-secret@127.0.0.1:{}/", free_port());
    let dedup = instance(&url, "wct:push_dedup_down:");
    // New pushes are not lost, a retry that reaches this instance again is still caught.
    assert!(dedup.first_seen(&key(1), WINDOW));
    assert!(!dedup.first_seen(&key(1), WINDOW));
    assert!(dedup.first_seen(&key(2), WINDOW));
    let logged: Vec<String> = log_capture::records()
        .into_iter()
        .filter(|(level, text)| *level == log::Level::Warn && text.contains("push de-duplication"))
        .map(|(_, text)| text)
        .collect();
    assert!(
        logged
            .iter()
            .any(|t| t.contains("the push is treated as new") && t.contains("127.0.0.1")),
        "{logged:?}"
    );
    assert!(
        logged.iter().all(|t| !t.contains("down-secret")),
        "{logged:?}"
    );
}

#[test]
fn after_redis_comes_back_instances_share_again() {
    let mut redis = Redis::start();
    let prefix = unique_prefix("push_dedup_back");
    let a = instance(redis.url(), &prefix);
    let b = instance(redis.url(), &prefix);
    assert!(a.first_seen(&key(1), WINDOW));
    redis.stop();
    // Down: each instance decides alone (a push reaching both would be handled twice).
    assert!(a.first_seen(&key(2), WINDOW));
    assert!(b.first_seen(&key(2), WINDOW));
    redis.restart();
    std::thread::sleep(Duration::from_millis(150)); // past retry_after
    assert!(a.first_seen(&key(3), WINDOW));
    assert!(!b.first_seen(&key(3), WINDOW));
}
