//! Access tokens: where they come from, how they are cached and renewed (documented on
//! [`TokenSource`], which is public).

use std::fmt;
use std::sync::Condvar;
use std::time::{Duration, Instant};

use crate::Error;
use crate::core::cache::{Cell, Decision, Waiter};
use crate::secret::Secret;

/// Which WeChat endpoint fetches the access token when the client holds the app's credentials.
///
/// The client asks for a token before every call and, when WeChat rejects one (`errcode` 40001,
/// 40014 or 42001), renews it once and retries the call once. How a token is obtained is chosen
/// on the [`ClientBuilder`](crate::ClientBuilder):
///
/// - [`credentials`](crate::ClientBuilder::credentials) with [`TokenSource::Stable`] (the
///   default): `POST /cgi-bin/stable_token`. Several processes sharing one appid each get the same
///   token instead of invalidating each other's.
/// - [`credentials`](crate::ClientBuilder::credentials) with [`TokenSource::Classic`]:
///   `GET /cgi-bin/token`. Each fetch issues a new token; the previous one stays valid for about
///   five minutes. Use it only when a single process owns the appid.
/// - [`fixed_token`](crate::ClientBuilder::fixed_token): a token obtained elsewhere, never
///   refreshed (tests, scripts).
/// - [`token_provider`](crate::ClientBuilder::token_provider): your own [`TokenProvider`], for
///   instance a central token service shared by a fleet of processes.
///
/// # Caching (the two `credentials` sources)
///
/// A fetched token is cached until it is close to expiry: it is refreshed once less than
/// `min(max(5 minutes, 10% of its lifetime), half its lifetime)` remains, so a standard
/// 7200-second token is used for 6480 seconds (108 minutes). A cached token is never used past
/// its expiry. An `expires_in` above one day (86400 seconds) is taken as one day, a negative one
/// as zero (used for one call, then fetched again). Fetches are single-flight: however many threads need a token at once, one of them
/// fetches it and the others wait for that fetch and share its result (its error too). While a
/// token is being refreshed ahead of expiry, other threads keep using the still-valid current
/// one; if the refresh fails, the current token keeps being used until it expires.
///
/// # Failed fetches
///
/// A failed fetch (an error answer, an answer without a usable token, a transport failure
/// after the client's retries) pauses the next ones, so that a broken token endpoint or proxy
/// does not burn the daily token quota: after the first failure the next call may fetch at
/// once, after the second the client waits [`FIRST_FAILURE_PAUSE`](crate::FIRST_FAILURE_PAUSE)
/// (1 s), doubling with each further failure up to
/// [`MAX_FAILURE_PAUSE`](crate::MAX_FAILURE_PAUSE) (60 s). During a pause a call that needs a
/// new token fails at once with the last fetch's error (a still valid token is used as
/// before). One successful fetch ends the pauses. They apply per client, to the access token;
/// the api_ticket is fetched by an ordinary call.
///
/// A fetched value longer than [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN) (512) bytes, or with
/// characters other than printable ASCII, is refused with an [`Error::Decode`](crate::Error)
/// naming the field and the rule: it is never cached nor shared.
///
/// # Renewal after a rejection
///
/// The rejected token is dropped from the cache only if it is still the cached one: a thread that
/// was rejected with an old token does not throw away the fresh token another thread just
/// fetched. Then a token is obtained as usual. With [`TokenSource::Stable`], when that yields the
/// very token that was rejected (WeChat's stable token endpoint hands out the same token until it
/// expires), the client fetches once with `force_refresh: true`, at most once per 60 seconds per
/// client (WeChat limits forced refreshes). If no different token can be had, the API error is
/// returned as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TokenSource {
    /// `POST /cgi-bin/stable_token` (稳定版接口调用凭据): processes that share the appid share the
    /// token. The default.
    #[default]
    Stable,
    /// `GET /cgi-bin/token` (接口调用凭据): every fetch issues a new token and invalidates the
    /// previous one after about five minutes.
    Classic,
}

