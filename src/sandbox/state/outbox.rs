//! Where pushed events go: the sending end of the delivery thread's queue (`events.rs` starts the
//! thread and builds the messages), the last message pushed (for a re-push), how many of the
//! callback's next answers come too late (a fault), and when each card's last stock reminder
//! was pushed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, mpsc};

use crate::events::Message;

/// Where events go: nowhere until a callback is registered.
#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) sender: Option<mpsc::Sender<Message>>,
    /// The last message queued, for `Sandbox::repush_last_event` (state methods that push
    /// take `&self`, hence the lock).
    pub(crate) last: Mutex<Option<Message>>,
    /// How many of the callback's next answers count as too late (shared with the delivery
    /// thread, kept across registrations).
    pub(crate) late_answers: Arc<AtomicUsize>,
    /// When the last low-stock reminder of each card was pushed (sandbox clock).
    pub(crate) reminded: HashMap<String, i64>,
    /// The last deliveries, newest last (shared with the delivery thread; the console shows
    /// them).
    pub(crate) deliveries: Deliveries,
}

/// The last [`Deliveries::KEEP`] pushes and what the callback answered to each attempt.
#[derive(Clone, Default)]
pub(crate) struct Deliveries(Arc<Mutex<VecDeque<Delivery>>>);

impl Deliveries {
    /// How many deliveries are kept.
    pub(crate) const KEEP: usize = 50;

    pub(crate) fn record(&self, delivery: Delivery) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() == Self::KEEP {
            list.pop_front();
        }
        list.push_back(delivery);
    }

    pub(crate) fn list(&self) -> Vec<Delivery> {
        let list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().cloned().collect()
    }
}

/// One pushed message and the attempts to deliver it.
#[derive(Clone)]
pub(crate) struct Delivery {
    pub(crate) event: String,
    pub(crate) from: String,
    pub(crate) create_time: i64,
    pub(crate) attempts: Vec<Attempt>,
}

/// One POST of a push: the HTTP status and the start of the body the callback answered, or
/// why there was no answer; `late` when the late-answer fault counted it as too late.
#[derive(Clone)]
pub(crate) struct Attempt {
    pub(crate) status: Option<u16>,
    pub(crate) answer: String,
    pub(crate) late: bool,
}
