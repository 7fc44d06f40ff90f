//! What a slot decides, without I/O: the scripts it runs, whether a stored value can be used,
//! when to lock, wait, take over or give up, what to write, and the warnings. A [`Flight`] is
//! one fetch through the store as a step machine: it asks its driver for one [`Action`] at a
//! time (run this Redis command, sleep this long, fetch from WeChat, done) and consumes what
//! came of it ([`Input`]). The blocking driver (`blocking.rs`) and the async one
//! (`nonblocking.rs`) only carry the actions out, so a blocking process and an async one follow
//! the same protocol to the letter and share one token.

use std::fmt;
use std::time::{Duration, Instant};

use redis::{FromRedisValue, Value};
use serde::{Deserialize, Serialize};

use super::{RedisStore, StoreError};
use crate::token::{Fetched, lifetime_of, refresh_margin};
use crate::{Error, Secret};

/// How far past Redis's clock a stored `fetched_at_us` may be and still count as ours (a
/// failover to a replica whose clock is a little ahead). A value from further in the future was
/// not written by this store against this Redis: it is overwritten.
const FUTURE_TOLERANCE_US: u64 = 1_000_000;

/// Writes a value (ARGV[1], fetched at ARGV[2], TTL ARGV[3] ms) unless the stored one is ours
/// and was fetched at the same time or later. The stored one counts as ours only if it is a
/// string with a TTL whose `fetched_at_us` is not in Redis's future (more than ARGV[4] µs
/// ahead of `TIME`): a value without TTL, of another type or "fetched" in the future (a clock
/// that went back, another writer) never blocks the write. Returns 1 when written, 0 when
/// refused. The same rule as [`blocks_writes`].
const WRITE_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('PTTL', KEYS[1]) > 0 then
  local ok, v = pcall(cjson.decode, redis.call('GET', KEYS[1]))
  if ok and type(v) == 'table' and tonumber(v.fetched_at_us) then
    local at = tonumber(v.fetched_at_us)
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    if at >= tonumber(ARGV[2]) and at <= now + tonumber(ARGV[4]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Reads the value (nil unless the key is a string), its PTTL and Redis's `TIME`.
const READ_SCRIPT: &str = r"
local v = false
if redis.call('TYPE', KEYS[1]).ok == 'string' then v = redis.call('GET', KEYS[1]) end
local t = redis.call('TIME')
return {v, redis.call('PTTL', KEYS[1]), t[1], t[2]}
";

/// Takes the lock (owner ARGV[1], TTL ARGV[2] ms) if it is free or stale. A lock key that is
/// not a string or has no TTL was not set by this store (its locks always expire): it is
/// stale and taken over at once. A lock with a TTL longer than this process's lock TTL (a
/// foreign writer, a process configured otherwise) is cut down to it, so that no process
/// waits for a lock longer than its own lock TTL. Returns `{1, owner}` when taken, else
/// `{0, the holder's owner id}`.
const LOCK_SCRIPT: &str = r"
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' then
  local pttl = redis.call('PTTL', KEYS[1])
  if kind == 'string' and pttl > 0 then
    if pttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    return {0, redis.call('GET', KEYS[1])}
  end
  redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
";

/// Takes the lock over (owner ARGV[2], TTL ARGV[3] ms) if it is still held by ARGV[1] (the
/// holder a waiter gave up on): of several waiters giving up on one holder, one takes over.
/// Returns 1 when taken.
const TAKE_OVER_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Marks the value invalid (empty token, same fetch time and TTL) if it still holds the
/// rejected token. Returns 1 when it did.
const INVALIDATE_SCRIPT: &str = r#"
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, v = pcall(cjson.decode, cur)
if not ok or type(v) ~= 'table' or v.token ~= ARGV[1] then return 0 end
local function n(x) return string.format('%.0f', tonumber(x) or 0) end
redis.call('SET', KEYS[1], '{"token":"","fetched_at_us":' .. n(v.fetched_at_us) ..
  ',"expires_at_us":' .. n(v.expires_at_us) .. ',"lifetime_s":' .. n(v.lifetime_s) .. '}',
  'KEEPTTL')
return 1
"#;

/// Deletes the lock only if this owner still holds it.
const RELEASE_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A value as stored in Redis.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    /// Empty once the token was rejected.
    token: String,
    /// Redis server time when the fetch started, in microseconds since the Unix epoch.
    fetched_at_us: u64,
    /// `fetched_at_us` plus the lifetime.
    expires_at_us: u64,
    /// The lifetime WeChat announced, clamped (see `token::lifetime_of`).
    lifetime_s: u64,
}

/// A value read from Redis with the time it has left.
struct Read {
    stored: Stored,
    remaining: Duration,
}

impl Read {
    /// `value` with `pttl_ms` left, if it can be one this store wrote (see [`plausible`]).
    fn ours(value: &str, pttl_ms: i64, now_us: u64) -> Option<Read> {
        let stored = serde_json::from_str::<Stored>(value).ok()?;
        if !plausible(&stored, pttl_ms, now_us) {
            return None;
        }
        let pttl = u64::try_from(pttl_ms).ok()?;
        Some(Read {
            stored,
            remaining: Duration::from_millis(pttl),
        })
    }

