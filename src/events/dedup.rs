//! Handling each push once: [`Dedup`] and its stores (feature `events`; `RedisDedup` also
//! needs `redis`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{EventError, Message, clip};

/// How long a push is remembered unless [`Dedup::window`] says otherwise: 5 minutes (see the
/// [`Dedup`] for the reasoning).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// How many keys a [`MemoryDedup`] keeps unless [`MemoryDedup::with_capacity`] says
/// otherwise: 100,000, enough for 333 pushes a second over the default window. Full, such a
/// store has about 13 MB allocated (measured: 13.1 MB for the entries of its two tables; the
/// hash table keeps up to about twice the slots of its keys after many removals).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The longest window a store of this crate keeps a key (longer ones are cut to it): about ten
/// years, far beyond any reason, and within what Redis's `PX` and `Instant` accept.
const LONGEST_WINDOW: Duration = Duration::from_secs(10 * 366 * 86_400);

/// What identifies a push: a SHA-1 of `ToUserName`, `FromUserName`, `CreateTime`, the `Event`
/// name and `UserCardCode` (empty when the event has none), each length-prefixed so that no
/// two different pushes share a text. `Debug` and [`hex`](PushKey::hex) show the digest only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PushKey([u8; 20]);

impl PushKey {
    /// The key of a parsed message.
    pub fn of(message: &Message) -> PushKey {
        let fields = message.event.to_fields();
        PushKey::new(
            &message.to_user_name,
            &message.from_user_name,
            message.create_time,
            message.event.name(),
            fields.get("UserCardCode"),
        )
    }

