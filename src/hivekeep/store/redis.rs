//! The Redis [`ChannelStore`] (feature `redis`): see [`RedisStore`].

use core::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest as _, Sha256};

use super::{ChannelStore, StoreError};
use crate::channel::ChannelId;
use crate::hivekeep::delivery::AppliedStatus;
use crate::ids::MessageSid;
use crate::status::{DeliveryRank, MessageStatus};

/// The rank decision of [`supersedes`](DeliveryRank::supersedes), applied atomically in Redis.
///
/// Keeping the two in sync: [`supersedes`](DeliveryRank::supersedes) is the one definition of the rule,
/// and this script is its only other copy. The script takes `DeliveryRank::FINAL` as an argument (from the
/// Rust constant), so the one number the rule depends on is never written twice; the comparison itself is
/// the same expression, `rank > applied or (rank == applied and rank >= final)`. `tests/redis_store.rs`
/// runs every pair of ranks (and "none applied yet") through this script on a real Redis and through
/// [`supersedes`](DeliveryRank::supersedes) and [`MemoryStore`](super::MemoryStore), and fails on any
/// difference; a change to the rule that is not made here too fails it.
///
/// `KEYS[1]`: the message's key. `ARGV[1]`: the rank; `ARGV[2]`: `DeliveryRank::FINAL`; `ARGV[3]`: the TTL
/// in milliseconds; `ARGV[4]`: the value to keep (`rank|status|error code`, see [`encode`]); `ARGV[5]`:
/// `DeliveryRank::MAX`. A kept value in another form (not one this store wrote, or a rank above the
/// highest) counts as none, as [`decode`] reads it.
/// Keeps `ARGV[4]` (the TTL renewed) when the rank is applied, and returns the value kept before the
/// call either way (nil when none was).
const ADVANCE_SCRIPT: &str = r"
local old = redis.call('GET', KEYS[1])
local rank = tonumber(ARGV[1])
local applied = nil
if old then
  applied = tonumber(string.match(old, '^(%d)|[a-z_]+|%d*$') or string.match(old, '^(%d)$'))
  if applied ~= nil and applied > tonumber(ARGV[5]) then applied = nil end
end
if applied ~= nil and not (rank > applied or (rank == applied and rank >= tonumber(ARGV[2]))) then
  return old
end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
return old
";

/// A kept state as the script stores it: `rank|status|error code` (`7|failed|30007`, `5|delivered|`).
fn encode(rank: DeliveryRank, state: &AppliedStatus) -> String {
    let code = state.error_code.map(|c| c.to_string()).unwrap_or_default();
    format!("{}|{}|{code}", rank.get(), state.status.as_str())
}

/// A kept state read back (see [`encode`]). A bare rank (what the store kept before it kept the status)
/// reads as the status of that rank (`5` is `delivered`, `7` is `failed`), without an error code.
fn decode(value: &str) -> Option<AppliedStatus> {
    let mut fields = value.split('|');
    let rank = DeliveryRank::new(fields.next()?.parse().ok()?)?;
    let status = match fields.next() {
        Some(status) => MessageStatus::parse(status),
        None => {
            let by_rank =
                ["scheduled", "accepted", "queued", "sending", "sent", "delivered", "read", "failed"];
            MessageStatus::parse(by_rank.get(usize::from(rank.get()))?)
        }
    };
    let error_code = fields.next().and_then(|code| code.parse().ok());
    // A status whose rank is not the stored one is not a state this store wrote.
    (status.rank() == Some(rank)).then_some(AppliedStatus { status, error_code })
}

/// The default namespace, the first segment of every key.
pub const DEFAULT_NAMESPACE: &str = "twilio-sms";

/// Why a [`RedisStore`] could not be set up. Its text never contains the URL (which may carry a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL is not a Redis URL (`redis://[user:password@]host[:port][/db]`).
    #[error("not a Redis URL: expected redis://[user:password@]host[:port][/db]")]
    InvalidUrl,
    /// A `rediss://` (TLS) URL: this build connects without TLS only.
    #[error("rediss:// (TLS) is not supported: use redis:// on a private network")]
    TlsUnsupported,
    /// The namespace is empty, longer than 64 bytes, or has a byte other than `A-Z a-z 0-9 _ - .`.
    #[error("the key namespace must be 1 to 64 of A-Z a-z 0-9 _ - .")]
    InvalidNamespace,
    /// Called outside a Tokio runtime (the connection manager runs on it).
    #[error("a Redis store must be opened inside a Tokio runtime")]
    NoRuntime,
    /// The Redis client refused its configuration.
    #[error("the Redis client could not be set up")]
    Setup,
}

