//! The client's own name resolver: addresses cached for a bounded time, no thread per call.
//!
//! ureq's `DefaultResolver` (checked in 3.5.1, `unversioned/resolver.rs`) runs on every request,
//! also when a pooled connection is then reused, and does the lookup on a new thread whenever a
//! timeout is set, which the client always does: one thread spawned per call. [`CachingResolver`]
//! answers IP literals without any lookup, answers a name from its cache while the entry is
//! younger than [`DNS_CACHE_TTL`], and only on a miss looks the name up, on a helper thread
//! when a deadline applies so that the resolve timeout holds even if the system resolver hangs.
//! [`ForgetOnConnectFailure`] wraps ureq's connector: when a connection cannot be established,
//! the host's entry is dropped, so the next attempt resolves the name again (the server may
//! have moved).
//!
//! A failed lookup is `Error::HostNotFound` (ureq's own resolver gives `Error::Io`, which cannot
//! be told apart from a broken connection), a lookup over time `Error::Timeout(Resolve)`, and an
//! I/O error while connecting carries a [`NotSent`] marker: the client classifies all of them as
//! "surely not sent".

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::http::uri::Scheme;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectionDetails, Connector, DefaultConnector, NextTimeout};

/// How long looked-up addresses are used before the name is looked up again. The system
/// resolver does not tell the record's TTL; a minute follows DNS changes soon enough while
/// costing one lookup per minute at most (plus one after each failed connection).
pub(crate) const DNS_CACHE_TTL: Duration = Duration::from_secs(60);

/// Most hosts remembered (the client talks to one API host, perhaps through one proxy).
const MAX_ENTRIES: usize = 8;

/// Looks up `host` (never an IP literal) with `port`.
pub(crate) type Lookup = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// The system resolver (`getaddrinfo`), except for names under `.invalid`, which RFC 6761 §6.4
/// reserves to never resolve: they fail at once, without asking any DNS server.
fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if is_invalid_tld(host) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "names under .invalid never resolve (RFC 6761)",
        ));
    }
    Ok((host, port).to_socket_addrs()?.collect())
}

pub(crate) fn is_invalid_tld(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let len = host.len();
    len >= 8 && {
        let tail = &host.as_bytes()[len - 8..];
        tail.eq_ignore_ascii_case(b".invalid")
    } || host.eq_ignore_ascii_case("invalid")
}

struct Entry {
    host: String,
    port: u16,
    addrs: ResolvedSocketAddrs,
    at: Instant,
}

/// The cache shared by the resolver and the connector wrapper.
#[derive(Default)]
pub(crate) struct Cache {
    entries: Mutex<Vec<Entry>>,
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // The entries stay consistent even if a thread panicked holding the lock.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, host: &str, port: u16, ttl: Duration) -> Option<ResolvedSocketAddrs> {
        let entries = self.lock();
        let entry = entries.iter().find(|e| e.port == port && e.host == host)?;
        (entry.at.elapsed() < ttl).then(|| entry.addrs.clone())
    }

    fn put(&self, host: &str, port: u16, addrs: ResolvedSocketAddrs) {
        let mut entries = self.lock();
        entries.retain(|e| !(e.port == port && e.host == host));
        if entries.len() >= MAX_ENTRIES {
            // The oldest goes.
            if let Some(oldest) = (0..entries.len()).min_by_key(|&i| entries[i].at) {
                entries.swap_remove(oldest);
            }
        }
        entries.push(Entry {
            host: host.to_owned(),
            port,
            addrs,
            at: Instant::now(),
        });
    }

    /// Drops the addresses of `uri`'s host.
    fn forget(&self, uri: &Uri) {
        if let Some((host, port)) = host_port(uri) {
            self.lock().retain(|e| !(e.port == port && e.host == host));
        }
    }
}

/// The host (without IPv6 brackets) and port of an `http`/`https` URI.
fn host_port(uri: &Uri) -> Option<(&str, u16)> {
    let scheme = uri.scheme()?;
    let authority = uri.authority()?;
    let default = if *scheme == Scheme::HTTPS {
        443
    } else if *scheme == Scheme::HTTP {
        80
    } else {
        return None;
    };
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some((host, authority.port_u16().unwrap_or(default)))
}

