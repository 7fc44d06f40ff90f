//! The blocking client: configuration, the HTTP exchange, tokens, retries, answer decoding.
//! What a call does is documented on [`Client`].
//!
//! # ureq and re-sending
//!
//! ureq 3 (checked in 3.5.1: `run.rs`, `pool.rs`) has no retry loop of its own: `run()` loops
//! only over redirects, and a request that fails on a pooled connection is returned as an error,
//! never re-sent on a new one. Before handing out a pooled connection ureq probes it with a
//! non-blocking read and discards it if the server closed it (or sent unexpected bytes), so the
//! usual "stale keep-alive connection" case opens a fresh connection *before* anything is
//! written. A server closing the connection after that probe but before reading the request
//! surfaces as a transport error with `maybe_sent: true`, which non-idempotent calls do not
//! retry. Redirects are switched off (`max_redirects(0)`): WeChat does not redirect, a `POST`
//! turned into a `GET` would be wrong, and a redirect must not carry the `access_token` query to
//! another host; a 3xx answer becomes an [`Error::Decode`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::core::answer::{read, read_ticket, read_token, too_large, undecoded};
use crate::core::plan::{Next, Plan};
use crate::core::request::{Payload, TokenKind, prepare, prepare_json, token_request, url};
use crate::error::{Error, TransportError};
use crate::logging;
use crate::resolve::{self, CachingResolver, ForgetOnConnectFailure};
use crate::schema::{Call, HttpMethod};
use crate::secret::{Secret, redact};
use crate::token::{
    Fetched, TokenCache, TokenProvider, TokenSource, provider_invalidate, provider_token,
};
use crate::validate::Validate;

/// WeChat's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 16;
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Least time between two `force_refresh` stable token fetches.
pub(crate) const FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// A blocking client of the WeChat card API.
///
/// Cheap to clone (the clones share the connection pool and the token cache), `Send` and `Sync`:
/// build one per appid and share it between threads.
///
/// # What the client does with every call
///
/// 1. The request is validated (generated methods, [`Client::execute`]) and encoded: compact
///    JSON with raw UTF-8 for `POST`, the query string for `GET`.
/// 2. An access token is obtained (see [`TokenSource`]) and sent as `?access_token=…`.
/// 3. The answer body is read up to [`ClientBuilder::max_response_bytes`]; its
///    `errcode`/`errmsg` envelope is decoded once (absent or `0` means success), then the body is
///    decoded into the response type.
/// 4. A token rejection (`errcode` 40001, 40014, 42001) renews the token and repeats the call
///    once, for every endpoint: WeChat rejected the call before running it. A second rejection is
///    returned as it is; if no different token can be had, the first one is; if getting a new
///    token fails, that failure is returned.
/// 5. Transient failures — `errcode` `-1` (system busy), transport errors, HTTP 5xx pages — are
///    retried with exponential backoff **only for idempotent endpoints**. A request that surely
///    never reached the server (connection refused, DNS failure, connect timeout) is retried for
///    every endpoint, since it cannot have run. A consume, a stock change, a code update is
///    otherwise never sent twice by this library.
///
/// # Example
///
/// ```no_run
/// use wechat_card::{Client, TokenSource};
///
/// # fn main() -> Result<(), wechat_card::Error> {
/// let client = Client::builder()
///     .credentials("wx1234567890abcdef", "app-secret")
///     .token_source(TokenSource::Stable)
///     .build()?;
/// // Any endpoint, also those the spec lacks:
/// let answer: serde_json::Value = client.call_json(
///     wechat_card::schema::HttpMethod::Post,
///     "card/code/get",
///     &serde_json::json!({ "code": "110201201245" }),
///     true,
/// )?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    common: Common,
    auth: Auth<TokenCache>,
    /// The card api_ticket (`cgi-bin/ticket/getticket?type=wx_card`), cached like the token.
    ticket: TokenCache,
}

/// A component token given once; never refreshed.
struct FixedComponentToken(Secret);

impl TokenProvider for FixedComponentToken {
    fn token(&self) -> Result<Secret, Error> {
        Ok(self.0.clone())
    }

    fn invalidate(&self, _rejected: &Secret) {}
}

/// Where a client's access tokens come from; `C` is its driver's token cache.
pub(crate) enum Auth<C> {
    Fixed(Secret),
    Credentials {
        credentials: Credentials,
        cache: C,
    },
    /// A blocking provider (the async client calls it on tokio's blocking pool).
    Provider(Arc<dyn TokenProvider>),
    /// An async provider: only the async client is built with one.
    #[cfg(feature = "async")]
    Async(Arc<dyn crate::token::AsyncTokenProvider>),
}