/// How a [`RedisStore`] talks to Redis: the timeout of each operation, the keys' TTL, their namespace and
/// how often an outage is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    timeout: Duration,
    ttl: Duration,
    namespace: String,
    log_interval: Duration,
}

impl Default for RedisOptions {
    /// 50 ms per operation, keys kept 24 hours (as [`MemoryStore`](super::MemoryStore)), namespace
    /// `twilio-sms`, an outage logged at most once a minute.
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(50),
            ttl: Duration::from_secs(24 * 3600),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            log_interval: Duration::from_secs(60),
        }
    }
}

impl RedisOptions {
    /// The longest an operation waits for Redis (connecting included) before the channel goes on without
    /// it. At least 1 ms.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long keys live (at least 1 ms, at most ten years).
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.clamp(Duration::from_millis(1), Duration::from_secs(3650 * 24 * 3600));
        self
    }

    /// The first segment of every key.
    ///
    /// # Errors
    /// [`RedisStoreError::InvalidNamespace`] unless it is 1 to 64 of `A-Z a-z 0-9 _ - .`.
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self, RedisStoreError> {
        let valid = (1..=64).contains(&namespace.len())
            && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(RedisStoreError::InvalidNamespace);
        }
        namespace.clone_into(&mut self.namespace);
        Ok(self)
    }

    /// How often an outage is logged at most (a warning when it starts, then one per interval with the
    /// number of operations that failed since, and one line when Redis is back).
    #[must_use]
    pub fn with_log_interval(mut self, interval: Duration) -> Self {
        self.log_interval = interval;
        self
    }

    /// The timeout of each operation.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The keys' TTL.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// What the store knows of Redis's health, for logging an outage once per interval (sans I/O: the caller
/// passes the time).
#[derive(Debug, Default)]
struct Outage {
    /// When the current outage began.
    since: Option<Instant>,
    /// When the last warning was logged.
    logged_at: Option<Instant>,
    /// Whether the current outage was logged (its end is logged only then).
    logged: bool,
    /// Operations that failed since the last warning.
    unlogged: u64,
}

impl Outage {
    /// Records a failed operation; `Some(n)` when a warning is due now, `n` counting this failure and the
    /// ones not logged before it.
    fn failed(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        self.since.get_or_insert(now);
        self.unlogged += 1;
        let due = self.logged_at.is_none_or(|at| now.duration_since(at) >= interval);
        if !due {
            return None;
        }
        self.logged_at = Some(now);
        self.logged = true;
        Some(std::mem::take(&mut self.unlogged))
    }

    /// Records a successful operation; `Some(how long it lasted)` when an outage that was logged ends.
    fn succeeded(&mut self, now: Instant) -> Option<Duration> {
        let since = self.since.take()?;
        std::mem::take(&mut self.logged).then(|| now.duration_since(since))
    }
}

/// The state the clones of one [`RedisStore`] (one per channel) share.
struct Shared {
    connection: ConnectionManager,
    options: RedisOptions,
    advance: redis::Script,
    /// Whether an outage is going on (checked without the lock on every success).
    degraded: AtomicBool,
    outage: Mutex<Outage>,
    fallbacks: AtomicU64,
}