/// See the module documentation.
pub(crate) struct CachingResolver {
    cache: Arc<Cache>,
    ttl: Duration,
    lookup: Arc<Lookup>,
    /// Lookups started (cache misses of names), for the tests.
    lookups: AtomicU64,
}

impl fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingResolver")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachingResolver {
    /// The system resolver behind a cache of [`DNS_CACHE_TTL`].
    pub(crate) fn new(cache: Arc<Cache>) -> Self {
        Self::with_lookup(cache, DNS_CACHE_TTL, Arc::new(system_lookup))
    }

    /// Any lookup function and time to live (tests).
    pub(crate) fn with_lookup(cache: Arc<Cache>, ttl: Duration, lookup: Arc<Lookup>) -> Self {
        CachingResolver {
            cache,
            ttl,
            lookup,
            lookups: AtomicU64::new(0),
        }
    }

    /// How many lookups were started.
    #[cfg(test)]
    pub(crate) fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Looks `host` up within `timeout`: inline when no deadline applies, else on a helper
    /// thread that is abandoned (and finishes on its own) when the deadline passes.
    fn look_up(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let failed = |_: io::Error| ureq::Error::HostNotFound;
        if timeout.after.is_not_happening() {
            return (self.lookup)(host, port).map_err(failed);
        }
        let budget: Duration = *timeout.after;
        if budget.is_zero() {
            return Err(ureq::Error::Timeout(ureq::Timeout::Resolve));
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let lookup = Arc::clone(&self.lookup);
        let owned = host.to_owned();
        let spawned = std::thread::Builder::new()
            .name("wechat-card-dns".into())
            .spawn(move || {
                // The receiver is gone when the deadline passed: nothing to do then.
                let _ = tx.send(lookup(&owned, port));
            });
        if spawned.is_err() {
            // No thread to be had: look up here rather than fail.
            return (self.lookup)(host, port).map_err(failed);
        }
        match rx.recv_timeout(budget) {
            Ok(result) => result.map_err(failed),
            // Nothing was sent: whatever deadline applied, it expired while resolving.
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(ureq::Error::Timeout(ureq::Timeout::Resolve))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(ureq::Error::HostNotFound),
        }
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some((host, port)) = host_port(uri) else {
            // Not http/https (a proxy scheme): ureq's own resolver knows those.
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        let family = config.ip_family();
        let mut result = self.empty();
        if let Ok(ip) = host.parse::<IpAddr>() {
            result.extend_wanted(family.keep_wanted(std::iter::once(SocketAddr::new(ip, port))));
        } else if let Some(cached) = self.cache.get(host, port, self.ttl) {
            return Ok(cached);
        } else {
            let found = self.look_up(host, port, timeout)?;
            result.extend_wanted(family.keep_wanted(found.into_iter()));
            if !result.is_empty() {
                self.cache.put(host, port, result.clone());
            }
        }
        if result.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(result)
    }
}

trait ExtendWanted {
    fn extend_wanted(&mut self, addrs: impl Iterator<Item = SocketAddr>);
}

impl ExtendWanted for ResolvedSocketAddrs {
    /// Keeps at most 16 addresses, as ureq does.
    fn extend_wanted(&mut self, addrs: impl Iterator<Item = SocketAddr>) {
        for addr in addrs {
            if self.try_push(addr).is_err() {
                break;
            }
        }
    }
}

/// Marks an I/O error that happened while connecting, before anything of the request was
/// written: the client reports it as "surely not sent".
#[derive(Debug)]
pub(crate) struct NotSent(io::Error);

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for NotSent {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Whether `error` happened while connecting (see [`NotSent`]).
pub(crate) fn is_not_sent(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<NotSent>())
}

/// ureq's default connector; when connecting fails, forgets the host's cached addresses and
/// marks the error as having happened before sending.
pub(crate) struct ForgetOnConnectFailure {
    inner: DefaultConnector,
    cache: Arc<Cache>,
}

impl ForgetOnConnectFailure {
    pub(crate) fn new(cache: Arc<Cache>) -> Self {
        ForgetOnConnectFailure {
            inner: DefaultConnector::new(),
            cache,
        }
    }
}

impl fmt::Debug for ForgetOnConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForgetOnConnectFailure")
            .finish_non_exhaustive()
    }
}

