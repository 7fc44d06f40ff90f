//! The token and ticket cache as a state machine, shared by the blocking cache (which waits on
//! a `Condvar`) and the async one (which waits on a `tokio::sync::Notify`).
//!
//! A caller asks [`Cell::decide`] what to do: [`Decision::Use`] a value, [`Decision::Fail`] at
//! once, [`Decision::Wait`] for the fetch under way (and ask again when it finishes), or
//! [`Decision::Lead`]: fetch, as the only caller doing so. The leader makes its fetches through
//! a [`Lead`], which decides whether a forced refresh follows, records the outcome, wakes the
//! waiters (even if the leader panics or, in async code, is cancelled) and says what the leader
//! returns.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::secret::Secret;
use crate::token::{Fetched, implausible_token, lifetime_of, may_fetch, panicked, refresh_margin};

#[derive(Debug)]
pub(crate) struct CachedToken {
    pub(crate) value: Secret,
    pub(crate) refresh_at: Instant,
    pub(crate) expires_at: Instant,
}

impl CachedToken {
    pub(crate) fn new(fetched: &Fetched, fetched_at: Instant) -> Self {
        let lifetime = lifetime_of(fetched.expires_in);
        let left = fetched.remaining.map_or(lifetime, |r| r.min(lifetime));
        // The lifetime is at most a day, so this cannot overflow; stay panic-free regardless.
        let expires_at = fetched_at.checked_add(left).unwrap_or(fetched_at);
        let refresh_at = expires_at
            .checked_sub(refresh_margin(lifetime))
            .unwrap_or(fetched_at);
        CachedToken {
            value: fetched.token.clone(),
            refresh_at,
            expires_at,
        }
    }

    /// Valid now and not the one to avoid.
    pub(crate) fn usable(&self, now: Instant, avoid: Option<&Secret>) -> bool {
        now < self.expires_at && avoid != Some(&self.value)
    }
}

/// What a caller of the cache does next.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Use this value.
    Use(Secret),
    /// Fail with this error (the fetch waited for failed, or fetches are paused).
    Fail(Error),
    /// Another caller is fetching: wait until it finishes, then decide again.
    Wait,
    /// Fetch, as the only caller doing so, through a [`Lead`].
    Lead,
}

/// The state of one cache.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) token: Option<CachedToken>,
    /// A caller is fetching.
    fetching: bool,
    /// Number of fetches finished.
    generation: u64,
    /// The outcome of the last finished fetch.
    last: Option<Result<Secret, Error>>,
    /// When a `force_refresh` fetch was last started.
    last_forced: Option<Instant>,
    /// Blocked callers (the blocking driver counts them, so that a test knows they all wait).
    pub(crate) waiting: usize,
    /// Failed fetches in a row, and when the last one finished.
    failures: u32,
    failed_at: Option<Instant>,
}

/// Where a caller stands: the generation it started waiting in, if it waited.
#[derive(Debug, Default)]
pub(crate) struct Waiter(Option<u64>);

/// How a fetch ended, for [`State::finish`].
enum Outcome {
    Fetched(Result<Fetched, Error>),
    /// The leader panicked outside the fetch (the fetch's own panics are caught as errors).
    Panicked,
    /// The leader went away without finishing (an async task cancelled mid-fetch): nothing is
    /// recorded, and a waiter takes over.
    Abandoned,
}

impl State {
    fn decide(
        &mut self,
        now: Instant,
        avoid: Option<&Secret>,
        pauses: bool,
        waiter: &mut Waiter,
    ) -> Decision {
        let finished_while_waiting = waiter.0.is_some_and(|g| g != self.generation);
        if let Some(token) = self.token.as_ref().filter(|t| t.usable(now, avoid)) {
            // Fresh, or someone is refreshing it, or a fetch we waited for has failed and this
            // one is still valid.
            if now < token.refresh_at || self.fetching || finished_while_waiting {
                return Decision::Use(token.value.clone());
            }
        }
        if finished_while_waiting {
            // Share the outcome of the fetch we waited for.
            match &self.last {
                Some(Err(e)) => return Decision::Fail(e.clone()),
                Some(Ok(token)) if avoid != Some(token) => return Decision::Use(token.clone()),
                // It produced the token this caller must avoid: fetch once more itself (or wait
                // for the fetch under way).
                _ => {}
            }
        }
        if !self.fetching && pauses && !may_fetch(self.failures, self.failed_at, now) {
            // Failed fetches pause the next ones: the valid token if there is one, else the
            // last fetch's error at once.
            if let Some(token) = self.token.as_ref().filter(|t| t.usable(now, avoid)) {
                return Decision::Use(token.value.clone());
            }
            if let Some(Err(e)) = &self.last {
                return Decision::Fail(e.clone());
            }
        }
        if self.fetching {
            waiter.0 = Some(self.generation);
            return Decision::Wait;
        }
        self.fetching = true;
        Decision::Lead
    }

