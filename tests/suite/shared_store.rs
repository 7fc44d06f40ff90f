//! The Redis-backed token store (feature `redis`) against a real `redis-server`, in one process:
//! keys and values, the local cache in front, compare-and-invalidate, the stale-writer race
//! driven deterministically, Redis down and back, and redaction. The multi-process cases are in
//! `tests/suite/shared_store_processes.rs`.
#![cfg(all(feature = "redis", feature = "sandbox"))]

use crate::redis_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clients::shared::{call, client, other};
use redis_support::{Redis, free_port, get, unique_prefix};
use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;
use wechat_card::{Client, Error, Secret};

const STABLE: &str = "cgi-bin/stable_token";
const TICKET: &str = "cgi-bin/ticket/getticket";

fn pttl(con: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(con).unwrap()
}

#[test]
fn one_key_per_appid_and_kind_with_token_times_and_ttl() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("keys");
        let store = redis_support::store(&redis, &prefix, Duration::from_secs(2));
        let client = client(flavor, &sandbox, &store);
        let token = client.access_token().unwrap();
        let ticket = client.api_ticket().unwrap();

        let mut con = redis.connection();
        let key = format!("{prefix}{}:access_token", sandbox.appid());
        assert_eq!(store.key(sandbox.appid(), "access_token"), key);
        let value: serde_json::Value = serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
        assert_eq!(value["token"], token.expose());
        let fetched = value["fetched_at_us"].as_u64().unwrap();
        assert_eq!(
            value["expires_at_us"].as_u64().unwrap(),
            fetched + 7_200_000_000
        );
        assert_eq!(value["lifetime_s"], 7200);
        // The TTL ends at the expiry (a little of it went by).
        let ttl = pttl(&mut con, &key);
        assert!(ttl > 7_000_000 && ttl <= 7_200_000, "{ttl}");

        let key = format!("{prefix}{}:api_ticket", sandbox.appid());
        let value: serde_json::Value = serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
        assert_eq!(value["token"], ticket.expose());
        assert!(pttl(&mut con, &key) > 7_000_000);
        // The lock was released.
        let lock: Option<String> = get(&mut con, &format!("{key}:lock"));
        assert_eq!(lock, None);
    });
}

#[test]
fn a_second_client_reads_the_shared_token_and_a_fresh_copy_never_touches_redis() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("local");
        let store = redis_support::store(&redis, &prefix, Duration::from_secs(2));
        let first = client(flavor, &sandbox, &store);
        let token = first.access_token().unwrap();
        let ticket = first.api_ticket().unwrap();
        // Another client (another process, as far as caches go) reads both from Redis.
        let second = client(
            other(flavor),
            &sandbox,
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        );
        assert_eq!(second.access_token().unwrap(), token);
        assert_eq!(second.api_ticket().unwrap(), ticket);
        assert_eq!(sandbox.calls(STABLE), 1);
        assert_eq!(sandbox.calls(TICKET), 1);

        // Overwrite the shared value behind the clients' backs: their fresh local copies are used
        // without reading Redis.
        let mut con = redis.connection();
        let key = store.key(sandbox.appid(), "access_token");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(r#"{"token":"OTHER","fetched_at_us":1,"expires_at_us":2,"lifetime_s":7200}"#)
            .query(&mut con)
            .unwrap();
        for _ in 0..100 {
            assert_eq!(first.access_token().unwrap(), token);
            assert_eq!(second.access_token().unwrap(), token);
            call(&first).unwrap();
        }
    });
}

#[test]
fn a_rejected_token_is_replaced_once_and_a_newer_one_never_deleted() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("invalidate");
        let a = client(
            flavor,
            &sandbox,
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        );
        let b = client(
            other(flavor),
            &sandbox,
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        );
        let old = a.access_token().unwrap();
        assert_eq!(b.access_token().unwrap(), old);
        sandbox.expire_tokens();
        // `a` is refused, marks the shared value invalid and fetches the new token.
        call(&a).unwrap();
        let new = a.access_token().unwrap();
        assert_ne!(new, old);
        assert_eq!(sandbox.calls(STABLE), 2);
        // `b` is refused with the old token: it must not touch the newer shared one, and reads it.
        call(&b).unwrap();
        assert_eq!(b.access_token().unwrap(), new);
        assert_eq!(sandbox.calls(STABLE), 2);
        let mut con = redis.connection();
        let value = get(
            &mut con,
            &format!("{prefix}{}:access_token", sandbox.appid()),
        )
        .unwrap();
        assert!(value.contains(new.expose()));
    });
}

/// Component tokens through the store, fetched by a closure the test controls.
fn provider(
    store: &RedisStore,
    fetch: impl Fn() -> Result<(Secret, i64), Error> + Send + Sync + 'static,
) -> Arc<dyn wechat_card::TokenProvider> {
    store
        .component_token_provider("wxCOMPONENT0001", fetch)
        .unwrap()
}

