//! The async client (feature `async`): the blocking client's calls, on tokio.
//!
//! A thin driver over [`crate::core`], like the blocking [`Client`](crate::Client): what it
//! sends, how it reads answers, when it retries or renews a token and how tokens are cached is
//! decided there; this module moves the bytes (over [`http`]) and waits without blocking a
//! thread (`tokio::time::sleep`, a `Notify` for the tasks that wait for a token fetch).

mod cache;
mod http;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::client::{Auth, ClientBuilder, Common};
use crate::core::answer::{read, read_ticket, read_token};
use crate::core::plan::{Next, Plan};
use crate::core::request::{Payload, TokenKind, prepare, prepare_json, url};
use crate::error::Error;
use crate::logging;
use crate::schema::{Call, HttpMethod};
use crate::secret::Secret;
use crate::signature::{CardExt, ChooseCard, ChooseCardParams, SignedCardExt};
use crate::token::{
    AsyncTokenProvider, BoxFuture, Fetched, TokenProvider, TokenSource, provider_invalidate,
    provider_token,
};
use crate::validate::Validate;

use cache::AsyncTokenCache;
use http::{Http, Limits};

/// An async client of the WeChat card API, for tokio services (feature `async`).
///
/// It has every method of the blocking [`Client`](crate::Client), as an `async fn` with the
/// same request and response types, the same validation before any I/O and the same
/// guarantees, which [`Client`](crate::Client) documents: the stable token endpoint by default,
/// a rejected token renewed and the call sent once more, idempotent calls retried with backoff,
/// other calls never sent twice, the same timeouts, body limit and log records, no secret in
/// any output. Build it with the same [`ClientBuilder`], ending in
/// [`build_async`](ClientBuilder::build_async).
///
/// Cheap to clone (the clones share the connections and the token cache), `Send` and `Sync`,
/// and so are the futures of its methods: build one per appid and share it between tasks. It
/// works in any tokio runtime, the current-thread one included. However many tasks need a token
/// at once, one fetches it and the others wait without blocking a thread; a task that needs
/// no token (a cached one, or none) is never held up by the fetch.
///
/// ```no_run
/// # async fn run() -> Result<(), wechat_card::Error> {
/// use wechat_card::{Client, GetCodeRequest};
///
/// let client = Client::builder()
///     .credentials("wx1234567890abcdef", "app-secret")
///     .build_async()?;
/// let code = client.get_code(&GetCodeRequest::new("110201201245")).await?;
/// println!("{:?}", code.user_card_status);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    common: Common,
    auth: Auth<AsyncTokenCache>,
    ticket: AsyncTokenCache,
}

// One per client, never moved after the build: its size does not matter.
#[allow(clippy::large_enum_variant)]
impl crate::client::Peek for AsyncTokenCache {
    fn peek(&self) -> Option<Secret> {
        AsyncTokenCache::peek(self)
    }
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &*self.inner;
        inner.common.debug(f, "AsyncClient", inner.auth.describe())
    }
}

impl ClientBuilder {
    /// An application-supplied async source of tokens, for the async client: see
    /// [`AsyncTokenProvider`]. (A blocking [`token_provider`](ClientBuilder::token_provider)
    /// works with it too, called on tokio's blocking pool.)
    pub fn async_token_provider(mut self, provider: Arc<dyn AsyncTokenProvider>) -> Self {
        self.set_async_token_provider(provider);
        self
    }

    /// Checks the configuration and builds the async client (feature `async`); the same
    /// checks and errors as [`build`](ClientBuilder::build).
    ///
    /// It does not read proxy settings from the environment, and
    /// [`env_proxy(true)`](ClientBuilder::env_proxy) is refused: a service's environment is
    /// often set for other programs, and a proxy would see every call (the blocking client keeps
    /// its default, for compatibility).
    pub fn build_async(self) -> Result<AsyncClient, Error> {
        let settled = self.settle()?;
        if settled.env_proxy == Some(true) {
            return Err(Error::Config(
                "the async client does not use proxies: env_proxy(true) is not supported".into(),
            ));
        }
        let http = Http::new(
            &settled.common.base_url,
            Limits {
                connect_timeout: settled.connect_timeout,
                timeout: settled.timeout,
                max_idle: settled.max_idle_connections,
                max_response_bytes: settled.common.max_response_bytes,
            },
        )?;
        let token_cache = AsyncTokenCache::new(crate::client::FORCE_REFRESH_INTERVAL);
        let ticket_cache = AsyncTokenCache::for_ticket();
        #[cfg(feature = "redis")]
        let (token_cache, ticket_cache) = match &settled.shared_store {
            Some(store) => {
                let appid = settled.shared_appid()?;
                (
                    token_cache.shared(Box::new(
                        store
                            .async_slot(appid, "access_token", "access token")?
                            .waiting_at_most(settled.timeout),
                    )),
                    ticket_cache.shared(Box::new(
                        store
                            .async_slot(appid, "api_ticket", "api_ticket")?
                            .waiting_at_most(settled.timeout),
                    )),
                )
            }
            None => (token_cache, ticket_cache),
        };
        let auth = Auth::new(settled.source, token_cache);
        Ok(AsyncClient {
            inner: Arc::new(Inner {
                http,
                common: settled.common,
                auth,
                ticket: ticket_cache,
            }),
        })
    }
}

