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
//!   expiry, a process takes the lock key `<key>:lock` (a Lua script: `SET PX` if it is free or
//!   stale, see below) holding a random owner id,
//!   fetches, writes the value and releases the lock by compare-and-delete in a Lua script (it
//!   never deletes a lock another process took after its own expired). The others poll the value
//!   with a backoff (5 ms doubling to 100 ms) and use what the holder wrote; while the old value
//!   is still valid they keep using it without waiting. A waiter's budget is the lock's TTL
//!   ([`RedisStoreBuilder::lock_ttl`]), or the client's own timeout if that is shorter: a holder
//!   that keeps the lock half the budget without a value appearing (it died, or hangs) is taken
//!   over by one of the waiters (compare-and-set on its owner id), which fetches; a waiter
//!   whose whole budget is spent fetches in its own process (a warning is logged). So a dead
//!   holder blocks the others at most half the lock's TTL, and no call waits for locks longer
//!   than the lock's TTL nor the client's timeout in all.
//! - **Never an older token over a newer one.** A value is written by a Lua script that compares
//!   fetch times: a slow holder whose lock expired while it was fetching cannot replace the value
//!   of the process that fetched after it; it uses the newer value instead.
//! - **Values and locks this store did not write.** Redis may be shared with other software
//!   or hold leftovers. A value that does not parse as the store's JSON, is not a string, has
//!   no TTL, was "fetched" more than a second ahead of Redis's own clock (`TIME`: a clock that
//!   went back, another writer), or holds something that is not a plausible token (empty only
//!   when invalidated, at most [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN) bytes of printable
//!   ASCII) is not used and is overwritten by the next fetch. A lock key that is not a string
//!   or has no TTL is stale and taken over at once; a lock with a TTL longer than this
//!   process's lock TTL is cut down to it. A fetched token that is not plausible is refused
//!   before it reaches Redis.
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

/// How far past Redis's clock a stored `fetched_at_us` may be and still count as ours (a
/// failover to a replica whose clock is a little ahead). A value from further in the future was
/// not written by this store against this Redis: it is overwritten.
const FUTURE_TOLERANCE_US: u64 = 1_000_000;