    fn lifetime(&self) -> Duration {
        Duration::from_secs(self.stored.lifetime_s)
    }

    /// A valid token other than the one to avoid.
    fn usable(&self, avoid: Option<&Secret>) -> bool {
        !self.stored.token.is_empty()
            && !self.remaining.is_zero()
            && avoid.is_none_or(|a| a.expose() != self.stored.token)
    }

    /// Within the refresh margin before expiry.
    fn wants_refresh(&self) -> bool {
        self.remaining <= refresh_margin(self.lifetime())
    }

    fn fetched(&self) -> Fetched {
        Fetched {
            token: Secret::new(self.stored.token.clone()),
            expires_in: i64::try_from(self.stored.lifetime_s).ok(),
            remaining: Some(self.remaining),
        }
    }
}

/// How long a fetch waits for other processes' locks in all: the lock's TTL, but never longer
/// than the client's `timeout` (a call must not outlive the client's own timeout because of the
/// store).
fn wait_budget(lock_ttl: Duration, timeout: Duration) -> Duration {
    lock_ttl.min(timeout)
}

/// What a waiter does about a lock another process holds.
#[derive(Debug, PartialEq, Eq)]
enum OnHeld {
    /// Poll again.
    Wait,
    /// Take the lock over from its holder, who held it half the budget: dead or stuck.
    TakeOver,
    /// The whole budget is spent: fetch in this process without the store.
    GiveUp,
}

/// The waiter's decision, `waited` after it started waiting and `this_holder` after it first
/// saw the current holder: a holder gets half the budget, so that a waiter that takes over
/// from a dead one still has the other half for its successor; the budget is never exceeded.
fn on_held(waited: Duration, this_holder: Duration, budget: Duration) -> OnHeld {
    if waited >= budget {
        OnHeld::GiveUp
    } else if this_holder >= budget / 2 {
        OnHeld::TakeOver
    } else {
        OnHeld::Wait
    }
}

/// Whether a value read from Redis can be one this store wrote: it parses, has a TTL
/// (`pttl_ms` above zero; the store always sets one), was not "fetched" further in Redis's
/// future than [`FUTURE_TOLERANCE_US`], and holds a plausible token or the empty token of an
/// invalidated value ([`crate::token::implausible_token`]). Anything else is not ours: not
/// used, overwritten by the next fetch.
fn plausible(stored: &Stored, pttl_ms: i64, now_us: u64) -> bool {
    pttl_ms > 0
        && stored.fetched_at_us <= now_us.saturating_add(FUTURE_TOLERANCE_US)
        && (stored.token.is_empty() || crate::token::implausible_token(&stored.token).is_none())
}

/// Whether a stored value refuses a write of a value fetched at `fetched_at_us` (what
/// `WRITE_SCRIPT` decides inside Redis): only a value of ours (with a TTL, not from the future)
/// fetched at the same time or later.
#[cfg(test)]
fn blocks_writes(stored_at_us: u64, pttl_ms: i64, fetched_at_us: u64, now_us: u64) -> bool {
    pttl_ms > 0
        && stored_at_us >= fetched_at_us
        && stored_at_us <= now_us.saturating_add(FUTURE_TOLERANCE_US)
}

/// One key of the store (an appid and kind) and how long its users wait for other processes'
/// locks: what the slots of both drivers are made of.
#[derive(Clone)]
pub(super) struct SlotSpec {
    pub(super) store: RedisStore,
    pub(super) key: String,
    pub(super) lock_key: String,
    /// For log messages.
    pub(super) what: &'static str,
    /// The longest a fetch waits for other processes' locks in all.
    pub(super) max_wait: Duration,
}

impl fmt::Debug for SlotSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("key", &self.key).finish()
    }
}

/// `EVAL script 1 key`, for the arguments to follow.
fn eval(script: &str, key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(1).arg(key);
    cmd
}

/// A reply as `T`. A reply of another shape becomes an error that does not show it (a reply
/// may hold a token).
fn reply<T: FromRedisValue>(
    reply: Result<Value, StoreError>,
    command: &str,
) -> Result<T, StoreError> {
    redis::from_redis_value(reply?)
        .map_err(|_| StoreError(format!("unexpected reply to the {command} script")))
}

impl SlotSpec {
    /// The same slot, waiting for another process's lock at most `timeout` (the client's).
    pub(super) fn waiting_at_most(mut self, timeout: Duration) -> Self {
        self.max_wait = wait_budget(self.store.inner.lock_ttl, timeout);
        self
    }

