//! A token store on Redis shared by several processes (feature `redis`).
//!
//! A back end rarely runs as one process. Without a shared store each process fetches its own
//! access token and api_ticket (each fetch counts against WeChat's daily quota), and with the
//! classic grant (`cgi-bin/token`) every fetch invalidates the token the other processes hold.
//! [`RedisStore`] keeps one copy of each token in Redis and lets exactly one process fetch it:
//!
//! ```no_run
//! use wechat_card::Client;
//! use wechat_card::store::RedisStore;
//!
//! # fn main() -> Result<(), wechat_card::Error> {
//! let store = RedisStore::builder("redis://:password@127.0.0.1:6379/0")
//!     .prefix("shop-backend:wechat:")
//!     .build()?;
//! let client = Client::builder()
//!     .credentials("wx1234567890abcdef", "app-secret")
//!     .shared_store(store)
//!     .build()?;
//! let token = client.access_token()?; // fetched by one process, shared by all
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - **Keys.** One key per appid and kind: `<prefix><appid>:access_token`,
//!   `<prefix><appid>:api_ticket`, `<prefix><appid>:component_access_token` (the prefix is
//!   [`DEFAULT_PREFIX`] unless set). The value is JSON with the token, the time it was fetched
//!   (Redis server time, microseconds), its expiry and its lifetime. The key's Redis TTL ends at
//!   the expiry.
//! - **A local cache in front.** Each client keeps the token it read in memory and does not touch
//!   Redis while that copy is fresh (the same refresh rule as without a store, see
//!   [`TokenSource`](crate::TokenSource)).
//! - **Single flight across processes.** When the shared value is missing, expired or close to
//!   expiry, a process takes the lock key `<key>:lock` with `SET NX PX` holding a random owner id,
//!   fetches, writes the value and releases the lock by compare-and-delete in a Lua script (it
//!   never deletes a lock another process took after its own expired). The others poll the value
//!   with a backoff (5 ms doubling to 100 ms) and use what the holder wrote; while the old value
//!   is still valid they keep using it without waiting. A holder that dies blocks the others for
//!   at most the lock's TTL ([`RedisStoreBuilder::lock_ttl`]): then the lock expires and one of
//!   them fetches.
//! - **Never an older token over a newer one.** A value is written by a Lua script that compares
//!   fetch times: a slow holder whose lock expired while it was fetching cannot replace the value
//!   of the process that fetched after it; it uses the newer value instead.
//! - **Rejections.** After WeChat refused a token (40001, 40014, 42001), the client marks the
//!   shared value invalid only if it still holds the refused token (compare in a Lua script; the
//!   invalid value keeps its fetch time, so an older token cannot come back either), then gets a
//!   token as above: one process fetches, the others read its result.
//! - **Redis down.** A Redis error never fails an API call: the client fetches the token in the
//!   process (with `cgi-bin/stable_token`, the default, all processes get the same token anyway),
//!   logs a warning through the `log` crate (target `wechat_card::store`), and leaves Redis alone
//!   for [`RedisStoreBuilder::retry_after`]. After that the store is used again.
//! - **Secrets.** The Redis URL's password is shown as `***` in `Debug` output, errors and logs.
//!
//! Needs Redis 6.0 or later (Lua scripting and `SET … KEEPTTL`); tested with 7.0.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::token::{
    FetchFn, Fetched, SharedSlot, TokenCache, TokenProvider, lifetime_of, refresh_margin,
};
use crate::{Error, Secret};

/// The key prefix unless [`RedisStoreBuilder::prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "wechat-card:";
/// The lock's TTL unless [`RedisStoreBuilder::lock_ttl`] says otherwise.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(15);
/// Connect, read and write timeout of Redis commands unless [`RedisStoreBuilder::timeout`] says
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis is left alone after it failed, unless [`RedisStoreBuilder::retry_after`] says
/// otherwise.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Writes a value unless the stored one was fetched at the same time or later. Returns 1 when
/// written, 0 when refused.
const WRITE_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, v = pcall(cjson.decode, cur)
  if ok and type(v) == 'table' and tonumber(v.fetched_at_us)
     and tonumber(v.fetched_at_us) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Marks the value invalid (empty token, same fetch time and TTL) if it still holds the
