//! What the HTTP handlers, the controls, the console and the `Sandbox` handle share: the state
//! under its lock, the faults armed, the call counts and the last calls, and where the state is
//! saved. Below the server and the modules it routes to, so that none of them imports another
//! back.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use super::Fault;
use super::state::State;

/// How many of the last API calls the console shows.
const RECENT_CALLS: usize = 50;

/// What the handlers and the handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    calls: Mutex<HashMap<String, u64>>,
    /// The last [`RECENT_CALLS`] API calls and their errcode, newest last, for the console.
    recent: Mutex<VecDeque<(String, i64)>>,
    pub(crate) connections: AtomicU64,
    requests: AtomicU64,
    /// Where the state is saved ([`super::saved`]), if anywhere.
    state_file: Option<std::path::PathBuf>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave the maps half-changed in a way that matters
    // more than refusing service forever would.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(state: State, state_file: Option<std::path::PathBuf>) -> Shared {
        Shared {
            state: Mutex::new(state),
            faults: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_CALLS)),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            state_file,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Writes the state to its file, if it has one.
    pub(crate) fn save_state(&self) -> Result<(), String> {
        match &self.state_file {
            Some(path) => super::saved::save(path, &self.state()),
            None => Ok(()),
        }
    }

    pub(crate) fn push_fault(&self, path: &str, fault: Fault, times: usize) {
        let mut faults = lock(&self.faults);
        let queue = faults.entry(normalize(path).to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// The next fault for `path`: its own queue first, then the `*` queue.
    pub(crate) fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        for key in [path, "*"] {
            if let Some(queue) = faults.get_mut(key) {
                if let Some(fault) = queue.pop_front() {
                    if queue.is_empty() {
                        faults.remove(key);
                    }
                    return Some(fault);
                }
            }
        }
        None
    }

    pub(crate) fn count(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.calls).entry(path.to_owned()).or_default() += 1;
    }

    /// Remembers an API call's outcome for the console (bounded: the oldest is forgotten).
    pub(crate) fn remember(&self, path: &str, answer: &Value) {
        let errcode = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT_CALLS {
            recent.pop_front();
        }
        recent.push_back((path.to_owned(), errcode));
    }

    /// For the console: the faults armed per path, the calls per path (both sorted by path)
    /// and the last calls with their errcode.
    #[allow(clippy::type_complexity)]
    pub(crate) fn console_counters(
        &self,
    ) -> (Vec<(String, usize)>, Vec<(String, u64)>, Vec<(String, i64)>) {
        let mut faults: Vec<(String, usize)> = lock(&self.faults)
            .iter()
            .map(|(path, queue)| (path.clone(), queue.len()))
            .collect();
        faults.sort();
        let mut calls: Vec<(String, u64)> = lock(&self.calls)
            .iter()
            .map(|(path, n)| (path.clone(), *n))
            .collect();
        calls.sort();
        let recent = lock(&self.recent).iter().cloned().collect();
        (faults, calls, recent)
    }

    pub(crate) fn calls(&self, path: &str) -> u64 {
        lock(&self.calls).get(normalize(path)).copied().unwrap_or(0)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// A path as the sandbox keys it: no leading slash.
pub(crate) fn normalize(path: &str) -> &str {
    path.trim().trim_start_matches('/')
}