/// A source of access tokens supplied by the application, for instance a client of a central
/// token service that owns the appid's credentials.
///
/// # Contract
///
/// - [`token`](TokenProvider::token) returns a token that is valid now. It is called before every
///   API call, from any number of threads at once, so it should answer from a cache and fetch
///   only when needed (and then once, not once per waiting thread). It may block.
/// - [`invalidate`](TokenProvider::invalidate) is called when WeChat rejected `rejected` as
///   invalid or expired (`errcode` 40001, 40014, 42001). The provider should forget that token
///   **if it is still its current one** (compare the values: another thread may already have
///   replaced it) so that the next [`token`](TokenProvider::token) returns a different one. It
///   must not panic; it has no way to fail.
/// - After `invalidate`, the client calls `token` once more and retries the API call once with
///   the answer, unless it is the rejected token again, in which case the API error is returned.
///   A second rejection is returned as it is: the client never loops.
/// - A panic in `token` or `invalidate` does not unwind through the client: the call that needed
///   the token fails with an [`Error::Config`] saying the provider panicked. Threads your
///   provider makes wait must be woken by the provider itself.
/// - Errors returned by `token` are returned to the caller unchanged. Do not put the token or any
///   other secret in them.
///
/// ```
/// use std::sync::Mutex;
/// use wechat_card::{Error, Secret, TokenProvider};
///
/// /// Asks a company-wide token service (here: a stand-in that counts).
/// struct CentralService {
///     current: Mutex<Option<Secret>>,
/// }
///
/// impl TokenProvider for CentralService {
///     fn token(&self) -> Result<Secret, Error> {
///         let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
///         if let Some(token) = &*current {
///             return Ok(token.clone());
///         }
///         let fresh = Secret::new("token-from-the-service"); // an HTTP call in real life
///         *current = Some(fresh.clone());
///         Ok(fresh)
///     }
///
///     fn invalidate(&self, rejected: &Secret) {
///         let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
///         if current.as_ref() == Some(rejected) {
///             *current = None;
///         }
///     }
/// }
/// ```
pub trait TokenProvider: Send + Sync {
    /// A token that is valid now.
    fn token(&self) -> Result<Secret, Error>;

    /// WeChat rejected `rejected`: forget it if it is still the current token.
    fn invalidate(&self, rejected: &Secret);
}

/// [`TokenProvider`] for the async client ([`crate::AsyncClient`], feature `async`): the same
/// contract, with `token` a future, so that a provider which asks a token service over the
/// network does not block a runtime thread while it waits.
///
/// An async client also takes a blocking [`TokenProvider`]: it is then called on tokio's
/// blocking pool (`spawn_blocking`), never on a runtime thread.
///
/// ```
/// use std::sync::Mutex;
/// use wechat_card::{AsyncTokenProvider, BoxFuture, Error, Secret};
///
/// struct CentralService {
///     current: Mutex<Option<Secret>>,
/// }
///
/// impl AsyncTokenProvider for CentralService {
///     fn token(&self) -> BoxFuture<'_, Result<Secret, Error>> {
///         Box::pin(async move {
///             if let Some(token) = self.current.lock().unwrap_or_else(|p| p.into_inner()).clone() {
///                 return Ok(token);
///             }
///             let fresh = Secret::new("token-from-the-service"); // an async HTTP call in real life
///             *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
///             Ok(fresh)
///         })
///     }
///
///     fn invalidate(&self, rejected: &Secret) {
///         let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
///         if current.as_ref() == Some(rejected) {
///             *current = None;
///         }
///     }
/// }
/// ```
#[cfg(feature = "async")]
pub trait AsyncTokenProvider: Send + Sync {
    /// A token that is valid now.
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>>;

    /// WeChat rejected `rejected`: forget it if it is still the current token. It must not
    /// block: it is called on a runtime thread.
    fn invalidate(&self, rejected: &Secret);
}

/// A token as fetched from WeChat.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The token.
    pub token: Secret,
    /// Its lifetime in seconds, as WeChat announced it.
    pub expires_in: Option<i64>,
    /// For a token fetched earlier (read from a shared store): the time it has left. `None`
    /// for a token fetched just now (its whole lifetime is left).
    pub remaining: Option<Duration>,
}

/// The longest token or ticket accepted, in bytes. WeChat's documentation of `access_token`
/// says to reserve at least 512 characters for storing it; its tokens and tickets are far
/// shorter (about 136 and 86 characters today). A longer value is refused when fetched (it is
/// not cached nor written to a shared store) and ignored when read from one: it is not a token
/// WeChat issued, and in a URL it would make every call fail.
pub const MAX_TOKEN_LEN: usize = 512;