/// rejected token. Returns 1 when it did.
const INVALIDATE_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, v = pcall(cjson.decode, cur)
if not ok or type(v) ~= 'table' or v.token ~= ARGV[1] then return 0 end
local function n(x) return string.format('%.0f', tonumber(x) or 0) end
redis.call('SET', KEYS[1], '{"token":"","fetched_at_us":' .. n(v.fetched_at_us) ..
  ',"expires_at_us":' .. n(v.expires_at_us) .. ',"lifetime_s":' .. n(v.lifetime_s) .. '}',
  'KEEPTTL')
return 1
"#;

/// Deletes the lock only if this owner still holds it.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A token store on Redis, shared by every process that uses the same Redis, prefix and appid.
/// Plug it into [`ClientBuilder::shared_store`](crate::ClientBuilder::shared_store) (the access
/// token and the api_ticket) or make a [`TokenProvider`] of it for the open platform's
/// component token with [`component_token_provider`](RedisStore::component_token_provider).
/// See the [module documentation](self) for the semantics.
///
/// Cheap to clone: clones share one Redis connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    client: redis::Client,
    /// The URL with its password replaced by `***`.
    shown_url: String,
    /// The URL's password, removed from every error text.
    password: Option<Secret>,
    prefix: String,
    lock_ttl: Duration,
    timeout: Duration,
    retry_after: Duration,
    conn: Mutex<Conn>,
}

