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

use crate::error::{ApiError, DecodeError, Error, TransportError, is_token_errcode};
use crate::logging;
use crate::percent::percent_encode;
use crate::resolve::{self, CachingResolver, ForgetOnConnectFailure};
use crate::schema::{Call, HttpMethod};
use crate::secret::{Secret, excerpt, redact};
use crate::token::{
    Fetched, TokenCache, TokenProvider, TokenSource, provider_invalidate, provider_token,
};
use crate::validate::{Rule, Validate, ValidationError};

/// Which token a call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// The official account's access_token, as `?access_token=`.
    Access,
    /// The open platform's component_access_token, as `?component_access_token=`.
    Component,
}

/// WeChat's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 16;
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts, however many retries are configured.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Bytes of a body kept in a [`DecodeError`].
const EXCERPT_BYTES: usize = 256;
/// Least time between two `force_refresh` stable token fetches.
const FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

const STABLE_TOKEN_PATH: &str = "cgi-bin/stable_token";
const CLASSIC_TOKEN_PATH: &str = "cgi-bin/token";

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
    /// Without a trailing slash.
    base_url: String,
    auth: Auth,
    /// The open platform's component_access_token, for `cgi-bin/component/*` endpoints.
    component: Option<Arc<dyn TokenProvider>>,
    max_retries: u32,
    retry_backoff: Duration,
    max_response_bytes: u64,
    /// The official account's appid, from the credentials or `ClientBuilder::appid`.
    appid: Option<String>,
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

enum Auth {
    Fixed(Secret),
    Credentials {
        appid: String,
        secret: Secret,
        source: TokenSource,
        cache: Box<TokenCache>,
    },
    Provider(Arc<dyn TokenProvider>),
}

impl Auth {
    fn describe(&self) -> &'static str {
        match self {
            Auth::Fixed(_) => "fixed token",
            Auth::Credentials {
                source: TokenSource::Classic,
                ..
            } => "credentials (cgi-bin/token)",
            Auth::Credentials { .. } => "credentials (cgi-bin/stable_token)",
            Auth::Provider(_) => "token provider",
        }
    }

    fn app_secret(&self) -> &str {
        match self {
            Auth::Credentials { secret, .. } => secret.expose(),
            _ => "",
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut s = f.debug_struct("Client");
        s.field("base_url", &inner.base_url);
        if let Some(appid) = &inner.appid {
            s.field("appid", appid);
        }
        s.field("auth", &inner.auth.describe())
            .field("max_retries", &inner.max_retries)
            .field("retry_backoff", &inner.retry_backoff)
            .field("max_response_bytes", &inner.max_response_bytes)
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
    component: Option<Arc<dyn TokenProvider>>,
    connect_timeout: Duration,
    timeout: Duration,
    max_idle_connections: usize,
    max_retries: u32,
    retry_backoff: Duration,
    max_response_bytes: u64,
    env_proxy: bool,
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
            component: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            env_proxy: true,
            #[cfg(feature = "redis")]
            shared_store: None,
        }
    }
}

