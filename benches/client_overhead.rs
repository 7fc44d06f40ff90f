//! What the generated client costs over a hand-written call.
//!
//! `cargo bench --bench client_overhead` calls `card/code/get` against a loopback server, once
//! through the generated `Client::get_code` and once as a hand-written `ureq` + `serde_json` call
//! of the same request, interleaved in rounds so both see the same machine noise. It prints the
//! median per-call time of each, their ratio (target: at most 1.10), and the time the generator
//! takes for the whole spec. Not a test: nothing here asserts on time.

#[path = "../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use support::{Reply, Server};
use wechat_card::{Client, GetCodeRequest};

const TOKEN: &str = "BENCH-TOKEN";
const ANSWER: &str = r#"{"errcode":0,"errmsg":"ok","card":{"card_id":"pbLatjk4T4Hx-QFQGL4zGQy27_Qg","begin_time":1457452800,"end_time":1463155199},"openid":"obLatjm43RA5C6QfMO5szKYnT3dM","can_consume":true,"user_card_status":"NORMAL"}"#;

/// The hand-written side: the same answer, decoded with serde derive.
#[derive(Deserialize)]
#[allow(dead_code)]
struct HandAnswer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    card: HandCard,
    openid: String,
    can_consume: Option<bool>,
    user_card_status: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HandCard {
    card_id: Option<String>,
    begin_time: Option<i64>,
    end_time: Option<i64>,
}

fn hand_written(agent: &ureq::Agent, url: &str) -> HandAnswer {
    let body = serde_json::to_vec(&serde_json::json!({
        "code": "110201201245",
        "check_consume": false,
    }))
    .unwrap();
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .send(&body[..])
        .expect("hand-written call");
    let bytes = response.body_mut().read_to_vec().expect("body");
    let answer: HandAnswer = serde_json::from_slice(&bytes).expect("decode");
    assert_eq!(answer.errcode, 0);
    answer
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn per_call(calls: usize, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / calls as f64
}

fn main() {
    let quick =
        std::env::args().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let (rounds, calls) = if quick { (5, 100) } else { (21, 500) };

    let server = Server::start();
    server.default_reply("/card/code/get", Reply::json(ANSWER));
    let client = Client::builder()
        .base_url(server.url())
        .fixed_token(TOKEN)
        .build()
        .expect("client");
    let request = GetCodeRequest::new("110201201245").check_consume(false);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}/card/code/get?access_token={TOKEN}", server.url());

    // Warm up both (connections, allocator, caches).
    for _ in 0..200 {
        client.get_code(&request).expect("generated call");
        hand_written(&agent, &url);
    }

    let (mut generated, mut hand, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        let mut g = || {
            client.get_code(&request).expect("generated call");
        };
        let mut h = || {
            hand_written(&agent, &url);
        };
        let (a, b) = if round % 2 == 0 {
            let a = per_call(calls, &mut g);
            (a, per_call(calls, &mut h))
        } else {
            let b = per_call(calls, &mut h);
            (per_call(calls, &mut g), b)
        };
        generated.push(a);
        hand.push(b);
        ratios.push(a / b);
    }
    let (g, h) = (median(generated), median(hand));
    println!("card/code/get over loopback, {rounds} rounds x {calls} calls each, medians:");
    println!("  generated client (Client::get_code):   {g:8.1} µs/call");
    println!("  hand-written ureq + serde_json:        {h:8.1} µs/call");
    println!("  ratio of medians:                      {:8.3}", g / h);
    println!(
        "  median of per-round ratios:            {:8.3}   (target <= 1.10)",
        median(ratios)
    );
    println!(
        "  TCP connections opened by the server:  {}",
        server.connections()
    );

    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec");
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..if quick { 3 } else { 11 } {
        let start = Instant::now();
        let files = wechat_card_codegen::generate(&spec, "spec").expect("spec generates");
        times.push(start.elapsed().as_secs_f64() * 1e3);
        lines = files.iter().map(|f| f.text.lines().count()).sum();
    }
    println!(
        "codegen, whole spec -> {lines} lines of Rust: median {:.1} ms",
        median(times)
    );
}
