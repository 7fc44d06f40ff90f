//! Where pushed events go: the sending end of the delivery thread's queue (`events.rs` starts the
//! thread and builds the messages), the last message pushed (for a re-push), how many of the
//! callback's next answers come too late (a fault), and when each card's last stock reminder
//! was pushed.

use std::collections::HashMap;
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
}
