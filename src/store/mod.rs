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
//! - **Blocking and async users alike.** With the feature `async` the store also serves async
//!   code, over an async connection of its own (waits never block a thread): the same keys,
//!   values, locks and rules, so blocking and async processes share one token.
//! - **Secrets.** The Redis URL's password is shown as `***` in `Debug` output, errors and logs.
//!
//! Needs Redis 6.0 or later (Lua scripting and `SET … KEEPTTL`); tested with 7.0.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::token::{Fetched, TokenCache, TokenProvider};
use crate::{Error, Secret};

mod blocking;
#[cfg(feature = "async")]
mod nonblocking;
mod protocol;

pub(crate) use blocking::Slot;
#[cfg(all(feature = "async", feature = "tooling"))]
#[doc(hidden)]
pub use nonblocking::{ToolingAsyncSlot, ToolingFetched};
use protocol::SlotSpec;

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
    /// Redis failed: left alone until then (by both connections).
    down_until: Mutex<Option<Instant>>,
    /// The blocking connection, made on first use.
    conn: Mutex<Option<redis::Connection>>,
    /// The async connection, made on first use.
    #[cfg(feature = "async")]
    async_conn: nonblocking::AsyncConn,
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
        self.spec(appid, kind, what).map(Slot::new)
    }

    /// The key of `kind` for `appid`, as both drivers' slots use it.
    fn spec(&self, appid: &str, kind: &str, what: &'static str) -> Result<SlotSpec, Error> {
        if appid.trim().is_empty() || appid.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(Error::Config(format!(
                "the shared store needs an appid without spaces or ':' to name its keys; got {appid:?}"
            )));
        }
        let key = self.key(appid, kind);
        Ok(SlotSpec {
            store: self.clone(),
            lock_key: format!("{key}:lock"),
            key,
            what,
            max_wait: self.inner.lock_ttl,
        })
    }

    /// The key prefix (of the push de-duplication's keys too).
    #[cfg(feature = "events")]
    pub(crate) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn down_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.inner
            .down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Redis failed less than `retry_after` ago.
    pub(crate) fn resting(&self) -> bool {
        self.down_until()
            .is_some_and(|until| Instant::now() < until)
    }

    /// Records what came of a command on either connection: an error rests Redis for
    /// `retry_after` (the caller drops its connection: a reply may be in flight), and is
    /// redacted.
    fn settle<T>(&self, result: redis::RedisResult<T>) -> Result<T, StoreError> {
        let mut down_until = self.down_until();
        match result {
            Ok(value) => {
                *down_until = None;
                Ok(value)
            }
            Err(e) => {
                *down_until = Some(Instant::now() + self.inner.retry_after);
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
                down_until: Mutex::new(None),
                conn: Mutex::new(None),
                #[cfg(feature = "async")]
                async_conn: nonblocking::AsyncConn::default(),
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
        let err = store
            .run(|con| redis::cmd("PING").query::<String>(con))
            .expect_err("nothing listens on port 1");
        assert!(!err.0.contains("hunter2secret"), "{}", err.0);
    }
}