impl ClientBuilder {
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
        self.env_proxy = enabled;
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
        // The one source of access tokens; the match leaves no case without one.
        let source = match (self.credentials, self.fixed_token, self.token_provider) {
            (Some((appid, secret)), None, None) => TokenSourceGiven::Credentials(appid, secret),
            (None, Some(token), None) => TokenSourceGiven::Fixed(token),
            (None, None, Some(provider)) => TokenSourceGiven::Provider(provider),
            (credentials, fixed, provider) => {
                let sources = usize::from(credentials.is_some())
                    + usize::from(fixed.is_some())
                    + usize::from(provider.is_some());
                return Err(Error::Config(format!(
                    "configure exactly one access token source (credentials, fixed_token or \
                     token_provider); {sources} configured"
                )));
            }
        };
        if self.token_source.is_some() && !matches!(source, TokenSourceGiven::Credentials(..)) {
            return Err(Error::Config(
                "token_source applies to credentials, which are not set".into(),
            ));
        }
        let from_credentials = match &source {
            TokenSourceGiven::Credentials(appid, _) => Some(appid),
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
        let token_cache = TokenCache::new(FORCE_REFRESH_INTERVAL);
        let ticket_cache = TokenCache::for_ticket();
        #[cfg(feature = "redis")]
        let (token_cache, ticket_cache) = match &self.shared_store {
            Some(store) => {
                let Some(appid) = appid.as_deref() else {
                    return Err(Error::Config(
                        "shared_store needs the appid: give credentials or ClientBuilder::appid"
                            .into(),
                    ));
                };
                (
                    // A call never waits for another process's lock longer than the
                    // client's own timeout.
                    token_cache.shared(Some(Box::new(
                        store
                            .slot(appid, "access_token", "access token")?
                            .waiting_at_most(self.timeout),
                    ))),
                    ticket_cache.shared(Some(Box::new(
                        store
                            .slot(appid, "api_ticket", "api_ticket")?
                            .waiting_at_most(self.timeout),
                    ))),
                )
            }
            None => (token_cache, ticket_cache),
        };
        let auth = match source {
            TokenSourceGiven::Credentials(appid, secret) => {
                if appid.trim().is_empty() || secret.is_empty() {
                    return Err(Error::Config(
                        "the appid and the secret must not be empty".into(),
                    ));
                }
                Auth::Credentials {
                    appid,
                    secret,
                    source: self.token_source.unwrap_or_default(),
                    cache: Box::new(token_cache),
                }
            }
            TokenSourceGiven::Fixed(token) => {
                if token.is_empty() {
                    return Err(Error::Config("the fixed token must not be empty".into()));
                }
                Auth::Fixed(token)
            }
            TokenSourceGiven::Provider(provider) => Auth::Provider(provider),
        };

        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // ureq starts the connect budget after the lookup: each gets `connect_timeout`.
            .timeout_resolve(Some(self.connect_timeout))
            .timeout_connect(Some(self.connect_timeout))
            .timeout_global(Some(crate::transport::exchange_deadline(self.timeout)))
            // Each write and read waits at most `timeout`: a constant, so ureq sets the socket's
            // timeout once per connection instead of before every read and write (three
            // `setsockopt` per call when only the deadline, which shrinks, is set).
            .timeout_per_read(Some(self.timeout))
            .timeout_per_write(Some(self.timeout))
            .max_idle_connections(self.max_idle_connections)
            .max_idle_connections_per_host(self.max_idle_connections)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("wechat-card/", env!("CARGO_PKG_VERSION")))
            .accept("application/json");
        if !self.env_proxy {
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
                base_url,
                auth,
                component: self.component,
                max_retries: self.max_retries,
                retry_backoff: self.retry_backoff,
                max_response_bytes: self.max_response_bytes,
                appid,
                ticket: ticket_cache,
            }),
        })
    }
}

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

/// What a request carries besides the access token.
enum Payload {
    /// A JSON body (`POST`).
    Body(Vec<u8>),
    /// Query parameters (`GET`).
    Query(Vec<(String, String)>),
}