    fn finish(&mut self, outcome: Outcome, now: Instant, what: &str) {
        self.fetching = false;
        let last = match outcome {
            Outcome::Abandoned => return,
            Outcome::Fetched(Ok(fetched)) => {
                self.token = Some(CachedToken::new(&fetched, now));
                Ok(fetched.token)
            }
            Outcome::Fetched(Err(e)) => Err(e),
            Outcome::Panicked => Err(panicked(what)),
        };
        self.generation = self.generation.wrapping_add(1);
        if last.is_ok() {
            self.failures = 0;
            self.failed_at = None;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.failed_at = Some(now);
        }
        self.last = Some(last);
    }
}

/// One cache: its state and its settings.
#[derive(Debug)]
pub(crate) struct Cell {
    state: Mutex<State>,
    /// Least time between two forced refreshes.
    force_interval: Duration,
    /// What is cached, for messages.
    pub(crate) what: &'static str,
    /// Whether failed fetches pause the next ones ([`crate::token::failure_pause`]).
    pauses: bool,
}

impl Cell {
    /// A cache of access tokens: forced refreshes at most every `force_interval`, failed
    /// fetches pausing the next ones.
    pub(crate) fn new(force_interval: Duration) -> Self {
        Cell {
            state: Mutex::new(State::default()),
            force_interval,
            what: "access token",
            pauses: true,
        }
    }

    /// A cache of the card api_ticket: the same caching, no forced refreshes, no pauses (the
    /// ticket is fetched by an ordinary call, whose token has them).
    pub(crate) fn for_ticket() -> Self {
        Cell {
            what: "api_ticket",
            pauses: false,
            ..Cell::new(Duration::MAX)
        }
    }

    /// The same cache, saying `what` it caches in errors.
    #[cfg(feature = "redis")]
    pub(crate) fn named(mut self, what: &'static str) -> Self {
        self.what = what;
        self
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the state inconsistent: every update is
        // a plain field assignment.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the caller does now, given the locked `state`. With [`Decision::Lead`] the caller
    /// must go on with [`Cell::lead`].
    pub(crate) fn decide(
        &self,
        state: &mut State,
        avoid: Option<&Secret>,
        waiter: &mut Waiter,
    ) -> Decision {
        state.decide(Instant::now(), avoid, self.pauses, waiter)
    }

    /// The cached value, if any (valid or not), for redaction.
    pub(crate) fn peek(&self) -> Option<Secret> {
        self.lock().token.as_ref().map(|t| t.value.clone())
    }

    /// Drops `rejected` if it is still the cached value: a caller rejected with an old value
    /// does not throw away the fresh one another caller just fetched.
    pub(crate) fn forget(&self, rejected: &Secret) {
        let mut state = self.lock();
        if state.token.as_ref().is_some_and(|t| t.value == *rejected) {
            state.token = None;
        }
    }

    /// Starts the fetch a [`Decision::Lead`] asked for; `wake` wakes the waiters when it ends.
    pub(crate) fn lead<'a>(
        &'a self,
        avoid: Option<&'a Secret>,
        allow_force: bool,
        wake: &'a (dyn Fn() + Sync),
    ) -> Lead<'a> {
        Lead {
            cell: self,
            avoid,
            allow_force,
            wake,
            done: false,
        }
    }

    /// Whether a forced refresh may be made now; if so, records it.
    fn take_force_permit(&self) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let allowed = state
            .last_forced
            .is_none_or(|at| now.duration_since(at) >= self.force_interval);
        if allowed {
            state.last_forced = Some(now);
        }
        allowed
    }

    /// A fetched value, checked before it is cached or written to a shared store.
    pub(crate) fn checked(&self, fetched: Result<Fetched, Error>) -> Result<Fetched, Error> {
        let fetched = fetched?;
        match implausible_token(fetched.token.expose()) {
            None => Ok(fetched),
            Some(why) => Err(Error::Config(format!(
                "the fetched {} is not a plausible one: {why}",
                self.what
            ))),
        }
    }
}

