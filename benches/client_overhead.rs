//! What a call through the generated client costs, against what ureq itself can do.
//!
//! ```text
//! cargo bench --bench client_overhead            # 32 rounds x 2,000 calls per contender
//! cargo bench --bench client_overhead -- --quick # a short run to try it out
//! cargo bench --bench client_overhead -- --only client   # one contender, for a profiler
//! ```
//!
//! `card/code/get` against one loopback server (a child process running this same binary with
//! `--serve`, so that the server's CPU is not counted) answering the official example. Three
//! contenders run interleaved in rounds, each round in a rotated order, so that all of them see
//! the same machine noise:
//!
//! - **client**: the generated `Client::get_code` (validation, token, retries, decoding);
//! - **floor**: a hand-written ureq + serde_json call of the same request on an agent without
//!   any timeout (ureq then resolves without a thread), i.e. the least ureq can do;
//! - **timeouts**: the same hand-written call on an agent with the library's timeouts and
//!   ureq's default resolver, which looks the host up on a new thread on every call.
//!
//! Printed for each: the median and the 99th percentile of the per-call wall time (over every
//! call of every round), the CPU time per call (the process's user + system time over all its
//! rounds, helper threads included, divided by its calls) and the ratios to the floor.
//! Targets: client ≤ 1.10x the floor in median and in CPU, p99 ≤ 2x the floor's. Not a test:
//! nothing here asserts on time. (The generator's own time is `cargo bench -p
//! wechat-card-codegen`.)

#[path = "loopback/mod.rs"]
mod loopback;

use loopback::{HandAnswer, HandRequest, TOKEN, cpu_time, percentile, serve};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wechat_card::{Client, GetCodeRequest};

fn hand_written(agent: &ureq::Agent, url: &str) {
    let body = serde_json::to_vec(&HandRequest {
        code: "110201201245",
        check_consume: false,
    })
    .expect("encode");
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .send(&body[..])
        .expect("hand-written call");
    let bytes = response.body_mut().read_to_vec().expect("body");
    let answer: HandAnswer = serde_json::from_slice(&bytes).expect("decode");
    assert_eq!(answer.errcode, 0);
}

struct Contender {
    name: &'static str,
    what: &'static str,
    call: Box<dyn FnMut()>,
    samples: Vec<f64>,
    cpu: Duration,
    calls: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let (rounds, calls) = if quick { (5, 200) } else { (32, 2000) };

    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut port = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("server port");
    let base = format!("http://127.0.0.1:{}", port.trim());
    let url = format!("{base}/card/code/get?access_token={TOKEN}");

    let client = Client::builder()
        .base_url(&base)
        .fixed_token(TOKEN)
        .env_proxy(false)
        .build()
        .expect("client");
    let request = GetCodeRequest::new("110201201245").check_consume(false);
    let floor: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    // The timeouts the library sets (`ClientBuilder` defaults), on ureq's default resolver.
    let with_timeouts: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();

    let mut contenders = vec![
        Contender {
            name: "client",
            what: "generated Client::get_code",
            call: Box::new(move || {
                client.get_code(&request).expect("generated call");
            }),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
        Contender {
            name: "floor",
            what: "hand-written ureq + serde_json, no timeouts",
            call: Box::new({
                let url = url.clone();
                move || hand_written(&floor, &url)
            }),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
        Contender {
            name: "timeouts",
            what: "hand-written, the library's timeouts",
            call: Box::new(move || hand_written(&with_timeouts, &url)),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
    ];

    // `--only NAME`: that contender alone (to run under a profiler such as `perf record`).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    if let Some(name) = only {
        contenders.retain(|c| c.name == name);
        assert!(!contenders.is_empty(), "--only: no contender named {name}");
    }

    // Warm up (connections, allocator, caches).
    for c in &mut contenders {
        for _ in 0..200 {
            (c.call)();
        }
    }
    let n = contenders.len();
    for round in 0..rounds {
        // Rotate the order, so that no contender always runs first or last.
        for k in 0..n {
            let c = &mut contenders[(round + k) % n];
            let cpu_before = cpu_time().unwrap_or_default();
            for _ in 0..calls {
                let start = Instant::now();
                (c.call)();
                c.samples.push(start.elapsed().as_secs_f64() * 1e6);
            }
            c.cpu += cpu_time().unwrap_or_default().saturating_sub(cpu_before);
            c.calls += calls;
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();

    println!(
        "card/code/get over loopback, {rounds} interleaved rounds x {calls} calls per contender:"
    );
    println!(
        "  {:<9} {:<44} {:>10} {:>10} {:>11} {:>8} {:>8} {:>8}",
        "", "", "median µs", "p99 µs", "CPU µs/call", "median", "p99", "CPU"
    );
    let mut stats = Vec::new();
    for c in &mut contenders {
        c.samples.sort_by(f64::total_cmp);
        let cpu = c.cpu.as_secs_f64() * 1e6 / c.calls as f64;
        stats.push((
            percentile(&c.samples, 0.5),
            percentile(&c.samples, 0.99),
            cpu,
        ));
    }
    // The floor's figures, or the first contender's under `--only`.
    let (fm, fp, fc) = stats[contenders
        .iter()
        .position(|c| c.name == "floor")
        .unwrap_or(0)];
    for (c, (m, p, cpu)) in contenders.iter().zip(&stats) {
        println!(
            "  {:<9} {:<44} {m:>10.1} {p:>10.1} {cpu:>11.1} {:>7.2}x {:>7.2}x {:>7.2}x",
            c.name,
            c.what,
            m / fm,
            p / fp,
            cpu / fc
        );
    }
    println!("  (ratios to the floor; targets for client: median ≤ 1.10x, CPU ≤ 1.10x, p99 ≤ 2x)");
}