/// A [`ChannelStore`] on Redis (feature `redis`): several webhook servers behind one load balancer share
/// the channel's de-duplication keys and delivery ranks, so a Twilio retry that lands on another server is
/// acknowledged without being delivered again, and a late `sent` on one server cannot undo `delivered`
/// applied on another.
///
/// - A first sighting is one `SET key 1 NX PX ttl`.
/// - A status advance is one Lua script: it reads the state kept so far, decides by its rank with the
///   rule of [`supersedes`](DeliveryRank::supersedes), writes the new state, and returns the old one,
///   atomically, so two servers racing on one message cannot both apply a lower rank.
/// - Keys: `{namespace}:{channel id}:seen:{32 hex}` (the first 128 bits of the SHA-256 of the event's
///   idempotency key: no phone number, no unsigned header text) and
///   `{namespace}:{channel id}:rank:{MessageSid}` (a value that is not a `MessageSid` is hashed the same
///   way). Values are `1` and the rank digit. Each key expires after the store's TTL (24 hours by
///   default, as [`MemoryStore`](super::MemoryStore)).
/// - Faults: every operation is bounded by a timeout (50 ms by default, connecting included). When Redis
///   does not answer in time, the operation returns a [`StoreError`] and the channel delivers (at least
///   once); the store logs the outage once per interval rather than per request, and reconnects by itself
///   in the background (the `redis` crate's connection manager).
///
/// [`RedisStore::open`] connects lazily (it does no I/O, so a server starts while Redis is unreachable);
/// [`RedisStore::for_channel`] gives each channel its own key prefix over the same connection.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use twilio_sms::hivekeep::store::{RedisOptions, RedisStore};
/// # let (id, credentials, public_url, client): (twilio_sms::ChannelId, twilio_sms::credentials::Credentials, Option<twilio_sms::PublicUrl>, twilio_sms::client::TwilioClient) = todo!();
/// let redis = RedisStore::open("redis://10.0.0.5:6379", RedisOptions::default())?;
/// let store = Arc::new(redis.for_channel(&id));
/// let channel = twilio_sms::hivekeep::adapter::TwilioSmsChannel::with_store(id, credentials, public_url, client, store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
    /// `{namespace}:` or `{namespace}:{channel id}:`.
    prefix: Arc<str>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its URL may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.shared.options.timeout)
            .field("ttl", &self.shared.options.ttl)
            .finish_non_exhaustive()
    }
}

/// The first 128 bits of the SHA-256 of `text`, in hex.
fn digest(text: &str) -> String {
    use fmt::Write as _;
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(16).fold(String::with_capacity(32), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The key of an event's de-duplication record.
fn seen_key(prefix: &str, key: &str) -> String {
    format!("{prefix}seen:{}", digest(key))
}

/// The key of a message's applied rank: its SID as it is, anything else hashed.
fn rank_key(prefix: &str, message: &str) -> String {
    if MessageSid::parse(message).is_ok() {
        format!("{prefix}rank:{message}")
    } else {
        format!("{prefix}rank:{}", digest(message))
    }
}

/// A short reason for a Redis error, without its text (which could quote a reply or an address).
fn reason(error: &redis::RedisError) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connection_refusal() {
        "connection refused"
    } else if error.is_connection_dropped() {
        "connection lost"
    } else if error.is_io_error() {
        "I/O error"
    } else if error.kind() == redis::ErrorKind::AuthenticationFailed {
        "authentication failed"
    } else {
        "error reply"
    }
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://[user:password@]host[:port][/db]`). Nothing is sent until
    /// the first operation; the connection is made then, and again after it breaks.
    ///
    /// # Errors
    /// A [`RedisStoreError`] for a URL that is not a Redis URL (or a `rediss://` one), or when called
    /// outside a Tokio runtime.
    pub fn open(url: &str, options: RedisOptions) -> Result<Self, RedisStoreError> {
        if url.trim_start().to_ascii_lowercase().starts_with("rediss:") {
            return Err(RedisStoreError::TlsUnsupported);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisStoreError::NoRuntime);
        }
        let client = redis::Client::open(url).map_err(|_| RedisStoreError::InvalidUrl)?;
        // Reconnection attempts back off from 50 ms to at most 1 s, so the store finds Redis within about
        // a second of its return; a connection attempt gives up after 1 s (a host that drops packets).
        // Requests never wait for these: each operation is bounded by `options.timeout`.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(6);
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|_| RedisStoreError::Setup)?;
        let prefix = format!("{}:", options.namespace).into();
        let shared = Shared {
            connection,
            options,
            advance: redis::Script::new(ADVANCE_SCRIPT),
            degraded: AtomicBool::new(false),
            outage: Mutex::new(Outage::default()),
            fallbacks: AtomicU64::new(0),
        };
        Ok(Self { shared: Arc::new(shared), prefix })
    }

    /// The store of channel `id`: the same connection, keys under `{namespace}:{id}:`.
    #[must_use]
    pub fn for_channel(&self, id: &ChannelId) -> Self {
        let prefix = format!("{}:{id}:", self.shared.options.namespace).into();
        Self { shared: Arc::clone(&self.shared), prefix }
    }

    /// The prefix of this store's keys (`{namespace}:{channel id}:`, or `{namespace}:` before
    /// [`for_channel`](Self::for_channel)).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The options the store was opened with.
    #[must_use]
    pub fn options(&self) -> &RedisOptions {
        &self.shared.options
    }

    /// How many operations (of this store and its channel clones) could not reach Redis in time, so that
    /// the channel went on without it.
    #[must_use]
    pub fn fallbacks(&self) -> u64 {
        self.shared.fallbacks.load(Ordering::Relaxed)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.shared.options.ttl.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Runs one operation within the timeout, and keeps the outage log.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let shared = &*self.shared;
        let failure = match tokio::time::timeout(shared.options.timeout, operation).await {
            Ok(Ok(value)) => {
                if shared.degraded.load(Ordering::Relaxed) {
                    self.recovered();
                }
                return Ok(value);
            }
            Ok(Err(error)) => reason(&error),
            Err(_) => "no answer within the timeout",
        };
        shared.fallbacks.fetch_add(1, Ordering::Relaxed);
        let due = {
            // The flag changes under the lock only, so that an outage's end is never missed.
            let mut outage = shared.outage.lock().unwrap_or_else(PoisonError::into_inner);
            shared.degraded.store(true, Ordering::Relaxed);
            outage.failed(Instant::now(), shared.options.log_interval)
        };
        if let Some(failed) = due {
            tracing::warn!(
                target: "twilio_sms::hivekeep::store",
                reason = failure,
                failed,
                timeout_ms = shared.options.timeout.as_millis(),
                "Redis unavailable: webhooks are answered and delivered without de-duplication or status ordering (at least once) until it is back",
            );
        }
        Err(StoreError::Unavailable { store: "redis", reason: failure })
    }

    fn recovered(&self) {
        let shared = &*self.shared;
        let mut outage = shared.outage.lock().unwrap_or_else(PoisonError::into_inner);
        shared.degraded.store(false, Ordering::Relaxed);
        if let Some(lasted) = outage.succeeded(Instant::now()) {
            drop(outage);
            tracing::info!(target: "twilio_sms::hivekeep::store", after_ms = lasted.as_millis(), "Redis reachable again");
        }
    }
}

