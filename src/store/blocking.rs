//! The blocking driver of the slot protocol ([`super::protocol`]): one connection behind a
//! mutex, waits by sleeping the thread.

use std::time::{Duration, Instant};

use super::protocol::{Action, Flight, Input, SlotSpec};
use super::{RedisStore, StoreError};
use crate::token::{FetchFn, Fetched, SharedSlot};
use crate::{Error, Secret};

impl RedisStore {
    /// Runs `f` on the blocking connection (connecting first if needed). Any error drops the
    /// connection (a reply may be in flight) and rests Redis for `retry_after`.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        let result = (|| {
            let con = match conn.take() {
                Some(con) => con,
                None => {
                    let con = self
                        .inner
                        .client
                        .get_connection_with_timeout(self.inner.timeout)?;
                    con.set_read_timeout(Some(self.inner.timeout))?;
                    con.set_write_timeout(Some(self.inner.timeout))?;
                    con
                }
            };
            f(conn.insert(con))
        })();
        if result.is_err() {
            *conn = None;
        }
        self.settle(result)
    }

    /// Runs one command of the protocol.
    fn run_cmd(&self, cmd: &redis::Cmd) -> Result<redis::Value, StoreError> {
        self.run(|con| cmd.query(con))
    }
}

/// One key of the store (an appid and kind), as used by a blocking [`crate::token::TokenCache`].
#[derive(Debug)]
pub(crate) struct Slot {
    spec: SlotSpec,
}

impl Slot {
    pub(super) fn new(spec: SlotSpec) -> Slot {
        Slot { spec }
    }

    /// The same slot, waiting for another process's lock at most `timeout` (the client's).
    pub(crate) fn waiting_at_most(self, timeout: Duration) -> Self {
        Slot::new(self.spec.waiting_at_most(timeout))
    }
}

/// A flight that releases the lock it may still hold when dropped before it is done: when the
/// fetch panics.
struct Releasing<'a>(Flight<'a>);

impl Drop for Releasing<'_> {
    fn drop(&mut self) {
        if let Some(release) = self.0.abandon() {
            let spec = self.0.spec();
            spec.released(spec.store.run_cmd(&release));
        }
    }
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
        let (flight, mut action) = Flight::start(&self.spec, avoid, force, Instant::now());
        let mut flight = Releasing(flight);
        loop {
            let input = match action {
                Action::Done(result) => return result,
                Action::Run(cmd) => Input::Reply(self.spec.store.run_cmd(&cmd)),
                Action::Fetch(force) => Input::Fetched(fetch(force)),
                Action::Sleep(pause) => {
                    std::thread::sleep(pause);
                    Input::Slept
                }
            };
            action = flight.0.step(input, Instant::now());
        }
    }

    /// WeChat rejected `rejected`: marks the shared value invalid if it still holds it.
    fn invalidate(&self, rejected: &Secret) {
        if let Some(cmd) = self.spec.invalidation(rejected) {
            self.spec.invalidated(self.spec.store.run_cmd(&cmd));
        }
    }
}