impl Connector<()> for ForgetOnConnectFailure {
    type Out = <DefaultConnector as Connector<()>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.inner.connect(details, chained).map_err(|error| {
            self.cache.forget(details.uri);
            match error {
                ureq::Error::Io(io) => ureq::Error::Io(io::Error::new(io.kind(), NotSent(io))),
                // Whichever deadline expired, it expired before the request was written.
                ureq::Error::Timeout(_) => ureq::Error::Timeout(ureq::Timeout::Connect),
                other => other,
            }
        })
    }
}

/// The runtime tests' scripted loopback server, for the client-level tests below.
#[cfg(test)]
#[path = "../tests/suite/support/mod.rs"]
mod test_server;

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, Server, unused_local_url};
    use super::*;
    use crate::{Client, ConsumeCodeRequest, Error, GetCodeRequest};
    use std::sync::atomic::AtomicUsize;

    fn no_deadline() -> NextTimeout {
        NextTimeout::default()
    }

    fn deadline() -> NextTimeout {
        NextTimeout {
            after: Duration::from_secs(5).into(),
            reason: ureq::Timeout::Connect,
            ..NextTimeout::default()
        }
    }

    fn counting(addr: SocketAddr) -> (Arc<AtomicUsize>, Arc<Lookup>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let lookup: Arc<Lookup> = Arc::new(move |host: &str, port| {
            seen.fetch_add(1, Ordering::SeqCst);
            assert_eq!(host, "api.example.test");
            Ok(vec![SocketAddr::new(addr.ip(), port)])
        });
        (calls, lookup)
    }

    #[test]
    fn ip_literals_are_never_looked_up() {
        let lookup: Arc<Lookup> = Arc::new(|host: &str, _| panic!("looked up {host}"));
        let resolver =
            CachingResolver::with_lookup(Arc::default(), Duration::from_secs(60), lookup);
        let config = Config::default();
        for (uri, want) in [
            ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
            ("https://10.1.2.3/x", "10.1.2.3:443"),
            ("http://[::1]/x", "[::1]:80"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            for timeout in [no_deadline(), deadline()] {
                let addrs = resolver.resolve(&uri, &config, timeout).unwrap();
                assert_eq!(addrs.len(), 1);
                assert_eq!(addrs[0].to_string(), want);
            }
        }
        assert_eq!(resolver.lookups(), 0);
    }

    #[test]
    fn names_are_cached_for_the_ttl_and_forgotten_on_request() {
        let (calls, lookup) = counting("127.0.0.1:1".parse().unwrap());
        let cache = Arc::new(Cache::default());
        let resolver =
            CachingResolver::with_lookup(Arc::clone(&cache), Duration::from_secs(3600), lookup);
        let config = Config::default();
        let uri: Uri = "https://api.example.test/card/code/get".parse().unwrap();
        for _ in 0..50 {
            let addrs = resolver.resolve(&uri, &config, deadline()).unwrap();
            assert_eq!(addrs[0].to_string(), "127.0.0.1:443");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another port is another entry.
        let other: Uri = "http://api.example.test:8080/".parse().unwrap();
        resolver.resolve(&other, &config, no_deadline()).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.forget(&uri);
        resolver.resolve(&uri, &config, deadline()).unwrap();
        resolver.resolve(&other, &config, deadline()).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(resolver.lookups(), 3);

        // A time to live of zero: every resolve looks up.
        let (calls, lookup) = counting("127.0.0.1:1".parse().unwrap());
        let resolver = CachingResolver::with_lookup(Arc::default(), Duration::ZERO, lookup);
        for _ in 0..3 {
            resolver.resolve(&uri, &config, deadline()).unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn failures_are_host_not_found_and_not_cached() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let lookup: Arc<Lookup> = Arc::new(move |_: &str, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        });
        let resolver = CachingResolver::with_lookup(Arc::default(), DNS_CACHE_TTL, lookup);
        let uri: Uri = "https://api.example.test/".parse().unwrap();
        for timeout in [no_deadline(), deadline()] {
            let err = resolver
                .resolve(&uri, &Config::default(), timeout)
                .unwrap_err();
            assert!(matches!(err, ureq::Error::HostNotFound), "{err:?}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // A lookup that outlives the deadline is a resolve timeout.
        let slow: Arc<Lookup> = Arc::new(|_: &str, _| {
            std::thread::sleep(Duration::from_millis(300));
            Ok(Vec::new())
        });
        let resolver = CachingResolver::with_lookup(Arc::default(), DNS_CACHE_TTL, slow);
        let short = NextTimeout {
            after: Duration::from_millis(1).into(),
            reason: ureq::Timeout::Global,
            ..NextTimeout::default()
        };
        let err = resolver
            .resolve(&uri, &Config::default(), short)
            .unwrap_err();
        assert!(
            matches!(err, ureq::Error::Timeout(ureq::Timeout::Resolve)),
            "{err:?}"
        );
    }

    #[test]
    fn invalid_names_fail_without_asking_anyone() {
        for host in ["no-such-host.invalid", "X.INVALID.", "invalid"] {
            let err = system_lookup(host, 80).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{host}");
        }
        assert!(!is_invalid_tld("invalid.example"));
        assert!(!is_invalid_tld("xinvalid"));
        let resolver = CachingResolver::new(Arc::default());
        let uri: Uri = "http://no-such-host.invalid/card/code/consume"
            .parse()
            .unwrap();
        let err = resolver
            .resolve(&uri, &Config::default(), deadline())
            .unwrap_err();
        assert!(matches!(err, ureq::Error::HostNotFound), "{err:?}");
    }

    /// The port of a loopback URL `http://127.0.0.1:<port>`.
    fn port_of(url: &str) -> u16 {
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A client for `http://api.example.test:<port>` whose lookups go through `lookup`.
    fn client(port: u16, lookup: Arc<Lookup>) -> Client {
        Client::builder()
            .base_url(format!("http://api.example.test:{port}"))
            .fixed_token("T")
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(1))
            .build_with(Some((DNS_CACHE_TTL, lookup)))
            .unwrap()
    }

    #[test]
    fn one_lookup_per_new_connection_not_per_call() {
        let server = Server::start();
        server.default_reply(
            "/card/code/get",
            Reply::json(r#"{"errcode":0,"errmsg":"ok","openid":"o","card":{"card_id":"c"}}"#),
        );
        let (calls, lookup) = counting("127.0.0.1:1".parse().unwrap());
        let client = client(port_of(&server.url()), lookup);
        let request = GetCodeRequest::new("110201201245");
        for _ in 0..200 {
            client.get_code(&request).unwrap();
        }
        assert_eq!(server.count("/card/code/get"), 200);
        // One pooled connection, one lookup: not one per call.
        assert_eq!(server.connections(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), server.connections());
    }

    #[test]
    fn a_failed_connection_makes_the_next_attempt_look_up_again() {
        let server = Server::start();
        server.default_reply("/card/code/consume", Reply::json(r#"{"errcode":0}"#));
        let (live, dead) = (port_of(&server.url()), port_of(&unused_local_url()));
        // The first lookup points at a port nothing listens on, later ones at the server.
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let lookup: Arc<Lookup> = Arc::new(move |_: &str, _| {
            let port = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                dead
            } else {
                live
            };
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        });
        let client = client(0, lookup);
        // Not idempotent, yet retried: the refused connection surely sent nothing.
        client
            .consume_code(&ConsumeCodeRequest::new("110201201245"))
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(server.count("/card/code/consume"), 1);
    }

    #[test]
    fn dns_failure_is_surely_not_sent_and_retried() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let lookup: Arc<Lookup> = Arc::new(move |host: &str, port| {
            seen.fetch_add(1, Ordering::SeqCst);
            system_lookup(host, port)
        });
        let client = Client::builder()
            .base_url("http://no-such-host.invalid")
            .fixed_token("T")
            .env_proxy(false)
            .retry_backoff(Duration::from_millis(1))
            .build_with(Some((DNS_CACHE_TTL, lookup)))
            .unwrap();
        let err = client
            .consume_code(&ConsumeCodeRequest::new("110201201245"))
            .unwrap_err();
        let Error::Transport(transport) = &err else {
            panic!("{err:?}")
        };
        assert!(!transport.maybe_sent, "{err}");
        assert!(err.surely_not_sent(), "{err}");
        assert!(err.is_retryable(), "{err}");
        // consume is not idempotent; the lookup failed before anything was sent, so the client
        // tried again as often as max_retries allows (default 2).
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
