//! The Redis-backed token store across OS processes: 4 processes × 8 threads share one token
//! and one api_ticket fetched once, renew once after the sandbox expires the token, never storm
//! the classic grant, survive the lock holder's kill -9 and Redis going away and coming back.
//!
//! Each process is this test binary run again with `WCS_CHILD` set, which turns the `child`
//! test into a worker (see [`child`]); it reports through files in a temporary folder and a
//! last line on stdout. `child` is ignored in a normal run and fails without `WCS_CHILD`.
#![cfg(all(feature = "redis", feature = "sandbox"))]

use crate::redis_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_support::{Redis, unique_prefix};
use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;
use wechat_card::{Client, Error, GetCodeRequest, TokenSource};

const PROCESSES: usize = 4;
const THREADS: usize = 8;
const STABLE: &str = "cgi-bin/stable_token";
const CLASSIC: &str = "cgi-bin/token";
const TICKET: &str = "cgi-bin/ticket/getticket";
/// Only a guard against a hang; nothing is expected to take this long.
const HANG_GUARD: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The worker
// ---------------------------------------------------------------------------------------------

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A call that needs the token; the sandbox answers 40056 (unknown code) once the token passed.
fn call(client: &Client) -> Result<(), Error> {
    match client.get_code(&GetCodeRequest::new("000000000000")) {
        Err(Error::Api(e)) if e.errcode == 40056 => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// Writes `text` to `path` atomically (the parent polls these files).
fn publish(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The worker: `WCS_THREADS` threads call the sandbox through a client sharing its tokens in
/// Redis until `<dir>/stop` exists. Publishes `<dir>/first-<pid>` (milliseconds to the first
/// successful call) and `<dir>/settled-<pid>`: the least number of distinct access tokens any
/// of its threads has made successful calls with (once every thread has succeeded with the new
/// token, no call with an older one is still under way).
///
/// Ignored in a normal run (it is not a test of its own, and must not report `ok` for nothing);
/// the fleet runs it with `--ignored`.
#[test]
#[ignore = "the worker process of the tests in this module; they run it with --ignored"]
fn child() {
    assert!(
        std::env::var_os("WCS_CHILD").is_some(),
        "a worker of the fleet tests, started by them with WCS_CHILD and the WCS_* variables"
    );
    let started = Instant::now();
    let dir = PathBuf::from(var("WCS_DIR"));
    let pid = std::process::id();
    let store = RedisStore::builder(var("WCS_REDIS"))
        .prefix(var("WCS_PREFIX"))
        .lock_ttl(Duration::from_millis(
            var("WCS_LOCK_TTL_MS").parse().unwrap(),
        ))
        .retry_after(Duration::from_millis(100))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let source = match var("WCS_SOURCE").as_str() {
        "classic" => TokenSource::Classic,
        _ => TokenSource::Stable,
    };
    let client = Client::builder()
        .base_url(var("WCS_SANDBOX"))
        .credentials(var("WCS_APPID"), var("WCS_SECRET"))
        .token_source(source)
        .shared_store(store)
        .env_proxy(false)
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap();
    let threads: usize = var("WCS_THREADS").parse().unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let settled = Arc::new(Mutex::new((vec![0usize; threads], 0usize)));
    let first = Arc::new(AtomicBool::new(false));
    let stop = dir.join("stop");
    let workers: Vec<_> = (0..threads)
        .map(|index| {
            let (client, ok, failures, settled, first, stop, dir) = (
                client.clone(),
                ok.clone(),
                failures.clone(),
                settled.clone(),
                first.clone(),
                stop.clone(),
                dir.clone(),
            );
            std::thread::spawn(move || {
                let mut mine = HashSet::new();
                while !stop.exists() {
                    let result = call(&client).and_then(|()| client.api_ticket().map(|_| ()));
                    match result {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            if !first.swap(true, Ordering::SeqCst) {
                                publish(
                                    &dir.join(format!("first-{pid}")),
                                    &started.elapsed().as_millis().to_string(),
                                );
                            }
                            let token = client.access_token().unwrap();
                            if mine.insert(token.expose().to_owned()) {
                                let mut settled = settled.lock().unwrap();
                                settled.0[index] = mine.len();
                                let least = settled.0.iter().copied().min().unwrap_or(0);
                                if least != settled.1 {
                                    settled.1 = least;
                                    publish(
                                        &dir.join(format!("settled-{pid}")),
                                        &least.to_string(),
                                    );
                                }
                            }
                        }
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    for f in failures.iter().take(5) {
        println!("CHILD-FAILURE {f}");
    }
    println!(
        "CHILD-RESULT ok={} failed={}",
        ok.load(Ordering::SeqCst),
        failures.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The parent side
// ---------------------------------------------------------------------------------------------

struct Fleet {
    dir: PathBuf,
    children: Vec<Child>,
    env: Vec<(&'static str, String)>,
}

impl Fleet {
    fn new(sandbox: &Sandbox, redis_url: &str, source: &str, lock_ttl_ms: u64) -> Fleet {
        let dir = std::env::temp_dir().join(unique_prefix("fleet").replace(':', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let env = vec![
            ("WCS_CHILD", "1".to_owned()),
            ("WCS_DIR", dir.display().to_string()),
            ("WCS_SANDBOX", sandbox.base_url().to_owned()),
            ("WCS_APPID", sandbox.appid().to_owned()),
            ("WCS_SECRET", sandbox.secret().to_owned()),
            ("WCS_REDIS", redis_url.to_owned()),
            ("WCS_PREFIX", unique_prefix("proc")),
            ("WCS_SOURCE", source.to_owned()),
            ("WCS_LOCK_TTL_MS", lock_ttl_ms.to_string()),
            ("WCS_THREADS", THREADS.to_string()),
        ];
        Fleet {
            dir,
            children: Vec::new(),
            env,
        }
    }

    fn prefix(&self) -> &str {
        &self.env.iter().find(|(k, _)| *k == "WCS_PREFIX").unwrap().1
    }

    fn spawn(&mut self, n: usize) {
        for _ in 0..n {
            let child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "shared_store_processes::child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            self.children.push(child);
        }
    }

    /// A published number of child `pid`, if any yet.
    fn number(&self, what: &str, pid: u32) -> Option<u64> {
        std::fs::read_to_string(self.dir.join(format!("{what}-{pid}")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits until every running child published `what` ≥ `at_least`; their values.
    fn wait_all(&self, what: &str, at_least: u64) -> Vec<u64> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let values: Vec<Option<u64>> = self
                .children
                .iter()
                .map(|c| self.number(what, c.id()).filter(|v| *v >= at_least))
                .collect();
            if values.iter().all(Option::is_some) {
                return values.into_iter().flatten().collect();
            }
            assert!(
                Instant::now() < deadline,
                "children did not reach {what} >= {at_least}: {values:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops every child; the total of successful and failed calls.
    fn finish(mut self) -> (u64, u64) {
        std::fs::write(self.dir.join("stop"), "").unwrap();
        let (mut ok, mut failed) = (0, 0);
        for child in self.children.drain(..) {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            // The test harness prints around the worker's lines.
            for line in stdout.lines().filter_map(|l| l.split_once("CHILD-FAILURE")) {
                eprintln!("a child's failed call:{}", line.1);
            }
            let result = stdout
                .lines()
                .find_map(|l| l.split_once("CHILD-RESULT"))
                .map(|(_, r)| r)
                .unwrap_or_else(|| panic!("a child ended without a result: {stdout}"));
            for part in result.split_whitespace() {
                if let Some(n) = part.strip_prefix("ok=") {
                    ok += n.parse::<u64>().unwrap();
                }
                if let Some(n) = part.strip_prefix("failed=") {
                    failed += n.parse::<u64>().unwrap();
                }
            }
        }
        (ok, failed)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("stop"), "");
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The fleets run one after the other: 32 worker threads each are plenty for two cores.
fn one_fleet_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn four_processes_fetch_once_and_renew_once_after_expiry() {
    let _one = one_fleet_at_a_time();
    let redis = Redis::shared();
    let sandbox = Sandbox::start().unwrap();
    let mut fleet = Fleet::new(&sandbox, redis.url(), "stable", 5_000);
    let spawned = Instant::now();
    fleet.spawn(PROCESSES);
    let firsts = fleet.wait_all("first", 0);
    fleet.wait_all("settled", 1);
    eprintln!(
        "cold start of {PROCESSES} processes x {THREADS} threads: {} token fetch(es), {} ticket \
         fetch(es); time to first success per process (ms, from the worker's start): {firsts:?}, \
         median {} ms; all {PROCESSES} ready {} ms after the spawns",
        sandbox.calls(STABLE),
        sandbox.calls(TICKET),
        median(firsts.clone()),
        spawned.elapsed().as_millis()
    );
    assert_eq!(
        sandbox.calls(STABLE),
        1,
        "one token fetch for all processes"
    );
    assert_eq!(
        sandbox.calls(TICKET),
        1,
        "one ticket fetch for all processes"
    );

    // Expire the token while everybody calls: one new fetch, no failed call.
    sandbox.expire_tokens();
    fleet.wait_all("settled", 2);
    assert_eq!(sandbox.calls(STABLE), 2, "exactly one new fetch");
    let (ok, failed) = fleet.finish();
    eprintln!("calls: {ok} succeeded, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok > 0);
}

#[test]
fn classic_grant_with_four_processes_fetches_once_per_expiry() {
    let _one = one_fleet_at_a_time();
    let redis = Redis::shared();
    let sandbox = Sandbox::start().unwrap();
    let mut fleet = Fleet::new(&sandbox, redis.url(), "classic", 5_000);
    fleet.spawn(PROCESSES);
    fleet.wait_all("first", 0);
    fleet.wait_all("settled", 1);
    assert_eq!(sandbox.calls(CLASSIC), 1);
    for expiry in 1..=2u64 {
        sandbox.expire_tokens();
        fleet.wait_all("settled", expiry + 1);
        assert_eq!(sandbox.calls(CLASSIC), expiry + 1, "one refetch per expiry");
    }
    let (ok, failed) = fleet.finish();
    assert_eq!(failed, 0, "no 40001 storm: every call succeeded ({ok})");
}

#[test]
fn killing_the_lock_holder_blocks_the_others_at_most_the_lock_ttl() {
    let _one = one_fleet_at_a_time();
    let redis = Redis::shared();
    let sandbox = Sandbox::start().unwrap();
    const LOCK_TTL_MS: u64 = 1_000;
    let mut fleet = Fleet::new(&sandbox, redis.url(), "stable", LOCK_TTL_MS);
    // The first token fetch hangs: the process making it holds the lock.
    sandbox.delay_next(STABLE, Duration::from_secs(60), 1);
    fleet.spawn(1);
    let lock_key = format!("{}{}:access_token:lock", fleet.prefix(), sandbox.appid());
    let mut con = redis.connection();
    let deadline = Instant::now() + HANG_GUARD;
    while !redis::cmd("EXISTS")
        .arg(&lock_key)
        .query::<bool>(&mut con)
        .unwrap()
    {
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Three more processes queue up behind the lock, then the holder dies (SIGKILL).
    fleet.spawn(PROCESSES - 1);
    std::thread::sleep(Duration::from_millis(200));
    let mut holder = fleet.children.remove(0);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed = Instant::now();
    fleet.wait_all("first", 0);
    let waited = killed.elapsed();
    eprintln!(
        "lock holder killed: the other {} processes had a token {} ms later (lock TTL \
         {LOCK_TTL_MS} ms); token fetches seen: {}",
        PROCESSES - 1,
        waited.as_millis(),
        sandbox.calls(STABLE)
    );
    assert_eq!(sandbox.calls(STABLE), 2, "the dead holder's and one more");
    let (_, failed) = fleet.finish();
    assert_eq!(failed, 0);
}

#[test]
fn redis_stopped_and_started_mid_run() {
    let _one = one_fleet_at_a_time();
    let mut redis = Redis::start();
    let sandbox = Sandbox::start().unwrap();
    let mut fleet = Fleet::new(&sandbox, redis.url(), "stable", 5_000);
    fleet.spawn(PROCESSES);
    fleet.wait_all("first", 0);
    fleet.wait_all("settled", 1);
    assert_eq!(sandbox.calls(STABLE), 1);

    // Redis goes away, then the token expires: calls go on with fetches in each process.
    redis.stop();
    sandbox.expire_tokens();
    fleet.wait_all("settled", 2);
    let during = sandbox.calls(STABLE);
    assert!(during <= 1 + PROCESSES as u64, "{during}");

    // Redis comes back (empty): the store is used again, one fetch for everybody.
    redis.restart();
    // The workers leave a failed Redis alone for 100 ms; let that pass.
    std::thread::sleep(Duration::from_millis(300));
    sandbox.expire_tokens();
    fleet.wait_all("settled", 3);
    assert_eq!(sandbox.calls(STABLE), during + 1, "shared again");
    let (ok, failed) = fleet.finish();
    eprintln!("Redis stopped and started: {ok} calls succeeded, {failed} failed");
    assert_eq!(failed, 0);
}
