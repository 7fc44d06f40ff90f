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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
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

#[derive(serde::Serialize)]
struct HandRequest<'a> {
    code: &'a str,
    check_consume: bool,
}

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

/// `--serve`: answers every request on 127.0.0.1 with [`ANSWER`], keeping connections alive;
/// prints the port, exits when stdin closes.
fn serve() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().expect("addr").port());
    std::io::stdout().flush().expect("stdout");
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve_connection(stream));
    }
}

fn serve_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() || writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// User + system CPU time of this process so far (all threads, exited ones included), from
/// `/proc/self/stat` in clock ticks of 10 ms (Linux's USER_HZ).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct Contender {
    name: &'static str,
    what: &'static str,
    call: Box<dyn FnMut()>,
    samples: Vec<f64>,
    cpu: Duration,
    calls: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
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