    fn lock_ttl_ms(&self) -> u64 {
        u64::try_from(self.store.inner.lock_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) -> redis::Cmd {
        eval(READ_SCRIPT, &self.key)
    }

    /// Takes the lock for `owner` if it is free or stale (see `LOCK_SCRIPT`).
    fn lock(&self, owner: &str) -> redis::Cmd {
        let mut cmd = eval(LOCK_SCRIPT, &self.lock_key);
        cmd.arg(owner).arg(self.lock_ttl_ms());
        cmd
    }

    /// Takes the lock over for `owner` if `holder` still holds it.
    fn take_over(&self, holder: &str, owner: &str) -> redis::Cmd {
        let mut cmd = eval(TAKE_OVER_SCRIPT, &self.lock_key);
        cmd.arg(holder).arg(owner).arg(self.lock_ttl_ms());
        cmd
    }

    /// Deletes the lock if `owner` still holds it.
    fn release(&self, owner: &str) -> redis::Cmd {
        let mut cmd = eval(RELEASE_SCRIPT, &self.lock_key);
        cmd.arg(owner);
        cmd
    }

    /// What came of a release: a failed one leaves the lock to expire.
    pub(super) fn released(&self, result: Result<Value, StoreError>) {
        if let Err(e) = reply::<i64>(result, "release") {
            self.warn(&e, "the lock is left to expire");
        }
    }

    /// The command that marks the shared value invalid if it still holds `rejected`; `None`
    /// while Redis rests.
    pub(super) fn invalidation(&self, rejected: &Secret) -> Option<redis::Cmd> {
        if self.store.resting() {
            return None;
        }
        let mut cmd = eval(INVALIDATE_SCRIPT, &self.key);
        cmd.arg(rejected.expose());
        Some(cmd)
    }

    /// What came of an invalidation.
    pub(super) fn invalidated(&self, result: Result<Value, StoreError>) {
        if let Err(e) = reply::<i64>(result, "invalidate") {
            self.warn(&e, "could not mark the rejected value invalid");
        }
    }

    fn warn(&self, error: &StoreError, then: &str) {
        self.store.warn(self.what, error, then);
    }

    /// The value a read returned, if it can be one this store wrote, and Redis's time.
    fn parse_read(&self, result: Result<Value, StoreError>) -> Result<ReadReply, StoreError> {
        let (value, pttl, secs, micros): (Option<String>, i64, u64, u64) = reply(result, "read")?;
        let now_us = secs.saturating_mul(1_000_000).saturating_add(micros);
        Ok(ReadReply {
            read: value.and_then(|value| Read::ours(&value, pttl, now_us)),
            now_us,
        })
    }
}

/// What a read returned.
struct ReadReply {
    /// The value, if it can be one this store wrote.
    read: Option<Read>,
    /// Redis server time in microseconds: one clock for every process.
    now_us: u64,
}

/// A random lock owner id (32 hex digits), unique across processes and machines with near
/// certainty.
fn owner_id() -> String {
    crate::random::random_hex(32)
}

/// What a [`Flight`] asks its driver to do next.
pub(super) enum Action {
    /// Run this command; its reply goes back as [`Input::Reply`].
    Run(redis::Cmd),
    /// Sleep this long (never blocking a thread in the async driver), then [`Input::Slept`].
    Sleep(Duration),
    /// Fetch from WeChat (forced or not); the outcome goes back as [`Input::Fetched`].
    Fetch(bool),
    /// The fetch is over.
    Done(Result<Fetched, Error>),
}

/// What came of the last [`Action`].
pub(super) enum Input {
    Reply(Result<Value, StoreError>),
    Slept,
    Fetched(Result<Fetched, Error>),
}

/// Where a [`Flight`] is: what it waits for.
enum State {
    /// The reply to a read of the value, before any lock.
    Reading,
    /// The reply to taking the lock for `owner`. `current` is a valid value close to expiry:
    /// used if another process holds the lock (it refreshes it).
    Locking {
        owner: String,
        current: Option<Fetched>,
    },
    /// The reply to taking the lock over for `owner` from a holder seen `held` long.
    TakingOver {
        owner: String,
        held: Duration,
    },
    /// The end of a pause between two polls.
    Sleeping,
    /// The reply to the holder's read: another process may have written in between.
    Checking {
        owner: String,
    },
    /// The outcome of the fetch from WeChat, made at `clock`; `owner` holds the lock (`None`:
    /// a fetch without the store), and the value is written with `fetched_at_us` (`None`: not
    /// written, Redis failed).
    Fetching {
        owner: Option<String>,
        fetched_at_us: Option<u64>,
        clock: Instant,
    },
    /// The reply to writing `fetched`, which has `left` of its lifetime.
    Writing {
        owner: String,
        fetched: Fetched,
        left: Duration,
    },
    /// The reply to a read after the write was refused (a newer value is there).
    Rereading {
        owner: String,
        fetched: Fetched,
    },
    /// The reply to releasing the lock of `owner`, then `result` is the outcome.
    Releasing {
        owner: String,
        result: Result<Fetched, Error>,
    },
    Done,
}

/// One fetch through the store: the shared value, or fetched by the one process that holds the
/// lock, or (Redis failed, the wait budget is spent) fetched without the store.
pub(super) struct Flight<'a> {
    spec: &'a SlotSpec,
    avoid: Option<&'a Secret>,
    force: bool,
    state: State,
    /// When the fetch started.
    started: Instant,
    /// The next pause between two polls.
    pause: Duration,
    /// The holder of the lock and when this waiter first saw it.
    seen: Option<(String, Instant)>,
}