impl ChannelStore for RedisStore {
    fn first_sighting(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let key = seen_key(&self.prefix, key);
        let mut connection = self.shared.connection.clone();
        let set = redis::cmd("SET").arg(key).arg(1).arg("NX").arg("PX").arg(self.ttl_ms()).to_owned();
        async move {
            let reply: Option<String> =
                self.bounded(async move { set.query_async(&mut connection).await }).await?;
            Ok(reply.is_some())
        }
    }

    fn advance(
        &self,
        message: &str,
        state: &AppliedStatus,
    ) -> impl Future<Output = Result<Option<AppliedStatus>, StoreError>> + Send {
        let key = rank_key(&self.prefix, message);
        let mut connection = self.shared.connection.clone();
        let ttl = self.ttl_ms();
        let value = state.status.rank().map(|rank| (rank, encode(rank, state)));
        async move {
            // A state without a rank is never kept: the one kept is read alone.
            let Some((rank, value)) = value else {
                let old: Option<String> = self
                    .bounded(async move { redis::AsyncCommands::get(&mut connection, key).await })
                    .await?;
                return Ok(old.as_deref().and_then(decode));
            };
            let old: Option<String> = self
                .bounded(async move {
                    let mut invocation = self.shared.advance.key(key);
                    invocation.arg(rank.get()).arg(DeliveryRank::FINAL.get()).arg(ttl).arg(value);
                    invocation.arg(DeliveryRank::MAX.get());
                    invocation.invoke_async(&mut connection).await
                })
                .await?;
            Ok(old.as_deref().and_then(decode))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_states_are_written_and_read_back() {
        let state =
            |status: &str, error_code| AppliedStatus { status: MessageStatus::parse(status), error_code };
        for kept in [state("failed", Some(30007)), state("delivered", None), state("sent", None)] {
            let rank = kept.status.rank().unwrap();
            assert_eq!(decode(&encode(rank, &kept)), Some(kept));
        }
        assert_eq!(
            encode(DeliveryRank::new(7).unwrap(), &state("undelivered", Some(30003))),
            "7|undelivered|30003"
        );
        // What the store kept before it kept the status: a bare rank.
        assert_eq!(decode("5"), Some(state("delivered", None)));
        assert_eq!(decode("7"), Some(state("failed", None)));
        for unreadable in ["", "x", "9", "5|failed|", "7|teleported|1", "-1|sent|"] {
            assert_eq!(decode(unreadable), None, "{unreadable:?}");
        }
    }

    #[test]
    fn keys_are_namespaced_and_never_carry_the_events_text() {
        let prefix = "twilio-sms:3f2504e0-4f89-41d3-9a0c-0305e82c3301:";
        let seen = seen_key(prefix, "token:+14155550142");
        assert!(seen.starts_with(&format!("{prefix}seen:")), "{seen}");
        let hash = &seen[prefix.len() + 5..];
        assert_eq!(hash.len(), 32);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{seen}");
        assert!(!seen.contains("4155550142"));
        assert_ne!(seen_key(prefix, "sms:SM1"), seen_key(prefix, "sms:SM2"));
        assert_eq!(seen_key(prefix, "sms:SM1"), seen_key(prefix, "sms:SM1"));
        let sid = "SM0123456789abcdef0123456789abcdef";
        assert_eq!(rank_key(prefix, sid), format!("{prefix}rank:{sid}"));
        let odd = rank_key(prefix, "+14155550142");
        assert!(!odd.contains("4155550142") && odd.len() == prefix.len() + 5 + 32, "{odd}");
        // Known answer: SHA-256("abc") begins ba7816bf8f01cfea414140de5dae2223.
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn an_outage_is_logged_once_per_interval_and_its_end_once() {
        let interval = Duration::from_secs(60);
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut outage = Outage::default();
        assert_eq!(outage.succeeded(at(0)), None, "no outage, nothing to log");
        assert_eq!(outage.failed(at(0), interval), Some(1), "the first failure is logged");
        for ms in 1..=500 {
            assert_eq!(outage.failed(at(ms), interval), None, "not again within the interval");
        }
        assert_eq!(outage.failed(at(60_000), interval), Some(501), "then with the count since");
        assert_eq!(outage.succeeded(at(61_000)), Some(Duration::from_secs(61)), "its end, once");
        assert_eq!(outage.succeeded(at(61_001)), None);
        // A new outage within the interval of the last warning is counted, not logged, and so is its end.
        assert_eq!(outage.failed(at(62_000), interval), None);
        assert_eq!(outage.succeeded(at(62_001)), None);
        assert_eq!(outage.failed(at(121_000), interval), Some(2), "the next warning counts it");
    }

    #[test]
    fn options_refuse_a_namespace_that_could_break_the_layout() {
        let options = RedisOptions::default();
        assert!(options.clone().with_namespace("prod.twilio-sms_2").is_ok());
        for bad in ["", "a:b", "a b", "é", &"x".repeat(65), "a*"] {
            assert_eq!(options.clone().with_namespace(bad), Err(RedisStoreError::InvalidNamespace), "{bad}");
        }
        assert_eq!(options.clone().with_timeout(Duration::ZERO).timeout(), Duration::from_millis(1));
        assert_eq!(options.ttl(), Duration::from_secs(24 * 3600));
    }

    #[test]
    fn opening_needs_a_runtime_and_a_plain_redis_url() {
        assert_eq!(
            RedisStore::open("redis://127.0.0.1:6379", RedisOptions::default()).map(|_| ()),
            Err(RedisStoreError::NoRuntime)
        );
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let open = |url: &str| RedisStore::open(url, RedisOptions::default()).map(|_| ());
            assert_eq!(open("rediss://:secret@cache.internal:6380"), Err(RedisStoreError::TlsUnsupported));
            assert_eq!(open("http://cache.internal"), Err(RedisStoreError::InvalidUrl));
            assert_eq!(open("redis://:s3cret@127.0.0.1:1/0"), Ok(()), "no I/O: nothing listens on port 1");
            let store = RedisStore::open("redis://:s3cret@127.0.0.1:1/0", RedisOptions::default()).unwrap();
            let id = ChannelId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
            let channel = store.for_channel(&id);
            assert_eq!(channel.prefix(), "twilio-sms:3f2504e0-4f89-41d3-9a0c-0305e82c3301:");
            let debug = format!("{channel:?}");
            assert!(!debug.contains("s3cret") && debug.contains("twilio-sms:3f2504e0"), "{debug}");
            for error in [RedisStoreError::InvalidUrl, RedisStoreError::TlsUnsupported] {
                assert!(!error.to_string().contains("s3cret"));
            }
        });
    }
}