/// Why `value` is not a plausible access token, ticket or component token, or `None` when it
/// is one: not empty, at most [`MAX_TOKEN_LEN`] bytes, printable ASCII without spaces (WeChat's
/// are letters, digits, `-` and `_`). The message never shows the value (it is a secret).
pub(crate) fn implausible_token(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("it is empty".to_owned());
    }
    if value.len() > MAX_TOKEN_LEN {
        return Some(format!(
            "it is {} bytes long, more than the {MAX_TOKEN_LEN} WeChat documents",
            value.len()
        ));
    }
    value
        .char_indices()
        .find(|(_, c)| !c.is_ascii_graphic())
        .map(|(at, c)| {
            format!(
                "it has U+{:04X} at byte {at}, where only printable ASCII without spaces is \
                 expected",
                u32::from(c)
            )
        })
}

/// The pause after `failures` failed fetches in a row, during which callers that need a new
/// token get the last fetch's error at once instead of fetching: none after the first failure
/// (one transient failure costs nothing), then [`FIRST_FAILURE_PAUSE`] doubling with each
/// further failure up to [`MAX_FAILURE_PAUSE`]. So a token endpoint that keeps failing sees at
/// most two fetches, then one per pause, from each client.
pub(crate) fn failure_pause(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => FIRST_FAILURE_PAUSE
            .checked_mul(1u32.checked_shl(n - 2).unwrap_or(u32::MAX))
            .unwrap_or(MAX_FAILURE_PAUSE)
            .min(MAX_FAILURE_PAUSE),
    }
}

/// The first pause after failed access-token fetches (see [`TokenSource`], "Failed fetches").
pub const FIRST_FAILURE_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause after failed access-token fetches (see [`TokenSource`], "Failed
/// fetches"): at most 1440 failed fetches a day from one client, below WeChat's daily quota
/// of 2000 for `cgi-bin/token`.
pub const MAX_FAILURE_PAUSE: Duration = Duration::from_secs(60);

/// Whether a fetch may be made at `now` after `failures` failed fetches in a row, the last
/// one finished at `failed_at`.
pub(crate) fn may_fetch(failures: u32, failed_at: Option<Instant>, now: Instant) -> bool {
    match failed_at {
        Some(at) => now.saturating_duration_since(at) >= failure_pause(failures),
        None => true,
    }
}

/// WeChat's documented token lifetime, assumed when an answer does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(7200);

/// The longest lifetime believed: one day. WeChat's tokens and tickets live 7200 seconds; a
/// larger `expires_in` (up to `i64::MAX`) is taken as one day, a negative one as zero.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// The lifetime of a token whose answer said `expires_in`, clamped to `0..=MAX_LIFETIME`.
pub(crate) fn lifetime_of(expires_in: Option<i64>) -> Duration {
    match expires_in {
        Some(secs) => Duration::from_secs(u64::try_from(secs).unwrap_or(0)).min(MAX_LIFETIME),
        None => DEFAULT_LIFETIME,
    }
}

/// How long before expiry a token is refreshed: `max(5 min, 10%)` of its lifetime, but at most
/// half of it.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    let margin = Duration::from_secs(300).max(lifetime / 10);
    margin.min(lifetime / 2)
}

/// The blocking driver of the token cache ([`crate::core::cache`]): single flight with the
/// waiting threads parked on a `Condvar`.
#[derive(Debug)]
pub(crate) struct TokenCache {
    cell: Cell,
    done: Condvar,
    /// The shared store fetches go through, if any.
    shared: Option<Box<dyn SharedSlot>>,
}

/// How a fetch is made: `fetch(force_refresh)`.
pub(crate) type FetchFn<'a> = &'a dyn Fn(bool) -> Result<Fetched, Error>;

/// A place shared by several processes that a [`TokenCache`] fetches through: one key of the
/// Redis store (`crate::store`, feature `redis`), which implements it. Defined here, below the
/// store, so that the runtime reads bottom-up (token, then store, then client).
pub(crate) trait SharedSlot: Send + Sync + fmt::Debug {
    /// A token through the shared place: the shared one, or fetched with `fetch` by the one
    /// process that holds its lock.
    fn fetch(
        &self,
        avoid: Option<&Secret>,
        force: bool,
        fetch: FetchFn<'_>,
    ) -> Result<Fetched, Error>;

