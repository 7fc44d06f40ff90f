//! Where pushed events go: the sending end of the delivery thread's queue (`events.rs` starts the
//! thread and builds the messages) and when each card's last stock reminder was pushed.

use std::collections::HashMap;
use std::sync::mpsc;

use crate::events::Message;

/// Where events go: nowhere until a callback is registered.
#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) sender: Option<mpsc::Sender<Message>>,
    /// When the last low-stock reminder of each card was pushed (sandbox clock).
    pub(crate) reminded: HashMap<String, i64>,
}