/// Writes a value (ARGV[1], fetched at ARGV[2], TTL ARGV[3] ms) unless the stored one is ours
/// and was fetched at the same time or later. The stored one counts as ours only if it is a
/// string with a TTL whose `fetched_at_us` is not in Redis's future (more than ARGV[4] µs
/// ahead of `TIME`): a value without TTL, of another type or "fetched" in the future (a clock
/// that went back, another writer) never blocks the write. Returns 1 when written, 0 when
/// refused. The same rule as [`blocks_writes`].
const WRITE_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('PTTL', KEYS[1]) > 0 then
  local ok, v = pcall(cjson.decode, redis.call('GET', KEYS[1]))
  if ok and type(v) == 'table' and tonumber(v.fetched_at_us) then
    local at = tonumber(v.fetched_at_us)
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    if at >= tonumber(ARGV[2]) and at <= now + tonumber(ARGV[4]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Reads the value (nil unless the key is a string), its PTTL and Redis's `TIME`.
const READ_SCRIPT: &str = r"
local v = false
if redis.call('TYPE', KEYS[1]).ok == 'string' then v = redis.call('GET', KEYS[1]) end
local t = redis.call('TIME')
return {v, redis.call('PTTL', KEYS[1]), t[1], t[2]}
";

/// Takes the lock (owner ARGV[1], TTL ARGV[2] ms) if it is free or stale. A lock key that is
/// not a string or has no TTL was not set by this store (its locks always expire): it is
/// stale and taken over at once. A lock with a TTL longer than this process's lock TTL (a
/// foreign writer, a process configured otherwise) is cut down to it, so that no process
/// waits for a lock longer than its own lock TTL. Returns `{1, owner}` when taken, else
/// `{0, the holder's owner id}`.
const LOCK_SCRIPT: &str = r"
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' then
  local pttl = redis.call('PTTL', KEYS[1])
  if kind == 'string' and pttl > 0 then
    if pttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    return {0, redis.call('GET', KEYS[1])}
  end
  redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
";

/// Takes the lock over (owner ARGV[2], TTL ARGV[3] ms) if it is still held by ARGV[1] (the
/// holder a waiter gave up on): of several waiters giving up on one holder, one takes over.
/// Returns 1 when taken.
const TAKE_OVER_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Marks the value invalid (empty token, same fetch time and TTL) if it still holds the
/// rejected token. Returns 1 when it did.
const INVALIDATE_SCRIPT: &str = r#"
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
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
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
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
            max_wait: self.inner.lock_ttl,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key prefix (of the push de-duplication's keys too).
    #[cfg(feature = "events")]
    pub(crate) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Whether Redis failed less than `retry_after` ago.
    pub(crate) fn resting(&self) -> bool {
        self.conn()
            .down_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Runs `f` on the connection (connecting first if needed). Any error drops the
    /// connection (a reply may be in flight) and rests Redis for `retry_after`.
    pub(crate) fn run<T>(
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
        self.warn_for(error, &format!("the {what}"), then);
    }

    /// `warn` on `wechat_card::store`: Redis failed for `what`, and what is done instead.
    pub(crate) fn warn_for(&self, error: &StoreError, what: &str, then: &str) {
        log::warn!(
            target: crate::logging::STORE,
            "Redis at {} failed ({}) for {what}: {then}; Redis is tried again in {:?}",
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
    /// longest a call waits for other processes' locks in all (never longer than the client's
    /// own timeout either). A holder that keeps the lock half of it is taken over by one of the
    /// waiters. Keep it above twice the time one fetch takes; a holder slower than that is
    /// overtaken, harmlessly (its older token is not written).
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
pub(crate) struct StoreError(String);

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
    /// The longest a fetch waits for another process's lock before taking it over.
    max_wait: Duration,
}

/// How long a fetch waits for other processes' locks in all: the lock's TTL, but never longer
/// than the client's `timeout` (a call must not outlive the client's own timeout because of the
/// store).
pub(crate) fn wait_budget(lock_ttl: Duration, timeout: Duration) -> Duration {
    lock_ttl.min(timeout)
}

/// What a waiter does about a lock another process holds.
#[derive(Debug, PartialEq, Eq)]
enum OnHeld {
    /// Poll again.
    Wait,
    /// Take the lock over from its holder, who held it half the budget: dead or stuck.
    TakeOver,
    /// The whole budget is spent: fetch in this process without the store.
    GiveUp,
}

/// The waiter's decision, `waited` after it started waiting and `this_holder` after it first
/// saw the current holder: a holder gets half the budget, so that a waiter that takes over
/// from a dead one still has the other half for its successor; the budget is never exceeded.
fn on_held(waited: Duration, this_holder: Duration, budget: Duration) -> OnHeld {
    if waited >= budget {
        OnHeld::GiveUp
    } else if this_holder >= budget / 2 {
        OnHeld::TakeOver
    } else {
        OnHeld::Wait
    }
}

/// Whether a value read from Redis can be one this store wrote: it parses, has a TTL
/// (`pttl_ms` above zero; the store always sets one), was not "fetched" further in Redis's
/// future than [`FUTURE_TOLERANCE_US`], and holds a plausible token or the empty token of an
/// invalidated value ([`crate::token::implausible_token`]). Anything else is not ours: not
/// used, overwritten by the next fetch.
fn plausible(stored: &Stored, pttl_ms: i64, now_us: u64) -> bool {
    pttl_ms > 0
        && stored.fetched_at_us <= now_us.saturating_add(FUTURE_TOLERANCE_US)
        && (stored.token.is_empty() || crate::token::implausible_token(&stored.token).is_none())
}

/// Whether a stored value refuses a write of a value fetched at `fetched_at_us` (what
/// `WRITE_SCRIPT` decides inside Redis): only a value of ours (with a TTL, not from the future)
/// fetched at the same time or later.
#[cfg(test)]
fn blocks_writes(stored_at_us: u64, pttl_ms: i64, fetched_at_us: u64, now_us: u64) -> bool {
    pttl_ms > 0
        && stored_at_us >= fetched_at_us
        && stored_at_us <= now_us.saturating_add(FUTURE_TOLERANCE_US)
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("key", &self.key).finish()
    }
}

/// The outcome of an attempt to take the lock.
enum Lock {
    /// Taken, with this owner id.
    Taken(String),
    /// Held by the process with this owner id.
    Held(String),
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
    /// The same slot, waiting for another process's lock at most `timeout` (the client's).
    pub(crate) fn waiting_at_most(mut self, timeout: Duration) -> Self {
        self.max_wait = wait_budget(self.store.inner.lock_ttl, timeout);
        self
    }

    /// Polls until the shared value can be used or this process holds the lock.
    fn wait_or_hold(&self, avoid: Option<&Secret>) -> Result<Step, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        // The holder of the lock and when this waiter first saw it.
        let mut seen: Option<(String, Instant)> = None;
        loop {
            if let Some(read) = self.read()? {
                if read.usable(avoid) {
                    if !read.wants_refresh() {
                        return Ok(Step::Use(read.fetched()));
                    }
                    // Close to expiry: refresh it if nobody does, else keep using it.
                    return Ok(match self.lock()? {
                        Lock::Taken(owner) => Step::Hold(owner),
                        Lock::Held(_) => Step::Use(read.fetched()),
                    });
                }
            }
            let holder = match self.lock()? {
                Lock::Taken(owner) => return Ok(Step::Hold(owner)),
                Lock::Held(holder) => holder,
            };
            // Someone fetches. Their lock expires after lock_ttl at the latest (LOCK_SCRIPT
            // cuts longer ones down), then one of the waiters takes it; a holder that keeps it
            // half the budget is taken over; no call waits longer than the budget in all.
            let now = Instant::now();
            if seen.as_ref().is_none_or(|(h, _)| *h != holder) {
                seen = Some((holder.clone(), now));
            }
            let since = seen.as_ref().map_or(now, |(_, at)| *at);
            match on_held(now - started, now - since, self.max_wait) {
                OnHeld::Wait => {}
                OnHeld::TakeOver => {
                    if let Some(owner) = self.take_over(&holder)? {
                        log::warn!(
                            target: crate::logging::STORE,
                            "the {} lock {} was held {:?} without a value appearing: taken over",
                            self.what,
                            self.lock_key,
                            now - since
                        );
                        return Ok(Step::Hold(owner));
                    }
                }
                OnHeld::GiveUp => {
                    return Err(StoreError(format!(
                        "no value appeared in {:?} while other processes held the lock",
                        now - started
                    )));
                }
            }
            let left = self.max_wait.saturating_sub(started.elapsed());
            std::thread::sleep(pause.min(left).max(Duration::from_millis(1)));
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
                .arg(FUTURE_TOLERANCE_US)
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
        let (value, pttl, secs, micros): (Option<String>, i64, u64, u64) =
            self.store.run(|con| {
                redis::cmd("EVAL")
                    .arg(READ_SCRIPT)
                    .arg(1)
                    .arg(&self.key)
                    .query(con)
            })?;
        let Some(value) = value else { return Ok(None) };
        // A value that does not parse, has no TTL, comes from the future or holds no plausible
        // token is not ours: not used, overwritten by the next fetch.
        let Ok(stored) = serde_json::from_str::<Stored>(&value) else {
            return Ok(None);
        };
        let now_us = secs.saturating_mul(1_000_000).saturating_add(micros);
        if !plausible(&stored, pttl, now_us) {
            return Ok(None);
        }
        let Ok(pttl) = u64::try_from(pttl) else {
            return Ok(None);
        };
        Ok(Some(Read {
            stored,
            remaining: Duration::from_millis(pttl),
        }))
    }

    fn lock_ttl_ms(&self) -> u64 {
        u64::try_from(self.store.inner.lock_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes the lock if it is free or stale (see `LOCK_SCRIPT`).
    fn lock(&self) -> Result<Lock, StoreError> {
        let owner = owner_id();
        let (taken, holder): (i64, String) = self.store.run(|con| {
            redis::cmd("EVAL")
                .arg(LOCK_SCRIPT)
                .arg(1)
                .arg(&self.lock_key)
                .arg(&owner)
                .arg(self.lock_ttl_ms())
                .query(con)
        })?;
        Ok(if taken == 1 {
            Lock::Taken(owner)
        } else {
            Lock::Held(holder)
        })
    }

    /// Takes the lock over if `holder` still holds it: `Some(owner id)`.
    fn take_over(&self, holder: &str) -> Result<Option<String>, StoreError> {
        let owner = owner_id();
        let taken: i64 = self.store.run(|con| {
            redis::cmd("EVAL")
                .arg(TAKE_OVER_SCRIPT)
                .arg(1)
                .arg(&self.lock_key)
                .arg(holder)
                .arg(&owner)
                .arg(self.lock_ttl_ms())
                .query(con)
        })?;
        Ok((taken == 1).then_some(owner))
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

    fn stored(token: &str, fetched_at_us: u64) -> Stored {
        Stored {
            token: token.to_owned(),
            fetched_at_us,
            expires_at_us: fetched_at_us + 7_200_000_000,
            lifetime_s: 7200,
        }
    }

    #[test]
    fn only_plausible_values_are_ours() {
        let now = 1_700_000_000_000_000;
        assert!(plausible(&stored("TOKEN_1-a", now - 5), 7_000_000, now));
        // An invalidated value (empty token) is ours too: it keeps older tokens out.
        assert!(plausible(&stored("", now), 7_000_000, now));
        assert!(plausible(&stored("T", now + FUTURE_TOLERANCE_US), 1, now));
        // No TTL (-1), no key (-2), from the future, not a token.
        assert!(!plausible(&stored("T", now), -1, now));
        assert!(!plausible(&stored("T", now), -2, now));
        assert!(!plausible(
            &stored("T", now + FUTURE_TOLERANCE_US + 1),
            1,
            now
        ));
        assert!(!plausible(&stored("T", 4_102_444_800_000_000), 1, now));
        assert!(!plausible(&stored(&"T".repeat(513), now), 1, now));
        assert!(!plausible(&stored("has space", now), 1, now));
    }

    #[test]
    fn only_a_newer_value_of_ours_blocks_a_write() {
        let now = 1_700_000_000_000_000;
        assert!(blocks_writes(now, 1000, now - 1, now));
        assert!(blocks_writes(now - 1, 1000, now - 1, now));
        assert!(!blocks_writes(now - 2, 1000, now - 1, now));
        // Without TTL, or from Redis's future: not ours, overwritten.
        assert!(!blocks_writes(now, -1, now - 1, now));
        assert!(!blocks_writes(4_102_444_800_000_000, 1000, now - 1, now));
    }

    #[test]
    fn a_holder_gets_half_the_budget_and_the_budget_is_never_exceeded() {
        let ms = Duration::from_millis;
        let budget = ms(1000);
        assert_eq!(on_held(ms(0), ms(0), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(499), ms(499), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(500), ms(500), budget), OnHeld::TakeOver);
        // Another holder took over after the first: it gets its own half, within the budget.
        assert_eq!(on_held(ms(700), ms(200), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(999), ms(499), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(1000), ms(500), budget), OnHeld::GiveUp);
        assert_eq!(on_held(ms(1000), ms(0), budget), OnHeld::GiveUp);
    }

    #[test]
    fn waits_are_bounded_by_the_lock_ttl_and_the_client_timeout() {
        let s = Duration::from_secs;
        assert_eq!(wait_budget(s(15), s(30)), s(15));
        assert_eq!(wait_budget(s(600), s(1)), s(1));
    }

    #[test]
    fn owner_ids_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| owner_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