    /// WeChat rejected `rejected`: marks the shared value invalid if it still holds it.
    fn invalidate(&self, rejected: &Secret);
}

/// A boxed future that may move between threads: what the async traits of this crate return
/// (their methods are called through `dyn`, which `async fn` in traits does not allow).
#[cfg(feature = "async")]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How an async fetch is made: `fetch(force_refresh)`.
#[cfg(feature = "async")]
pub(crate) type AsyncFetchFn<'a> =
    &'a (dyn Fn(bool) -> BoxFuture<'a, Result<Fetched, Error>> + Send + Sync);

/// [`SharedSlot`] for the async client: the same protocol over an async connection, so that a
/// blocking process and an async one share one token.
#[cfg(feature = "async")]
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // implemented by the store (feature `redis`)
pub(crate) trait AsyncSharedSlot: Send + Sync + fmt::Debug {
    /// A token through the shared place: the shared one, or fetched with `fetch` by the one
    /// process that holds its lock. Waiting for another process's lock never blocks a thread.
    fn fetch<'a>(
        &'a self,
        avoid: Option<&'a Secret>,
        force: bool,
        fetch: AsyncFetchFn<'a>,
    ) -> BoxFuture<'a, Result<Fetched, Error>>;

    /// WeChat rejected `rejected`: marks the shared value invalid if it still holds it.
    fn invalidate<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, ()>;
}

impl TokenCache {
    pub(crate) fn new(force_interval: Duration) -> Self {
        TokenCache::of(Cell::new(force_interval))
    }

    fn of(cell: Cell) -> Self {
        TokenCache {
            cell,
            done: Condvar::new(),
            shared: None,
        }
    }

    /// The same cache, fetching through `slot` of a shared store.
    #[cfg(feature = "redis")]
    pub(crate) fn shared(mut self, slot: Option<Box<dyn SharedSlot>>) -> Self {
        self.shared = slot;
        self
    }

    /// The same cache, saying `what` it caches in errors.
    #[cfg(feature = "redis")]
    pub(crate) fn named(mut self, what: &'static str) -> Self {
        self.cell = self.cell.named(what);
        self
    }

    /// `rejected` was refused: dropped here and, through the shared store, everywhere, if it
    /// is still the current token.
    pub(crate) fn forget(&self, rejected: &Secret) {
        self.cell.forget(rejected);
        if let Some(slot) = &self.shared {
            slot.invalidate(rejected);
        }
    }

    /// A cache of the card api_ticket: the same caching, no forced refreshes.
    pub(crate) fn for_ticket() -> Self {
        TokenCache::of(Cell::for_ticket())
    }

    /// The cached value, if any (valid or not), for redaction.
    pub(crate) fn peek(&self) -> Option<Secret> {
        self.cell.peek()
    }

    #[cfg(test)]
    fn lock(&self) -> std::sync::MutexGuard<'_, crate::core::cache::State> {
        self.cell.lock()
    }

    /// A valid token, from the cache or fetched.
    pub(crate) fn get(&self, fetch: FetchFn<'_>) -> Result<Secret, Error> {
        self.acquire(None, false, fetch)
    }

    /// WeChat rejected `rejected`: drops it if it is still cached and gets another token.
    /// `Ok(None)` when the only token to be had is the rejected one.
    pub(crate) fn renew(
        &self,
        rejected: &Secret,
        allow_force: bool,
        fetch: FetchFn<'_>,
    ) -> Result<Option<Secret>, Error> {
        self.forget(rejected);
        let token = self.acquire(Some(rejected), allow_force, fetch)?;
        Ok((token != *rejected).then_some(token))
    }

    fn acquire(
        &self,
        avoid: Option<&Secret>,
        allow_force: bool,
        fetch: FetchFn<'_>,
    ) -> Result<Secret, Error> {
        let mut waiter = Waiter::default();
        let mut state = self.cell.lock();
        loop {
            match self.cell.decide(&mut state, avoid, &mut waiter) {
                Decision::Use(token) => return Ok(token),
                Decision::Fail(e) => return Err(e),
                Decision::Wait => {
                    state.waiting += 1;
                    state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
                    state.waiting -= 1;
                }
                Decision::Lead => {
                    drop(state);
                    let wake = || self.done.notify_all();
                    let lead = self.cell.lead(avoid, allow_force, &wake);
                    let mut result = self.guarded(fetch, avoid, false);
                    if lead.force_after(&result) {
                        result = self.guarded(fetch, avoid, true);
                    }
                    return lead.finish(result);
                }
            }
        }
    }

    /// Runs `fetch` (through the shared store, if any), turning a panic into an error: the
    /// fetching thread then reports it like the threads waiting for it, and none of them is
    /// left blocked.
    fn guarded(
        &self,
        fetch: FetchFn<'_>,
        avoid: Option<&Secret>,
        force: bool,
    ) -> Result<Fetched, Error> {
        // Every fetched value is checked before it is cached or written to a shared store.
        let checked = |force: bool| self.cell.checked(fetch(force));
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &self.shared {
            Some(slot) => slot.fetch(avoid, force, &checked),
            None => checked(force),
        }))
        .unwrap_or_else(|_| Err(panicked(self.cell.what)))
    }
}