    /// The key of a push with these header values, event name and card code.
    pub fn new(
        to_user_name: &str,
        from_user_name: &str,
        create_time: i64,
        event: &str,
        user_card_code: Option<&str>,
    ) -> PushKey {
        let mut hasher = sha1_smol::Sha1::new();
        let create_time = create_time.to_string();
        for part in [
            to_user_name,
            from_user_name,
            create_time.as_str(),
            event,
            user_card_code.unwrap_or(""),
        ] {
            hasher.update(&(part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        PushKey(hasher.digest().bytes())
    }

    /// The digest as 40 lowercase hex digits (how `RedisDedup` names its keys).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for PushKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushKey({})", self.hex())
    }
}

/// Where [`Dedup`] remembers the pushes it saw. Implement it for a store of your own (a
/// database table with a unique key, …).
pub trait DedupStore: Send + Sync {
    /// Records `key` for `window` and says whether it was new: `true` the first time, `false`
    /// while an earlier record of it lasts. Checking and recording must be one step (two
    /// instances asking at once: exactly one gets `true`).
    ///
    /// There is no error: a store that cannot answer decides itself, and documents, what a
    /// failure means (the stores of this crate treat the push as new and log a warning, so that
    /// no push is lost).
    fn first_seen(&self, key: &PushKey, window: Duration) -> bool;
}

impl<T: DedupStore + ?Sized> DedupStore for Arc<T> {
    fn first_seen(&self, key: &PushKey, window: Duration) -> bool {
        (**self).first_seen(key, window)
    }
}

/// Whether a push was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Seen {
    /// The first arrival: handle it.
    First,
    /// A repeat within the window (WeChat's retry, possibly at another instance): answer
    /// `success` and do nothing else.
    Repeat,
}

/// The de-duplication step, handling each push once across WeChat's retries and several
/// instances: a [`DedupStore`], the window and the optional max age. Cheap to clone (clones
/// share the store).
///
/// WeChat retries a push it got no answer to within 5 seconds, up to three times, and a retry
/// may reach another instance behind the load balancer. Pushed events carry no `MsgId`; WeChat
/// says to drop repeats by `FromUserName` + `CreateTime`. [`Dedup`] does that before a handler
/// acts: [`Dedup::check`] answers [`Seen::First`] for the first arrival of a push and
/// [`Seen::Repeat`] for the others within [the window](Dedup::window).
///
/// - **The key** ([`PushKey`]): `ToUserName`, `FromUserName`, `CreateTime`, the `Event` name
///   and the `UserCardCode` where the event has one, so that two events of one user in one
///   second (a card received and consumed at once, two codes received together) stay distinct.
///   Only a SHA-1 of these is kept (20 bytes, no openid in memory or in Redis).
/// - **The window** ([`DEFAULT_WINDOW`], 5 minutes): WeChat's last retry comes about 15–20 s
///   after the first push (three retries, each after 5 s without an answer, plus the time the
///   sending takes). A window of 5 minutes covers that with a wide margin for queues on
///   WeChat's side and for a load balancer's own retries, and still forgets a key long before
///   WeChat could send another push with the same `FromUserName`, `CreateTime`, event and code
///   (it cannot: a new push has a new `CreateTime` or another event). A longer window costs
///   memory (the in-memory store) or Redis keys, nothing else.
/// - **The stores** ([`DedupStore`]): [`MemoryDedup`] for one process, bounded in memory
///   ([`DEFAULT_CAPACITY`] keys unless set; the oldest key is forgotten first), and
///   `RedisDedup` (feature `redis`) shared by every instance: one `SET key 1 NX PX window`
///   per push.
/// - **Times** ([`Dedup::max_age`], opt-in): a push whose `CreateTime` is older than the max
///   age, or further than it ahead of now, is refused with [`EventError::ImplausibleTime`]
///   naming the element and value; a negative `CreateTime` is always refused (it is no Unix
///   time). A `CreateTime` that is not a number (`"abc"`, `""`) is refused when the message is
///   parsed ([`EventError::InvalidElement`]).
///
/// Answer WeChat within 5 s (`success`), and do slow work after answering (a queue, a thread):
/// de-duplication makes a retry harmless, a fast answer makes it rare.
///
/// ```
/// # #[cfg(feature = "events")]
/// # fn main() -> Result<(), wechat_card::events::EventError> {
/// use wechat_card::events::{Dedup, Message, Seen};
///
/// let dedup = Dedup::in_memory(); // or Dedup::new(RedisDedup::new(store)) on several instances
/// let xml = "<xml><ToUserName>gh_1</ToUserName><FromUserName>o-user</FromUserName>\
///     <CreateTime>1700000000</CreateTime><MsgType>event</MsgType>\
///     <Event>user_consume_card</Event><CardId>pCard</CardId>\
///     <UserCardCode>12312312</UserCardCode></xml>";
/// let message = Message::parse(xml)?;
/// assert_eq!(dedup.check(&message)?, Seen::First); // handle it
/// assert_eq!(dedup.check(&message)?, Seen::Repeat); // WeChat's retry: answer `success`, do nothing
/// # Ok(()) }
/// # #[cfg(not(feature = "events"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Dedup {
    store: Arc<dyn DedupStore>,
    window: Duration,
    max_age: Option<Duration>,
}