impl<'a> Flight<'a> {
    /// A fetch of `spec`'s token other than `avoid`, starting `now`, and its first action.
    pub(super) fn start(
        spec: &'a SlotSpec,
        avoid: Option<&'a Secret>,
        force: bool,
        now: Instant,
    ) -> (Flight<'a>, Action) {
        let mut flight = Flight {
            spec,
            avoid,
            force,
            state: State::Reading,
            started: now,
            pause: Duration::from_millis(5),
            seen: None,
        };
        let action = if spec.store.resting() {
            flight.fetch(None, None, now)
        } else {
            Action::Run(spec.read())
        };
        (flight, action)
    }

    /// The next action, given what came of the last one `now`.
    ///
    /// # Panics
    ///
    /// If `input` does not answer the last action (a driver's bug).
    pub(super) fn step(&mut self, input: Input, now: Instant) -> Action {
        let spec = self.spec;
        match (std::mem::replace(&mut self.state, State::Done), input) {
            (State::Reading, Input::Reply(r)) => match spec.parse_read(r) {
                Ok(ReadReply {
                    read: Some(read), ..
                }) if read.usable(self.avoid) => {
                    if read.wants_refresh() {
                        // Close to expiry: refresh it if nobody does, else keep using it.
                        self.lock(Some(read.fetched()))
                    } else {
                        self.finish(Ok(read.fetched()))
                    }
                }
                Ok(_) => self.lock(None),
                Err(e) => self.unshared(&e, now),
            },
            (State::Locking { owner, current }, Input::Reply(r)) => {
                match (reply::<(i64, String)>(r, "lock"), current) {
                    (Ok((1, _)), _) => self.check(owner),
                    (Ok(_), Some(current)) => self.finish(Ok(current)),
                    (Ok((_, holder)), None) => self.held_by(holder, now),
                    (Err(e), _) => self.unshared(&e, now),
                }
            }
            (State::TakingOver { owner, held }, Input::Reply(r)) => {
                match reply::<i64>(r, "take-over") {
                    Ok(1) => {
                        log::warn!(
                            target: crate::logging::STORE,
                            "the {} lock {} was held {held:?} without a value appearing: taken over",
                            spec.what,
                            spec.lock_key,
                        );
                        self.check(owner)
                    }
                    Ok(_) => self.sleep(now),
                    Err(e) => self.unshared(&e, now),
                }
            }
            (State::Sleeping, Input::Slept) => {
                self.state = State::Reading;
                Action::Run(spec.read())
            }
            (State::Checking { owner }, Input::Reply(r)) => match spec.parse_read(r) {
                Ok(ReadReply {
                    read: Some(read), ..
                }) if read.usable(self.avoid) && !read.wants_refresh() => {
                    self.release(owner, Ok(read.fetched()))
                }
                Ok(ReadReply { now_us, .. }) => self.fetch(Some(owner), Some(now_us), now),
                Err(e) => {
                    spec.warn(&e, "fetching it in this process");
                    self.fetch(Some(owner), None, now)
                }
            },
            (
                State::Fetching {
                    owner,
                    fetched_at_us,
                    clock,
                },
                Input::Fetched(result),
            ) => match (owner, fetched_at_us, result) {
                (None, _, result) => self.finish(result),
                (Some(owner), Some(at), Ok(fetched)) => self.write(owner, at, fetched, now - clock),
                (Some(owner), _, result) => self.release(owner, result),
            },
            (
                State::Writing {
                    owner,
                    fetched,
                    left,
                },
                Input::Reply(r),
            ) => match reply::<i64>(r, "write") {
                Ok(1) => self.release(
                    owner,
                    Ok(Fetched {
                        remaining: Some(left),
                        ..fetched
                    }),
                ),
                // A newer value is there: use it.
                Ok(_) => {
                    self.state = State::Rereading { owner, fetched };
                    Action::Run(spec.read())
                }
                Err(e) => {
                    spec.warn(&e, "using the token fetched in this process");
                    self.release(owner, Ok(fetched))
                }
            },
            (State::Rereading { owner, fetched }, Input::Reply(r)) => match spec.parse_read(r) {
                Ok(ReadReply {
                    read: Some(read), ..
                }) if read.usable(self.avoid) => self.release(owner, Ok(read.fetched())),
                _ => self.release(owner, Ok(fetched)),
            },
            (State::Releasing { result, .. }, Input::Reply(r)) => {
                spec.released(r);
                self.finish(result)
            }
            _ => panic!("a store driver answered an action with the wrong input"),
        }
    }

