//! A real `redis-server` for the shared-store tests.
//!
//! [`Redis::shared`] uses the server `.ci/run` started (its URL in `WECHAT_CARD_TEST_REDIS_URL`);
//! otherwise, and for tests that stop and start their server, [`Redis::start`] runs
//! `redis-server` from PATH on a free port in a temporary folder, stopped when dropped. Without
//! either, a test prints how to get one and returns early, except under CI (`CI` set), where
//! it fails: the tests never skip silently there.
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
    /// The server of the run (`WECHAT_CARD_TEST_REDIS_URL`), or one of this test's own.
    /// `None` (after saying how to get one) when there is neither, outside CI.
    pub fn shared() -> Option<Redis> {
        if let Ok(url) = std::env::var(URL_VAR) {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .unwrap_or(6379);
            return Some(Redis {
                url,
                port,
                own: None,
            });
        }
        Redis::start()
    }

    /// A server of this test's own, from `redis-server` on PATH.
    pub fn start() -> Option<Redis> {
        let port = free_port();
        match Redis::start_on(port) {
            Some(redis) => Some(redis),
            None => {
                let how = "the shared-store tests need redis-server: install it (Debian/Ubuntu: \
                           `apt-get install redis-server`) so that it is on PATH, or start one \
                           and set WECHAT_CARD_TEST_REDIS_URL=redis://127.0.0.1:<port>/";
                if std::env::var_os("CI").is_some() {
                    panic!("{how}");
                }
                eprintln!("SKIPPED: {how}");
                None
            }
        }
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