impl fmt::Debug for Dedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dedup")
            .field("window", &self.window)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Dedup {
    /// De-duplication on `store`, with the [`DEFAULT_WINDOW`] and no max age.
    pub fn new(store: impl DedupStore + 'static) -> Dedup {
        Dedup {
            store: Arc::new(store),
            window: DEFAULT_WINDOW,
            max_age: None,
        }
    }

    /// De-duplication in this process's memory ([`MemoryDedup::new`]): enough for a single
    /// instance; with several, use a shared store (`RedisDedup`, feature `redis`).
    pub fn in_memory() -> Dedup {
        Dedup::new(MemoryDedup::new())
    }

    /// How long a push is remembered ([`DEFAULT_WINDOW`] by default). Keep it above WeChat's
    /// retry span (about 20 s).
    pub fn window(mut self, window: Duration) -> Dedup {
        self.window = window;
        self
    }

    /// Refuses a push whose `CreateTime` is more than `max_age` before now, or more than
    /// `max_age` after now (a clock far off, a replayed or forged message), with
    /// [`EventError::ImplausibleTime`]. Off by default; when on, keep it above the window's
    /// reason (WeChat's retries) and the clock difference between WeChat and your servers, e.g.
    /// 10 minutes.
    pub fn max_age(mut self, max_age: Duration) -> Dedup {
        self.max_age = Some(max_age);
        self
    }

    /// The window.
    pub fn window_len(&self) -> Duration {
        self.window
    }

    /// Checks the push's time and records it: [`Seen::First`] the first time, [`Seen::Repeat`]
    /// within the window after. A refused time records nothing.
    pub fn check(&self, message: &Message) -> Result<Seen, EventError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.check_at(message, now)
    }

    /// [`check`](Dedup::check) with "now" given in Unix seconds (a test's clock, the
    /// sandbox's).
    pub fn check_at(&self, message: &Message, now: i64) -> Result<Seen, EventError> {
        self.check_time(message.create_time, now)?;
        Ok(
            if self.store.first_seen(&PushKey::of(message), self.window) {
                Seen::First
            } else {
                Seen::Repeat
            },
        )
    }

    fn check_time(&self, create_time: i64, now: i64) -> Result<(), EventError> {
        let refuse = |why: String| EventError::ImplausibleTime {
            element: "CreateTime".to_owned(),
            value: clip(&create_time.to_string()),
            why,
        };
        if create_time < 0 {
            return Err(refuse("negative, not a Unix time".to_owned()));
        }
        if let Some(max_age) = self.max_age {
            let max = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            let age = now.saturating_sub(create_time);
            if age > max {
                return Err(refuse(format!(
                    "{age} s old, more than the max age of {max} s (now is {now})"
                )));
            }
            let ahead = create_time.saturating_sub(now);
            if ahead > max {
                return Err(refuse(format!(
                    "{ahead} s ahead of now ({now}), more than the max age of {max} s"
                )));
            }
        }
        Ok(())
    }
}

/// Pushes remembered in this process's memory, bounded: at most
/// [`capacity`](MemoryDedup::capacity) keys (20 bytes each, with an expiry), kept in the order
/// they came; expired keys are dropped from the front, and when the store is full the oldest key
/// is forgotten before its window ends ([`evicted_early`](MemoryDedup::evicted_early) counts
/// those: if it grows, raise the capacity). Memory never grows past what `capacity` keys take.
pub struct MemoryDedup {
    capacity: usize,
    inner: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// Each key and when its record ends.
    seen: HashMap<PushKey, Instant>,
    /// The keys in the order they were recorded, with when each record ends; a key recorded
    /// again after its record ended is in here twice (the older entry then no longer matches
    /// `seen` and only leaves the queue).
    order: VecDeque<(PushKey, Instant)>,
    evicted_early: u64,
}

impl fmt::Debug for MemoryDedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedup")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryDedup {
    fn default() -> Self {
        MemoryDedup::new()
    }
}