#[derive(Default)]
struct Conn {
    con: Option<redis::Connection>,
    /// Redis failed: left alone until then.
    down_until: Option<Instant>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("RedisStore")
            .field("url", &inner.shown_url)
            .field("prefix", &inner.prefix)
            .field("lock_ttl", &inner.lock_ttl)
            .field("timeout", &inner.timeout)
            .field("retry_after", &inner.retry_after)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisStore`]. Start with [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: Secret,
    prefix: String,
    lock_ttl: Duration,
    timeout: Duration,
    retry_after: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &redact_url(self.url.expose()))
            .field("prefix", &self.prefix)
            .field("lock_ttl", &self.lock_ttl)
            .field("timeout", &self.timeout)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl RedisStore {
    /// A builder for a store on the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`,
    /// `rediss://` needs redis-rs's TLS features, `redis+unix:///path` a Unix socket).
    pub fn builder(url: impl Into<Secret>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            lock_ttl: DEFAULT_LOCK_TTL,
            timeout: DEFAULT_TIMEOUT,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// A store on the Redis at `url` with the default settings.
    pub fn open(url: impl Into<Secret>) -> Result<RedisStore, Error> {
        RedisStore::builder(url).build()
    }

    /// The key under which `kind` (`access_token`, `api_ticket`, `component_access_token`) of
    /// `appid` is stored. Its lock is this key followed by `:lock`.
    pub fn key(&self, appid: &str, kind: &str) -> String {
        format!("{}{appid}:{kind}", self.inner.prefix)
    }

    /// A [`TokenProvider`] for the open platform's `component_access_token` of
    /// `component_appid`, shared through this store, for
    /// [`ClientBuilder::component_token_provider`](crate::ClientBuilder::component_token_provider).
    /// `fetch` gets a new token from WeChat (`cgi-bin/component/api_component_token`, which
    /// needs the `component_verify_ticket` WeChat pushes to your server) and returns it with its
    /// `expires_in` in seconds. It is called by one process at a time, when the shared token is
    /// missing, close to expiry or was rejected.
    pub fn component_token_provider<F>(
        &self,
        component_appid: &str,
        fetch: F,
    ) -> Result<Arc<dyn TokenProvider>, Error>
    where
        F: Fn() -> Result<(Secret, i64), Error> + Send + Sync + 'static,
    {
        Ok(Arc::new(SharedTokenProvider {
            cache: TokenCache::for_ticket()
                .named("component token")
                .shared(Some(Box::new(self.slot(
                    component_appid,
                    "component_access_token",
                    "component_access_token",
                )?))),
            fetch: Box::new(fetch),
        }))
    }

    /// The slot of `kind` for `appid`.
    pub(crate) fn slot(&self, appid: &str, kind: &str, what: &'static str) -> Result<Slot, Error> {
        if appid.trim().is_empty() || appid.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(Error::Config(format!(
                "the shared store needs an appid without spaces or ':' to name its keys; got {appid:?}"
            )));
        }
        let key = self.key(appid, kind);
        Ok(Slot {
            store: self.clone(),
            lock_key: format!("{key}:lock"),
            key,
            what,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Redis failed less than `retry_after` ago.
    fn resting(&self) -> bool {
        self.conn()
            .down_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Runs `f` on the connection (connecting first if needed). Any error drops the
    /// connection (a reply may be in flight) and rests Redis for `retry_after`.
    fn run<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let result = (|| {
            if conn.con.is_none() {
                let con = self
                    .inner
                    .client
                    .get_connection_with_timeout(self.inner.timeout)?;
                con.set_read_timeout(Some(self.inner.timeout))?;
                con.set_write_timeout(Some(self.inner.timeout))?;
                conn.con = Some(con);
            }
            match conn.con.as_mut() {
                Some(con) => f(con),
                None => unreachable!("connected above"),
            }
        })();
        match result {
            Ok(value) => {
                conn.down_until = None;
                Ok(value)
            }
            Err(e) => {
                conn.con = None;
                conn.down_until = Some(Instant::now() + self.inner.retry_after);
                Err(StoreError(self.redact(&e.to_string())))
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        match &self.inner.password {
            Some(p) if !p.is_empty() => text.replace(p.expose(), "***"),
            _ => text.to_owned(),
        }
    }

    fn warn(&self, what: &str, error: &StoreError, then: &str) {
        log::warn!(
            target: "wechat_card::store",
            "Redis at {} failed ({}) for the {what}: {then}; Redis is tried again in {:?}",
            self.inner.shown_url,
            error.0,
            self.inner.retry_after
        );
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key (default [`DEFAULT_PREFIX`]). Processes share tokens when they
    /// use the same Redis, prefix and appid.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long the lock of a fetch lives (default [`DEFAULT_LOCK_TTL`], at least 10 ms): the
    /// longest the others wait for a holder that died. Keep it above the time one fetch takes;
    /// a holder slower than that is overtaken, harmlessly (its older token is not written).
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl;
        self
    }

    /// Connect, read and write timeout of each Redis command (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long Redis is left alone after it failed (default [`DEFAULT_RETRY_AFTER`]); tokens
    /// are fetched in the process meanwhile.
    pub fn retry_after(mut self, pause: Duration) -> Self {
        self.retry_after = pause;
        self
    }

    /// Checks the settings and parses the URL. Does not connect: an unreachable Redis is not
    /// an error here (see the module documentation, "Redis down").
    pub fn build(self) -> Result<RedisStore, Error> {
        let shown_url = redact_url(self.url.expose());
        let client = redis::Client::open(self.url.expose()).map_err(|e| {
            let message = redact_password_of(self.url.expose(), &e.to_string());
            Error::Config(format!("invalid Redis URL {shown_url}: {message}"))
        })?;
        if self.lock_ttl < Duration::from_millis(10) {
            return Err(Error::Config(format!(
                "the Redis lock TTL must be at least 10 ms; got {:?}",
                self.lock_ttl
            )));
        }
        if self.timeout.is_zero() {
            return Err(Error::Config("the Redis timeout must be above zero".into()));
        }
        let password = client
            .get_connection_info()
            .redis_settings()
            .password()
            .map(Secret::new);
        Ok(RedisStore {
            inner: Arc::new(StoreInner {
                client,
                shown_url,
                password,
                prefix: self.prefix,
                lock_ttl: self.lock_ttl,
                timeout: self.timeout,
                retry_after: self.retry_after,
                conn: Mutex::new(Conn::default()),
            }),
        })
    }
}

/// `url` with the password of its user info (and any `password=` query value) replaced by
/// `***`.
fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(start) = url.find("://").map(|i| i + 3) {
        let authority_end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| start + i);
        if let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) {
            let userinfo = &url[start..at];
            let shown_info = match userinfo.find(':') {
                Some(colon) => format!("{}:***", &userinfo[..colon]),
                None => userinfo.to_owned(),
            };
            shown = format!("{}{shown_info}{}", &url[..start], &url[at..]);
        }
    }
    if let Some(q) = shown.find('?') {
        let (base, query) = shown.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{base}{}", query.join("&"));
    }
    shown
}

/// `text` with the password found in `url` replaced by `***` (for errors about an URL that did
/// not parse).
fn redact_password_of(url: &str, text: &str) -> String {
    let shown = redact_url(url);
    // Every stretch of the URL that redaction removed is a secret.
    let mut out = text.to_owned();
    if shown != url {
        for part in url.split(['@', ':', '/', '?', '&', '=', '#']) {
            if part.len() >= 3 && !shown.contains(part) {
                out = out.replace(part, "***");
            }
        }
    }
    out
}

/// A failed Redis command, its text already redacted.
#[derive(Debug)]
struct StoreError(String);

/// A value as stored in Redis.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    /// Empty once the token was rejected.
    token: String,
    /// Redis server time when the fetch started, in microseconds since the Unix epoch.
    fetched_at_us: u64,
    /// `fetched_at_us` plus the lifetime.
    expires_at_us: u64,
    /// The lifetime WeChat announced, clamped (see `token::lifetime_of`).
    lifetime_s: u64,
}

/// A value read from Redis with the time it has left.
struct Read {
    stored: Stored,
    remaining: Duration,
}

impl Read {
    fn lifetime(&self) -> Duration {
        Duration::from_secs(self.stored.lifetime_s)
    }

