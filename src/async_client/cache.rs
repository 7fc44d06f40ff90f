//! The async driver of the token cache ([`crate::core::cache`]): single flight with the waiting
//! tasks parked on a `tokio::sync::Notify`, so that no thread is blocked while they wait.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Notify;

use crate::core::cache::{Cell, Decision, Waiter};
use crate::error::Error;
use crate::secret::Secret;
#[cfg(feature = "redis")]
use crate::token::AsyncSharedSlot;
use crate::token::{AsyncFetchFn, BoxFuture, Fetched, panicked};

#[derive(Debug)]
pub(crate) struct AsyncTokenCache {
    cell: Cell,
    done: Notify,
    /// The shared store fetches go through, if any.
    #[cfg(feature = "redis")]
    shared: Option<Box<dyn AsyncSharedSlot>>,
}

impl AsyncTokenCache {
    pub(crate) fn new(force_interval: Duration) -> Self {
        AsyncTokenCache::of(Cell::new(force_interval))
    }

    /// A cache of the card api_ticket: the same caching, no forced refreshes.
    pub(crate) fn for_ticket() -> Self {
        AsyncTokenCache::of(Cell::for_ticket())
    }

    fn of(cell: Cell) -> Self {
        AsyncTokenCache {
            cell,
            done: Notify::new(),
            #[cfg(feature = "redis")]
            shared: None,
        }
    }

    /// The same cache, fetching through `slot` of a shared store.
    #[cfg(feature = "redis")]
    pub(crate) fn shared(mut self, slot: Box<dyn AsyncSharedSlot>) -> Self {
        self.shared = Some(slot);
        self
    }

    /// The cached value, if any (valid or not), for redaction.
    pub(crate) fn peek(&self) -> Option<Secret> {
        self.cell.peek()
    }

    /// A valid token, from the cache or fetched.
    pub(crate) async fn get(&self, fetch: AsyncFetchFn<'_>) -> Result<Secret, Error> {
        self.acquire(None, false, fetch).await
    }

    /// WeChat rejected `rejected`: drops it (here and in the shared store) if it is still the
    /// current value and gets another. `Ok(None)` when the only one to be had is `rejected`.
    pub(crate) async fn renew(
        &self,
        rejected: &Secret,
        allow_force: bool,
        fetch: AsyncFetchFn<'_>,
    ) -> Result<Option<Secret>, Error> {
        self.cell.forget(rejected);
        #[cfg(feature = "redis")]
        if let Some(slot) = &self.shared {
            slot.invalidate(rejected).await;
        }
        let token = self.acquire(Some(rejected), allow_force, fetch).await?;
        Ok((token != *rejected).then_some(token))
    }

    async fn acquire(
        &self,
        avoid: Option<&Secret>,
        allow_force: bool,
        fetch: AsyncFetchFn<'_>,
    ) -> Result<Secret, Error> {
        let mut waiter = Waiter::default();
        loop {
            // Registered before the lock is let go, so that the leader's wake-up cannot be
            // missed in between.
            let finished = {
                let mut state = self.cell.lock();
                match self.cell.decide(&mut state, avoid, &mut waiter) {
                    Decision::Use(token) => return Ok(token),
                    Decision::Fail(e) => return Err(e),
                    Decision::Wait => self.done.notified(),
                    Decision::Lead => break,
                }
            };
            finished.await;
        }
        let wake = || self.done.notify_waiters();
        let lead = self.cell.lead(avoid, allow_force, &wake);
        let mut result = self.guarded(fetch, avoid, false).await;
        if lead.force_after(&result) {
            result = self.guarded(fetch, avoid, true).await;
        }
        lead.finish(result)
    }

    /// Runs `fetch` (through the shared store, if any), a panic turned into an error.
    async fn guarded(
        &self,
        fetch: AsyncFetchFn<'_>,
        avoid: Option<&Secret>,
        force: bool,
    ) -> Result<Fetched, Error> {
        // Every fetched value is checked before it is cached or written to a shared store.
        let checked = |force: bool| -> BoxFuture<'_, Result<Fetched, Error>> {
            Box::pin(async move { self.cell.checked(fetch(force).await) })
        };
        #[cfg(feature = "redis")]
        let fetching = match &self.shared {
            Some(slot) => slot.fetch(avoid, force, &checked),
            None => checked(force),
        };
        #[cfg(not(feature = "redis"))]
        let fetching = {
            let _ = avoid;
            checked(force)
        };
        CatchUnwind(fetching)
            .await
            .unwrap_or_else(|()| Err(panicked(self.cell.what)))
    }
}

/// A future whose panic while polled becomes `Err(())`, like `catch_unwind` for a closure.
pub(crate) struct CatchUnwind<'a, T>(pub(crate) BoxFuture<'a, T>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
