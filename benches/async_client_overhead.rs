//! What a call through the async client costs, against what hyper and tokio themselves can do.
//!
//! ```text
//! cargo bench --features async --bench async_client_overhead            # the full run
//! cargo bench --features async --bench async_client_overhead -- --quick # a short run
//! cargo bench --features async --bench async_client_overhead -- --only client  # for a profiler
//! ```
//!
//! The async counterpart of `benches/client_overhead.rs`: `card/code/get` against one loopback
//! server (a child process running this same binary with `--serve`, so that the server's CPU is
//! not counted) answering the official example. Everything runs on one current-thread tokio
//! runtime (the connections' tasks included), so that the CPU figures are those of one thread.
//!
//! Part 1, one call at a time. Three contenders run interleaved in rounds, each round in a
//! rotated order, so that all of them see the same machine noise:
//!
//! - **client**: the generated `AsyncClient::get_code` (validation, token, retries, decoding);
//! - **floor**: a hand-written call on the same stack, hyper's `client::conn::http1` over a
//!   tokio `TcpStream` (one kept-alive connection) and serde_json, without any timeout, i.e. the
//!   least that stack can do;
//! - **timeouts**: the same hand-written call with the library's timeouts (`tokio::time::timeout`
//!   around the answer's head and each read of its body, and around the whole exchange).
//!
//! Printed for each: the median and the 99th percentile of the per-call wall time (over every
//! call of every round), the CPU time per call (the process's user + system time over all its
//! rounds divided by its calls) and the ratios to the floor. Targets: client ≤ 1.10x the floor
//! in median and in CPU, p99 ≤ 2x the floor's.
//!
//! Part 2, 64 calls at once on the same one-thread runtime: 64 tasks each making calls one
//! after the other, for the client (with `max_idle_connections(64)`, and with the default 16)
//! and for the floor (64 hand-written connections). Printed: calls per second (the median over
//! rounds) and the ratio to the floor's. Not a test: nothing here asserts on time.

#[path = "loopback/mod.rs"]
mod loopback;

use loopback::{HandAnswer, HandRequest, TOKEN, cpu_time, percentile, serve};
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::time::timeout;
use wechat_card::{AsyncClient, GetCodeRequest};

/// The library's default timeouts (`ClientBuilder`): 30 s per wait, the exchange within 30.3 s.
const TIMEOUT: Duration = Duration::from_secs(30);
const DEADLINE: Duration = Duration::from_millis(30_300);
/// Part 2's concurrency.
const TASKS: usize = 64;

/// A request body in one piece (what http-body-util's `Full` does).
struct Full(Option<Bytes>);

impl Body for Full {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// One hand-written connection: hyper's HTTP/1.1 client connection, kept alive.
struct Hand {
    sender: SendRequest<Full>,
    url: String,
    host: HeaderValue,
    timeouts: bool,
}

impl Hand {
    async fn connect(port: u16, timeouts: bool) -> Hand {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the bench server");
        tcp.set_nodelay(true).expect("nodelay");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Hand {
            sender,
            url: format!("/card/code/get?access_token={TOKEN}"),
            host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).expect("host"),
            timeouts,
        }
    }

    async fn call(&mut self) {
        if self.timeouts {
            timeout(DEADLINE, self.exchange())
                .await
                .expect("the exchange within its deadline");
        } else {
            self.exchange().await;
        }
    }

