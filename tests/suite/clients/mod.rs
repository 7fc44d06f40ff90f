//! One harness for both clients: the blocking [`Client`] and, with the feature `async`, the
//! [`AsyncClient`](wechat_card::AsyncClient), built from the same [`ClientBuilder`] and called
//! through the same methods here. A suite that loops over [`each`] runs its checks against
//! both, from one text.
//!
//! The async client runs on a current-thread tokio runtime of its own, the strictest kind: a
//! call that blocked its thread would stall the runtime (and the test).
#![allow(unused)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wechat_card::schema::{Call, EndpointInfo, HttpMethod};
use wechat_card::signature::{CardExt, ChooseCard, ChooseCardParams, SignedCardExt};
use wechat_card::tooling::HookError;
use wechat_card::validate::Validate;
use wechat_card::{Client, ClientBuilder, Error, Secret};

/// Which client a check runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// [`Client`], over ureq.
    Blocking,
    /// [`wechat_card::AsyncClient`], over hyper on tokio.
    #[cfg(feature = "async")]
    Async,
}

/// The clients this build has: both with the feature `async`.
pub const FLAVORS: &[Flavor] = &[
    Flavor::Blocking,
    #[cfg(feature = "async")]
    Flavor::Async,
];

/// Runs `check` once per client flavor, saying which one failed.
pub fn each(mut check: impl FnMut(Flavor)) {
    for &flavor in FLAVORS {
        eprintln!("-- with the {flavor:?} client");
        check(flavor);
    }
}

/// A client of either flavor. Clones share the client (and, for the async one, its runtime,
/// on which any number of threads may block at once).
#[derive(Clone)]
pub enum AnyClient {
    Blocking(Client),
    #[cfg(feature = "async")]
    Async(
        wechat_card::AsyncClient,
        std::sync::Arc<tokio::runtime::Runtime>,
    ),
}

impl std::fmt::Debug for AnyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnyClient::Blocking(client) => client.fmt(f),
            #[cfg(feature = "async")]
            AnyClient::Async(client, _) => client.fmt(f),
        }
    }
}

/// A current-thread runtime, as a service on `#[tokio::main(flavor = "current_thread")]` has.
#[cfg(feature = "async")]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

impl AnyClient {
    /// Builds the client of `flavor` from `builder`.
    pub fn build(flavor: Flavor, builder: ClientBuilder) -> Result<AnyClient, Error> {
        match flavor {
            Flavor::Blocking => builder.build().map(AnyClient::Blocking),
            #[cfg(feature = "async")]
            Flavor::Async => builder
                .build_async()
                .map(|client| AnyClient::Async(client, std::sync::Arc::new(runtime()))),
        }
    }