/// The fetch of the one caller that got [`Decision::Lead`].
///
/// Dropped without [`Lead::finish`] (a panic, a cancelled task), it still clears the fetch and
/// wakes the waiters, so that none is left waiting.
pub(crate) struct Lead<'a> {
    cell: &'a Cell,
    avoid: Option<&'a Secret>,
    allow_force: bool,
    wake: &'a (dyn Fn() + Sync),
    done: bool,
}

impl Lead<'_> {
    /// After the first fetch: whether to fetch once more with `force_refresh` (it handed out
    /// the value the caller must avoid, forcing is allowed and not made in the last interval).
    pub(crate) fn force_after(&self, first: &Result<Fetched, Error>) -> bool {
        match first {
            Ok(fetched) => {
                self.allow_force
                    && self.avoid == Some(&fetched.token)
                    && self.cell.take_force_permit()
            }
            Err(_) => false,
        }
    }

    /// Records the fetch's result, wakes the waiters and returns what the leader returns: the
    /// fetched value, or after a failed refresh ahead of expiry the still valid current one,
    /// else the error.
    pub(crate) fn finish(mut self, result: Result<Fetched, Error>) -> Result<Secret, Error> {
        self.done = true;
        let outcome = match &result {
            Ok(fetched) => Ok(fetched.token.clone()),
            Err(e) => Err(e.clone()),
        };
        self.end(Outcome::Fetched(result));
        match outcome {
            Ok(token) => Ok(token),
            Err(e) => {
                let state = self.cell.lock();
                match state.token.as_ref() {
                    Some(t) if t.usable(Instant::now(), self.avoid) => Ok(t.value.clone()),
                    _ => Err(e),
                }
            }
        }
    }

    fn end(&self, outcome: Outcome) {
        let now = Instant::now();
        self.cell.lock().finish(outcome, now, self.cell.what);
        (self.wake)();
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.end(if std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Abandoned
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(token: &str, expires_in: i64) -> Fetched {
        Fetched {
            token: Secret::new(token),
            expires_in: Some(expires_in),
            remaining: None,
        }
    }

    fn decide(cell: &Cell, avoid: Option<&Secret>, waiter: &mut Waiter) -> Decision {
        let mut state = cell.lock();
        cell.decide(&mut state, avoid, waiter)
    }

    const NOWAKE: &(dyn Fn() + Sync) = &|| {};

    #[test]
    fn the_first_caller_leads_the_next_wait_and_share_the_result() {
        let cell = Cell::new(Duration::from_secs(60));
        let (mut a, mut b) = (Waiter::default(), Waiter::default());
        assert!(matches!(decide(&cell, None, &mut a), Decision::Lead));
        assert!(matches!(decide(&cell, None, &mut b), Decision::Wait));
        let lead = cell.lead(None, false, NOWAKE);
        assert_eq!(lead.finish(Ok(fetched("A", 7200))).unwrap().expose(), "A");
        assert!(matches!(decide(&cell, None, &mut b), Decision::Use(t) if t.expose() == "A"));
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Use(_)
        ));
    }

    #[test]
    fn a_failure_is_shared_with_the_waiters_and_pauses_the_next_fetches() {
        let cell = Cell::new(Duration::from_secs(60));
        let mut waiter = Waiter::default();
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Lead
        ));
        assert!(matches!(decide(&cell, None, &mut waiter), Decision::Wait));
        let err = cell
            .lead(None, false, NOWAKE)
            .finish(Err(Error::Config("down".into())));
        assert!(err.is_err());
        assert!(matches!(
            decide(&cell, None, &mut waiter),
            Decision::Fail(_)
        ));
        // One failure: the next caller may fetch at once; after the second, a pause.
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Lead
        ));
        let _ = cell
            .lead(None, false, NOWAKE)
            .finish(Err(Error::Config("down".into())));
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Fail(_)
        ));
    }

    #[test]
    fn a_rejected_value_is_avoided_and_forced_once_per_interval() {
        let cell = Cell::new(Duration::from_secs(60));
        decide(&cell, None, &mut Waiter::default());
        let a = cell
            .lead(None, true, NOWAKE)
            .finish(Ok(fetched("A", 7200)))
            .unwrap();
        cell.forget(&a);
        assert!(matches!(
            decide(&cell, Some(&a), &mut Waiter::default()),
            Decision::Lead
        ));
        let lead = cell.lead(Some(&a), true, NOWAKE);
        let first = Ok(fetched("A", 7200));
        assert!(lead.force_after(&first));
        assert_eq!(lead.finish(Ok(fetched("B", 7200))).unwrap().expose(), "B");
        // Within the interval: no second forced refresh.
        decide(&cell, Some(&a), &mut Waiter::default());
        let lead = cell.lead(Some(&a), true, NOWAKE);
        assert!(!lead.force_after(&Ok(fetched("A", 7200))));
        drop(lead);
        // Not allowed at all (the classic source): never forced.
        let classic = Cell::new(Duration::ZERO);
        decide(&classic, Some(&a), &mut Waiter::default());
        assert!(
            !classic
                .lead(Some(&a), false, NOWAKE)
                .force_after(&Ok(fetched("A", 7200)))
        );
    }

    #[test]
    fn forget_keeps_a_value_fetched_by_another_caller() {
        let cell = Cell::new(Duration::from_secs(60));
        decide(&cell, None, &mut Waiter::default());
        cell.lead(None, false, NOWAKE)
            .finish(Ok(fetched("B", 7200)))
            .unwrap();
        cell.forget(&Secret::new("A"));
        assert_eq!(cell.peek().unwrap().expose(), "B");
    }

    #[test]
    fn a_failed_refresh_ahead_of_expiry_keeps_the_valid_value() {
        let cell = Cell::new(Duration::from_secs(60));
        decide(&cell, None, &mut Waiter::default());
        cell.lead(None, false, NOWAKE)
            .finish(Ok(fetched("A", 3600)))
            .unwrap();
        cell.lock().token.as_mut().unwrap().refresh_at = Instant::now();
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Lead
        ));
        // While it refreshes, the others use the current value.
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Use(_)
        ));
        let kept = cell
            .lead(None, false, NOWAKE)
            .finish(Err(Error::Config("down".into())));
        assert_eq!(kept.unwrap().expose(), "A");
    }

    #[test]
    fn an_abandoned_lead_hands_over_to_a_waiter_and_wakes_it() {
        let cell = Cell::new(Duration::from_secs(60));
        let mut waiter = Waiter::default();
        decide(&cell, None, &mut Waiter::default());
        assert!(matches!(decide(&cell, None, &mut waiter), Decision::Wait));
        let woken = std::sync::atomic::AtomicBool::new(false);
        let wake = || woken.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(cell.lead(None, false, &wake));
        assert!(woken.load(std::sync::atomic::Ordering::SeqCst));
        // Nothing was recorded: the waiter fetches itself, no error is shared.
        assert!(matches!(decide(&cell, None, &mut waiter), Decision::Lead));
    }

    #[test]
    fn a_zero_lifetime_is_used_once() {
        let cell = Cell::new(Duration::from_secs(60));
        decide(&cell, None, &mut Waiter::default());
        cell.lead(None, false, NOWAKE)
            .finish(Ok(fetched("A", 0)))
            .unwrap();
        assert!(matches!(
            decide(&cell, None, &mut Waiter::default()),
            Decision::Lead
        ));
    }

    #[test]
    fn implausible_values_are_refused() {
        let cell = Cell::for_ticket();
        assert!(cell.checked(Ok(fetched("ok-value", 7200))).is_ok());
        let err = cell.checked(Ok(fetched("has space", 7200))).unwrap_err();
        assert!(err.to_string().contains("api_ticket"), "{err}");
    }
}