impl MemoryDedup {
    /// A store of at most [`DEFAULT_CAPACITY`] keys.
    pub fn new() -> MemoryDedup {
        MemoryDedup::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` keys (at least 1). Size it as pushes per second times the
    /// window in seconds.
    pub fn with_capacity(capacity: usize) -> MemoryDedup {
        MemoryDedup {
            capacity: capacity.max(1),
            inner: Mutex::new(Memory::default()),
        }
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most keys it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many keys it holds now (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.memory().order.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys were forgotten before their window ended because the store was full.
    pub fn evicted_early(&self) -> u64 {
        self.memory().evicted_early
    }

    /// The bytes its two tables have allocated for entries (slots allocated times the size of
    /// an entry; the allocator's own overhead and the hash table's control bytes aside). Stays
    /// below a fixed multiple of the capacity, whatever the number of pushes.
    pub fn allocated_bytes(&self) -> usize {
        let memory = self.memory();
        memory.seen.capacity() * std::mem::size_of::<(PushKey, Instant)>()
            + memory.order.capacity() * std::mem::size_of::<(PushKey, Instant)>()
    }

    /// [`DedupStore::first_seen`] at `now`.
    pub(crate) fn first_seen_at(&self, key: &PushKey, window: Duration, now: Instant) -> bool {
        let mut memory = self.memory();
        let memory = &mut *memory;
        // Drop expired records from the front (the queue is in the order of recording; with one
        // window, also in the order of expiry).
        while let Some((front, ends)) = memory.order.front().copied() {
            if ends > now {
                break;
            }
            memory.order.pop_front();
            if memory.seen.get(&front) == Some(&ends) {
                memory.seen.remove(&front);
            }
        }
        if memory.seen.get(key).is_some_and(|ends| *ends > now) {
            return false;
        }
        while memory.order.len() >= self.capacity {
            let Some((front, ends)) = memory.order.pop_front() else {
                break;
            };
            if memory.seen.get(&front) == Some(&ends) {
                memory.seen.remove(&front);
                memory.evicted_early += 1;
            }
        }
        // Grow the queue by doubling, but never past the capacity (a plain push_back could
        // double it to almost twice the capacity).
        if memory.order.len() == memory.order.capacity() {
            let len = memory.order.len();
            memory
                .order
                .reserve_exact(len.max(16).min(self.capacity - len));
        }
        let ends = now
            .checked_add(window.min(LONGEST_WINDOW))
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(now);
        memory.seen.insert(*key, ends);
        memory.order.push_back((*key, ends));
        true
    }
}

impl DedupStore for MemoryDedup {
    fn first_seen(&self, key: &PushKey, window: Duration) -> bool {
        self.first_seen_at(key, window, Instant::now())
    }
}

#[cfg(feature = "redis")]
pub use redis_store::RedisDedup;

#[cfg(feature = "redis")]
mod redis_store {
    use std::fmt;
    use std::time::Duration;

    use super::{DedupStore, MemoryDedup, PushKey};
    use crate::store::RedisStore;

    /// Pushes remembered in Redis (features `events` and `redis`), shared by every instance
    /// that uses the same Redis and key prefix: one `SET <prefix>push:<key> 1 NX PX <window>`
    /// per push (the key is [`PushKey::hex`]); the instance whose `SET` succeeds handles it.
    ///
    /// It uses a [`RedisStore`]'s connection, prefix, timeout and `retry_after` (a clone of the
    /// store of the token cache shares its connection; build a second store for a connection of
    /// its own).
    ///
    /// **Redis down: the push is treated as new**, a warning is logged (target
    /// `wechat_card::store`, once per failure; Redis is then left alone for the store's
    /// `retry_after`), and meanwhile an in-memory record of this instance
    /// ([`MemoryDedup::new`]) still catches a retry that reaches the same instance. Treating
    /// it as new rather than failing is deliberate: a handler that refused the push would make
    /// WeChat retry it into the same outage, and after three retries WeChat drops it, so a
    /// lost push would be the likely outcome; a push handled twice is possible only when Redis
    /// is down *and* WeChat retries to another instance, which is today's behaviour without a
    /// store. A handler for which handling twice is worse than losing a push keeps its own
    /// idempotency record (a unique key in its database) as well.
    pub struct RedisDedup {
        store: RedisStore,
        local: MemoryDedup,
    }

    impl fmt::Debug for RedisDedup {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RedisDedup")
                .field("store", &self.store)
                .finish_non_exhaustive()
        }
    }

    impl RedisDedup {
        /// Pushes remembered in the Redis of `store`, under its prefix.
        pub fn new(store: RedisStore) -> RedisDedup {
            RedisDedup {
                store,
                local: MemoryDedup::new(),
            }
        }

        /// The Redis key of a push: `<prefix>push:<40 hex digits>`.
        pub fn key(&self, key: &PushKey) -> String {
            format!("{}push:{}", self.store.prefix(), key.hex())
        }
    }

    impl DedupStore for RedisDedup {
        fn first_seen(&self, key: &PushKey, window: Duration) -> bool {
            // A retry that reaches this instance again needs no round trip, and is still caught
            // while Redis is down.
            if !self.local.first_seen(key, window) {
                return false;
            }
            if self.store.resting() {
                return true;
            }
            let ms = u64::try_from(window.min(super::LONGEST_WINDOW).as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let name = self.key(key);
            let set = self.store.run(|con| {
                redis::cmd("SET")
                    .arg(&name)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query::<Option<String>>(con)
            });
            match set {
                Ok(answer) => answer.is_some(),
                Err(e) => {
                    self.store
                        .warn_for(&e, "push de-duplication", "the push is treated as new");
                    true
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> PushKey {
        PushKey::new(
            "gh_1",
            "o-user",
            1_700_000_000,
            "user_get_card",
            Some(&n.to_string()),
        )
    }

    #[test]
    fn keys_tell_events_of_one_second_apart() {
        let base = PushKey::new("gh", "o", 1, "user_get_card", Some("1"));
        assert_eq!(base, PushKey::new("gh", "o", 1, "user_get_card", Some("1")));
        for other in [
            PushKey::new("gh", "o", 1, "user_consume_card", Some("1")),
            PushKey::new("gh", "o", 1, "user_get_card", Some("2")),
            PushKey::new("gh", "o", 1, "user_get_card", None),
            PushKey::new("gh", "o", 2, "user_get_card", Some("1")),
            PushKey::new("gh", "o2", 1, "user_get_card", Some("1")),
            PushKey::new("gh2", "o", 1, "user_get_card", Some("1")),
            // Length prefixes: moving text between fields changes the key.
            PushKey::new("gh", "o1", 1, "user_get_card", Some("")),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(base.hex().len(), 40);
        assert!(!format!("{base:?}").contains("user_get_card"));
    }

    #[test]
    fn a_record_ends_with_its_window() {
        let store = MemoryDedup::with_capacity(10);
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        assert!(store.first_seen_at(&key(1), window, t0));
        assert!(!store.first_seen_at(&key(1), window, t0 + Duration::from_secs(59)));
        assert!(store.first_seen_at(&key(1), window, t0 + Duration::from_secs(60)));
        assert_eq!(store.evicted_early(), 0);
        // A window longer than any clock: cut to ten years, still remembered.
        assert!(store.first_seen_at(&key(2), Duration::MAX, t0));
        assert!(!store.first_seen_at(&key(2), Duration::MAX, t0 + Duration::from_secs(86_400)));
    }

    #[test]
    fn a_full_store_forgets_the_oldest_first() {
        let store = MemoryDedup::with_capacity(3);
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        for n in 0..4 {
            assert!(store.first_seen_at(&key(n), window, t0));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.evicted_early(), 1);
        // 0 was forgotten, 1..=3 are remembered.
        assert!(!store.first_seen_at(&key(3), window, t0));
        assert!(!store.first_seen_at(&key(1), window, t0));
        assert!(store.first_seen_at(&key(0), window, t0));
    }

    #[test]
    fn times_are_judged() {
        let dedup = Dedup::in_memory().max_age(Duration::from_secs(600));
        let now = 1_700_000_000;
        assert!(dedup.check_time(now, now).is_ok());
        assert!(dedup.check_time(now - 600, now).is_ok());
        assert!(dedup.check_time(now + 600, now).is_ok());
        for bad in [-5, 0, now - 601, now + 601, 99_999_999_999_999, i64::MIN] {
            let err = dedup.check_time(bad, now).unwrap_err();
            assert!(
                matches!(&err, EventError::ImplausibleTime { element, value, .. }
                    if element == "CreateTime" && *value == bad.to_string()),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            dedup.check_time(-5, now).unwrap_err().to_string(),
            "the message's <CreateTime> is -5: negative, not a Unix time"
        );
        // Extreme clocks given to check_at: refused, no overflow.
        assert!(dedup.check_time(i64::MAX, i64::MIN).is_err());
        assert!(dedup.check_time(0, i64::MAX).is_err());
        let forever = Dedup::in_memory().max_age(Duration::MAX);
        assert!(forever.check_time(i64::MAX, i64::MIN).is_ok());
        // Without a max age only a negative time is refused.
        let lax = Dedup::in_memory();
        assert!(lax.check_time(0, now).is_ok());
        assert!(lax.check_time(99_999_999_999_999, now).is_ok());
        assert!(lax.check_time(-1, now).is_err());
    }
}