    async fn exchange(&mut self) {
        let body = serde_json::to_vec(&HandRequest {
            code: "110201201245",
            check_consume: false,
        })
        .expect("encode");
        let uri: Uri = self.url.parse().expect("uri");
        let request = Request::post(uri)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full(Some(Bytes::from(body))))
            .expect("request");
        // The connection takes the next request once it has seen the previous answer's end.
        self.sender.ready().await.expect("connection ready");
        let sent = self.sender.send_request(request);
        let response = if self.timeouts {
            timeout(TIMEOUT, sent).await.expect("answer's head in time")
        } else {
            sent.await
        }
        .expect("hand-written call");
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        // The body: decoded from its one frame when it comes in one (as here), else gathered.
        let mut first: Option<Bytes> = None;
        let mut rest: Vec<u8> = Vec::new();
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
            let frame = if self.timeouts {
                timeout(TIMEOUT, frame).await.expect("body read in time")
            } else {
                frame.await
            };
            let Some(frame) = frame else { break };
            let Ok(data) = frame.expect("body").into_data() else {
                continue;
            };
            match &first {
                None if rest.is_empty() => first = Some(data),
                _ => {
                    if let Some(head) = first.take() {
                        rest.extend_from_slice(&head);
                    }
                    rest.extend_from_slice(&data);
                }
            }
        }
        let bytes: &[u8] = match &first {
            Some(head) => head,
            None => &rest,
        };
        let answer: HandAnswer = serde_json::from_slice(bytes).expect("decode");
        assert_eq!(answer.errcode, 0);
    }
}

/// What a contender calls with (an enum rather than boxed closures: no allocation per call
/// that the contenders would share).
enum Caller {
    Client(AsyncClient, GetCodeRequest),
    Hand(Hand),
}

impl Caller {
    async fn call(&mut self) {
        match self {
            Caller::Client(client, request) => {
                client.get_code(request).await.expect("generated call");
            }
            Caller::Hand(hand) => hand.call().await,
        }
    }
}

struct Contender {
    name: &'static str,
    what: &'static str,
    caller: Caller,
    samples: Vec<f64>,
    cpu: Duration,
    calls: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 0.5)
}

fn client(base: &str, max_idle: usize) -> AsyncClient {
    AsyncClient::builder()
        .base_url(base)
        .fixed_token(TOKEN)
        .max_idle_connections(max_idle)
        .build_async()
        .expect("client")
}

/// Part 1: one call at a time, the contenders interleaved.
async fn one_at_a_time(base: &str, port: u16, rounds: usize, calls: usize, only: Option<&str>) {
    let request = GetCodeRequest::new("110201201245").check_consume(false);
    let mut contenders = vec![
        Contender {
            name: "client",
            what: "generated AsyncClient::get_code",
            caller: Caller::Client(client(base, 16), request),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
        Contender {
            name: "floor",
            what: "hand-written hyper conn + serde_json, no timeouts",
            caller: Caller::Hand(Hand::connect(port, false).await),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
        Contender {
            name: "timeouts",
            what: "hand-written, the library's timeouts",
            caller: Caller::Hand(Hand::connect(port, true).await),
            samples: Vec::new(),
            cpu: Duration::ZERO,
            calls: 0,
        },
    ];
    if let Some(name) = only {
        contenders.retain(|c| c.name == name);
        assert!(!contenders.is_empty(), "--only: no contender named {name}");
    }

    // Warm up (connections, allocator, caches).
    for c in &mut contenders {
        for _ in 0..200 {
            c.caller.call().await;
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
                c.caller.call().await;
                c.samples.push(start.elapsed().as_secs_f64() * 1e6);
            }
            c.cpu += cpu_time().unwrap_or_default().saturating_sub(cpu_before);
            c.calls += calls;
        }
    }

    println!(
        "card/code/get over loopback, one at a time, {rounds} interleaved rounds x {calls} calls per contender:"
    );
    println!(
        "  {:<9} {:<50} {:>10} {:>10} {:>11} {:>8} {:>8} {:>8}",
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
            "  {:<9} {:<50} {m:>10.1} {p:>10.1} {cpu:>11.1} {:>7.2}x {:>7.2}x {:>7.2}x",
            c.name,
            c.what,
            m / fm,
            p / fp,
            cpu / fc
        );
    }
    println!("  (ratios to the floor; targets for client: median ≤ 1.10x, CPU ≤ 1.10x, p99 ≤ 2x)");
}

/// Part 2's contenders.
#[derive(Clone, Copy, PartialEq)]
enum Many {
    Client(usize),
    Floor,
}

