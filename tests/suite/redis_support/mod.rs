//! A real `redis-server` for the shared-store tests.
//!
//! [`Redis::shared`] uses the server `.ci/run` started (its URL in `WECHAT_CARD_TEST_REDIS_URL`);
//! otherwise, and for tests that stop and start their server, [`Redis::start`] runs
//! `redis-server` from PATH on a free port in a temporary folder, stopped when dropped. Without
//! either the test **fails** with a message that says how to get one (`scripts/test.sh`, the
//! README's test command, installs and starts it): a test that did not run never reports `ok`.
#![allow(unused)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable `.ci/run` exports the server's URL in.
pub const URL_VAR: &str = "WECHAT_CARD_TEST_REDIS_URL";

/// A Redis server for one test.
pub struct Redis {
    url: String,
    port: u16,
    own: Option<(Child, PathBuf)>,
}

impl Redis {
    /// The server of the run (`WECHAT_CARD_TEST_REDIS_URL`), or one of this test's own; panics
    /// (the test fails) with how to get one when there is neither.
    pub fn shared() -> Redis {
        Redis::try_shared().unwrap_or_else(|how| panic!("{how}"))
    }

    /// A server of this test's own, from `redis-server` on PATH; panics (the test fails) with how
    /// to get one when there is none.
    pub fn start() -> Redis {
        Redis::try_start().unwrap_or_else(|how| panic!("{how}"))
    }

    /// [`shared`](Redis::shared), or how to get a server (for the benchmark, which reports it
    /// and stops).
    pub fn try_shared() -> Result<Redis, String> {
        if let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .unwrap_or(6379);
            return Ok(Redis {
                url,
                port,
                own: None,
            });
        }
        Redis::try_start()
    }

    /// [`start`](Redis::start), or how to get a server.
    pub fn try_start() -> Result<Redis, String> {
        Redis::start_on(free_port()).ok_or_else(|| {
            format!(
                "this test needs a real Redis and none could be started: redis-server is not on \
                 PATH and {URL_VAR} is not set. Run the README's test command, \
                 `scripts/test.sh`, which installs redis-server (apt-get) and starts it, or \
                 install it yourself (Debian/Ubuntu: `apt-get install redis-server`), or start \
                 one and set {URL_VAR}=redis://127.0.0.1:<port>/"
            )
        })
    }

    /// Starts `redis-server` on `port` (again, after [`stop`](Redis::stop)).
    fn start_on(port: u16) -> Option<Redis> {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wechat-card-redis-{}-{}-{port}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            own: Some((child, dir)),
        };
        redis.wait_ready();
        Some(redis)
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection for inspecting keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("connect to the test Redis")
    }

    /// Stops this test's own server (kill -9: no save, no goodbye).
    pub fn stop(&mut self) {
        if let Some((mut child, dir)) = self.own.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Starts this test's own server again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let again = Redis::start_on(self.port).expect("redis-server starts again");
        *self = again;
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = redis::Client::open(self.url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ok.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "wct:{test}:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A store on `redis` under `prefix` with this lock TTL, retrying a held lock every 100 ms.
pub fn store(redis: &Redis, prefix: &str, lock_ttl: Duration) -> wechat_card::store::RedisStore {
    wechat_card::store::RedisStore::builder(redis.url())
        .prefix(prefix)
        .lock_ttl(lock_ttl)
        .retry_after(Duration::from_millis(100))
        .build()
        .unwrap()
}

/// `GET key`.
pub fn get(con: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(con).unwrap()
}