#[test]
fn a_stale_writer_never_replaces_a_newer_token() {
    let redis = Redis::shared();
    let prefix = unique_prefix("stale");
    let store_a = RedisStore::builder(redis.url())
        .prefix(&prefix)
        .lock_ttl(Duration::from_millis(200))
        .build()
        .unwrap();
    let store_b = redis_support::store(&redis, &prefix, Duration::from_secs(2));
    let key = store_a.key("wxCOMPONENT0001", "component_access_token");
    let mut con = redis.connection();

    // A takes the lock and starts fetching; its fetch does not return until the test says so.
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let a = provider(&store_a, move || {
        let _ = started_tx.send(());
        go_rx.lock().unwrap().recv().unwrap();
        Ok((Secret::new("OLDER-TOKEN"), 7200))
    });
    let slow = std::thread::spawn(move || a.token());
    started_rx.recv().unwrap();
    // A's lock expires while A is still fetching (wait for Redis to drop it, no clock).
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(format!("{key}:lock"))
            .query(&mut con)
            .unwrap();
        if !exists {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // B fetches after A started, so its token is the newer one, and writes it.
    let b = provider(&store_b, || Ok((Secret::new("NEWER-TOKEN"), 7200)));
    assert_eq!(b.token().unwrap().expose(), "NEWER-TOKEN");
    // A's fetch returns now: its write is refused and it uses the newer token.
    go_tx.send(()).unwrap();
    assert_eq!(slow.join().unwrap().unwrap().expose(), "NEWER-TOKEN");
    assert!(get(&mut con, &key).unwrap().contains("NEWER-TOKEN"));
    // A third process reads the newer token.
    let c = provider(
        &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        || panic!("no fetch expected"),
    );
    assert_eq!(c.token().unwrap().expose(), "NEWER-TOKEN");

    // An invalidated value keeps its fetch time: an older token cannot come back through it.
    c.invalidate(&Secret::new("NEWER-TOKEN"));
    let value: serde_json::Value = serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
    assert_eq!(value["token"], "");
    let fetches = Arc::new(AtomicUsize::new(0));
    let f = fetches.clone();
    let d = provider(
        &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        move || {
            f.fetch_add(1, Ordering::SeqCst);
            Ok((Secret::new("NEWEST-TOKEN"), 7200))
        },
    );
    assert_eq!(d.token().unwrap().expose(), "NEWEST-TOKEN");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[test]
fn redis_down_means_local_fetches_a_warning_and_redis_again_when_back() {
    crate::clients::each(|flavor| {
        let mut redis = Redis::start();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("down");
        let a = client(
            flavor,
            &sandbox,
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        );
        let b = client(
            other(flavor),
            &sandbox,
            &redis_support::store(&redis, &prefix, Duration::from_secs(2)),
        );
        let token = a.access_token().unwrap();
        assert_eq!(b.access_token().unwrap(), token);
        assert_eq!(sandbox.calls(STABLE), 1);

        redis.stop();
        sandbox.expire_tokens();
        // Calls go on: each client fetches in its process (stable_token hands out one token).
        call(&a).unwrap();
        call(&b).unwrap();
        let during = a.access_token().unwrap();
        assert_ne!(during, token);
        assert_eq!(b.access_token().unwrap(), during);
        assert!(sandbox.calls(STABLE) <= 3);

        redis.restart();
        // Let the clients' pause after the failure (100 ms here) pass; the store is used again.
        std::thread::sleep(Duration::from_millis(150));
        sandbox.expire_tokens();
        let before = sandbox.calls(STABLE);
        call(&a).unwrap();
        call(&b).unwrap();
        assert_eq!(sandbox.calls(STABLE), before + 1, "one fetch, shared again");
        assert_eq!(a.access_token().unwrap(), b.access_token().unwrap());
    });
}

#[test]
fn an_unreachable_redis_never_fails_a_call_nor_shows_its_password() {
    crate::clients::each(|flavor| {
        log_capture::install();
        let sandbox = Sandbox::start().unwrap();
        let port = free_port();
        let store = RedisStore::builder(format!(
            "redis://:hunter2-redis-password@127.0.0.1:{port}/0"
        ))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let client = client(flavor, &sandbox, &store);
        assert!(!format!("{client:?}").contains("hunter2"));
        call(&client).unwrap();
        client.api_ticket().unwrap();
        assert_eq!(sandbox.calls(STABLE), 1);
        let logged = log_capture::records();
        assert!(
            logged
                .iter()
                .any(|(level, msg)| *level == log::Level::Warn && msg.contains("Redis")),
            "{logged:?}"
        );
        for (_, msg) in &logged {
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        let err =
            RedisStore::open("redis://:hunter2-redis-password@127.0.0.1:notaport/0").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    });
}

#[test]
fn shared_store_needs_an_appid() {
    let redis = Redis::shared();
    let err = Client::builder()
        .fixed_token("T")
        .shared_store(RedisStore::open(redis.url()).unwrap())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("appid"), "{err}");
}

/// Every log record of this test binary.
pub(crate) mod log_capture {
    use std::sync::{Mutex, Once};

    static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            RECORDS
                .lock()
                .unwrap()
                .push((record.level(), record.args().to_string()));
        }
        fn flush(&self) {}
    }

    pub fn records() -> Vec<(log::Level, String)> {
        RECORDS.lock().unwrap().clone()
    }

    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            log::set_logger(&Capture).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
        });
    }
}