/// One burst: [`TASKS`] tasks each making `calls` calls; calls per second and CPU µs per call.
async fn burst(many: Many, base: &str, port: u16, calls: usize) -> (f64, f64) {
    let mut callers = Vec::with_capacity(TASKS);
    match many {
        Many::Client(max_idle) => {
            let client = client(base, max_idle);
            let request = GetCodeRequest::new("110201201245").check_consume(false);
            for _ in 0..TASKS {
                callers.push(Caller::Client(client.clone(), request.clone()));
            }
        }
        Many::Floor => {
            for _ in 0..TASKS {
                callers.push(Caller::Hand(Hand::connect(port, false).await));
            }
        }
    }
    // A first call each (the client's connections are made here), not counted.
    let mut warm = Vec::with_capacity(TASKS);
    for mut caller in callers {
        warm.push(tokio::spawn(async move {
            caller.call().await;
            caller
        }));
    }
    let mut callers = Vec::with_capacity(TASKS);
    for task in warm {
        callers.push(task.await.expect("warm-up task"));
    }
    let cpu_before = cpu_time().unwrap_or_default();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for mut caller in callers {
        tasks.push(tokio::spawn(async move {
            for _ in 0..calls {
                caller.call().await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_time().unwrap_or_default().saturating_sub(cpu_before);
    let total = (TASKS * calls) as f64;
    (total / wall, cpu.as_secs_f64() * 1e6 / total)
}

/// Part 2's contender: name, description, what, calls per second and CPU µs per call by round.
type ManyRow = (&'static str, &'static str, Many, Vec<f64>, Vec<f64>);

/// Part 2: 64 at once, the contenders interleaved by rounds.
async fn concurrent(base: &str, port: u16, rounds: usize, calls: usize, only: Option<&str>) {
    let mut contenders: Vec<ManyRow> = vec![
        (
            "client",
            "AsyncClient, max_idle_connections(64)",
            Many::Client(64),
            Vec::new(),
            Vec::new(),
        ),
        (
            "client16",
            "AsyncClient, the default max_idle_connections (16)",
            Many::Client(16),
            Vec::new(),
            Vec::new(),
        ),
        (
            "floor",
            "64 hand-written hyper connections",
            Many::Floor,
            Vec::new(),
            Vec::new(),
        ),
    ];
    if let Some(name) = only {
        contenders.retain(|c| c.0 == name);
        if contenders.is_empty() {
            return;
        }
    }
    let n = contenders.len();
    for round in 0..rounds {
        for k in 0..n {
            let c = &mut contenders[(round + k) % n];
            let (rate, cpu) = burst(c.2, base, port, calls).await;
            c.3.push(rate);
            c.4.push(cpu);
        }
    }
    println!(
        "\n{TASKS} tasks at once on one runtime thread, {rounds} interleaved rounds x {TASKS} tasks x {calls} calls:"
    );
    println!(
        "  {:<9} {:<50} {:>10} {:>11} {:>8} {:>8}",
        "", "", "calls/s", "CPU µs/call", "calls/s", "CPU"
    );
    let stats: Vec<(f64, f64)> = contenders
        .iter_mut()
        .map(|c| (median(&mut c.3), median(&mut c.4)))
        .collect();
    let (fr, fc) = stats[contenders.iter().position(|c| c.0 == "floor").unwrap_or(0)];
    for (c, (rate, cpu)) in contenders.iter().zip(&stats) {
        println!(
            "  {:<9} {:<50} {rate:>10.0} {cpu:>11.1} {:>7.2}x {:>7.2}x",
            c.0,
            c.1,
            rate / fr,
            cpu / fc
        );
    }
    println!("  (medians over the rounds; ratios to the floor)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let (rounds, calls) = if quick { (5, 200) } else { (32, 2000) };
    let (many_rounds, many_calls) = if quick { (3, 50) } else { (9, 300) };
    // `--only NAME`: that contender alone (to run under a profiler).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);

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
    let port: u16 = port.trim().parse().expect("server port");
    let base = format!("http://127.0.0.1:{port}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        one_at_a_time(&base, port, rounds, calls, only).await;
        concurrent(&base, port, many_rounds, many_calls, only).await;
    });
    drop(runtime);
    drop(child.stdin.take());
    let _ = child.wait();
}
