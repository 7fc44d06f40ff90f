//! The async driver of the slot protocol ([`super::protocol`]): one multiplexed connection
//! shared by every task, made on first use and again after an error; each command bounded by
//! the store's timeout; waits by `tokio::time::sleep`, never blocking a thread.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::protocol::{Action, Flight, Input, SlotSpec};
use super::{RedisStore, StoreError};
use crate::token::{AsyncFetchFn, AsyncSharedSlot, BoxFuture, Fetched};
use crate::{Error, Secret};

/// The store's async connection: `None` until first used and after an error.
#[derive(Default)]
pub(super) struct AsyncConn(tokio::sync::Mutex<Option<MultiplexedConnection>>);

/// The error of a command that did not answer within the store's timeout.
fn timed_out(_: tokio::time::error::Elapsed) -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out").into()
}

impl RedisStore {
    /// The async connection, connecting first if needed. Tasks share it (it is multiplexed);
    /// the lock is held only while connecting.
    async fn async_connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut conn = self.inner.async_conn.0.lock().await;
        if let Some(con) = &*conn {
            return Ok(con.clone());
        }
        let timeout = self.inner.timeout;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connecting = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let con = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(timed_out)??;
        Ok(conn.insert(con).clone())
    }

    /// Runs one command of the protocol on the async connection, within the store's timeout.
    /// Any error drops the connection (the next command connects again) and rests Redis for
    /// `retry_after`.
    async fn run_async(&self, cmd: &redis::Cmd) -> Result<redis::Value, StoreError> {
        let result = match self.async_connection().await {
            Ok(mut con) => tokio::time::timeout(self.inner.timeout, cmd.query_async(&mut con))
                .await
                .map_err(timed_out)
                .and_then(|reply| reply),
            Err(e) => Err(e),
        };
        if result.is_err() {
            *self.inner.async_conn.0.lock().await = None;
        }
        self.settle(result)
    }

    /// The async slot of `kind` for `appid`: the same key, lock and protocol as
    /// [`slot`](RedisStore::slot)'s, so blocking and async users share one token.
    pub(crate) fn async_slot(
        &self,
        appid: &str,
        kind: &str,
        what: &'static str,
    ) -> Result<AsyncSlot, Error> {
        self.spec(appid, kind, what).map(|spec| AsyncSlot { spec })
    }
}

/// One key of the store (an appid and kind), as used by the async client.
#[derive(Debug)]
pub(crate) struct AsyncSlot {
    spec: SlotSpec,
}

impl AsyncSlot {
    /// The same slot, waiting for another process's lock at most `timeout` (the client's).
    pub(crate) fn waiting_at_most(self, timeout: Duration) -> Self {
        AsyncSlot {
            spec: self.spec.waiting_at_most(timeout),
        }
    }
}

/// A flight whose future may be dropped before it is done (cancelled, or its fetch panicked):
/// then the lock it may still hold is released by a task of its own, since a drop cannot wait.
struct Releasing<'a>(Flight<'a>);

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        let Some(release) = self.0.abandon() else {
            return;
        };
        let spec = self.0.spec().clone();
        // Outside a runtime nothing can run it: the lock expires after its TTL.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let reply = spec.store.run_async(&release).await;
                spec.released(reply);
            });
        }
    }
}

impl AsyncSharedSlot for AsyncSlot {
    /// A token through the store: the shared one, or fetched with `fetch` by the one process
    /// that holds the lock. Falls back to `fetch` in this process when Redis fails.
    fn fetch<'a>(
        &'a self,
        avoid: Option<&'a Secret>,
        force: bool,
        fetch: AsyncFetchFn<'a>,
    ) -> BoxFuture<'a, Result<Fetched, Error>> {
        Box::pin(async move {
            let (flight, first) = Flight::start(&self.spec, avoid, force, Instant::now());
            let mut flight = Releasing(flight);
            let mut action = first;
            loop {
                action = flight.0.step(
                    match action {
                        Action::Run(cmd) => Input::Reply(self.spec.store.run_async(&cmd).await),
                        Action::Sleep(pause) => {
                            tokio::time::sleep(pause).await;
                            Input::Slept
                        }
                        Action::Fetch(force) => Input::Fetched(fetch(force).await),
                        Action::Done(result) => return result,
                    },
                    Instant::now(),
                );
            }
        })
    }

    /// WeChat rejected `rejected`: marks the shared value invalid if it still holds it.
    fn invalidate<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(cmd) = self.spec.invalidation(rejected) else {
                return;
            };
            let reply = self.spec.store.run_async(&cmd).await;
            self.spec.invalidated(reply);
        })
    }
}

/// A token as the tooling hook's fetch returns it: the token and its `expires_in` (seconds).
#[cfg(feature = "tooling")]
pub type ToolingFetched = Result<(Secret, i64), Error>;

/// Hidden, for the integration tests: an [`AsyncSlot`] of a store (the async client's view of
/// one key), driven from outside the crate. Not part of the API.
#[cfg(feature = "tooling")]
#[doc(hidden)]
#[derive(Debug)]
pub struct ToolingAsyncSlot(AsyncSlot);

#[cfg(feature = "tooling")]
impl ToolingAsyncSlot {
    /// The async slot of `kind` (`access_token`, `api_ticket`, `component_access_token`) for
    /// `appid` in `store`, waiting at most `timeout` for other processes' locks.
    pub fn new(
        store: &RedisStore,
        appid: &str,
        kind: &str,
        timeout: Duration,
    ) -> Result<ToolingAsyncSlot, Error> {
        Ok(ToolingAsyncSlot(
            store
                .async_slot(appid, kind, "token")?
                .waiting_at_most(timeout),
        ))
    }

    /// [`AsyncSharedSlot::fetch`]: the token and the time it has left (`None`: fetched just
    /// now), fetching with `fetch(force)` when this process must.
    pub async fn fetch<F>(
        &self,
        avoid: Option<&Secret>,
        force: bool,
        fetch: F,
    ) -> Result<(Secret, Option<Duration>), Error>
    where
        F: Fn(bool) -> BoxFuture<'static, ToolingFetched> + Send + Sync,
    {
        let fetch = |force| -> BoxFuture<'_, Result<Fetched, Error>> {
            let fetching = fetch(force);
            Box::pin(async move {
                let (token, expires_in) = fetching.await?;
                Ok(Fetched {
                    token,
                    expires_in: Some(expires_in),
                    remaining: None,
                })
            })
        };
        let fetched = AsyncSharedSlot::fetch(&self.0, avoid, force, &fetch).await?;
        Ok((fetched.token, fetched.remaining))
    }

    /// [`AsyncSharedSlot::invalidate`].
    pub async fn invalidate(&self, rejected: &Secret) {
        AsyncSharedSlot::invalidate(&self.0, rejected).await;
    }
}