/// The access token source a [`ClientBuilder`] was given: exactly one.
enum TokenSourceGiven {
    Credentials(String, Secret),
    Fixed(Secret),
    Provider(Arc<dyn TokenProvider>),
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL calls go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A currently valid access token, from the cache or fetched (for the JS-SDK or an endpoint
    /// outside this library). It is a [`Secret`]: it prints as `***`.
    pub fn access_token(&self) -> Result<Secret, Error> {
        self.token()
    }

    /// The official account's appid, from the credentials or [`ClientBuilder::appid`].
    pub fn appid(&self) -> Option<&str> {
        self.inner.appid.as_deref()
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
        logging::renewal(
            "the card api_ticket",
            "the caller reported it rejected (renew_api_ticket)",
        );
        let fetch = |_| self.fetch_api_ticket();
        match self.inner.ticket.renew(rejected, false, &fetch)? {
            Some(ticket) => Ok(ticket),
            None => Ok(rejected.clone()),
        }
    }

    fn fetch_api_ticket(&self) -> Result<Fetched, Error> {
        let request = crate::GetApiTicketRequest::new(crate::ApiTicketType::WxCard);
        let answer = self.get_api_ticket(&request)?;
        if answer.ticket.is_empty() {
            return Err(Error::Decode(DecodeError {
                endpoint: "cgi-bin/ticket/getticket".to_owned(),
                status: 200,
                message: "the answer has an empty ticket".into(),
                excerpt: String::new(),
            }));
        }
        if let Some(why) = crate::token::implausible_token(answer.ticket.expose()) {
            return Err(implausible("cgi-bin/ticket/getticket", "ticket", &why));
        }
        logging::fetched(
            "the card api_ticket",
            "cgi-bin/ticket/getticket",
            answer.expires_in,
            false,
        );
        Ok(Fetched {
            token: answer.ticket,
            expires_in: answer.expires_in,
            remaining: None,
        })
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
        request.validate()?;
        let kind = match endpoint.auth {
            crate::schema::Auth::ComponentAccessToken => TokenKind::Component,
            _ => TokenKind::Access,
        };
        let payload = Payload::encode(endpoint.method, request)?;
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
        let path = path.trim().trim_start_matches('/');
        if path.is_empty()
            || path
                .chars()
                .any(|c| matches!(c, '?' | '#') || c.is_whitespace() || c.is_control())
        {
            let message =
                format!("{path:?} is not an endpoint path (no query, fragment or whitespace)");
            let secrets = self.known_secrets();
            let secrets: Vec<&str> = secrets.iter().map(Secret::expose).collect();
            return Err(Error::Config(redact(&message, &secrets)));
        }
        let payload = Payload::encode(method, body)?;
        self.send(TokenKind::Access, path, &payload, idempotent)
    }

    /// The secrets the client holds without fetching anything: the app secret, a fixed or
    /// cached access token, the cached api_ticket. For redacting errors made before a call.
    fn known_secrets(&self) -> Vec<Secret> {
        let inner = &*self.inner;
        let mut out = vec![Secret::from(inner.auth.app_secret())];
        match &inner.auth {
            Auth::Fixed(token) => out.push(token.clone()),
            Auth::Credentials { cache, .. } => out.extend(cache.peek()),
            Auth::Provider(_) => {}
        }
        out.extend(inner.ticket.peek());
        out
    }

    /// Sends `payload` with the token, renews the token and retries as needed, decodes the
    /// answer as `Resp`.
    ///
    /// What a call compiles per endpoint is thin: this function per response type, around
    /// [`decode_typed`], and [`Payload::encode`] per request type, around `serde_json::to_vec`;
    /// the rest is [`call_raw`](Client::call_raw) and [`Payload::new`], compiled once.
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
                answer = Some(decode_typed(path, status, body, secrets)?);
                Ok(())
            },
        )?;
        // `call_raw` returns `Ok` only after a successful `decode`.
        answer.ok_or_else(|| undecoded(path))
    }

    /// The part of [`send`](Client::send) that does not depend on the request and response
    /// types, compiled once rather than once per endpoint: sends `payload` with the token,
    /// renews the token and retries as needed, checks the `errcode` envelope, and hands every
    /// successful answer to `decode` (inside the retry loop, so that its errors are retried and
    /// logged like any other).
    fn call_raw(
        &self,
        kind: TokenKind,
        path: &str,
        payload: &Payload,
        idempotent: bool,
        decode: &mut DecodeAnswer<'_>,
    ) -> Result<(), Error> {
        let mut token = self.token_of(kind, path)?;
        let mut renewed = false;
        let ticket = self.inner.ticket.peek();
        let ticket = ticket.as_ref().map_or("", Secret::expose);
        loop {
            let result = self.with_retries(path, idempotent, || {
                let secrets = [token.expose(), self.inner.auth.app_secret(), ticket];
                let (status, body) =
                    self.exchange(path, payload, Some((kind, &token)), &secrets)?;
                check_envelope(path, status, &body, &secrets)?;
                decode(status, &body, &secrets)
            });
            match result {
                Err(Error::Api(e)) if is_token_errcode(e.errcode) && !renewed => {
                    renewed = true;
                    logging::renewal(
                        match kind {
                            TokenKind::Access => "the access token",
                            TokenKind::Component => "the component_access_token",
                        },
                        &format!(
                            "{path} answered errcode {} ({}); the call is sent once more with \
                             the new one",
                            e.errcode, e.errmsg
                        ),
                    );
                    let fresh = match kind {
                        TokenKind::Access => self.renew_token(&token)?,
                        TokenKind::Component => self.renew_component(&token)?,
                    };
                    match fresh {
                        Some(fresh) => token = fresh,
                        None => return Err(Error::Api(e)),
                    }
                }
                other => return other,
            }
        }
    }

    /// Runs `attempt`, repeating it after transient failures: for idempotent calls on every
    /// [retryable](Error::is_retryable) error, for the others only when the request surely did
    /// not reach the server.
    ///
    /// Each attempt is logged at debug on `wechat_card::call`, each retry at warn on
    /// `wechat_card::retry` (see `crate::logging`).
    fn with_retries<T>(
        &self,
        path: &str,
        idempotent: bool,
        mut attempt: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut retries = 0;
        loop {
            let started = Instant::now();
            let result = attempt();
            logging::attempt(path, retries + 1, started.elapsed(), result.as_ref().err());
            match result {
                Err(e)
                    if retries < self.inner.max_retries
                        && ((idempotent && e.is_retryable())
                            || matches!(&e, Error::Transport(t) if !t.maybe_sent)) =>
                {
                    let wait = backoff(self.inner.retry_backoff, retries);
                    logging::retry(path, retries + 1, self.inner.max_retries, wait, &e);
                    std::thread::sleep(wait);
                    retries += 1;
                }
                other => return other,
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
        let mut url = String::with_capacity(inner.base_url.len() + path.len() + 200);
        url.push_str(&inner.base_url);
        url.push('/');
        url.push_str(path);
        let mut separator = '?';
        let mut push = |url: &mut String, key: &str, value: &str| {
            url.push(separator);
            separator = '&';
            url.push_str(&percent_encode(key));
            url.push('=');
            url.push_str(&percent_encode(value));
        };
        if let Some((kind, token)) = token {
            let key = match kind {
                TokenKind::Access => "access_token",
                TokenKind::Component => "component_access_token",
            };
            push(&mut url, key, token.expose());
        }

        let sent = match payload {
            Payload::Body(body) => inner
                .agent
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .send(body.as_slice()),
            Payload::Query(pairs) => {
                for (key, value) in pairs {
                    push(&mut url, key, value);
                }
                inner.agent.get(&url).call()
            }
        };
        let config = inner.agent.config();
        let mut response = sent.map_err(|e| transport_error(path, e, secrets, config))?;
        let status = response.status().as_u16();
        let limit = inner.max_response_bytes;
        let too_large = || {
            Error::Decode(DecodeError {
                endpoint: path.to_owned(),
                status,
                message: format!("the answer is larger than the limit of {limit} bytes"),
                excerpt: String::new(),
            })
        };
        if response.body().content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let body = response
            .body_mut()
            .with_config()
            // ureq's limit fails a read at the limit even at the end of the body: allow one
            // byte more, so that a body of exactly `limit` bytes passes.
            .limit(limit.saturating_add(1))
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => too_large(),
                e => transport_error(path, e, secrets, config),
            })?;
        Ok((status, body))
    }

    /// The token of `kind` for a call of `path`.
    fn token_of(&self, kind: TokenKind, path: &str) -> Result<Secret, Error> {
        match kind {
            TokenKind::Access => self.token(),
            TokenKind::Component => match &self.inner.component {
                Some(provider) => provider_token(&**provider, "component token"),
                None => Err(Error::Config(format!(
                    "{path} is called with the open platform's component_access_token; \
                     give one with ClientBuilder::component_token or component_token_provider"
                ))),
            },
        }
    }

    /// WeChat rejected the component token `rejected`: another one, or `None`.
    fn renew_component(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        let Some(provider) = &self.inner.component else {
            return Ok(None);
        };
        provider_invalidate(&**provider, rejected);
        let fresh = provider_token(&**provider, "component token")?;
        Ok((fresh != *rejected).then_some(fresh))
    }

    /// A token for the next call.
    fn token(&self) -> Result<Secret, Error> {
        match &self.inner.auth {
            Auth::Fixed(token) => Ok(token.clone()),
            Auth::Credentials { cache, .. } => cache.get(&|force| self.fetch_token(force)),
            Auth::Provider(provider) => provider_token(&**provider, "access token"),
        }
    }

    /// WeChat rejected `rejected`: another token, or `None` if there is none to be had.
    fn renew_token(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        match &self.inner.auth {
            Auth::Fixed(_) => Ok(None),
            Auth::Credentials { cache, source, .. } => {
                cache.renew(rejected, *source == TokenSource::Stable, &|force| {
                    self.fetch_token(force)
                })
            }
            Auth::Provider(provider) => {
                provider_invalidate(&**provider, rejected);
                let fresh = provider_token(&**provider, "access token")?;
                Ok((fresh != *rejected).then_some(fresh))
            }
        }
    }

    /// Fetches a token from WeChat with the app's credentials.
    fn fetch_token(&self, force_refresh: bool) -> Result<Fetched, Error> {
        let Auth::Credentials {
            appid,
            secret,
            source,
            ..
        } = &self.inner.auth
        else {
            return Err(Error::Config("no credentials to fetch a token with".into()));
        };
        let secrets = [secret.expose()];
        let (path, payload) = match source {
            TokenSource::Classic => (
                CLASSIC_TOKEN_PATH,
                Payload::Query(vec![
                    ("grant_type".to_owned(), "client_credential".to_owned()),
                    ("appid".to_owned(), appid.clone()),
                    ("secret".to_owned(), secret.expose().to_owned()),
                ]),
            ),
            _ => {
                let body = serde_json::to_vec(&StableTokenRequest {
                    grant_type: "client_credential",
                    appid,
                    secret: secret.expose(),
                    force_refresh,
                })
                .map_err(|e| Error::Config(format!("could not encode the token request: {e}")))?;
                (STABLE_TOKEN_PATH, Payload::Body(body))
            }
        };
        // A repeated normal fetch only hands out a token we never received. A forced refresh is
        // limited by WeChat: never repeat it.
        let answer: TokenAnswer = self.with_retries(path, !force_refresh, || {
            let (status, body) = self.exchange(path, &payload, None, &secrets)?;
            decode_with(path, status, &body, &secrets)
        })?;
        if answer.access_token.is_empty() {
            return Err(Error::Decode(DecodeError {
                endpoint: path.to_owned(),
                status: 200,
                message: "the answer has an empty access_token".into(),
                excerpt: String::new(),
            }));
        }
        if let Some(why) = crate::token::implausible_token(&answer.access_token) {
            return Err(implausible(path, "access_token", &why));
        }
        logging::fetched("an access token", path, answer.expires_in, force_refresh);
        Ok(Fetched {
            token: Secret::new(answer.access_token),
            expires_in: answer.expires_in,
            remaining: None,
        })
    }
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// A number or a numeric string, like the integers of every other answer.
    #[serde(default, deserialize_with = "crate::wire::lenient_int")]
    expires_in: Option<i64>,
}

