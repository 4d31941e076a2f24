//! The channel's memory of what it has seen: webhook de-duplication and the applied delivery status per
//! message. A host backs [`ChannelStore`] with its own storage (Hivekeep gives plugins a key-value store)
//! so several instances share one view; [`MemoryStore`] is the bounded in-process default, and
//! [`RedisStore`] (feature `redis`) the one several servers share.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::hivekeep::delivery::AppliedStatus;
#[cfg(doc)]
use crate::status::DeliveryRank;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_NAMESPACE, RedisOptions, RedisStore, RedisStoreError};

/// An error from a [`ChannelStore`]: the channel then delivers (at least once). Its text names no key
/// and no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The in-process store is unusable: a thread panicked while holding its lock.
    #[error("channel store: the in-memory store is unusable (a thread panicked while holding it)")]
    Poisoned,
    /// The store did not answer, or refused the operation.
    #[error("channel store: {store} unavailable: {reason}")]
    Unavailable {
        /// Which store (`redis`, or a host's own).
        store: &'static str,
        /// Why, in words (no key or value).
        reason: &'static str,
    },
}

/// What the channel remembers between webhooks.
pub trait ChannelStore: Send + Sync {
    /// Records `key` and says whether this is its first sighting (within the store's memory).
    ///
    /// # Errors
    /// When the store cannot be reached; the channel then delivers the event (at least once).
    fn first_sighting(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps `state` for `message` when its rank [supersedes](DeliveryRank::supersedes) the kept
    /// state's (or none is kept), atomically, and gives the state kept before the call (none when none
    /// was, or it expired). With it, [`delivery::step`](crate::hivekeep::delivery::step) decides what the host is
    /// handed: this callback's update when it was kept, else the kept final state again (a part's
    /// failure the host dropped before it linked the reply), else nothing. A state without a rank
    /// (an inbound or unknown status) is never kept.
    ///
    /// # Errors
    /// When the store cannot be reached; the channel then applies the update.
    fn advance(
        &self,
        message: &str,
        state: &AppliedStatus,
    ) -> impl Future<Output = Result<Option<AppliedStatus>, StoreError>> + Send;
}

/// Whether a record kept `age` ago still counts: it is younger than the store's `ttl`. The one rule of
/// [`MemoryStore`] and of the WebAssembly package's records in the plugin's storage (an event seen, a
/// message's status), which a sweep deletes once they no longer count.
#[must_use]
pub fn still_counts(age: Duration, ttl: Duration) -> bool {
    age < ttl
}

/// How long a de-duplication or status record counts by default: a day (Twilio retries within minutes).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often a host whose store keeps records until they are deleted (Hivekeep's plugin storage)
/// sweeps a channel's records that no longer count: once an hour.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// The most keys one sweep reads (the rest wait for the next).
pub const SWEEP_MAX_KEYS: usize = 10_000;

/// When a sweep of a channel's records starts: at most once per [`SWEEP_INTERVAL`] and never while
/// one runs. A time before the last start (a clock that went back) starts one.
#[derive(Debug, Default, Clone)]
pub struct SweepSchedule {
    started: Option<Duration>,
    running: bool,
}

impl SweepSchedule {
    /// Whether a sweep starts at `now` (the time since the Unix epoch); when it does, it is running
    /// until [`Self::finished`].
    pub fn start(&mut self, now: Duration) -> bool {
        let recent = self.started.is_some_and(|at| now >= at && now - at < SWEEP_INTERVAL);
        if self.running || recent {
            return false;
        }
        self.running = true;
        self.started = Some(now);
        true
    }

    /// The sweep that started is over (done or failed): the next starts after the interval.
    pub fn finished(&mut self) {
        self.running = false;
    }
}

/// A bounded in-memory [`ChannelStore`]: at most `capacity` keys and `capacity` messages, each forgotten
/// after `ttl` (the oldest goes first when full).
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: Bounded<()>,
    statuses: Bounded<AppliedStatus>,
}

/// A map with insertion order, for eviction by age.
#[derive(Debug)]
struct Bounded<V> {
    map: HashMap<String, (V, Instant)>,
    order: VecDeque<(String, Instant)>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Self { map: HashMap::new(), order: VecDeque::new() }
    }
}

impl<V> Bounded<V> {
    /// Drops expired entries, then the oldest ones while over `capacity`.
    fn evict(&mut self, now: Instant, ttl: Duration, capacity: usize) {
        while let Some((key, at)) = self.order.front() {
            let expired = !still_counts(now.duration_since(*at), ttl);
            if !expired && self.map.len() < capacity {
                break;
            }
            // Only remove the map entry if it is this (not a newer) insertion.
            if self.map.get(key).is_some_and(|(_, t)| t == at) {
                self.map.remove(key);
            }
            self.order.pop_front();
        }
    }

    fn get(&self, key: &str, now: Instant, ttl: Duration) -> Option<&V> {
        self.map.get(key).filter(|(_, at)| still_counts(now.duration_since(*at), ttl)).map(|(v, _)| v)
    }

    fn insert(&mut self, key: &str, value: V, now: Instant) {
        self.map.insert(key.to_owned(), (value, now));
        self.order.push_back((key.to_owned(), now));
    }
}