    /// A valid token other than the one to avoid.
    fn usable(&self, avoid: Option<&Secret>) -> bool {
        !self.stored.token.is_empty()
            && !self.remaining.is_zero()
            && avoid.is_none_or(|a| a.expose() != self.stored.token)
    }

    /// Within the refresh margin before expiry.
    fn wants_refresh(&self) -> bool {
        self.remaining <= refresh_margin(self.lifetime())
    }

    fn fetched(&self) -> Fetched {
        Fetched {
            token: Secret::new(self.stored.token.clone()),
            expires_in: i64::try_from(self.stored.lifetime_s).ok(),
            remaining: Some(self.remaining),
        }
    }
}

/// One key of the store (an appid and kind), as used by a [`TokenCache`].
pub(crate) struct Slot {
    store: RedisStore,
    key: String,
    lock_key: String,
    /// For log messages.
    what: &'static str,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("key", &self.key).finish()
    }
}

/// What a poll of the shared value decided.
enum Step {
    Use(Fetched),
    Hold(String),
}

impl SharedSlot for Slot {
    /// A token through the store: the shared one, or fetched with `fetch` by the one process
    /// that holds the lock. Falls back to `fetch` in this process when Redis fails.
    fn fetch(
        &self,
        avoid: Option<&Secret>,
        force: bool,
        fetch: FetchFn<'_>,
    ) -> Result<Fetched, Error> {
        if self.store.resting() {
            return fetch(force);
        }
        match self.wait_or_hold(avoid) {
            Ok(Step::Use(fetched)) => Ok(fetched),
            Ok(Step::Hold(owner)) => self.as_holder(&owner, avoid, force, fetch),
            Err(e) => {
                self.store
                    .warn(self.what, &e, "fetching it in this process");
                fetch(force)
            }
        }
    }

