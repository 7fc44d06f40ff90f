//! The Redis token store from async code (features `redis` and `async`) against a real
//! `redis-server`: the async slot (driven through the hidden tooling hook
//! `store::ToolingAsyncSlot`, since the slot itself is crate-private) follows the same protocol
//! as the blocking one. One token for blocking and async users, single flight across tasks and
//! "processes" (stores with connections of their own) on one current-thread runtime, a stale
//! lock taken over, Redis down and back. Fetches are counted, never timed.
#![cfg(all(feature = "redis", feature = "async", feature = "sandbox"))]

use crate::redis_support;
use crate::shared_store::log_capture;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis_support::{Redis, free_port, get, unique_prefix};
use wechat_card::store::{RedisStore, ToolingAsyncSlot, ToolingFetched};
use wechat_card::{BoxFuture, Secret};

const KIND: &str = "component_access_token";

/// A current-thread runtime: every task of a test on one thread, so that a wait that blocked
/// the thread would stall the others.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A fetch that counts its calls, takes a little while (other tasks run meanwhile) and returns
/// `token`.
fn counting(
    token: &'static str,
    count: &Arc<AtomicUsize>,
) -> impl Fn(bool) -> BoxFuture<'static, ToolingFetched> + Send + Sync + 'static {
    let count = count.clone();
    move |_force| {
        let count = count.clone();
        Box::pin(async move {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok((Secret::new(token), 7200))
        })
    }
}

/// A fetch that must not happen.
fn no_fetch(_force: bool) -> BoxFuture<'static, ToolingFetched> {
    panic!("no fetch expected: the shared value is there")
}

fn slot(store: &RedisStore, appid: &str) -> ToolingAsyncSlot {
    ToolingAsyncSlot::new(store, appid, KIND, Duration::from_secs(5)).unwrap()
}

#[test]
fn blocking_and_async_users_share_one_token_both_ways() {
    let redis = Redis::shared();
    let prefix = unique_prefix("async-interop");
    let blocking = redis_support::store(&redis, &prefix, Duration::from_secs(2));
    let nonblocking = redis_support::store(&redis, &prefix, Duration::from_secs(2));
    let rt = runtime();
    let mut con = redis.connection();

    // Blocking first: the async user reads what it wrote.
    let provider = blocking
        .component_token_provider("wxINTEROP0001", || {
            Ok((Secret::new("BLOCKING-TOKEN"), 7200))
        })
        .unwrap();
    assert_eq!(provider.token().unwrap().expose(), "BLOCKING-TOKEN");
    let (token, remaining) = rt
        .block_on(slot(&nonblocking, "wxINTEROP0001").fetch(None, false, no_fetch))
        .unwrap();
    assert_eq!(token.expose(), "BLOCKING-TOKEN");
    assert!(
        remaining.is_some_and(|r| r > Duration::from_secs(7000)),
        "{remaining:?}"
    );

    // Async first: the blocking user reads what it wrote, in the same format.
    let count = Arc::new(AtomicUsize::new(0));
    let async_slot = slot(&nonblocking, "wxINTEROP0002");
    let (token, _) = rt
        .block_on(async_slot.fetch(None, false, counting("ASYNC-TOKEN", &count)))
        .unwrap();
    assert_eq!(token.expose(), "ASYNC-TOKEN");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let key = blocking.key("wxINTEROP0002", KIND);
    let value: serde_json::Value = serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
    assert_eq!(value["token"], "ASYNC-TOKEN");
    assert_eq!(value["lifetime_s"], 7200);
    assert_eq!(get(&mut con, &format!("{key}:lock")), None, "released");
    let reader = blocking
        .component_token_provider("wxINTEROP0002", || panic!("no fetch expected"))
        .unwrap();
    assert_eq!(reader.token().unwrap().expose(), "ASYNC-TOKEN");

    // The async user's rejection marks the shared value invalid: the next blocking user
    // fetches, and the async user reads that.
    rt.block_on(async_slot.invalidate(&Secret::new("ASYNC-TOKEN")));
    let value: serde_json::Value = serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
    assert_eq!(value["token"], "");
    let refetch = blocking
        .component_token_provider("wxINTEROP0002", || {
            Ok((Secret::new("BLOCKING-AGAIN"), 7200))
        })
        .unwrap();
    assert_eq!(refetch.token().unwrap().expose(), "BLOCKING-AGAIN");
    let (token, _) = rt
        .block_on(async_slot.fetch(Some(&Secret::new("ASYNC-TOKEN")), true, no_fetch))
        .unwrap();
    assert_eq!(token.expose(), "BLOCKING-AGAIN");
}

#[test]
fn fifty_concurrent_async_fetches_in_two_processes_fetch_once() {
    let redis = Redis::shared();
    let prefix = unique_prefix("async-flight");
    // Two "processes": stores with connections of their own, one slot each.
    let slots = [
        Arc::new(slot(
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
            "wxFLIGHT0001",
        )),
        Arc::new(slot(
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
            "wxFLIGHT0001",
        )),
    ];
    let count = Arc::new(AtomicUsize::new(0));
    let tokens = runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let slot = slots[i % 2].clone();
            let fetch = counting("ONE-TOKEN", &count);
            tasks.spawn(async move { slot.fetch(None, false, fetch).await });
        }
        let mut tokens = Vec::new();
        while let Some(done) = tasks.join_next().await {
            tokens.push(done.unwrap().unwrap().0);
        }
        tokens
    });
    assert_eq!(tokens.len(), 50);
    assert!(tokens.iter().all(|t| t.expose() == "ONE-TOKEN"));
    assert_eq!(count.load(Ordering::SeqCst), 1, "one WeChat fetch for all");
}