/// What both drivers' token caches tell without fetching.
pub(crate) trait Peek {
    /// The cached value, if any (valid or not), for redaction.
    fn peek(&self) -> Option<Secret>;
}

impl Peek for TokenCache {
    fn peek(&self) -> Option<Secret> {
        TokenCache::peek(self)
    }
}

impl<C: Peek> Auth<C> {
    /// The token source `settled`, with `cache` for credentials.
    pub(crate) fn new(source: TokenSourceGiven, cache: C) -> Self {
        match source {
            TokenSourceGiven::Credentials(credentials) => Auth::Credentials { credentials, cache },
            TokenSourceGiven::Fixed(token) => Auth::Fixed(token),
            TokenSourceGiven::Provider(provider) => Auth::Provider(provider),
            #[cfg(feature = "async")]
            TokenSourceGiven::AsyncProvider(provider) => Auth::Async(provider),
        }
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Auth::Fixed(_) => "fixed token",
            Auth::Credentials { credentials, .. } => credentials.describe(),
            Auth::Provider(_) => "token provider",
            #[cfg(feature = "async")]
            Auth::Async(_) => "async token provider",
        }
    }

    pub(crate) fn app_secret(&self) -> &str {
        match self {
            Auth::Credentials { credentials, .. } => credentials.secret.expose(),
            _ => "",
        }
    }

    /// The secrets the client holds without fetching anything: the app secret, a fixed or
    /// cached access token, the cached api_ticket. For redacting errors made before a call.
    pub(crate) fn known_secrets(&self, ticket: &C) -> Vec<Secret> {
        let mut out = vec![Secret::from(self.app_secret())];
        match self {
            Auth::Fixed(token) => out.push(token.clone()),
            Auth::Credentials { cache, .. } => out.extend(cache.peek()),
            _ => {}
        }
        out.extend(ticket.peek());
        out
    }

    /// The credentials a token is fetched with, and the request that fetches it.
    pub(crate) fn token_request(
        &self,
        force_refresh: bool,
    ) -> Result<(&Credentials, &'static str, Payload), Error> {
        let Auth::Credentials { credentials, .. } = self else {
            return Err(Error::Config("no credentials to fetch a token with".into()));
        };
        let (path, payload) = token_request(
            credentials.source,
            &credentials.appid,
            &credentials.secret,
            force_refresh,
        )?;
        Ok((credentials, path, payload))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        inner.common.debug(f, "Client", inner.auth.describe())
    }
}

impl Common {
    /// The `Debug` output of a client: its settings, never a secret.
    pub(crate) fn debug(&self, f: &mut fmt::Formatter<'_>, name: &str, auth: &str) -> fmt::Result {
        let mut s = f.debug_struct(name);
        s.field("base_url", &self.base_url);
        if let Some(appid) = &self.appid {
            s.field("appid", appid);
        }
        s.field("auth", &auth)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// Configures and builds a [`Client`]. Start with [`Client::builder`].
///
/// Exactly one way of getting access tokens must be chosen:
/// [`credentials`](ClientBuilder::credentials), [`fixed_token`](ClientBuilder::fixed_token) or
/// [`token_provider`](ClientBuilder::token_provider).
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<(String, Secret)>,
    appid: Option<String>,
    token_source: Option<TokenSource>,
    fixed_token: Option<Secret>,
    token_provider: Option<Arc<dyn TokenProvider>>,
    #[cfg(feature = "async")]
    async_token_provider: Option<Arc<dyn crate::token::AsyncTokenProvider>>,
    component: Option<Arc<dyn TokenProvider>>,
    connect_timeout: Duration,
    timeout: Duration,
    max_idle_connections: usize,
    max_retries: u32,
    retry_backoff: Duration,
    max_response_bytes: u64,
    env_proxy: Option<bool>,
    #[cfg(feature = "redis")]
    shared_store: Option<crate::store::RedisStore>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ClientBuilder");
        s.field("base_url", &self.base_url)
            .field("appid", &self.credentials.as_ref().map(|(appid, _)| appid))
            .field(
                "secret",
                &self.credentials.as_ref().map(|(_, secret)| secret),
            )
            .field("appid_only", &self.appid)
            .field("token_source", &self.token_source)
            .field("fixed_token", &self.fixed_token)
            .field(
                "token_provider",
                &self.token_provider.as_ref().map(|_| "dyn TokenProvider"),
            )
            .field(
                "async_token_provider",
                &self
                    .async_provider_given()
                    .then_some("dyn AsyncTokenProvider"),
            )
            .field(
                "component_token",
                &self.component.as_ref().map(|_| "dyn TokenProvider"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_idle_connections", &self.max_idle_connections)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("env_proxy", &self.env_proxy);
        #[cfg(feature = "redis")]
        s.field("shared_store", &self.shared_store);
        s.finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            credentials: None,
            appid: None,
            token_source: None,
            fixed_token: None,
            token_provider: None,
            #[cfg(feature = "async")]
            async_token_provider: None,
            component: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            env_proxy: None,
            #[cfg(feature = "redis")]
            shared_store: None,
        }
    }
}

impl ClientBuilder {
    #[cfg(feature = "async")]
    pub(crate) fn set_async_token_provider(
        &mut self,
        provider: Arc<dyn crate::token::AsyncTokenProvider>,
    ) {
        self.async_token_provider = Some(provider);
    }