/// The error for a fetched token or ticket that is not a plausible one (`why` never shows the
/// value): not cached, not shared.
fn implausible(endpoint: &str, field: &str, why: &str) -> Error {
    Error::Decode(DecodeError {
        endpoint: endpoint.to_owned(),
        status: 200,
        message: format!("the answer's {field} is refused: {why}"),
        excerpt: String::new(),
    })
}

/// A request that serde could not encode (a map with non-string keys in a `Json` field, a
/// user's `Serialize` impl failing): nothing was sent.
fn unencodable(e: serde_json::Error) -> Error {
    Error::Validation(ValidationError::new(
        "",
        Rule::Decode {
            message: format!("the request cannot be encoded as JSON: {e}"),
        },
    ))
}

/// The error for an answer `call_raw` accepted but never handed over: cannot happen.
fn undecoded(path: &str) -> Error {
    Error::Config(format!("{path}: no answer was decoded"))
}

impl Payload {
    /// Encodes `request` for `method`: the only part of encoding compiled per request type.
    fn encode<Req: Serialize + ?Sized>(
        method: HttpMethod,
        request: &Req,
    ) -> Result<Payload, Error> {
        Payload::new(method, serde_json::to_vec(request).map_err(unencodable)?)
    }

    /// The payload of a request already encoded as JSON: the body itself for `POST` (`{}` for a
    /// request without fields, which serializes as `null`), its fields as query parameters for
    /// `GET` (strings as they are, numbers and booleans as text, nested values as JSON text,
    /// `null`s left out).
    ///
    /// `GET` requests are decoded back from the JSON text rather than serialized to a
    /// `serde_json::Value` directly, so that a request type compiles one encoder, not two; they
    /// are a few short fields.
    fn new(method: HttpMethod, json: Vec<u8>) -> Result<Payload, Error> {
        let not_an_object = |kind: &str| {
            Error::Validation(ValidationError::new(
                "",
                Rule::Decode {
                    message: format!(
                        "a GET request must be a JSON object to become query parameters, not \
                         {kind}"
                    ),
                },
            ))
        };
        match method {
            HttpMethod::Post if json == b"null" => Ok(Payload::Body(b"{}".to_vec())),
            HttpMethod::Post => Ok(Payload::Body(json)),
            HttpMethod::Get => {
                let value: serde_json::Value =
                    serde_json::from_slice(&json).map_err(unencodable)?;
                let map = match value {
                    serde_json::Value::Object(map) => map,
                    serde_json::Value::Null => serde_json::Map::new(),
                    other => return Err(not_an_object(json_kind(&other))),
                };
                let pairs = map
                    .into_iter()
                    .filter_map(|(key, value)| {
                        let text = match value {
                            serde_json::Value::Null => return None,
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Bool(b) => b.to_string(),
                            serde_json::Value::Number(n) => n.to_string(),
                            nested => nested.to_string(),
                        };
                        Some((key, text))
                    })
                    .collect();
                Ok(Payload::Query(pairs))
            }
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The wait before retry number `retry` (0-based): `base * 2^retry`, at most [`MAX_BACKOFF`],
/// plus a random part of up to half of that.
fn backoff(base: Duration, retry: u32) -> Duration {
    let exp = base
        .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let half_nanos = u64::try_from(exp.as_nanos() / 2).unwrap_or(u64::MAX);
    let jitter = if half_nanos == 0 {
        0
    } else {
        crate::random::random_u64() % half_nanos
    };
    exp + Duration::from_nanos(jitter)
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
        cause: described.keep_source.then(|| Arc::new(error)),
    })
}

/// What [`Client::call_raw`] hands each successful answer to: the status, the body and the
/// secrets to mask in errors. It keeps the decoded value itself.
type DecodeAnswer<'a> = dyn FnMut(u16, &[u8], &[&str]) -> Result<(), Error> + 'a;

/// The `errcode`/`errmsg` envelope of every WeChat answer. Only a JSON object is accepted
/// (serde's derive would also take an array); other keys are skipped without allocating.
///
/// WeChat's answers are read as leniently as they come and as strictly as matters: `errcode`
/// as an integer or a numeric string (`"40099"`), `errmsg` as a string whose invalid UTF-8 is
/// replaced by U+FFFD (the code still counts), either of them `null` as absent. A key that
/// comes twice is refused: which of two `errcode`s holds is a guess, and guessing `0` would turn
/// a refused call into a success.
struct Envelope {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// `errcode`: an integer or a numeric string.
struct Errcode(i64);

impl<'de> serde::Deserialize<'de> for Errcode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Errcode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("errcode as an integer or a string of one")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Errcode, E> {
                Ok(Errcode(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Errcode, E> {
                i64::try_from(v)
                    .map(Errcode)
                    .map_err(|_| E::custom(format_args!("errcode {v} is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Errcode, E> {
                parse_errcode(v)
                    .map(Errcode)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `errcode` written as a string: an optional `-` and digits, in range.
fn parse_errcode(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `errmsg`: a string, its invalid UTF-8 replaced.
struct Errmsg(String);

impl<'de> serde::Deserialize<'de> for Errmsg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Errmsg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("errmsg as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Errmsg, E> {
                Ok(Errmsg(v.to_owned()))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Errmsg, E> {
                Ok(Errmsg(String::from_utf8_lossy(v).into_owned()))
            }
        }
        // serde_json hands a string over as its bytes (escapes decoded) without checking
        // their UTF-8, which `visit_bytes` then repairs.
        deserializer.deserialize_bytes(Visitor)
    }
}

impl<'de> serde::Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Envelope, A::Error> {
                use serde::de::Error as _;
                let mut envelope = Envelope {
                    errcode: None,
                    errmsg: None,
                };
                let (mut seen_code, mut seen_msg) = (false, false);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let seen = match &*key {
                        "errcode" => &mut seen_code,
                        "errmsg" => &mut seen_msg,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if std::mem::replace(seen, true) {
                        return Err(A::Error::custom(format_args!(
                            "duplicate key {:?}: the answer is ambiguous",
                            &*key
                        )));
                    }
                    if &*key == "errcode" {
                        envelope.errcode = map.next_value::<Option<Errcode>>()?.map(|c| c.0);
                    } else {
                        envelope.errmsg = map.next_value::<Option<Errmsg>>()?.map(|m| m.0);
                    }
                }
                Ok(envelope)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Decodes a WeChat answer body: the `errcode`/`errmsg` envelope once (`errcode` absent or `0`
/// means success, anything else is an [`Error::Api`]), then the whole body into `Resp`.
///
/// A body that is not a JSON object, does not fit `Resp`, or comes with a non-2xx status
/// without a non-zero `errcode` is an [`Error::Decode`] carrying the status and the first 256
/// bytes of the body (cut at a character boundary, with token-like values masked).
#[cfg(any(test, feature = "tooling"))]
pub fn decode_response<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Result<Resp, Error> {
    decode_with(endpoint, status, body, &[])
}

/// [`decode_response`], also masking the given secrets in messages and excerpts.
fn decode_with<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Resp, Error> {
    check_envelope(endpoint, status, body, secrets)?;
    decode_typed(endpoint, status, body, secrets)
}

/// A [`DecodeError`] about `body`, with the secrets masked.
fn decode_error(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    message: &str,
) -> Error {
    Error::Decode(DecodeError {
        endpoint: endpoint.to_owned(),
        status,
        message: redact(message, secrets),
        excerpt: excerpt(body, EXCERPT_BYTES, secrets),
    })
}

/// The `errcode`/`errmsg` envelope and the status of an answer: `Ok` when the body is a JSON
/// object, its `errcode` absent or `0` and the status 2xx.
fn check_envelope(endpoint: &str, status: u16, body: &[u8], secrets: &[&str]) -> Result<(), Error> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        if (200..300).contains(&status) {
            decode_error(endpoint, status, body, secrets, &envelope_problem(body, &e))
        } else {
            decode_error(
                endpoint,
                status,
                body,
                secrets,
                "an error page, not WeChat JSON",
            )
        }
    })?;
    match envelope.errcode {
        Some(errcode) if errcode != 0 => {
            return Err(Error::Api(ApiError {
                endpoint: endpoint.to_owned(),
                errcode,
                errmsg: redact(envelope.errmsg.as_deref().unwrap_or(""), secrets),
            }));
        }
        _ => {}
    }
    if !(200..300).contains(&status) {
        return Err(decode_error(
            endpoint,
            status,
            body,
            secrets,
            &format!("HTTP status {status}"),
        ));
    }
    Ok(())
}

/// What is wrong with an answer whose envelope did not decode: not JSON, not an object, or
/// which of `errcode`/`errmsg` is not as expected (serde's message names it).
fn envelope_problem(body: &[u8], e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("the answer is not valid JSON: {e}")
        }
        Category::Data if body.trim_ascii_start().first() != Some(&b'{') => {
            format!("the answer is not a JSON object: {e}")
        }
        Category::Data => format!("the answer's errcode/errmsg envelope is not valid: {e}"),
    }
}

/// Decodes an answer whose envelope was checked into `Resp`; the only part of the call path
/// compiled once per response type.
fn decode_typed<Resp: DeserializeOwned>(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Resp, Error> {
    serde_json::from_slice(body).map_err(|e| shape_error(endpoint, status, body, secrets, &e))
}

fn shape_error(
    endpoint: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    e: &serde_json::Error,
) -> Error {
    decode_error(
        endpoint,
        status,
        body,
        secrets,
        &format!("the answer does not have the expected shape: {e}"),
    )
}

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

    #[test]
    fn envelope_then_body() {
        #[derive(serde::Deserialize, Debug)]
        struct R {
            n: u32,
        }
        let ok: R = decode_response("p", 200, br#"{"errcode":0,"errmsg":"ok","n":3}"#).unwrap();
        assert_eq!(ok.n, 3);
        let ok: R = decode_response("p", 200, br#"{"n":4}"#).unwrap();
        assert_eq!(ok.n, 4);
        let err = decode_response::<R>("p", 200, br#"{"errcode":40056,"errmsg":"bad code"}"#)
            .unwrap_err();
        assert_eq!(err.errcode(), Some(40056));
        assert_eq!(err.endpoint(), Some("p"));
        // An errcode wins over a non-2xx status.
        let err = decode_response::<R>("p", 503, br#"{"errcode":-1,"errmsg":"busy"}"#).unwrap_err();
        assert!(err.is_retryable());
        let Error::Decode(d) =
            decode_response::<R>("p", 502, b"<html>Bad gateway</html>").unwrap_err()
        else {
            panic!()
        };
        assert_eq!(
            (d.status, d.excerpt.as_str()),
            (502, "<html>Bad gateway</html>")
        );
        let Error::Decode(d) = decode_response::<R>("p", 200, br#"{"n":"x"}"#).unwrap_err() else {
            panic!()
        };
        assert!(d.message.contains("expected shape"), "{}", d.message);
        assert!(matches!(
            decode_response::<R>("p", 200, b""),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            decode_response::<R>("p", 200, b"[1]"),
            Err(Error::Decode(_))
        ));
        let () = decode_response::<IgnoredAny>("p", 200, br#"{"errcode":0}"#)
            .map(|_| ())
            .unwrap();
    }

    #[test]
    fn get_requests_become_query_pairs() {
        let Payload::Query(pairs) = Payload::encode(
            HttpMethod::Get,
            &serde_json::json!({"type": "wx_card", "n": 3, "b": true, "none": null, "l": [1, 2]}),
        )
        .unwrap() else {
            panic!()
        };
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("b", "true"),
                ("l", "[1,2]"),
                ("n", "3"),
                ("type", "wx_card")
            ]
        );
        assert!(
            matches!(Payload::encode(HttpMethod::Get, &()), Ok(Payload::Query(p)) if p.is_empty())
        );
        assert!(matches!(
            Payload::encode(HttpMethod::Get, &[1]),
            Err(Error::Validation(_))
        ));
        assert!(
            matches!(Payload::encode(HttpMethod::Post, &()), Ok(Payload::Body(b)) if b == b"{}")
        );
        // Numbers keep their text through the JSON round trip.
        let Ok(Payload::Query(pairs)) = Payload::encode(
            HttpMethod::Get,
            &serde_json::json!({"big": u64::MAX, "neg": -7, "f": 0.1}),
        ) else {
            panic!()
        };
        assert_eq!(
            pairs,
            [
                ("big".to_owned(), u64::MAX.to_string()),
                ("f".to_owned(), "0.1".to_owned()),
                ("neg".to_owned(), "-7".to_owned()),
            ]
        );
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let base = Duration::from_millis(100);
        for retry in 0..40 {
            let d = backoff(base, retry);
            let exp = (base * 2u32.saturating_pow(retry.min(20))).min(MAX_BACKOFF);
            assert!(d >= exp && d <= exp + exp / 2, "retry {retry}: {d:?}");
        }
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
    }
}