    /// The slot this flight is of.
    pub(super) fn spec(&self) -> &'a SlotSpec {
        self.spec
    }

    /// The command that releases the lock this flight may hold, for a driver that stops before
    /// the flight is done (its fetch panicked, its future was dropped); `None` when it holds
    /// none. Its reply goes to [`SlotSpec::released`].
    pub(super) fn abandon(&mut self) -> Option<redis::Cmd> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Locking { owner, .. }
            | State::TakingOver { owner, .. }
            | State::Checking { owner }
            | State::Fetching {
                owner: Some(owner), ..
            }
            | State::Writing { owner, .. }
            | State::Rereading { owner, .. }
            | State::Releasing { owner, .. } => Some(self.spec.release(&owner)),
            _ => None,
        }
    }

    fn finish(&mut self, result: Result<Fetched, Error>) -> Action {
        self.state = State::Done;
        Action::Done(result)
    }

    /// Tries to take the lock.
    fn lock(&mut self, current: Option<Fetched>) -> Action {
        let owner = owner_id();
        let cmd = self.spec.lock(&owner);
        self.state = State::Locking { owner, current };
        Action::Run(cmd)
    }

    /// Another process holds the lock. Its lock expires after lock_ttl at the latest
    /// (LOCK_SCRIPT cuts longer ones down), then one of the waiters takes it; a holder that
    /// keeps it half the budget is taken over; no call waits longer than the budget in all.
    fn held_by(&mut self, holder: String, now: Instant) -> Action {
        if self.seen.as_ref().is_none_or(|(h, _)| *h != holder) {
            self.seen = Some((holder.clone(), now));
        }
        let since = self.seen.as_ref().map_or(now, |(_, at)| *at);
        match on_held(now - self.started, now - since, self.spec.max_wait) {
            OnHeld::Wait => self.sleep(now),
            OnHeld::TakeOver => {
                let owner = owner_id();
                let cmd = self.spec.take_over(&holder, &owner);
                self.state = State::TakingOver {
                    owner,
                    held: now - since,
                };
                Action::Run(cmd)
            }
            OnHeld::GiveUp => {
                let e = StoreError(format!(
                    "no value appeared in {:?} while other processes held the lock",
                    now - self.started
                ));
                self.unshared(&e, now)
            }
        }
    }

    /// A pause before the next poll: 5 ms doubling to 100 ms, within the budget.
    fn sleep(&mut self, now: Instant) -> Action {
        let left = self.spec.max_wait.saturating_sub(now - self.started);
        let pause = self.pause.min(left).max(Duration::from_millis(1));
        self.pause = (self.pause * 2).min(Duration::from_millis(100));
        self.state = State::Sleeping;
        Action::Sleep(pause)
    }

    /// This process holds the lock as `owner`: reads again before fetching.
    fn check(&mut self, owner: String) -> Action {
        self.state = State::Checking { owner };
        Action::Run(self.spec.read())
    }

    /// Redis failed: fetches without the store.
    fn unshared(&mut self, error: &StoreError, now: Instant) -> Action {
        self.spec.warn(error, "fetching it in this process");
        self.fetch(None, None, now)
    }

    fn fetch(&mut self, owner: Option<String>, fetched_at_us: Option<u64>, now: Instant) -> Action {
        self.state = State::Fetching {
            owner,
            fetched_at_us,
            clock: now,
        };
        Action::Fetch(self.force)
    }

    /// Writes `fetched` (fetched at Redis time `fetched_at_us`, `took` ago) unless a newer
    /// value is there.
    fn write(
        &mut self,
        owner: String,
        fetched_at_us: u64,
        fetched: Fetched,
        took: Duration,
    ) -> Action {
        let lifetime = lifetime_of(fetched.expires_in);
        let left = lifetime.saturating_sub(took);
        let ttl_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return self.release(owner, Ok(fetched));
        }
        let lifetime_us = u64::try_from(lifetime.as_micros()).unwrap_or(u64::MAX);
        let value = Stored {
            token: fetched.token.expose().to_owned(),
            fetched_at_us,
            expires_at_us: fetched_at_us.saturating_add(lifetime_us),
            lifetime_s: lifetime.as_secs(),
        };
        let Ok(json) = serde_json::to_string(&value) else {
            return self.release(owner, Ok(fetched));
        };
        let mut cmd = eval(WRITE_SCRIPT, &self.spec.key);
        cmd.arg(&json)
            .arg(fetched_at_us)
            .arg(ttl_ms)
            .arg(FUTURE_TOLERANCE_US);
        self.state = State::Writing {
            owner,
            fetched,
            left,
        };
        Action::Run(cmd)
    }

    /// Releases the lock, then `result` is the outcome.
    fn release(&mut self, owner: String, result: Result<Fetched, Error>) -> Action {
        let cmd = self.spec.release(&owner);
        self.state = State::Releasing { owner, result };
        Action::Run(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(token: &str, fetched_at_us: u64) -> Stored {
        Stored {
            token: token.to_owned(),
            fetched_at_us,
            expires_at_us: fetched_at_us + 7_200_000_000,
            lifetime_s: 7200,
        }
    }

    #[test]
    fn only_plausible_values_are_ours() {
        let now = 1_700_000_000_000_000;
        assert!(plausible(&stored("TOKEN_1-a", now - 5), 7_000_000, now));
        // An invalidated value (empty token) is ours too: it keeps older tokens out.
        assert!(plausible(&stored("", now), 7_000_000, now));
        assert!(plausible(&stored("T", now + FUTURE_TOLERANCE_US), 1, now));
        // No TTL (-1), no key (-2), from the future, not a token.
        assert!(!plausible(&stored("T", now), -1, now));
        assert!(!plausible(&stored("T", now), -2, now));
        assert!(!plausible(
            &stored("T", now + FUTURE_TOLERANCE_US + 1),
            1,
            now
        ));
        assert!(!plausible(&stored("T", 4_102_444_800_000_000), 1, now));
        assert!(!plausible(&stored(&"T".repeat(513), now), 1, now));
        assert!(!plausible(&stored("has space", now), 1, now));
    }

    #[test]
    fn only_a_newer_value_of_ours_blocks_a_write() {
        let now = 1_700_000_000_000_000;
        assert!(blocks_writes(now, 1000, now - 1, now));
        assert!(blocks_writes(now - 1, 1000, now - 1, now));
        assert!(!blocks_writes(now - 2, 1000, now - 1, now));
        // Without TTL, or from Redis's future: not ours, overwritten.
        assert!(!blocks_writes(now, -1, now - 1, now));
        assert!(!blocks_writes(4_102_444_800_000_000, 1000, now - 1, now));
    }

    #[test]
    fn a_holder_gets_half_the_budget_and_the_budget_is_never_exceeded() {
        let ms = Duration::from_millis;
        let budget = ms(1000);
        assert_eq!(on_held(ms(0), ms(0), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(499), ms(499), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(500), ms(500), budget), OnHeld::TakeOver);
        // Another holder took over after the first: it gets its own half, within the budget.
        assert_eq!(on_held(ms(700), ms(200), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(999), ms(499), budget), OnHeld::Wait);
        assert_eq!(on_held(ms(1000), ms(500), budget), OnHeld::GiveUp);
        assert_eq!(on_held(ms(1000), ms(0), budget), OnHeld::GiveUp);
    }

    #[test]
    fn waits_are_bounded_by_the_lock_ttl_and_the_client_timeout() {
        let s = Duration::from_secs;
        assert_eq!(wait_budget(s(15), s(30)), s(15));
        assert_eq!(wait_budget(s(600), s(1)), s(1));
    }

    #[test]
    fn owner_ids_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| owner_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    // The step machine, driven by hand: no socket, no clock (`at(ms)` is a moment of the
    // test's own), replies written as Redis would send them.

    /// Redis time of the replies: 2023-11-14 in microseconds.
    const NOW_US: u64 = 1_700_000_000_000_000;

    fn spec(lock_ttl_ms: u64) -> SlotSpec {
        // Nothing is connected: the machine does no I/O.
        let store = RedisStore::builder("redis://127.0.0.1:1/")
            .lock_ttl(Duration::from_millis(lock_ttl_ms))
            .build()
            .unwrap();
        store.spec("wx1", "access_token", "access token").unwrap()
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    /// A reply of `READ_SCRIPT`: the value (JSON), its PTTL and Redis's time.
    fn read_reply(value: Option<&Stored>, pttl_ms: i64) -> Input {
        let value = value.map_or(Value::Nil, |v| bulk(&serde_json::to_string(v).unwrap()));
        let secs = (NOW_US / 1_000_000).to_string();
        let micros = (NOW_US % 1_000_000).to_string();
        Input::Reply(Ok(Value::Array(vec![
            value,
            Value::Int(pttl_ms),
            bulk(&secs),
            bulk(&micros),
        ])))
    }

    fn int(n: i64) -> Input {
        Input::Reply(Ok(Value::Int(n)))
    }

    /// A reply of `LOCK_SCRIPT`: taken (1) or held, with the holder's id.
    fn lock_reply(taken: bool, owner: &str) -> Input {
        Input::Reply(Ok(Value::Array(vec![
            Value::Int(i64::from(taken)),
            bulk(owner),
        ])))
    }

    fn down() -> Input {
        Input::Reply(Err(StoreError("connection refused".to_owned())))
    }

    /// The script an action runs and its arguments after the key.
    fn script(action: &Action) -> (&'static str, Vec<String>) {
        let Action::Run(cmd) = action else {
            panic!("expected a command");
        };
        let args: Vec<String> = cmd
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(args[0], "EVAL");
        let name = [
            ("read", READ_SCRIPT),
            ("lock", LOCK_SCRIPT),
            ("take-over", TAKE_OVER_SCRIPT),
            ("write", WRITE_SCRIPT),
            ("release", RELEASE_SCRIPT),
            ("invalidate", INVALIDATE_SCRIPT),
        ]
        .into_iter()
        .find(|(_, text)| *text == args[1])
        .map(|(name, _)| name)
        .expect("one of the store's scripts");
        assert_eq!(args[2], "1", "one key");
        (name, args[4..].to_vec())
    }

    fn done(action: Action) -> Result<Fetched, Error> {
        match action {
            Action::Done(result) => result,
            _ => panic!("expected the end"),
        }
    }

    fn fetched(token: &str) -> Input {
        Input::Fetched(Ok(Fetched {
            token: Secret::new(token),
            expires_in: Some(7200),
            remaining: None,
        }))
    }

    #[test]
    fn a_fresh_shared_value_is_used_without_a_lock() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, action) = Flight::start(&spec, None, false, t0);
        assert_eq!(script(&action).0, "read");
        let value = stored("SHARED", NOW_US - 1);
        let result = done(flight.step(read_reply(Some(&value), 7_000_000), t0));
        let got = result.unwrap();
        assert_eq!(got.token.expose(), "SHARED");
        assert_eq!(got.remaining, Some(Duration::from_millis(7_000_000)));
        assert!(flight.abandon().is_none(), "no lock was taken");
    }

    #[test]
    fn a_missing_value_is_locked_fetched_written_with_redis_time_and_released() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, true, t0);
        let lock = flight.step(read_reply(None, -2), t0);
        let (name, args) = script(&lock);
        assert_eq!((name, args[1].as_str()), ("lock", "1000"));
        let owner = args[0].clone();
        // Taken: the holder reads again (another process may have written meanwhile).
        assert_eq!(script(&flight.step(lock_reply(true, &owner), t0)).0, "read");
        let fetch = flight.step(read_reply(None, -2), t0);
        assert!(matches!(fetch, Action::Fetch(true)), "forced as asked");
        let write = flight.step(fetched("NEW"), t0 + Duration::from_secs(1));
        let (name, args) = script(&write);
        assert_eq!(name, "write");
        let value: Stored = serde_json::from_str(&args[0]).unwrap();
        assert_eq!(value.token, "NEW");
        assert_eq!(
            value.fetched_at_us, NOW_US,
            "Redis's time, when the fetch started"
        );
        assert_eq!(value.expires_at_us, NOW_US + 7_200_000_000);
        assert_eq!(args[1], NOW_US.to_string());
        // The TTL is what is left of the lifetime after the fetch took its second.
        assert_eq!(args[2], "7199000");
        assert_eq!(args[3], FUTURE_TOLERANCE_US.to_string());
        let release = flight.step(int(1), t0);
        assert_eq!(script(&release), ("release", vec![owner]));
        let got = done(flight.step(int(1), t0)).unwrap();
        assert_eq!(got.token.expose(), "NEW");
        assert_eq!(got.remaining, Some(Duration::from_secs(7199)));
        assert!(flight.abandon().is_none());
    }

    #[test]
    fn a_held_lock_is_polled_with_backoff_then_taken_over_at_half_the_budget() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        let mut pauses = Vec::new();
        let mut now = 0;
        loop {
            flight.step(read_reply(None, -2), at(now));
            match flight.step(lock_reply(false, "dead-holder"), at(now)) {
                Action::Sleep(pause) => {
                    pauses.push(pause.as_millis());
                    now += 100;
                    assert_eq!(script(&flight.step(Input::Slept, at(now))).0, "read");
                }
                action => {
                    let (name, args) = script(&action);
                    assert_eq!(name, "take-over");
                    assert_eq!(args[0], "dead-holder");
                    assert_eq!(args[2], "1000");
                    break;
                }
            }
        }
        assert_eq!(pauses, [5, 10, 20, 40, 80], "5 ms doubling to 100 ms");
        assert_eq!(now, 500, "taken over after half the lock TTL");
        // Taken over: this process holds the lock and reads again.
        assert_eq!(script(&flight.step(int(1), at(now))).0, "read");
        assert!(flight.abandon().is_some(), "it holds the lock");
    }

    #[test]
    fn a_lost_take_over_waits_for_the_new_holder_and_a_spent_budget_fetches_unshared() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        assert!(matches!(
            flight.step(lock_reply(false, "first"), t0),
            Action::Sleep(_)
        ));
        flight.step(Input::Slept, at(500));
        flight.step(read_reply(None, -2), at(500));
        let take_over = flight.step(lock_reply(false, "first"), at(500));
        assert_eq!(script(&take_over).0, "take-over");
        // Another waiter took it over first: wait for that one, which gets its own half.
        assert!(matches!(flight.step(int(0), at(500)), Action::Sleep(_)));
        flight.step(Input::Slept, at(999));
        flight.step(read_reply(None, -2), at(999));
        assert!(matches!(
            flight.step(lock_reply(false, "second"), at(999)),
            Action::Sleep(p) if p == Duration::from_millis(1)
        ));
        flight.step(Input::Slept, at(1000));
        flight.step(read_reply(None, -2), at(1000));
        // The whole budget is spent: fetched in this process, no lock to release.
        let fetch = flight.step(lock_reply(false, "second"), at(1000));
        assert!(matches!(fetch, Action::Fetch(false)));
        assert!(flight.abandon().is_none());
    }

    #[test]
    fn a_value_close_to_expiry_is_used_while_another_process_refreshes_it() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        let value = stored("OLD", NOW_US - 7_190_000_000);
        let lock = flight.step(read_reply(Some(&value), 10_000), t0);
        assert_eq!(script(&lock).0, "lock");
        let got = done(flight.step(lock_reply(false, "refresher"), t0)).unwrap();
        assert_eq!(got.token.expose(), "OLD");
    }

    #[test]
    fn the_token_to_avoid_and_values_not_ours_are_not_used() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let rejected = Secret::new("REJECTED");
        let (mut flight, _) = Flight::start(&spec, Some(&rejected), false, t0);
        let value = stored("REJECTED", NOW_US);
        assert_eq!(
            script(&flight.step(read_reply(Some(&value), 7_000_000), t0)).0,
            "lock"
        );
        // Without a TTL, invalidated, or from the future: not used either.
        for (value, pttl) in [
            (stored("T", NOW_US), -1),
            (stored("", NOW_US), 7_000_000),
            (stored("T", NOW_US + FUTURE_TOLERANCE_US + 1), 7_000_000),
        ] {
            let (mut flight, _) = Flight::start(&spec, None, false, t0);
            assert_eq!(
                script(&flight.step(read_reply(Some(&value), pttl), t0)).0,
                "lock"
            );
        }
    }

    #[test]
    fn redis_failing_before_the_lock_means_a_fetch_in_this_process() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        assert!(matches!(flight.step(down(), t0), Action::Fetch(false)));
        let got = done(flight.step(fetched("LOCAL"), t0)).unwrap();
        assert_eq!(got.token.expose(), "LOCAL");
        // While Redis rests (it failed less than `retry_after` ago), it is not asked at all.
        let _ = spec
            .store
            .settle::<()>(Err(std::io::Error::other("down").into()));
        assert!(spec.store.resting());
        let (_, action) = Flight::start(&spec, None, true, t0);
        assert!(matches!(action, Action::Fetch(true)));
        assert!(spec.invalidation(&Secret::new("T")).is_none());
    }

    #[test]
    fn a_holder_whose_redis_fails_uses_its_fetch_and_still_releases() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(lock_reply(true, "me"), t0);
        // The holder's read fails: fetched, not written, the lock released.
        assert!(matches!(flight.step(down(), t0), Action::Fetch(false)));
        assert_eq!(script(&flight.step(fetched("LOCAL"), t0)).0, "release");
        assert_eq!(
            done(flight.step(down(), t0)).unwrap().token.expose(),
            "LOCAL"
        );

        // The write fails: the fetched token is used, the lock released.
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(lock_reply(true, "me"), t0);
        flight.step(read_reply(None, -2), t0);
        assert_eq!(script(&flight.step(fetched("MINE"), t0)).0, "write");
        assert_eq!(script(&flight.step(down(), t0)).0, "release");
        assert_eq!(
            done(flight.step(int(1), t0)).unwrap().token.expose(),
            "MINE"
        );
    }

    #[test]
    fn a_failed_fetch_releases_the_lock_and_is_the_outcome() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(lock_reply(true, "me"), t0);
        flight.step(read_reply(None, -2), t0);
        let failed = Input::Fetched(Err(Error::Config("no".to_owned())));
        assert_eq!(script(&flight.step(failed, t0)).0, "release");
        assert!(done(flight.step(int(1), t0)).is_err());
    }

    #[test]
    fn a_refused_write_means_the_newer_shared_value_is_used() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(lock_reply(true, "me"), t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(fetched("OLDER"), t0);
        assert_eq!(script(&flight.step(int(0), t0)).0, "read");
        let newer = stored("NEWER", NOW_US);
        let release = flight.step(read_reply(Some(&newer), 7_000_000), t0);
        assert_eq!(script(&release).0, "release");
        assert_eq!(
            done(flight.step(int(1), t0)).unwrap().token.expose(),
            "NEWER"
        );
    }

    #[test]
    fn a_holder_that_finds_a_fresh_value_uses_it_without_fetching() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        let owner = script(&flight.step(read_reply(None, -2), t0)).1[0].clone();
        flight.step(lock_reply(true, &owner), t0);
        let value = stored("JUST-WRITTEN", NOW_US);
        let release = flight.step(read_reply(Some(&value), 7_200_000), t0);
        assert_eq!(script(&release), ("release", vec![owner]));
        let got = done(flight.step(int(1), t0)).unwrap();
        assert_eq!(got.token.expose(), "JUST-WRITTEN");
    }

    #[test]
    fn a_reply_of_another_shape_is_an_error_that_does_not_show_it() {
        let spec = spec(1000);
        let weird = Input::Reply(Ok(Value::Array(vec![bulk("SECRET-TOKEN-IN-REPLY")])));
        let Err(e) = spec.parse_read(match weird {
            Input::Reply(r) => r,
            _ => unreachable!(),
        }) else {
            panic!("not a read reply");
        };
        assert!(!e.0.contains("SECRET-TOKEN"), "{}", e.0);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        let weird = Input::Reply(Ok(Value::Array(vec![bulk("SECRET-TOKEN-IN-REPLY")])));
        assert!(matches!(flight.step(weird, t0), Action::Fetch(false)));
    }

    #[test]
    fn an_invalidation_compares_the_rejected_token() {
        let spec = spec(1000);
        let cmd = spec.invalidation(&Secret::new("REJECTED")).unwrap();
        assert_eq!(
            script(&Action::Run(cmd)),
            ("invalidate", vec!["REJECTED".to_owned()])
        );
    }

    #[test]
    fn a_flight_abandoned_while_it_holds_the_lock_releases_it() {
        let spec = spec(1000);
        let t0 = Instant::now();
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        let owner = script(&flight.step(read_reply(None, -2), t0)).1[0].clone();
        flight.step(lock_reply(true, &owner), t0);
        assert!(matches!(
            flight.step(read_reply(None, -2), t0),
            Action::Fetch(false)
        ));
        // The fetch panicked, or the future was dropped: its driver releases the lock.
        let release = flight.abandon().expect("it holds the lock");
        assert_eq!(script(&Action::Run(release)), ("release", vec![owner]));
        assert!(flight.abandon().is_none(), "released once");
        // A waiter holds nothing.
        let (mut flight, _) = Flight::start(&spec, None, false, t0);
        flight.step(read_reply(None, -2), t0);
        flight.step(lock_reply(false, "other"), t0);
        assert!(flight.abandon().is_none());
    }
}