impl Default for MemoryStore {
    /// 10,000 keys for 24 hours (Twilio retries within minutes).
    fn default() -> Self {
        Self::new(10_000, DEFAULT_TTL)
    }
}

impl MemoryStore {
    /// A store of at most `capacity` entries per kind, each kept for `ttl`.
    #[must_use]
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self { capacity: capacity.max(1), ttl, inner: Mutex::new(Inner::default()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> Result<T, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&mut inner, Instant::now()))
    }

    fn first_sighting_now(&self, key: &str) -> Result<bool, StoreError> {
        let (ttl, capacity) = (self.ttl, self.capacity);
        self.with(|inner, now| {
            inner.seen.evict(now, ttl, capacity);
            if inner.seen.get(key, now, ttl).is_some() {
                return false;
            }
            inner.seen.insert(key, (), now);
            true
        })
    }

    fn advance_now(&self, message: &str, state: &AppliedStatus) -> Result<Option<AppliedStatus>, StoreError> {
        let (ttl, capacity) = (self.ttl, self.capacity);
        self.with(|inner, now| {
            inner.statuses.evict(now, ttl, capacity);
            let before = inner.statuses.get(message, now, ttl).cloned();
            if state.replaces(before.as_ref()) {
                inner.statuses.insert(message, state.clone(), now);
            }
            before
        })
    }
}

impl ChannelStore for MemoryStore {
    fn first_sighting(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(self.first_sighting_now(key))
    }

    fn advance(
        &self,
        message: &str,
        state: &AppliedStatus,
    ) -> impl Future<Output = Result<Option<AppliedStatus>, StoreError>> + Send {
        std::future::ready(self.advance_now(message, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_start_once_per_interval_and_never_twice_at_once() {
        let hour = SWEEP_INTERVAL;
        let t0 = Duration::from_secs(1_800_000_000);
        let mut schedule = SweepSchedule::default();
        assert!(schedule.start(t0), "the first starts");
        assert!(!schedule.start(t0 + hour * 2), "not while one runs");
        schedule.finished();
        assert!(!schedule.start(t0 + hour - Duration::from_millis(1)), "not within the interval");
        assert!(schedule.start(t0 + hour), "after it");
        schedule.finished();
        assert!(schedule.start(t0), "a clock that went back starts one");
    }

    #[test]
    fn duplicates_are_seen_once_within_bounds() {
        let store = MemoryStore::new(3, Duration::from_secs(60));
        assert_eq!(store.first_sighting_now("a"), Ok(true));
        assert_eq!(store.first_sighting_now("a"), Ok(false));
        for k in ["b", "c", "d"] {
            assert_eq!(store.first_sighting_now(k), Ok(true));
        }
        // Capacity 3: "a" was the oldest and is forgotten.
        assert_eq!(store.first_sighting_now("a"), Ok(true));
        assert!(store.inner.lock().unwrap().seen.map.len() <= 3);
        let short = MemoryStore::new(10, Duration::ZERO);
        assert_eq!(short.first_sighting_now("x"), Ok(true));
        assert_eq!(short.first_sighting_now("x"), Ok(true), "expired at once");
    }

    #[test]
    fn ranks_only_move_forward_and_the_kept_state_is_given_back() {
        use crate::status::MessageStatus;
        let state = |status: &str, code: Option<u32>| AppliedStatus {
            status: MessageStatus::parse(status),
            error_code: code,
        };
        let store = MemoryStore::default();
        let kept =
            |sid: &str| store.with(|inner, now| inner.statuses.get(sid, now, store.ttl).cloned()).unwrap();
        assert_eq!(store.advance_now("SM1", &state("sent", None)), Ok(None));
        assert_eq!(store.advance_now("SM1", &state("delivered", None)), Ok(Some(state("sent", None))));
        assert_eq!(store.advance_now("SM1", &state("sent", None)), Ok(Some(state("delivered", None))));
        assert_eq!(kept("SM1"), Some(state("delivered", None)), "a late sent never overwrites delivered");
        store.advance_now("SM1", &state("read", None)).unwrap();
        assert_eq!(kept("SM1"), Some(state("read", None)), "read after delivered");
        store.advance_now("SM1", &state("delivered", None)).unwrap();
        assert_eq!(kept("SM1"), Some(state("read", None)), "delivered never overwrites read");
        store.advance_now("SM1", &state("failed", Some(30007))).unwrap();
        assert_eq!(
            kept("SM1"),
            Some(state("failed", Some(30007))),
            "a failure overwrites read, with its code"
        );
        store.advance_now("SM1", &state("undelivered", Some(30003))).unwrap();
        assert_eq!(
            kept("SM1"),
            Some(state("undelivered", Some(30003))),
            "another part's failure comes through too"
        );
        assert_eq!(
            store.advance_now("SM1", &state("delivered", None)),
            Ok(Some(state("undelivered", Some(30003))))
        );
        assert_eq!(kept("SM1"), Some(state("undelivered", Some(30003))), "and stays");
        store.advance_now("SM3", &state("sent", None)).unwrap();
        store.advance_now("SM3", &state("received", None)).unwrap();
        assert_eq!(kept("SM3"), Some(state("sent", None)), "an unranked status is never kept");
    }
}