    fn async_provider_given(&self) -> bool {
        #[cfg(feature = "async")]
        return self.async_token_provider.is_some();
        #[cfg(not(feature = "async"))]
        false
    }

    /// The API's base URL, with or without a trailing slash. Default
    /// `https://api.weixin.qq.com`; point it at a sandbox or a loopback test server. Must be
    /// `http` or `https` with a host, and may not carry a query or fragment.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The official account's appid and app secret (AppSecret): the client fetches and caches
    /// access tokens itself, from [`TokenSource::Stable`] unless
    /// [`token_source`](ClientBuilder::token_source) says otherwise.
    pub fn credentials(mut self, appid: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.credentials = Some((appid.into(), secret.into()));
        self
    }

    /// The official account's appid when the client has no
    /// [`credentials`](ClientBuilder::credentials) (a fixed token or a token provider): the
    /// wx.chooseCard signature ([`Client::sign_choose_card`]) signs it. With credentials it is
    /// their appid, and a different one here is a configuration error.
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self
    }

    /// Which endpoint fetches tokens with the [`credentials`](ClientBuilder::credentials).
    /// Default [`TokenSource::Stable`].
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.token_source = Some(source);
        self
    }

    /// A token obtained elsewhere. It is never refreshed: when WeChat rejects it, the error is
    /// returned.
    pub fn fixed_token(mut self, token: impl Into<Secret>) -> Self {
        self.fixed_token = Some(token.into());
        self
    }

    /// An application-supplied source of tokens, for instance a central token service. See
    /// [`TokenProvider`] for the contract.
    pub fn token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.token_provider = Some(provider);
        self
    }

    /// The open platform's (第三方平台) `component_access_token`, for the endpoints the spec
    /// marks `auth: component_access_token` (`cgi-bin/component/*`). It is sent as the
    /// `component_access_token` query parameter, the open platform's convention (the card
    /// qualification pages do not say otherwise). Never refreshed: a rejection is returned.
    pub fn component_token(mut self, token: impl Into<Secret>) -> Self {
        self.component = Some(Arc::new(FixedComponentToken(token.into())));
        self
    }

    /// Shares the access token (when the client fetches it, with
    /// [`credentials`](ClientBuilder::credentials)) and the card api_ticket with every process
    /// that uses the same store and appid: one process fetches, the others read its result
    /// (feature `redis`; see [`store`](crate::store) for the semantics). Needs the appid, from
    /// the credentials or [`appid`](ClientBuilder::appid). A fixed token or a token provider is
    /// not put in the store; the api_ticket still is.
    #[cfg(feature = "redis")]
    pub fn shared_store(mut self, store: crate::store::RedisStore) -> Self {
        self.shared_store = Some(store);
        self
    }

    /// A source of `component_access_token`s (usually the open platform's own token service),
    /// with the same contract as [`token_provider`](ClientBuilder::token_provider).
    pub fn component_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.component = Some(provider);
        self
    }

    /// Longest time to look up the host's addresses (DNS), and again to establish a connection
    /// (TCP, TLS). Default 5 seconds.
    ///
    /// Looked-up addresses are reused for a minute, and looked up again at once after a
    /// connection to them fails; IP addresses in the base URL are never looked up.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest wait for the server: for each write of the request and each read of the answer
    /// (its first byte included), and, plus 1 %, for the whole exchange from connecting to the
    /// end of the answer body. Retries each get this time again. Default 30 seconds (30.3 s for
    /// the whole exchange).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many idle keep-alive connections are kept for reuse (per host; the client talks to
    /// one host). Size it for the number of threads that call at the same time. Default 16.
    pub fn max_idle_connections(mut self, n: usize) -> Self {
        self.max_idle_connections = n;
        self
    }

    /// How many times a failed idempotent call is repeated (on `errcode` `-1`, transport errors
    /// and HTTP 5xx pages), and a call of any endpoint whose request surely never left (connection
    /// refused, DNS failure, connect timeout). Default 2, so at most 3 attempts; `0` turns retries
    /// off. This does not count the single repetition after a token rejection.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The wait before the first retry; it doubles for each further one (at most 5 seconds),
    /// and a random part of up to half of it is added so that callers spread out.
    /// Default 100 ms.
    pub fn retry_backoff(mut self, base: Duration) -> Self {
        self.retry_backoff = base;
        self
    }

    /// Largest answer body read, in bytes; a larger one is an [`Error::Decode`].
    /// Default 4 MiB.
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Whether the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY` environment variables
    /// are honoured. Default `true`.
    pub fn env_proxy(mut self, enabled: bool) -> Self {
        self.env_proxy = Some(enabled);
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// Fails with [`Error::Config`] when the base URL is not an `http`/`https` URL with a host,
    /// when not exactly one token source is configured, when the appid or a secret is empty, or
    /// when a timeout is zero.
    pub fn build(self) -> Result<Client, Error> {
        self.build_with(None)
    }

    /// [`build`](ClientBuilder::build), with the resolver's lookup function and time to live
    /// given (tests).
    pub(crate) fn build_with(
        self,
        lookup: Option<(Duration, Arc<resolve::Lookup>)>,
    ) -> Result<Client, Error> {
        let settled = self.settle()?;
        #[cfg(feature = "redis")]
        let (token_cache, ticket_cache) = match &settled.shared_store {
            Some(store) => {
                let appid = settled.shared_appid()?;
                (
                    // A call never waits for another process's lock longer than the
                    // client's own timeout.
                    TokenCache::new(FORCE_REFRESH_INTERVAL).shared(Some(Box::new(
                        store
                            .slot(appid, "access_token", "access token")?
                            .waiting_at_most(settled.timeout),
                    ))),
                    TokenCache::for_ticket().shared(Some(Box::new(
                        store
                            .slot(appid, "api_ticket", "api_ticket")?
                            .waiting_at_most(settled.timeout),
                    ))),
                )
            }
            None => (
                TokenCache::new(FORCE_REFRESH_INTERVAL),
                TokenCache::for_ticket(),
            ),
        };
        #[cfg(not(feature = "redis"))]
        let (token_cache, ticket_cache) = (
            TokenCache::new(FORCE_REFRESH_INTERVAL),
            TokenCache::for_ticket(),
        );
        #[cfg(feature = "async")]
        if matches!(settled.source, TokenSourceGiven::AsyncProvider(_)) {
            return Err(Error::Config(
                "an async token provider serves the async client: build it with \
                 ClientBuilder::build_async"
                    .into(),
            ));
        }
        let auth = Auth::new(settled.source, token_cache);

        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // ureq starts the connect budget after the lookup: each gets `connect_timeout`.
            .timeout_resolve(Some(settled.connect_timeout))
            .timeout_connect(Some(settled.connect_timeout))
            .timeout_global(Some(crate::transport::exchange_deadline(settled.timeout)))
            // Each write and read waits at most `timeout`: a constant, so ureq sets the socket's
            // timeout once per connection instead of before every read and write (three
            // `setsockopt` per call when only the deadline, which shrinks, is set).
            .timeout_per_read(Some(settled.timeout))
            .timeout_per_write(Some(settled.timeout))
            .max_idle_connections(settled.max_idle_connections)
            .max_idle_connections_per_host(settled.max_idle_connections)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .accept("application/json");
        if !settled.env_proxy.unwrap_or(true) {
            config = config.proxy(None);
        }
        // The client's own resolver and connector (src/resolve.rs): addresses cached for
        // `DNS_CACHE_TTL`, no thread per call, lookup failures reported as not sent.
        let cache = Arc::new(resolve::Cache::default());
        let resolver = match lookup {
            Some((ttl, lookup)) => CachingResolver::with_lookup(Arc::clone(&cache), ttl, lookup),
            None => CachingResolver::new(Arc::clone(&cache)),
        };
        let agent =
            ureq::Agent::with_parts(config.build(), ForgetOnConnectFailure::new(cache), resolver);

        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                common: settled.common,
                auth,
                ticket: ticket_cache,
            }),
        })
    }

    /// Checks the configuration, for either client.
    pub(crate) fn settle(self) -> Result<Settled, Error> {
        // A secret pasted into the base URL must not show up in the error about it.
        let secrets = [
            self.fixed_token.as_ref().map_or("", Secret::expose),
            self.credentials
                .as_ref()
                .map_or("", |(_, secret)| secret.expose()),
        ];
        let base_url = normalize_base_url(&self.base_url).map_err(|e| match e {
            Error::Config(message) => Error::Config(redact(&message, &secrets)),
            other => other,
        })?;
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::Config("timeouts must be longer than zero".into()));
        }
        #[cfg(feature = "async")]
        let async_provider = self.async_token_provider;
        #[cfg(not(feature = "async"))]
        let async_provider: Option<std::convert::Infallible> = None;
        // The one source of access tokens; the match leaves no case without one.
        let source = match (
            self.credentials,
            self.fixed_token,
            self.token_provider,
            async_provider,
        ) {
            (Some((appid, secret)), None, None, None) => {
                if appid.trim().is_empty() || secret.is_empty() {
                    return Err(Error::Config(
                        "the appid and the secret must not be empty".into(),
                    ));
                }
                TokenSourceGiven::Credentials(Credentials {
                    appid,
                    secret,
                    source: self.token_source.unwrap_or_default(),
                })
            }
            (None, Some(token), None, None) => {
                if token.is_empty() {
                    return Err(Error::Config("the fixed token must not be empty".into()));
                }
                TokenSourceGiven::Fixed(token)
            }
            (None, None, Some(provider), None) => TokenSourceGiven::Provider(provider),
            #[cfg(feature = "async")]
            (None, None, None, Some(provider)) => TokenSourceGiven::AsyncProvider(provider),
            (credentials, fixed, provider, async_provider) => {
                let sources = usize::from(credentials.is_some())
                    + usize::from(fixed.is_some())
                    + usize::from(provider.is_some())
                    + usize::from(async_provider.is_some());
                return Err(Error::Config(format!(
                    "configure exactly one access token source (credentials, fixed_token, \
                     token_provider or async_token_provider); {sources} configured"
                )));
            }
        };
        if self.token_source.is_some() && !matches!(source, TokenSourceGiven::Credentials(..)) {
            return Err(Error::Config(
                "token_source applies to credentials, which are not set".into(),
            ));
        }
        let from_credentials = match &source {
            TokenSourceGiven::Credentials(credentials) => Some(&credentials.appid),
            _ => None,
        };
        let appid = match (from_credentials, self.appid) {
            (Some(from_credentials), Some(given)) if *from_credentials != given => {
                return Err(Error::Config(format!(
                    "appid {given:?} differs from the credentials' appid {from_credentials:?}"
                )));
            }
            (Some(from_credentials), _) => Some(from_credentials.clone()),
            (None, Some(given)) if given.trim().is_empty() => {
                return Err(Error::Config("the appid must not be empty".into()));
            }
            (None, given) => given,
        };
        Ok(Settled {
            common: Common {
                base_url,
                component: self.component,
                max_retries: self.max_retries,
                retry_backoff: self.retry_backoff,
                max_response_bytes: self.max_response_bytes,
                appid,
            },
            source,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            max_idle_connections: self.max_idle_connections,
            env_proxy: self.env_proxy,
            #[cfg(feature = "redis")]
            shared_store: self.shared_store,
        })
    }
}

/// A configuration checked by [`ClientBuilder::settle`], for either client.
pub(crate) struct Settled {
    pub(crate) common: Common,
    pub(crate) source: TokenSourceGiven,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_idle_connections: usize,
    /// `None`: not set (each client has its default).
    pub(crate) env_proxy: Option<bool>,
    #[cfg(feature = "redis")]
    pub(crate) shared_store: Option<crate::store::RedisStore>,
}

impl Settled {
    /// The appid a shared store keys its values by.
    #[cfg(feature = "redis")]
    pub(crate) fn shared_appid(&self) -> Result<&str, Error> {
        self.common.appid.as_deref().ok_or_else(|| {
            Error::Config(
                "shared_store needs the appid: give credentials or ClientBuilder::appid".into(),
            )
        })
    }
}

/// What both clients hold besides their transport and their token caches.
pub(crate) struct Common {
    /// Without a trailing slash.
    pub(crate) base_url: String,
    /// The open platform's component_access_token, for `cgi-bin/component/*` endpoints.
    pub(crate) component: Option<Arc<dyn TokenProvider>>,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) max_response_bytes: u64,
    /// The official account's appid, from the credentials or `ClientBuilder::appid`.
    pub(crate) appid: Option<String>,
}

impl Common {
    /// The retries and renewal of one call of `path`.
    pub(crate) fn plan<'a>(
        &self,
        path: &'a str,
        token: Option<TokenKind>,
        idempotent: bool,
    ) -> Plan<'a> {
        Plan::new(
            path,
            token,
            idempotent,
            self.max_retries,
            self.retry_backoff,
        )
    }

    /// The error for a component-token endpoint on a client without a component token.
    pub(crate) fn no_component_token(path: &str) -> Error {
        Error::Config(format!(
            "{path} is called with the open platform's component_access_token; give one with \
             ClientBuilder::component_token or component_token_provider"
        ))
    }
}

/// The app's credentials, with which a client fetches access tokens itself.
pub(crate) struct Credentials {
    pub(crate) appid: String,
    pub(crate) secret: Secret,
    pub(crate) source: TokenSource,
}

impl Credentials {
    /// What is said of them in `Debug` output.
    pub(crate) fn describe(&self) -> &'static str {
        match self.source {
            TokenSource::Classic => "credentials (cgi-bin/token)",
            _ => "credentials (cgi-bin/stable_token)",
        }
    }
}

/// `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("wechat-card/", env!("CARGO_PKG_VERSION"));

fn normalize_base_url(url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let bad = |why: &str| Error::Config(format!("base URL {trimmed:?} {why}"));
    let parsed: ureq::http::Uri = trimmed.parse().map_err(|_| bad("is not a valid URL"))?;
    match parsed.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("must start with http:// or https://")),
    }
    if parsed.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if parsed.query().is_some() || trimmed.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(trimmed.to_owned())
}

/// The access token source a [`ClientBuilder`] was given: exactly one.
pub(crate) enum TokenSourceGiven {
    Credentials(Credentials),
    Fixed(Secret),
    Provider(Arc<dyn TokenProvider>),
    #[cfg(feature = "async")]
    AsyncProvider(Arc<dyn crate::token::AsyncTokenProvider>),
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL calls go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.common.base_url
    }

    /// A currently valid access token, from the cache or fetched (for the JS-SDK or an endpoint
    /// outside this library). It is a [`Secret`]: it prints as `***`.
    pub fn access_token(&self) -> Result<Secret, Error> {
        self.token()
    }

    /// The official account's appid, from the credentials or [`ClientBuilder::appid`].
    pub fn appid(&self) -> Option<&str> {
        self.inner.common.appid.as_deref()
    }

    /// The card api_ticket (`cgi-bin/ticket/getticket?type=wx_card`, never the `jsapi` ticket of
    /// wx.config), the credential of the card signatures ([`crate::signature`]).
    ///
    /// Cached like the access token (see [`TokenSource`]): refreshed once less than
    /// `min(max(5 minutes, 10% of its lifetime), half its lifetime)` of its `expires_in`
    /// remains, never used past its expiry, fetched by one thread at a time however many wait
    /// (WeChat's quota for tickets is small). The fetch is an ordinary call: when WeChat rejects
    /// the access token it was made with, the token is renewed and the ticket fetched again.
    /// It is a [`Secret`], masked in every error and `Debug` output.
    pub fn api_ticket(&self) -> Result<Secret, Error> {
        self.inner.ticket.get(&|_| self.fetch_api_ticket())
    }

    /// WeChat rejected a signature made with `rejected` (the ticket was reset, for instance
    /// from another server of the same account): forgets it if it is still the cached one and
    /// returns a freshly fetched ticket (or the one another thread already fetched). The
    /// answer may be the same ticket when WeChat still hands it out.
    pub fn renew_api_ticket(&self, rejected: &Secret) -> Result<Secret, Error> {
        logging::ticket_rejected();
        let fetch = |_| self.fetch_api_ticket();
        let renewed = self.inner.ticket.renew(rejected, false, &fetch)?;
        Ok(renewed.unwrap_or_else(|| rejected.clone()))
    }

    fn fetch_api_ticket(&self) -> Result<Fetched, Error> {
        let request = crate::GetApiTicketRequest::new(crate::ApiTicketType::WxCard);
        read_ticket(self.get_api_ticket(&request)?)
    }

    /// Validates `request`, sends it as `endpoint` describes and decodes the answer.
    ///
    /// This is what the generated methods call; use them instead. Fields travel as a compact
    /// JSON body for `POST` endpoints and in the query string for `GET` endpoints. Retries follow
    /// `endpoint.idempotent`, see the [`Client`] documentation.
    pub fn execute<Req, Resp>(&self, endpoint: &Call, request: &Req) -> Result<Resp, Error>
    where
        Req: Validate + Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let (kind, payload) = prepare(endpoint, request)?;
        self.send(kind, endpoint.path, &payload, endpoint.idempotent)
    }

    /// Like [`execute`](Client::execute), for endpoints whose answer is only `errcode`/`errmsg`.
    pub fn execute_unit<Req>(&self, endpoint: &Call, request: &Req) -> Result<(), Error>
    where
        Req: Validate + Serialize + ?Sized,
    {
        self.execute::<Req, IgnoredAny>(endpoint, request)
            .map(|_| ())
    }

    /// Calls any endpoint with any body: the escape hatch for endpoints the spec lacks.
    ///
    /// `path` is relative to the base URL (`card/paycell/set`; a leading `/` is ignored) and
    /// must not contain `?` or `#`. For [`HttpMethod::Post`] `body` is sent as compact JSON;
    /// for [`HttpMethod::Get`] it must serialize to a JSON object (or `null`/`()` for none),
    /// whose fields become query parameters (strings as they are, numbers and booleans as text,
    /// nested values as JSON text, `null`s left out). Nothing is validated. Token handling,
    /// answer decoding and errors are those of the generated methods; pass `idempotent: true`
    /// only if sending the request twice is harmless (reads), since it allows retries.
    ///
    /// `Resp` may be [`serde_json::Value`] to get the whole answer, or
    /// [`serde::de::IgnoredAny`] to only check the `errcode`.
    pub fn call_json<Req, Resp>(
        &self,
        method: HttpMethod,
        path: &str,
        body: &Req,
        idempotent: bool,
    ) -> Result<Resp, Error>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let known = self.inner.auth.known_secrets(&self.inner.ticket);
        let (path, payload) = prepare_json(method, path, body, &known)?;
        self.send(TokenKind::Access, path, &payload, idempotent)
    }

    /// Sends `payload` with the token, renews the token and retries as needed, decodes the
    /// answer as `Resp`.
    ///
    /// What a call compiles per endpoint is thin: this function per response type, around
    /// [`read`] (the answer in one pass), and [`Payload::encode`] per request type, around `serde_json::to_vec`;
    /// the rest is [`call_raw`](Client::call_raw), compiled once.
    fn send<Resp: DeserializeOwned>(
        &self,
        kind: TokenKind,
        path: &str,
        payload: &Payload,
        idempotent: bool,
    ) -> Result<Resp, Error> {
        let mut answer = None;
        self.call_raw(
            kind,
            path,
            payload,
            idempotent,
            &mut |status, body, secrets| {
                answer = Some(read(path, status, body, secrets)?);
                Ok(())
            },
        )?;
        // `call_raw` returns `Ok` only after a successful `decode`.
        answer.ok_or_else(|| undecoded(path))
    }

    /// The part of [`send`](Client::send) that does not depend on the request and response
    /// types, compiled once rather than once per endpoint: sends `payload` with the token and
    /// follows the [`Plan`] (renewal, retries), and hands every answer to `decode`, which reads
    /// its envelope and body (inside the loop, so that its errors are retried and logged like
    /// any other).
    fn call_raw(
        &self,
        kind: TokenKind,
        path: &str,
        payload: &Payload,
        idempotent: bool,
        decode: &mut DecodeAnswer<'_>,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        let mut token = self.token_of(kind, path)?;
        let ticket = inner.ticket.peek();
        let ticket = ticket.as_ref().map_or("", Secret::expose);
        let mut plan = inner.common.plan(path, Some(kind), idempotent);
        loop {
            let secrets = [token.expose(), inner.auth.app_secret(), ticket];
            let started = Instant::now();
            let result = self
                .exchange(path, payload, Some((kind, &token)), &secrets)
                .and_then(|(status, body)| decode(status, &body, &secrets));
            match plan.after(started.elapsed(), result.as_ref().err()) {
                Next::Done => return result,
                Next::Retry(wait) => std::thread::sleep(wait),
                Next::Renew => {
                    let fresh = match kind {
                        TokenKind::Access => self.renew_token(&token)?,
                        TokenKind::Component => self.renew_component(&token)?,
                    };
                    match fresh {
                        Some(fresh) => token = fresh,
                        None => return result,
                    }
                }
            }
        }
    }

    /// One HTTP exchange: the status and the body (at most `max_response_bytes`).
    ///
    /// `secrets` are masked in its errors: the caller's, which already holds them (no second
    /// look at the ticket per call).
    fn exchange(
        &self,
        path: &str,
        payload: &Payload,
        token: Option<(TokenKind, &Secret)>,
        secrets: &[&str],
    ) -> Result<(u16, Vec<u8>), Error> {
        let inner = &*self.inner;
        let url = url(&inner.common.base_url, path, token, payload);
        let sent = match payload.body() {
            Some(body) => inner
                .agent
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .send(body),
            None => inner.agent.get(&url).call(),
        };
        let config = inner.agent.config();
        let mut response = sent.map_err(|e| transport_error(path, e, secrets, config))?;
        let status = response.status().as_u16();
        let limit = inner.common.max_response_bytes;
        if response.body().content_length().is_some_and(|n| n > limit) {
            return Err(too_large(path, status, limit));
        }
        let body = response
            .body_mut()
            .with_config()
            // ureq's limit fails a read at the limit even at the end of the body: allow one
            // byte more, so that a body of exactly `limit` bytes passes.
            .limit(limit.saturating_add(1))
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => too_large(path, status, limit),
                e => transport_error(path, e, secrets, config),
            })?;
        Ok((status, body))
    }

    /// The token of `kind` for a call of `path`.
    fn token_of(&self, kind: TokenKind, path: &str) -> Result<Secret, Error> {
        match kind {
            TokenKind::Access => self.token(),
            TokenKind::Component => match &self.inner.common.component {
                Some(provider) => provider_token(&**provider, "component token"),
                None => Err(Common::no_component_token(path)),
            },
        }
    }

    /// WeChat rejected the component token `rejected`: another one, or `None`.
    fn renew_component(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        match &self.inner.common.component {
            Some(provider) => renew_from(&**provider, rejected, "component token"),
            None => Ok(None),
        }
    }

    /// A token for the next call.
    fn token(&self) -> Result<Secret, Error> {
        match &self.inner.auth {
            Auth::Fixed(token) => Ok(token.clone()),
            Auth::Credentials { cache, .. } => cache.get(&|force| self.fetch_token(force)),
            Auth::Provider(provider) => provider_token(&**provider, "access token"),
            #[cfg(feature = "async")]
            Auth::Async(_) => Err(async_provider_refused()),
        }
    }

    /// WeChat rejected `rejected`: another token, or `None` if there is none to be had.
    fn renew_token(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        match &self.inner.auth {
            Auth::Fixed(_) => Ok(None),
            Auth::Credentials { cache, credentials } => cache.renew(
                rejected,
                credentials.source == TokenSource::Stable,
                &|force| self.fetch_token(force),
            ),
            Auth::Provider(provider) => renew_from(&**provider, rejected, "access token"),
            #[cfg(feature = "async")]
            Auth::Async(_) => Err(async_provider_refused()),
        }
    }

    /// Fetches a token from WeChat with the app's credentials.
    fn fetch_token(&self, force_refresh: bool) -> Result<Fetched, Error> {
        let (credentials, path, payload) = self.inner.auth.token_request(force_refresh)?;
        let secrets = [credentials.secret.expose()];
        // A repeated normal fetch only hands out a token we never received. A forced refresh is
        // limited by WeChat: never repeat it.
        let mut plan = self.inner.common.plan(path, None, !force_refresh);
        loop {
            let started = Instant::now();
            let result =
                self.exchange(path, &payload, None, &secrets)
                    .and_then(|(status, body)| {
                        read_token(path, status, &body, &secrets, force_refresh)
                    });
            match plan.after(started.elapsed(), result.as_ref().err()) {
                Next::Retry(wait) => std::thread::sleep(wait),
                Next::Done | Next::Renew => return result,
            }
        }
    }
}

/// The blocking client is never built with an async token provider ([`ClientBuilder::build`]
/// refuses it); should one be there, its calls fail with this.
#[cfg(feature = "async")]
fn async_provider_refused() -> Error {
    Error::Config("an async token provider needs ClientBuilder::build_async".into())
}

/// Asks `provider` for another token after WeChat rejected `rejected`: `None` when it has no
/// other.
pub(crate) fn renew_from(
    provider: &dyn TokenProvider,
    rejected: &Secret,
    what: &str,
) -> Result<Option<Secret>, Error> {
    provider_invalidate(provider, rejected);
    let fresh = provider_token(provider, what)?;
    Ok((fresh != *rejected).then_some(fresh))
}

/// Maps a ureq error without ever formatting the URL (which carries the token) unredacted; the
/// message is in plain words (`crate::transport`), ureq's error stays the `source()`.
fn transport_error(
    endpoint: &str,
    error: ureq::Error,
    secrets: &[&str],
    config: &ureq::config::Config,
) -> Error {
    match &error {
        // Errors about the request itself: nothing was sent. Not worth retrying.
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_) => {
            return Error::Config(format!("{endpoint}: the request URL is not valid"));
        }
        ureq::Error::InvalidProxyUrl => {
            return Error::Config("the proxy URL (environment variables) is not valid".into());
        }
        _ => {}
    }
    let described = crate::transport::describe(&error, config);
    Error::Transport(TransportError {
        endpoint: endpoint.to_owned(),
        message: redact(&described.message, secrets),
        maybe_sent: described.maybe_sent,
        cause: described
            .keep_source
            .then(|| Arc::new(error) as Arc<dyn std::error::Error + Send + Sync>),
    })
}

/// What [`Client::call_raw`] hands each successful answer to: the status, the body and the
/// secrets to mask in errors. It keeps the decoded value itself.
type DecodeAnswer<'a> = dyn FnMut(u16, &[u8], &[&str]) -> Result<(), Error> + 'a;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_forms() {
        assert_eq!(
            normalize_base_url("https://api.weixin.qq.com/").unwrap(),
            "https://api.weixin.qq.com"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/prefix/").unwrap(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "",
            "api.weixin.qq.com",
            "ftp://x",
            "http://",
            "https://h/?a=1",
            "https://h/#x",
        ] {
            assert!(
                matches!(normalize_base_url(bad), Err(Error::Config(_))),
                "{bad:?} accepted"
            );
        }
    }
}
