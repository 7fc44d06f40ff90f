//! Two clients (think: two worker processes) sharing one access token and one api_ticket
//! through Redis.
//!
//! `cargo run --example shared_token --features redis,sandbox` starts the sandbox and a
//! `redis-server` found on PATH (or uses `REDIS_URL` when set), builds two clients with the
//! same store, and shows that the sandbox saw one token fetch and one ticket fetch, and that
//! after the sandbox expires the token, one new fetch serves both.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;
use wechat_card::{Client, Error, GetCodeRequest};

/// A `redis-server` of this example's own, stopped on drop.
struct OwnRedis(Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `REDIS_URL`, or a `redis-server` from PATH on a free port.
fn redis() -> Result<(String, Option<OwnRedis>), Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Ok((url, None));
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "could not start redis-server ({e}). Install it (Debian/Ubuntu: \
                 `apt-get install redis-server`) or start one and run with \
                 REDIS_URL=redis://127.0.0.1:6379/"
            )
        })?;
    let own = OwnRedis(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("redis-server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((format!("redis://127.0.0.1:{port}/"), Some(own)))
}

/// A call that needs the token (the sandbox knows no such code: 40056 means the token passed).
fn call(client: &Client) -> Result<(), Error> {
    match client.get_code(&GetCodeRequest::new("000000000000")) {
        Err(Error::Api(e)) if e.errcode == 40056 => Ok(()),
        other => other.map(|_| ()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start()?;
    let (url, _own) = redis()?;
    let store = RedisStore::builder(url.as_str())
        .prefix("example:wechat-card:")
        .build()?;
    println!("store: {store:?}");

    // In real life each worker process builds its client like this, with the same Redis URL,
    // prefix and appid.
    let worker_a = sandbox
        .client_builder()
        .shared_store(store.clone())
        .build()?;
    let worker_b = sandbox
        .client_builder()
        .shared_store(store.clone())
        .build()?;

    call(&worker_a)?;
    call(&worker_b)?;
    let (ticket_a, ticket_b) = (worker_a.api_ticket()?, worker_b.api_ticket()?);
    assert_eq!(worker_a.access_token()?, worker_b.access_token()?);
    assert_eq!(ticket_a, ticket_b);
    println!(
        "two clients, one token and one ticket: the sandbox saw {} token fetch(es) and {} ticket fetch(es)",
        sandbox.calls("cgi-bin/stable_token"),
        sandbox.calls("cgi-bin/ticket/getticket")
    );
    println!(
        "the token lives under the key {}",
        store.key(sandbox.appid(), "access_token")
    );

    sandbox.expire_tokens();
    call(&worker_a)?; // refused with 42001: marks the shared token invalid, fetches a new one
    call(&worker_b)?; // refused too: reads the new token from Redis
    assert_eq!(worker_a.access_token()?, worker_b.access_token()?);
    println!(
        "after the sandbox expired the token: {} token fetch(es) in all",
        sandbox.calls("cgi-bin/stable_token")
    );
    Ok(())
}
