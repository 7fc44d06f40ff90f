//! The Redis token store when someone else writes to the same Redis (issue 18): a lock key
//! without TTL, of another type or with a long TTL; a value "fetched" in the future or kept
//! without TTL; a value whose token is not a plausible token. Against a real `redis-server`.
#![cfg(all(feature = "redis", feature = "sandbox"))]

use crate::clients::{AnyClient, Flavor};
use crate::redis_support;
use crate::support;

use std::time::{Duration, Instant};

use crate::clients::shared::{call, client, other};
use redis_support::{Redis, get, unique_prefix};
use support::{Reply, Server};
use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;
use wechat_card::{Client, TokenSource};

const STABLE: &str = "cgi-bin/stable_token";
const CLASSIC: &str = "cgi-bin/token";
const LOCK_TTL: Duration = Duration::from_secs(1);

fn classic(flavor: Flavor, sandbox: &Sandbox, store: &RedisStore) -> AnyClient {
    AnyClient::of(
        flavor,
        sandbox
            .client_builder()
            .token_source(TokenSource::Classic)
            .shared_store(store.clone()),
    )
}

/// Writes a foreign lock of some shape.
fn foreign_lock(con: &mut redis::Connection, key: &str, shape: &str) {
    let _: () = redis::cmd("DEL").arg(key).query(con).unwrap();
    match shape {
        "no ttl" => redis::cmd("SET")
            .arg(key)
            .arg("x")
            .query::<()>(con)
            .unwrap(),
        "list" => redis::cmd("RPUSH")
            .arg(key)
            .arg("x")
            .query::<()>(con)
            .unwrap(),
        "one hour" => redis::cmd("SET")
            .arg(key)
            .arg("x")
            .arg("PX")
            .arg(3_600_000)
            .query::<()>(con)
            .unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn a_foreign_lock_without_ttl_of_another_type_or_too_long_is_stale() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let mut con = redis.connection();
        for shape in ["no ttl", "list", "one hour"] {
            let sandbox = Sandbox::start().unwrap();
            let prefix = unique_prefix("foreign-lock");
            let store = redis_support::store(&redis, &prefix, LOCK_TTL);
            let key = store.key(sandbox.appid(), "access_token");
            foreign_lock(&mut con, &format!("{key}:lock"), shape);
            let a = client(flavor, &sandbox, &store);
            let started = Instant::now();
            let token = a.access_token().unwrap();
            let waited = started.elapsed();
            eprintln!("lock {shape}: the first call took {waited:?} (lock_ttl {LOCK_TTL:?})");
            // Generous guard: waiting for the lock takes at most lock_ttl in all.
            assert!(waited < LOCK_TTL * 2, "{shape}: waited {waited:?}");
            // The token was written to Redis: another process reads it without fetching.
            assert!(
                get(&mut con, &key).unwrap().contains(token.expose()),
                "{shape}"
            );
            let b = client(
                other(flavor),
                &sandbox,
                &redis_support::store(&redis, &prefix, LOCK_TTL),
            );
            assert_eq!(b.access_token().unwrap(), token);
            assert_eq!(sandbox.calls(STABLE), 1, "{shape}");
            // The foreign lock is gone (it was taken over and released).
            let pttl: i64 = redis::cmd("PTTL")
                .arg(format!("{key}:lock"))
                .query(&mut con)
                .unwrap();
            assert_eq!(pttl, -2, "{shape}");
        }
    });
}

#[test]
fn the_store_never_makes_a_call_outlive_the_clients_timeout() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("lock-vs-timeout");
        // A lock TTL far above the client's timeout, and a live lock someone else holds.
        let store = RedisStore::builder(redis.url())
            .prefix(&prefix)
            .lock_ttl(Duration::from_secs(600))
            .build()
            .unwrap();
        let key = store.key(sandbox.appid(), "access_token");
        let mut con = redis.connection();
        let _: () = redis::cmd("SET")
            .arg(format!("{key}:lock"))
            .arg("someone-else")
            .arg("PX")
            .arg(600_000)
            .query(&mut con)
            .unwrap();
        let client = AnyClient::of(
            flavor,
            sandbox
                .client_builder()
                .timeout(Duration::from_secs(1))
                .shared_store(store),
        );
        let started = Instant::now();
        client.access_token().unwrap();
        let waited = started.elapsed();
        eprintln!("a live 600 s lock, client timeout 1 s: the call took {waited:?}");
        assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    });
}

/// A value as the store writes it.
fn value(token: &str, fetched_at_us: u64) -> String {
    serde_json::json!({
        "token": token,
        "fetched_at_us": fetched_at_us,
        "expires_at_us": fetched_at_us + 7_200_000_000,
        "lifetime_s": 7200,
    })
    .to_string()
}

