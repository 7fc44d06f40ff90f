//! Requests per second the sandbox serves to the Rust client, and the TCP connections the
//! client opens.
//!
//! ```text
//! cargo bench --features sandbox --bench sandbox_throughput
//! ```
//!
//! For 1, 4 and 16 client threads sharing one `Client`, each thread calls `card/code/get` in a
//! loop for a fixed time (bounded in count too). Printed per run: requests per second, the TCP
//! connections the client opened (its first call included; steady state must reuse them: at most
//! one per thread) and the requests per connection. Everything stays on 127.0.0.1. Not a test: nothing
//! here asserts on time.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use wechat_card::GetCodeRequest;
use wechat_card::sandbox::Sandbox;

/// How long each run lasts.
const RUN: Duration = Duration::from_secs(3);
/// Most calls per thread in one run, whatever the speed.
const MAX_CALLS_PER_THREAD: u64 = 200_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().auto_approve(true).start()?;
    let card_id = sandbox.add_card(&serde_json::json!({
        "card_type": "GIFT",
        "gift": {
            "base_info": {
                "logo_url": "http://mmbiz.qpic.cn/mmbiz/bench/0",
                "code_type": "CODE_TYPE_QRCODE",
                "brand_name": "Bench",
                "title": "Bench",
                "color": "Color010",
                "notice": "Bench",
                "description": "Bench",
                "sku": { "quantity": 10 },
                "date_info": { "type": "DATE_TYPE_PERMANENT" }
            },
            "gift": "Bench"
        }
    }))?;
    let code = sandbox.receive_card("o-bench", &card_id)?;
    println!(
        "sandbox_throughput: card/code/get through Client::get_code, {} s per run, {} sandbox worker threads",
        RUN.as_secs(),
        2
    );
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>14}",
        "threads", "requests", "requests/s", "connections", "requests/conn"
    );
    for threads in [1usize, 4, 16] {
        let client = sandbox.client_builder().max_idle_connections(16).build()?;
        let connections_before = sandbox.connections();
        // The token fetch is not part of the timed run; its connection is counted.
        client.get_code(&GetCodeRequest::new(code.as_str()))?;
        let requests_before = sandbox.requests();
        let barrier = Arc::new(Barrier::new(threads + 1));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (client, barrier, code) = (client.clone(), barrier.clone(), code.clone());
                thread::spawn(move || -> Result<u64, wechat_card::Error> {
                    let request = GetCodeRequest::new(code.as_str());
                    barrier.wait();
                    let start = Instant::now();
                    let mut calls = 0;
                    while start.elapsed() < RUN && calls < MAX_CALLS_PER_THREAD {
                        client.get_code(&request)?;
                        calls += 1;
                    }
                    Ok(calls)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut calls = 0;
        for worker in workers {
            calls += worker.join().map_err(|_| "a client thread panicked")??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let connections = sandbox.connections() - connections_before;
        let served = sandbox.requests() - requests_before;
        println!(
            "{threads:>8} {calls:>10} {:>12.0} {connections:>12} {:>14.0}",
            calls as f64 / elapsed,
            served as f64 / connections.max(1) as f64
        );
    }
    println!(
        "total TCP connections accepted by the sandbox: {}",
        sandbox.connections()
    );
    Ok(())
}