impl AsyncClient {
    /// Starts configuring a client; end with [`build_async`](ClientBuilder::build_async).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL calls go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.common.base_url
    }

    /// The official account's appid, from the credentials or [`ClientBuilder::appid`].
    pub fn appid(&self) -> Option<&str> {
        self.inner.common.appid.as_deref()
    }

    /// A currently valid access token: [`Client::access_token`](crate::Client::access_token).
    pub async fn access_token(&self) -> Result<Secret, Error> {
        self.token().await
    }

    /// The card api_ticket, cached like the access token:
    /// [`Client::api_ticket`](crate::Client::api_ticket).
    pub async fn api_ticket(&self) -> Result<Secret, Error> {
        let fetch = |_| -> BoxFuture<'_, _> { Box::pin(self.fetch_api_ticket()) };
        self.inner.ticket.get(&fetch).await
    }

    /// WeChat rejected a signature made with `rejected`:
    /// [`Client::renew_api_ticket`](crate::Client::renew_api_ticket).
    pub async fn renew_api_ticket(&self, rejected: &Secret) -> Result<Secret, Error> {
        logging::ticket_rejected();
        let fetch = |_| -> BoxFuture<'_, _> { Box::pin(self.fetch_api_ticket()) };
        let renewed = self.inner.ticket.renew(rejected, false, &fetch).await?;
        Ok(renewed.unwrap_or_else(|| rejected.clone()))
    }

    async fn fetch_api_ticket(&self) -> Result<Fetched, Error> {
        let request = crate::GetApiTicketRequest::new(crate::ApiTicketType::WxCard);
        read_ticket(self.get_api_ticket(&request).await?)
    }

    /// Signs a `cardExt` with the cached card api_ticket:
    /// [`Client::sign_card_ext`](crate::Client::sign_card_ext).
    pub async fn sign_card_ext(&self, ext: &CardExt) -> Result<SignedCardExt, Error> {
        let ticket = self.api_ticket().await?;
        Ok(ext.sign(&ticket)?)
    }

    /// Signs `wx.chooseCard`'s parameters with the appid and the cached card api_ticket:
    /// [`Client::sign_choose_card`](crate::Client::sign_choose_card).
    pub async fn sign_choose_card(&self, choose: &ChooseCard) -> Result<ChooseCardParams, Error> {
        let appid = crate::signature::choose_card_appid(self.appid())?;
        let ticket = self.api_ticket().await?;
        Ok(choose.sign(appid, &ticket)?)
    }

    /// Validates `request`, sends it as `endpoint` describes and decodes the answer:
    /// [`Client::execute`](crate::Client::execute). The generated methods call it.
    pub async fn execute<Req, Resp>(&self, endpoint: &Call, request: &Req) -> Result<Resp, Error>
    where
        Req: Validate + Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let (kind, payload) = prepare(endpoint, request)?;
        self.send(kind, endpoint.path, &payload, endpoint.idempotent)
            .await
    }

    /// Like [`execute`](AsyncClient::execute), for endpoints whose answer is only
    /// `errcode`/`errmsg`.
    pub async fn execute_unit<Req>(&self, endpoint: &Call, request: &Req) -> Result<(), Error>
    where
        Req: Validate + Serialize + ?Sized,
    {
        self.execute::<Req, IgnoredAny>(endpoint, request)
            .await
            .map(|_| ())
    }

    /// Calls any endpoint with any body: [`Client::call_json`](crate::Client::call_json).
    pub async fn call_json<Req, Resp>(
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
            .await
    }

    /// Sends `payload` with the token, follows the [`Plan`] (renewal, retries) and decodes the
    /// answer as `Resp`.
    async fn send<Resp: DeserializeOwned>(
        &self,
        kind: TokenKind,
        path: &str,
        payload: &Payload,
        idempotent: bool,
    ) -> Result<Resp, Error> {
        let inner = &*self.inner;
        let mut token = self.token_of(kind, path).await?;
        let ticket = inner.ticket.peek();
        let ticket = ticket.as_ref().map_or("", Secret::expose);
        let mut plan = inner.common.plan(path, Some(kind), idempotent);
        loop {
            let result = {
                let secrets = [token.expose(), inner.auth.app_secret(), ticket];
                let url = url(&inner.common.base_url, path, Some((kind, &token)), payload);
                let started = Instant::now();
                let result = inner
                    .http
                    .exchange(path, &url, payload.body(), &secrets)
                    .await
                    .and_then(|(status, body)| read(path, status, &body, &secrets));
                (result, started.elapsed())
            };
            match plan.after(result.1, result.0.as_ref().err()) {
                Next::Done => return result.0,
                Next::Retry(wait) => tokio::time::sleep(wait).await,
                Next::Renew => {
                    let fresh = match kind {
                        TokenKind::Access => self.renew_token(&token).await?,
                        TokenKind::Component => self.renew_component(&token).await?,
                    };
                    match fresh {
                        Some(fresh) => token = fresh,
                        None => return result.0,
                    }
                }
            }
        }
    }

    /// The token of `kind` for a call of `path`.
    async fn token_of(&self, kind: TokenKind, path: &str) -> Result<Secret, Error> {
        match kind {
            TokenKind::Access => self.token().await,
            TokenKind::Component => match &self.inner.common.component {
                Some(provider) => blocking_token(provider, "component token").await,
                None => Err(Common::no_component_token(path)),
            },
        }
    }

    /// A token for the next call.
    async fn token(&self) -> Result<Secret, Error> {
        match &self.inner.auth {
            Auth::Fixed(token) => Ok(token.clone()),
            Auth::Credentials { cache, .. } => {
                let fetch = |force| -> BoxFuture<'_, _> { Box::pin(self.fetch_token(force)) };
                cache.get(&fetch).await
            }
            Auth::Provider(provider) => blocking_token(provider, "access token").await,
            Auth::Async(provider) => async_token(&**provider).await,
        }
    }

    /// WeChat rejected `rejected`: another token, or `None` if there is none to be had.
    async fn renew_token(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        let fresh = match &self.inner.auth {
            Auth::Fixed(_) => return Ok(None),
            Auth::Credentials { cache, credentials } => {
                let fetch = |force| -> BoxFuture<'_, _> { Box::pin(self.fetch_token(force)) };
                let stable = credentials.source == TokenSource::Stable;
                return cache.renew(rejected, stable, &fetch).await;
            }
            Auth::Provider(provider) => {
                provider_invalidate(&**provider, rejected);
                blocking_token(provider, "access token").await?
            }
            Auth::Async(provider) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    provider.invalidate(rejected)
                }));
                async_token(&**provider).await?
            }
        };
        Ok((fresh != *rejected).then_some(fresh))
    }

    /// WeChat rejected the component token `rejected`: another one, or `None`.
    async fn renew_component(&self, rejected: &Secret) -> Result<Option<Secret>, Error> {
        let Some(provider) = &self.inner.common.component else {
            return Ok(None);
        };
        provider_invalidate(&**provider, rejected);
        let fresh = blocking_token(provider, "component token").await?;
        Ok((fresh != *rejected).then_some(fresh))
    }

    /// Fetches a token from WeChat with the app's credentials.
    async fn fetch_token(&self, force_refresh: bool) -> Result<Fetched, Error> {
        let inner = &*self.inner;
        let (credentials, path, payload) = inner.auth.token_request(force_refresh)?;
        let secrets = [credentials.secret.expose()];
        let url = url(&inner.common.base_url, path, None, &payload);
        // A repeated normal fetch only hands out a token we never received. A forced refresh is
        // limited by WeChat: never repeat it.
        let mut plan: Plan<'_> = inner.common.plan(path, None, !force_refresh);
        loop {
            let started = Instant::now();
            let result = inner
                .http
                .exchange(path, &url, payload.body(), &secrets)
                .await
                .and_then(|(status, body)| {
                    read_token(path, status, &body, &secrets, force_refresh)
                });
            match plan.after(started.elapsed(), result.as_ref().err()) {
                Next::Retry(wait) => tokio::time::sleep(wait).await,
                Next::Done | Next::Renew => return result,
            }
        }
    }
}

/// A token from a blocking provider, asked on tokio's blocking pool; a provider given as a
/// fixed component token is answered at once.
async fn blocking_token(
    provider: &Arc<dyn TokenProvider>,
    what: &'static str,
) -> Result<Secret, Error> {
    let provider = Arc::clone(provider);
    tokio::task::spawn_blocking(move || provider_token(&*provider, what))
        .await
        .unwrap_or_else(|_| Err(Error::Config(format!("the {what} provider panicked"))))
}

/// A token from an async provider, its panic turned into an error.
async fn async_token(provider: &dyn AsyncTokenProvider) -> Result<Secret, Error> {
    let panicked = || Error::Config("the access token provider panicked".into());
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| provider.token())) {
        Ok(future) => cache::CatchUnwind(future)
            .await
            .unwrap_or_else(|()| Err(panicked())),
        Err(_) => Err(panicked()),
    }
}
