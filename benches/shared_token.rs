//! What the shared token store (feature `redis`) costs.
//!
//! `cargo bench --features redis,sandbox --bench shared_token` needs `redis-server` on PATH (or
//! `WECHAT_CARD_TEST_REDIS_URL`). It measures, in one run:
//!
//! 1. **Steady state**: `card/code/get` against a loopback server, through a client with a
//!    fixed token, through a client whose token comes from the store, and through one with
//!    plain credentials and no store, interleaved in rounds so all see the same machine noise; the median per-call time of each and their ratio
//!    (target: at most 1.05; the local cache in front means no Redis round trip per call). The
//!    token lookup alone (`Client::access_token`) is timed the same way.
//! 2. **Cold start** of N processes (this binary run again) against one sandbox and an empty
//!    Redis, with and without the store: token fetches the sandbox saw, and the time from each
//!    process's start to its first successful call.
//!
//! Not a test: nothing here asserts on time.

#[path = "../tests/suite/support/mod.rs"]
#[allow(dead_code)]
mod support;

#[path = "../tests/suite/redis_support/mod.rs"]
#[allow(dead_code)]
mod redis_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis_support::{Redis, unique_prefix};
use support::{Reply, Server};
use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;
use wechat_card::{Client, Error, GetCodeRequest};

const ANSWER: &str = r#"{"errcode":0,"errmsg":"ok","card":{"card_id":"pbLatjk4T4Hx-QFQGL4zGQy27_Qg","begin_time":1457452800,"end_time":1463155199},"openid":"obLatjm43RA5C6QfMO5szKYnT3dM","can_consume":true,"user_card_status":"NORMAL"}"#;
const CHILD_VAR: &str = "WECHAT_CARD_BENCH_CHILD";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median per-call microseconds of `f` over `calls` calls.
fn per_call(calls: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

fn main() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child();
        return;
    }
    let redis = match Redis::try_shared() {
        Ok(redis) => redis,
        Err(how) => {
            eprintln!("nothing measured: {how}");
            std::process::exit(1);
        }
    };
    steady_state(&redis);
    for n in [1, 4, 8] {
        cold_start(&redis, n, true);
        cold_start(&redis, n, false);
    }
}

fn steady_state(redis: &Redis) {
    let server = Server::with_token("BENCH-TOKEN");
    server.default_reply("/card/code/get", Reply::json(ANSWER));
    let fixed = Client::builder()
        .base_url(server.url())
        .fixed_token("BENCH-TOKEN")
        .env_proxy(false)
        .build()
        .unwrap();
    let store = RedisStore::builder(redis.url())
        .prefix(unique_prefix("bench"))
        .build()
        .unwrap();
    let shared = Client::builder()
        .base_url(server.url())
        .credentials("wxBENCH00000000001", "BENCH-SECRET")
        .shared_store(store)
        .env_proxy(false)
        .build()
        .unwrap();
    let plain = Client::builder()
        .base_url(server.url())
        .credentials("wxBENCH00000000001", "BENCH-SECRET")
        .env_proxy(false)
        .build()
        .unwrap();
    let request = GetCodeRequest::new("110201201245").check_consume(false);
    // Warm up: connections, the token in Redis and in the local cache.
    for _ in 0..200 {
        fixed.get_code(&request).unwrap();
        shared.get_code(&request).unwrap();
        plain.get_code(&request).unwrap();
    }
    let mut p = Vec::new();
    let (rounds, calls) = (31, 200);
    let (mut f, mut s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let a = per_call(calls, || {
            fixed.get_code(&request).unwrap();
        });
        let b = per_call(calls, || {
            shared.get_code(&request).unwrap();
        });
        let c = per_call(calls, || {
            plain.get_code(&request).unwrap();
        });
        f.push(a);
        s.push(b);
        p.push(c);
        ratios.push(b / a);
    }
    let (mut tf, mut ts, mut tratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let a = per_call(20_000, || {
            fixed.access_token().unwrap();
        });
        let b = per_call(20_000, || {
            shared.access_token().unwrap();
        });
        tf.push(a * 1000.0);
        ts.push(b * 1000.0);
        tratios.push(b / a);
    }
    println!(
        "steady state, card/code/get over loopback, {rounds} rounds x {calls} calls, medians:"
    );
    println!("  fixed token:                 {:8.1} µs/call", median(f));
    println!("  token from the Redis store:  {:8.1} µs/call", median(s));
    println!("  credentials, no store:       {:8.1} µs/call", median(p));
    println!(
        "  median of per-round ratios:  {:8.3}   (target <= 1.05)",
        median(ratios)
    );
    println!("token lookup alone (Client::access_token), {rounds} rounds x 20000, medians:");
    println!("  fixed token:                 {:8.1} ns", median(tf));
    println!("  token from the Redis store:  {:8.1} ns", median(ts));
    println!("  median of per-round ratios:  {:8.3}", median(tratios));
    println!(
        "  shared token's Redis fetches during the run: {} (the rest came from the local cache)",
        server.count("/cgi-bin/stable_token")
    );
}

/// Starts `n` processes at once, each making one call; prints fetches and times.
fn cold_start(redis: &Redis, n: usize, with_store: bool) {
    let sandbox = Sandbox::start().unwrap();
    let prefix = unique_prefix("cold");
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .env(CHILD_VAR, "1")
                .env("BENCH_SANDBOX", sandbox.base_url())
                .env("BENCH_APPID", sandbox.appid())
                .env("BENCH_SECRET", sandbox.secret())
                .env("BENCH_REDIS", if with_store { redis.url() } else { "" })
                .env("BENCH_PREFIX", &prefix)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut times = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ms: f64 = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("child said {text:?}"));
        times.push(ms);
    }
    let max = times.iter().copied().fold(0.0, f64::max);
    println!(
        "cold start, {n} process(es) {}: token fetches seen by the sandbox {}, ticket fetches {}, \
         time to first success median {:.1} ms, slowest {:.1} ms",
        if with_store {
            "with the store"
        } else {
            "without the store"
        },
        sandbox.calls("cgi-bin/stable_token"),
        sandbox.calls("cgi-bin/ticket/getticket"),
        median(times),
        max
    );
}

/// One process of the cold start: one call (and the api_ticket), prints the milliseconds from
/// its start to the first success.
fn child() {
    let started = Instant::now();
    let var = |k: &str| std::env::var(k).unwrap();
    let mut builder = Client::builder()
        .base_url(var("BENCH_SANDBOX"))
        .credentials(var("BENCH_APPID"), var("BENCH_SECRET"))
        .env_proxy(false)
        .retry_backoff(Duration::from_millis(10));
    let url = var("BENCH_REDIS");
    if !url.is_empty() {
        builder = builder.shared_store(
            RedisStore::builder(url)
                .prefix(var("BENCH_PREFIX"))
                .build()
                .unwrap(),
        );
    }
    let client = builder.build().unwrap();
    match client.get_code(&GetCodeRequest::new("000000000000")) {
        Err(Error::Api(e)) if e.errcode == 40056 => {}
        other => panic!("unexpected {other:?}"),
    }
    client.api_ticket().unwrap();
    println!("{:.3}", started.elapsed().as_secs_f64() * 1e3);
}