    /// WeChat rejected `rejected`: marks the shared value invalid if it still holds it.
    fn invalidate(&self, rejected: &Secret) {
        if self.store.resting() {
            return;
        }
        let result = self.store.run(|con| {
            redis::cmd("EVAL")
                .arg(INVALIDATE_SCRIPT)
                .arg(1)
                .arg(&self.key)
                .arg(rejected.expose())
                .query::<i64>(con)
        });
        if let Err(e) = result {
            self.store
                .warn(self.what, &e, "could not mark the rejected value invalid");
        }
    }
}

impl Slot {
    /// Polls until the shared value can be used or this process holds the lock.
    fn wait_or_hold(&self, avoid: Option<&Secret>) -> Result<Step, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(read) = self.read()? {
                if read.usable(avoid) {
                    if !read.wants_refresh() {
                        return Ok(Step::Use(read.fetched()));
                    }
                    // Close to expiry: refresh it if nobody does, else keep using it.
                    return Ok(match self.try_lock()? {
                        Some(owner) => Step::Hold(owner),
                        None => Step::Use(read.fetched()),
                    });
                }
            }
            if let Some(owner) = self.try_lock()? {
                return Ok(Step::Hold(owner));
            }
            // Someone fetches. Their lock expires after lock_ttl at the latest, then one of the
            // waiters takes it; three TTLs without a value means something else is wrong.
            if started.elapsed() > self.store.inner.lock_ttl * 3 {
                return Err(StoreError(format!(
                    "no value appeared in {:?} while the lock was held",
                    started.elapsed()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Fetches as the lock holder, writes the value unless a newer one is there, releases.
    fn as_holder(
        &self,
        owner: &str,
        avoid: Option<&Secret>,
        force: bool,
        fetch: FetchFn<'_>,
    ) -> Result<Fetched, Error> {
        // Releases the lock on every path, a panicking fetch included.
        struct Release<'a>(&'a Slot, &'a str);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.release(self.1);
            }
        }
        let _release = Release(self, owner);

        // Another process may have written between this one's read and its lock.
        let started = match self
            .read()
            .and_then(|read| Ok((read, self.server_time_us()?)))
        {
            Ok((Some(read), _)) if read.usable(avoid) && !read.wants_refresh() => {
                return Ok(read.fetched());
            }
            Ok((_, now_us)) => Some(now_us),
            Err(e) => {
                self.store
                    .warn(self.what, &e, "fetching it in this process");
                None
            }
        };
        let clock = Instant::now();
        let fetched = fetch(force)?;
        let Some(fetched_at_us) = started else {
            return Ok(fetched);
        };
        let lifetime = lifetime_of(fetched.expires_in);
        let left = lifetime.saturating_sub(clock.elapsed());
        let ttl_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return Ok(fetched);
        }
        let lifetime_us = u64::try_from(lifetime.as_micros()).unwrap_or(u64::MAX);
        let value = Stored {
            token: fetched.token.expose().to_owned(),
            fetched_at_us,
            expires_at_us: fetched_at_us.saturating_add(lifetime_us),
            lifetime_s: lifetime.as_secs(),
        };
        let Ok(json) = serde_json::to_string(&value) else {
            return Ok(fetched);
        };
        let written = self.store.run(|con| {
            redis::cmd("EVAL")
                .arg(WRITE_SCRIPT)
                .arg(1)
                .arg(&self.key)
                .arg(&json)
                .arg(fetched_at_us)
                .arg(ttl_ms)
                .query::<i64>(con)
        });
        match written {
            Ok(1) => Ok(Fetched {
                remaining: Some(left),
                ..fetched
            }),
            // A newer value is there: use it.
            Ok(_) => match self.read() {
                Ok(Some(read)) if read.usable(avoid) => Ok(read.fetched()),
                _ => Ok(fetched),
            },
            Err(e) => {
                self.store
                    .warn(self.what, &e, "using the token fetched in this process");
                Ok(fetched)
            }
        }
    }

    /// The shared value and its remaining TTL.
    fn read(&self) -> Result<Option<Read>, StoreError> {
        let (value, pttl): (Option<String>, i64) = self.store.run(|con| {
            redis::pipe()
                .cmd("GET")
                .arg(&self.key)
                .cmd("PTTL")
                .arg(&self.key)
                .query(con)
        })?;
        let Some(value) = value else { return Ok(None) };
        // A value that does not parse or has no TTL is not ours: overwritten by the next fetch.
        let Ok(stored) = serde_json::from_str::<Stored>(&value) else {
            return Ok(None);
        };
        let Ok(pttl) = u64::try_from(pttl) else {
            return Ok(None);
        };
        Ok(Some(Read {
            stored,
            remaining: Duration::from_millis(pttl),
        }))
    }

    /// Takes the lock if it is free: `Some(owner id)`.
    fn try_lock(&self) -> Result<Option<String>, StoreError> {
        let owner = owner_id();
        let ttl_ms = u64::try_from(self.store.inner.lock_ttl.as_millis()).unwrap_or(u64::MAX);
        let taken: Option<String> = self.store.run(|con| {
            redis::cmd("SET")
                .arg(&self.lock_key)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query(con)
        })?;
        Ok(taken.map(|_| owner))
    }

    /// Deletes the lock if `owner` still holds it.
    fn release(&self, owner: &str) {
        let result = self.store.run(|con| {
            redis::cmd("EVAL")
                .arg(RELEASE_SCRIPT)
                .arg(1)
                .arg(&self.lock_key)
                .arg(owner)
                .query::<i64>(con)
        });
        if let Err(e) = result {
            self.store.warn(self.what, &e, "the lock is left to expire");
        }
    }

    /// Redis server time in microseconds: one clock for every process.
    fn server_time_us(&self) -> Result<u64, StoreError> {
        let (secs, micros): (u64, u64) = self.store.run(|con| redis::cmd("TIME").query(con))?;
        Ok(secs.saturating_mul(1_000_000).saturating_add(micros))
    }
}

/// A random lock owner id (32 hex digits), unique across processes and machines with near
/// certainty.
fn owner_id() -> String {
    crate::random::random_hex(32)
}

/// A [`TokenProvider`] whose tokens are shared through a [`RedisStore`]
/// (see [`RedisStore::component_token_provider`]).
struct SharedTokenProvider {
    cache: TokenCache,
    fetch: Box<dyn Fn() -> Result<(Secret, i64), Error> + Send + Sync>,
}

impl TokenProvider for SharedTokenProvider {
    fn token(&self) -> Result<Secret, Error> {
        self.cache.get(&|_force| {
            let (token, expires_in) = (self.fetch)()?;
            Ok(Fetched {
                token,
                expires_in: Some(expires_in),
                remaining: None,
            })
        })
    }

    fn invalidate(&self, rejected: &Secret) {
        self.cache.forget(rejected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("redis://app:p%40ss:w@host/1?password=again&db=2"),
            "redis://app:***@host/1?password=***&db=2"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let store = RedisStore::open("redis://user:hunter2secret@127.0.0.1:1/0").unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(shown.contains("user:***@127.0.0.1:1"), "{shown}");
        let builder = RedisStore::builder("redis://:hunter2secret@127.0.0.1:1/0");
        assert!(!format!("{builder:?}").contains("hunter2secret"));
        let err = RedisStore::open("redis://:hunter2secret@127.0.0.1:notaport/0").unwrap_err();
        assert!(!err.to_string().contains("hunter2secret"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2secret"), "{err:?}");
        // A failed command: the password is not in the error text either.
        let slot = store.slot("wx1", "access_token", "access token").unwrap();
        let err = slot.read().err().expect("nothing listens on port 1");
        assert!(!err.0.contains("hunter2secret"), "{}", err.0);
    }

    #[test]
    fn owner_ids_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| owner_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