    /// [`AnyClient::build`], expecting success.
    pub fn of(flavor: Flavor, builder: ClientBuilder) -> AnyClient {
        AnyClient::build(flavor, builder).expect("client")
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            AnyClient::Blocking(_) => Flavor::Blocking,
            #[cfg(feature = "async")]
            AnyClient::Async(..) => Flavor::Async,
        }
    }

    /// The endpoint's typed method with a JSON request (the tooling hook of its flavor).
    #[allow(clippy::result_large_err)] // the tooling hook's own error type, passed on
    pub fn invoke(&self, endpoint: &EndpointInfo, request: &Value) -> Result<Value, HookError> {
        let hooks = wechat_card::tooling::hooks(endpoint);
        match self {
            AnyClient::Blocking(client) => (hooks.invoke)(client, request),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on((hooks.invoke_async)(client, request)),
        }
    }

    /// The endpoint at `path`, called with a JSON request.
    #[allow(clippy::result_large_err)] // the tooling hook's own error type, passed on
    pub fn invoke_path(&self, path: &str, request: &Value) -> Result<Value, HookError> {
        let endpoint = wechat_card::schema::ENDPOINTS
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} is not an endpoint of the spec"));
        self.invoke(endpoint, request)
    }

    pub fn base_url(&self) -> &str {
        match self {
            AnyClient::Blocking(client) => client.base_url(),
            #[cfg(feature = "async")]
            AnyClient::Async(client, _) => client.base_url(),
        }
    }

    pub fn access_token(&self) -> Result<Secret, Error> {
        match self {
            AnyClient::Blocking(client) => client.access_token(),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.access_token()),
        }
    }

    pub fn api_ticket(&self) -> Result<Secret, Error> {
        match self {
            AnyClient::Blocking(client) => client.api_ticket(),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.api_ticket()),
        }
    }

    pub fn renew_api_ticket(&self, rejected: &Secret) -> Result<Secret, Error> {
        match self {
            AnyClient::Blocking(client) => client.renew_api_ticket(rejected),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.renew_api_ticket(rejected)),
        }
    }

    pub fn sign_card_ext(&self, ext: &CardExt) -> Result<SignedCardExt, Error> {
        match self {
            AnyClient::Blocking(client) => client.sign_card_ext(ext),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.sign_card_ext(ext)),
        }
    }

    pub fn sign_choose_card(&self, choose: &ChooseCard) -> Result<ChooseCardParams, Error> {
        match self {
            AnyClient::Blocking(client) => client.sign_choose_card(choose),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.sign_choose_card(choose)),
        }
    }

    pub fn call_json<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        method: HttpMethod,
        path: &str,
        body: &Req,
        idempotent: bool,
    ) -> Result<Resp, Error> {
        match self {
            AnyClient::Blocking(client) => client.call_json(method, path, body, idempotent),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => {
                rt.block_on(client.call_json(method, path, body, idempotent))
            }
        }
    }

    pub fn execute<Req, Resp>(&self, endpoint: &Call, request: &Req) -> Result<Resp, Error>
    where
        Req: Validate + Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        match self {
            AnyClient::Blocking(client) => client.execute(endpoint, request),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.execute(endpoint, request)),
        }
    }

    pub fn execute_unit<Req>(&self, endpoint: &Call, request: &Req) -> Result<(), Error>
    where
        Req: Validate + Serialize + ?Sized,
    {
        match self {
            AnyClient::Blocking(client) => client.execute_unit(endpoint, request),
            #[cfg(feature = "async")]
            AnyClient::Async(client, rt) => rt.block_on(client.execute_unit(endpoint, request)),
        }
    }

    /// The client's `Debug` output.
    pub fn debug(&self) -> String {
        match self {
            AnyClient::Blocking(client) => format!("{client:?}"),
            #[cfg(feature = "async")]
            AnyClient::Async(client, _) => format!("{client:?}"),
        }
    }
}

/// A typed method of either client: `call!(client.get_code(&request))` calls
/// `Client::get_code`, or awaits `AsyncClient::get_code` on the client's runtime.
#[macro_export]
macro_rules! call {
    ($client:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        match &$client {
            $crate::clients::AnyClient::Blocking(c) => c.$method($($arg),*),
            #[cfg(feature = "async")]
            $crate::clients::AnyClient::Async(c, rt) => rt.block_on(c.$method($($arg),*)),
        }
    };
}

/// Clients that share their tokens through a Redis store (the shared-store suites).
#[cfg(all(feature = "redis", feature = "sandbox"))]
pub mod shared {
    /// A client of `flavor` for `sandbox` that shares its tokens through `store`.
    pub fn client(
        flavor: crate::clients::Flavor,
        sandbox: &wechat_card::sandbox::Sandbox,
        store: &wechat_card::store::RedisStore,
    ) -> crate::clients::AnyClient {
        crate::clients::AnyClient::of(flavor, sandbox.client_builder().shared_store(store.clone()))
    }

    /// The other flavor than `flavor` (the same when the build has one): a test's second client
    /// is of it, so that a blocking and an async client share one token.
    pub fn other(flavor: crate::clients::Flavor) -> crate::clients::Flavor {
        let flavors = crate::clients::FLAVORS;
        let at = flavors.iter().position(|f| *f == flavor).unwrap_or(0);
        flavors[(at + 1) % flavors.len()]
    }

    /// A call that needs the token; the sandbox answers 40056 (unknown code) once the token passed.
    pub fn call(client: &crate::clients::AnyClient) -> Result<(), wechat_card::Error> {
        match crate::call!(client.get_code(&wechat_card::GetCodeRequest::new("000000000000"))) {
            Err(wechat_card::Error::Api(e)) if e.errcode == 40056 => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }
}