const YEAR_2100_US: u64 = 4_102_444_800_000_000;

#[test]
fn a_value_from_the_future_or_without_ttl_is_overwritten_by_the_next_fetch() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let mut con = redis.connection();
        for (shape, token, ttl_ms) in [
            ("future, invalid", "", Some(3_600_000u64)),
            ("future, no ttl", "", None),
            ("future, valid token, no ttl", "FOREIGN-TOKEN", None),
        ] {
            let sandbox = Sandbox::start().unwrap();
            let prefix = unique_prefix("future");
            let store = redis_support::store(&redis, &prefix, LOCK_TTL);
            let key = store.key(sandbox.appid(), "access_token");
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(value(token, YEAR_2100_US));
            if let Some(ms) = ttl_ms {
                set.arg("PX").arg(ms);
            }
            let _: () = set.query(&mut con).unwrap();
            let a = client(flavor, &sandbox, &store);
            let fresh = a.access_token().unwrap();
            assert_ne!(fresh.expose(), "FOREIGN-TOKEN", "{shape}");
            let stored: serde_json::Value =
                serde_json::from_str(&get(&mut con, &key).unwrap()).unwrap();
            assert_eq!(
                stored["token"],
                fresh.expose(),
                "{shape}: the write was refused"
            );
            assert!(stored["fetched_at_us"].as_u64().unwrap() < YEAR_2100_US);
        }
    });
}

#[test]
fn two_classic_clients_alternating_fetch_once_per_expiry() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let sandbox = Sandbox::start().unwrap();
        let prefix = unique_prefix("alternating");
        let store = redis_support::store(&redis, &prefix, LOCK_TTL);
        let key = store.key(sandbox.appid(), "access_token");
        let mut con = redis.connection();
        // Someone left an invalidated value "fetched in 2100" (a clock that went back).
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(value("", YEAR_2100_US))
            .arg("PX")
            .arg(3_600_000)
            .query(&mut con)
            .unwrap();
        let a = classic(flavor, &sandbox, &store);
        let b = classic(
            other(flavor),
            &sandbox,
            &redis_support::store(&redis, &prefix, LOCK_TTL),
        );
        const EXPIRIES: u64 = 10;
        let mut calls = 0;
        for _ in 0..EXPIRIES {
            sandbox.expire_tokens();
            call(&a).unwrap();
            call(&b).unwrap();
            calls += 2;
        }
        call(&a).unwrap();
        calls += 1;
        let fetches = sandbox.calls(CLASSIC);
        eprintln!(
            "two classic clients alternating: {fetches} fetches in {calls} calls, {EXPIRIES} expiries"
        );
        assert!(
            fetches <= EXPIRIES,
            "{fetches} fetches for {EXPIRIES} expiries"
        );
    });
}

#[test]
fn a_shared_value_that_is_not_a_plausible_token_is_not_used() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let mut con = redis.connection();
        for bad in ["X".repeat(1 << 20), "has spaces in it".to_owned()] {
            let sandbox = Sandbox::start().unwrap();
            let prefix = unique_prefix("implausible");
            let store = redis_support::store(&redis, &prefix, LOCK_TTL);
            let key = store.key(sandbox.appid(), "access_token");
            let now: (u64, u64) = redis::cmd("TIME").query(&mut con).unwrap();
            let _: () = redis::cmd("SET")
                .arg(&key)
                .arg(value(&bad, now.0 * 1_000_000))
                .arg("PX")
                .arg(3_600_000)
                .query(&mut con)
                .unwrap();
            let a = client(flavor, &sandbox, &store);
            call(&a).unwrap();
            let token = a.access_token().unwrap();
            assert_ne!(token.expose(), bad);
            assert_eq!(sandbox.calls(STABLE), 1);
            assert!(get(&mut con, &key).unwrap().contains(token.expose()));
        }
    });
}

#[test]
fn a_token_too_long_is_never_written_to_redis() {
    crate::clients::each(|flavor| {
        let redis = Redis::shared();
        let server = Server::start();
        server.reply("/cgi-bin/stable_token", Reply::token(&"A".repeat(1 << 20)));
        let prefix = unique_prefix("long-token");
        let store = redis_support::store(&redis, &prefix, LOCK_TTL);
        let client = AnyClient::of(
            flavor,
            Client::builder()
                .base_url(server.url())
                .credentials("wxAPPID0000000001", "APP-SECRET-0123456789")
                .env_proxy(false)
                .shared_store(store.clone()),
        );
        let err = client.access_token().unwrap_err();
        assert!(err.to_string().contains("512"), "{err}");
        let mut con = redis.connection();
        assert_eq!(
            get(&mut con, &store.key("wxAPPID0000000001", "access_token")),
            None
        );
    });
}