/// The error reported when fetching `what` panicked.
pub(crate) fn panicked(what: &str) -> Error {
    Error::Config(format!("the {what} fetch panicked"))
}

/// Calls into an application's [`TokenProvider`] with a panic turned into an error, so that a
/// panicking provider fails the calls that need it instead of unwinding through the client.
pub(crate) fn provider_token(provider: &dyn TokenProvider, what: &str) -> Result<Secret, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| provider.token()))
        .unwrap_or_else(|_| Err(Error::Config(format!("the {what} provider panicked"))))
}

/// [`TokenProvider::invalidate`] with a panic caught (and ignored: the next `token` call reports
/// a broken provider).
pub(crate) fn provider_invalidate(provider: &dyn TokenProvider, rejected: &Secret) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        provider.invalidate(rejected)
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    /// Threads that waited for a fetch share its failure: none fetches again itself. The fetch
    /// is held until all the other threads wait for it (no timing involved).
    #[test]
    fn waiting_threads_share_a_failed_fetch() {
        const THREADS: usize = 8;
        let cache = Arc::new(TokenCache::new(Duration::from_secs(60)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                std::thread::spawn(move || {
                    cache.get(&|_| {
                        // Hold the first fetch until every other thread waits for it.
                        if fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                            while cache.lock().waiting < THREADS - 1 {
                                std::thread::yield_now();
                            }
                        }
                        Err(Error::Config("the fetch failed".into()))
                    })
                })
            })
            .collect();
        for thread in threads {
            let err = thread.join().unwrap().unwrap_err();
            assert!(err.to_string().contains("the fetch failed"), "{err}");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    fn fetched(token: &str, expires_in: i64) -> Fetched {
        Fetched {
            token: Secret::new(token),
            expires_in: Some(expires_in),
            remaining: None,
        }
    }

    #[test]
    fn margin() {
        assert_eq!(
            refresh_margin(Duration::from_secs(7200)),
            Duration::from_secs(720)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(1800)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(300)),
            Duration::from_secs(150)
        );
        assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn lifetimes_are_clamped() {
        assert_eq!(lifetime_of(None), Duration::from_secs(7200));
        assert_eq!(lifetime_of(Some(7200)), Duration::from_secs(7200));
        assert_eq!(lifetime_of(Some(-1)), Duration::ZERO);
        assert_eq!(lifetime_of(Some(i64::MIN)), Duration::ZERO);
        assert_eq!(lifetime_of(Some(i64::MAX)), MAX_LIFETIME);
        // Far from any overflow, at any uptime.
        let t = crate::core::cache::CachedToken::new(&fetched("A", i64::MAX), Instant::now());
        assert!(t.refresh_at < t.expires_at);
    }

    #[test]
    fn cached_until_refresh() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let fetch = |_force: bool| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(fetched("A", 7200))
        };
        for _ in 0..5 {
            assert_eq!(cache.get(&fetch).unwrap().expose(), "A");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn zero_lifetime_is_not_reused() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let fetch = |_force: bool| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(fetched("A", 0))
        };
        cache.get(&fetch).unwrap();
        cache.get(&fetch).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn single_flight_shares_success_and_failure() {
        for fail in [false, true] {
            let cache = Arc::new(TokenCache::new(Duration::from_secs(60)));
            let calls = Arc::new(AtomicUsize::new(0));
            let barrier = Arc::new(Barrier::new(16));
            let threads: Vec<_> = (0..16)
                .map(|_| {
                    let (cache, calls, barrier) = (cache.clone(), calls.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        cache.get(&|_force| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            // Give the other threads time to queue up behind this fetch.
                            std::thread::sleep(Duration::from_millis(50));
                            if fail {
                                Err(Error::Config("down".into()))
                            } else {
                                Ok(fetched("A", 7200))
                            }
                        })
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            if fail {
                assert!(results.iter().all(|r| r.is_err()));
            } else {
                assert!(results.iter().all(|r| r.as_ref().unwrap().expose() == "A"));
                // The threads that came after the fetch found the token cached.
                assert_eq!(calls.load(Ordering::SeqCst), 1);
            }
        }
    }

    #[test]
    fn renew_keeps_a_token_fetched_by_another_thread() {
        let cache = TokenCache::new(Duration::from_secs(60));
        cache.get(&|_| Ok(fetched("B", 7200))).unwrap();
        // A thread that was rejected with the older "A" must not drop "B".
        let renewed = cache
            .renew(&Secret::new("A"), true, &|_| panic!("no fetch expected"))
            .unwrap();
        assert_eq!(renewed.unwrap().expose(), "B");
    }

    #[test]
    fn renew_forces_once_when_the_same_token_comes_back() {
        let cache = TokenCache::new(Duration::from_secs(60));
        cache.get(&|_| Ok(fetched("A", 7200))).unwrap();
        let forced = AtomicUsize::new(0);
        let fetch = |force: bool| {
            if force {
                forced.fetch_add(1, Ordering::SeqCst);
                Ok(fetched("B", 7200))
            } else {
                Ok(fetched("A", 7200))
            }
        };
        let renewed = cache.renew(&Secret::new("A"), true, &fetch).unwrap();
        assert_eq!(renewed.unwrap().expose(), "B");
        // B rejected too: the normal fetch gives A (stale answer), forcing is rate-limited.
        let renewed = cache.renew(&Secret::new("B"), true, &|force| {
            assert!(!force);
            Ok(fetched("B", 7200))
        });
        assert!(renewed.unwrap().is_none());
        assert_eq!(forced.load(Ordering::SeqCst), 1);
        // Without force permission (classic source): no forcing at all.
        let cache = TokenCache::new(Duration::ZERO);
        let renewed = cache
            .renew(&Secret::new("A"), false, &|force| {
                assert!(!force);
                Ok(fetched("A", 7200))
            })
            .unwrap();
        assert!(renewed.is_none());
    }

    #[test]
    fn refreshed_at_the_refresh_time_before_expiry() {
        let cache = TokenCache::new(Duration::from_secs(60));
        cache.get(&|_| Ok(fetched("A", 3600))).unwrap();
        // Set the clock forward to the refresh time; the token is still valid.
        {
            let mut state = cache.lock();
            let t = state.token.as_mut().unwrap();
            t.refresh_at = Instant::now();
            assert!(t.usable(Instant::now(), None));
        }
        let calls = AtomicUsize::new(0);
        let fetch = |_force: bool| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(fetched("B", 3600))
        };
        assert_eq!(cache.get(&fetch).unwrap().expose(), "B");
        assert_eq!(cache.get(&fetch).unwrap().expose(), "B");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failed_refresh_keeps_the_valid_token() {
        let cache = TokenCache::new(Duration::from_secs(60));
        // Pretend the refresh time has come while the token is still valid.
        cache.get(&|_| Ok(fetched("A", 3600))).unwrap();
        {
            let mut state = cache.lock();
            let t = state.token.as_mut().unwrap();
            t.refresh_at = Instant::now();
        }
        let token = cache.get(&|_| Err(Error::Config("down".into()))).unwrap();
        assert_eq!(token.expose(), "A");
    }

    #[test]
    fn a_panicking_fetch_does_not_wedge_the_cache() {
        let cache = Arc::new(TokenCache::new(Duration::from_secs(60)));
        let c = cache.clone();
        let _ = std::thread::spawn(move || c.get(&|_| panic!("boom"))).join();
        assert_eq!(
            cache.get(&|_| Ok(fetched("A", 7200))).unwrap().expose(),
            "A"
        );
    }
}