#[test]
fn a_stale_lock_is_taken_over_by_one_async_waiter() {
    log_capture::install();
    let redis = Redis::shared();
    let prefix = unique_prefix("async-stale");
    let lock_ttl = Duration::from_millis(400);
    let stores = [
        redis_support::store(&redis, &prefix, lock_ttl),
        redis_support::store(&redis, &prefix, lock_ttl),
    ];
    let key = stores[0].key("wxSTALE0001", KIND);
    let lock = format!("{key}:lock");
    // A process took the lock and died: its lock lives on until its TTL.
    let mut con = redis.connection();
    let _: () = redis::cmd("SET")
        .arg(&lock)
        .arg("a-dead-process")
        .arg("PX")
        .arg(400)
        .query(&mut con)
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let tokens = runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..6 {
            let slot = slot(&stores[i % 2], "wxSTALE0001");
            let fetch = counting("AFTER-TAKE-OVER", &count);
            tasks.spawn(async move { slot.fetch(None, false, fetch).await });
        }
        let mut tokens = Vec::new();
        while let Some(done) = tasks.join_next().await {
            tokens.push(done.unwrap().unwrap().0);
        }
        tokens
    });
    assert!(tokens.iter().all(|t| t.expose() == "AFTER-TAKE-OVER"));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one waiter took over and fetched"
    );
    assert!(get(&mut con, &key).unwrap().contains("AFTER-TAKE-OVER"));
    assert_eq!(
        get(&mut con, &lock),
        None,
        "released by the one that took it over"
    );
    let logged = log_capture::records();
    assert!(
        logged.iter().any(|(level, msg)| *level == log::Level::Warn
            && msg.contains(&lock)
            && msg.contains("taken over")),
        "{logged:?}"
    );
}

#[test]
fn redis_down_means_an_unshared_fetch_a_warning_and_a_new_connection_when_back() {
    log_capture::install();
    let mut redis = Redis::start();
    let prefix = unique_prefix("async-down");
    let store = redis_support::store(&redis, &prefix, Duration::from_secs(2));
    let key = store.key("wxDOWN0001", KIND);
    let slot = slot(&store, "wxDOWN0001");
    let rt = runtime();
    let count = Arc::new(AtomicUsize::new(0));

    let (token, _) = rt
        .block_on(slot.fetch(None, false, counting("SHARED", &count)))
        .unwrap();
    assert_eq!(token.expose(), "SHARED");
    assert_eq!(count.load(Ordering::SeqCst), 1);

    redis.stop();
    // The connection breaks: fetched in this process, with a warning; not an error.
    let (token, _) = rt
        .block_on(slot.fetch(None, true, counting("LOCAL", &count)))
        .unwrap();
    assert_eq!(token.expose(), "LOCAL");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let url = redis.url().trim_end_matches('/').to_owned();
    let logged = log_capture::records();
    assert!(
        logged.iter().any(|(level, msg)| *level == log::Level::Warn
            && msg.contains(&url)
            && msg.contains("fetching it in this process")),
        "{logged:?}"
    );

    redis.restart();
    // Let the pause after the failure (100 ms here) pass: the slot connects again, finds the
    // new server empty and shares a token through it.
    std::thread::sleep(Duration::from_millis(150));
    let (token, _) = rt
        .block_on(slot.fetch(None, false, counting("BACK", &count)))
        .unwrap();
    assert_eq!(token.expose(), "BACK");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let mut con = redis.connection();
    assert!(get(&mut con, &key).unwrap().contains("BACK"));
}

#[test]
fn an_unreachable_redis_never_fails_an_async_fetch_nor_shows_its_password() {
    log_capture::install();
    let port = free_port();
    let store = RedisStore::builder(format!("redis://:hunter2-async-pass@127.0.0.1:{port}/0"))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let slot = slot(&store, "wxUNREACH01");
    assert!(!format!("{slot:?}").contains("hunter2"));
    let count = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    for _ in 0..2 {
        // The second while Redis rests: not even tried.
        let (token, _) = rt
            .block_on(slot.fetch(None, false, counting("UNSHARED", &count)))
            .unwrap();
        assert_eq!(token.expose(), "UNSHARED");
    }
    assert_eq!(count.load(Ordering::SeqCst), 2);
    rt.block_on(slot.invalidate(&Secret::new("UNSHARED")));
    let logged = log_capture::records();
    let ours: Vec<_> = logged
        .iter()
        .filter(|(_, msg)| msg.contains(&format!("127.0.0.1:{port}")))
        .collect();
    assert!(
        ours.iter()
            .any(|(level, msg)| *level == log::Level::Warn && msg.contains("Redis")),
        "{logged:?}"
    );
    for (_, msg) in &logged {
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
