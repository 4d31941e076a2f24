//! The Redis store (feature `redis`) against a real `redis-server` on loopback: two servers sharing one
//! Redis act as one channel (retries, status order, multi-part replies, racing advances), the rank script
//! decides as `supersedes`, keys are namespaced and expire, and the faults: Redis killed mid-run, frozen,
//! restarted, and not yet started when the server starts.
//!
//! Each "server" is an axum router over its own `TwilioSmsChannel` (the same channel id and credentials)
//! with its own `RedisStore` connection, driven in process. Without `redis-server` the tests are skipped
//! with a message (failed under `.ci/run`, which sets `TWILIO_SMS_REQUIRE_REDIS=1`); see `support/redis.rs`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use redis::AsyncCommands as _;
use support::logs::Captured;
use support::redis::{RedisServer, TestRedis, free_port, listening};
use tower::ServiceExt as _;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{IncomingMessage, TwilioSmsChannel};
use twilio_sms::hivekeep::delivery::{AppliedStatus, DeliveryStatusUpdate};
use twilio_sms::hivekeep::store::{ChannelStore, MemoryStore, RedisOptions, RedisStore};
use twilio_sms::router::{ChannelRegistry, WebhookSink, webhook_router};
use twilio_sms::status::{DeliveryRank, MessageStatus};
use twilio_sms::webhook::EMPTY_TWIML;
use twilio_sms::{AccountSid, AuthToken, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::{encode_form, sign};

const ACCOUNT: &str = "AC0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
const TOKEN: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const NUMBER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550142";
const PUBLIC: &str = "http://127.0.0.1:18080";
/// The bound on any one answer while Redis is down or frozen: the store's timeout (50 ms) twice (a
/// status callback makes two operations), with a wide margin for a loaded machine.
const ANSWER_BOUND: Duration = Duration::from_secs(1);
/// How long Redis may take to be found again after it is back (the store retries at least once a second).
const RECOVERY: Duration = Duration::from_secs(10);

/// What one server handed its host.
#[derive(Default)]
struct Recorder {
    incoming: Mutex<Vec<IncomingMessage>>,
    updates: Mutex<Vec<DeliveryStatusUpdate>>,
}

impl WebhookSink for Recorder {
    fn on_incoming(&self, _channel: ChannelId, message: IncomingMessage) {
        self.incoming.lock().unwrap().push(message);
    }
    fn on_delivery_update(&self, _channel: ChannelId, update: DeliveryStatusUpdate) {
        self.updates.lock().unwrap().push(update);
    }
}

impl Recorder {
    fn incoming_sids(&self) -> Vec<String> {
        self.incoming.lock().unwrap().iter().map(|m| m.platform_message_id.clone()).collect()
    }
    fn statuses(&self) -> Vec<(String, String)> {
        self.updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| (u.platform_message_id.clone(), serde_json::to_value(u.status).unwrap().to_string()))
            .map(|(sid, status)| (sid, status.trim_matches('"').to_owned()))
            .collect()
    }
}

/// One webhook server of the channel: its router, its store (its own Redis connection), its sink.
struct Server {
    router: Router,
    store: RedisStore,
    sink: Arc<Recorder>,
}

fn credentials() -> Credentials {
    Credentials::new(
        AccountSid::parse(ACCOUNT).unwrap(),
        AuthToken::new(TOKEN).unwrap(),
        Sender::Number(E164::parse(NUMBER).unwrap()),
    )
}

fn server_with(url: &str, id: ChannelId, options: RedisOptions) -> Server {
    let store = RedisStore::open(url, options).unwrap().for_channel(&id);
    let client = TwilioClient::with_config(
        ClientConfig::default().with_api_base("http://127.0.0.1:9".parse().unwrap()),
    )
    .unwrap();
    let public = PublicUrl::parse(PUBLIC).unwrap();
    let channel =
        TwilioSmsChannel::with_store(id, credentials(), Some(public), client, Arc::new(store.clone()));
    let registry: Arc<ChannelRegistry<RedisStore>> = Arc::new([Arc::new(channel)].into_iter().collect());
    let sink = Arc::new(Recorder::default());
    Server { router: webhook_router(registry, Arc::clone(&sink)), store, sink }
}

fn server(url: &str, id: ChannelId) -> Server {
    server_with(url, id, RedisOptions::default())
}

/// A signed webhook for channel `id`: the path, the body, the signature.
struct Webhook {
    path: String,
    body: String,
    signature: String,
}

fn signed(id: ChannelId, query: Option<&str>, params: &[(&str, &str)]) -> Webhook {
    signed_for(PUBLIC, id, query, params)
}

fn signed_for(public: &str, id: ChannelId, query: Option<&str>, params: &[(&str, &str)]) -> Webhook {
    let mut path = format!("/api/channels/plugin/twilio-sms/webhook/{id}");
    if let Some(query) = query {
        path = format!("{path}?{query}");
    }
    let url = format!("{public}{path}");
    let signature = sign(TOKEN, &url, params).to_string();
    Webhook { path, body: encode_form(params), signature }
}

fn sid(n: u64) -> String {
    format!("SM{:032x}", 0x5eed_0000_u64 + n + u64::from(std::process::id()) * 1_000_000)
}

fn inbound(id: ChannelId, message: &str) -> Webhook {
    inbound_for(PUBLIC, id, message)
}

fn inbound_for(public: &str, id: ChannelId, message: &str) -> Webhook {
    signed_for(
        public,
        id,
        None,
        &[
            ("MessageSid", message),
            ("SmsMessageSid", message),
            ("SmsSid", message),
            ("SmsStatus", "received"),
            ("AccountSid", ACCOUNT),
            ("From", CUSTOMER),
            ("To", NUMBER),
            ("Body", "is the table free at 8?"),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
        ],
    )
}

fn status(id: ChannelId, message: &str, status: &str, query: Option<&str>) -> Webhook {
    signed(
        id,
        query,
        &[
            ("MessageSid", message),
            ("MessageStatus", status),
            ("SmsSid", message),
            ("SmsStatus", status),
            ("AccountSid", ACCOUNT),
            ("From", NUMBER),
            ("To", CUSTOMER),
        ],
    )
}

impl Server {
    /// Posts `webhook` (with a fresh idempotency token, as Twilio's retries may carry) and checks the
    /// answer is the accepted empty TwiML, within `ANSWER_BOUND`.
    async fn post(&self, webhook: &Webhook) {
        let request = http::Request::post(&webhook.path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", &webhook.signature)
            .header("i-twilio-idempotency-token", uuid_like())
            .body(Body::from(webhook.body.clone()))
            .unwrap();
        let started = Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(10), self.router.clone().oneshot(request))
            .await
            .expect("no answer within 10 s")
            .unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert_eq!(body, EMPTY_TWIML.as_bytes());
        assert!(took < ANSWER_BOUND, "answered after {took:?}");
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("idem-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A direct connection for looking at what the store wrote: every command answered within 10 s or failed.
async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
    let bounded = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection_with_config(&bounded),
    )
    .await
    .expect("no connection to Redis within 10 s")
    .unwrap()
}

/// The rank numbered `n`.
fn r(n: u8) -> DeliveryRank {
    DeliveryRank::new(n).unwrap()
}

/// A state of rank `n` (a failure with its code for 7).
fn state(n: u8) -> AppliedStatus {
    let status =
        ["scheduled", "accepted", "queued", "sending", "sent", "delivered", "read", "failed"][usize::from(n)];
    AppliedStatus { status: MessageStatus::parse(status), error_code: (n == 7).then_some(30007) }
}

/// Whether an advance of rank `rank` was applied, from the state kept before it (what the store returns).
fn was_applied(rank: u8, before: Option<&AppliedStatus>) -> bool {
    before.is_none_or(|kept| r(rank).supersedes(kept.status.rank().unwrap()))
}

/// The rank a kept value (`rank|status|code`) starts with.
fn kept_rank(value: &str) -> u8 {
    value.split('|').next().unwrap().parse().unwrap()
}

/// The rank script on a real Redis decides every case exactly as `DeliveryRank::supersedes` (and `MemoryStore`): each
/// rank 0..=7 over none applied and over each rank 0..=7, and the rank kept after a refusal.
#[tokio::test]
async fn the_rank_script_decides_as_supersedes_in_every_case() {
    let Some(redis) = TestRedis::get() else { return };
    let store = RedisStore::open(&redis.url(), RedisOptions::default())
        .unwrap()
        .for_channel(&ChannelId::new_random());
    let memory = MemoryStore::default();
    let mut cases = 0;
    for applied in (0..=7u8).map(Some).chain([None]) {
        for rank in 0..=7u8 {
            let message = sid(u64::from(rank) * 100 + applied.map_or(99, u64::from));
            if let Some(applied) = applied {
                assert_eq!(
                    store.advance(&message, &state(applied)).await,
                    Ok(None),
                    "a first rank is applied"
                );
                assert_eq!(memory.advance(&message, &state(applied)).await, Ok(None));
            }
            let expected = applied.is_none_or(|applied| r(rank).supersedes(r(applied)));
            let redis_before = store.advance(&message, &state(rank)).await.unwrap();
            let memory_before = memory.advance(&message, &state(rank)).await.unwrap();
            // Both give back the state kept before (its status and code included), which says whether
            // the new one was kept.
            assert_eq!(redis_before, applied.map(state), "Redis: rank {rank} over {applied:?}");
            assert_eq!(memory_before, applied.map(state), "MemoryStore: rank {rank} over {applied:?}");
            assert_eq!(was_applied(rank, redis_before.as_ref()), expected);
            // What is kept: the new state when applied, the old one when refused.
            let mut conn = connection(&redis.url()).await;
            let kept: String = conn.get(format!("{}rank:{message}", store.prefix())).await.unwrap();
            assert_eq!(
                kept_rank(&kept),
                if expected { rank } else { applied.unwrap() },
                "rank {rank} over {applied:?}"
            );
            let after = memory.advance(&message, &state(0)).await.unwrap();
            assert_eq!(
                after.map(|s| s.status.rank().unwrap().get()),
                Some(kept_rank(&kept)),
                "MemoryStore kept the same"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 72);
    assert_eq!(store.fallbacks(), 0);
}

/// Every key is under `twilio-sms:{channel}:`, expires within the 24 hours of `MemoryStore`, and neither
/// keys nor values carry a phone number, the Auth Token or the message text.
#[tokio::test]
async fn keys_are_namespaced_expire_and_carry_no_number_or_secret() {
    let Some(redis) = TestRedis::get() else { return };
    let id = ChannelId::new_random();
    let a = server(&redis.url(), id);
    let message = sid(1);
    a.post(&inbound(id, &message)).await;
    a.post(&status(id, &message, "delivered", None)).await;
    let mut conn = connection(&redis.url()).await;
    let keys: Vec<String> = conn.keys(format!("*{id}*")).await.unwrap();
    assert_eq!(keys.len(), 3, "one seen key per event, one rank key: {keys:?}");
    let prefix = format!("twilio-sms:{id}:");
    assert!(keys.contains(&format!("{prefix}rank:{message}")), "{keys:?}");
    for key in &keys {
        assert!(key.starts_with(&prefix), "{key}");
        let ttl: i64 = conn.pttl(key).await.unwrap();
        assert!(ttl > 23 * 3600 * 1000 && ttl <= 24 * 3600 * 1000, "{key}: PTTL {ttl}");
        let value: String = conn.get(key).await.unwrap();
        for text in [key.as_str(), value.as_str()] {
            for secret in ["4155550142", "4155550100", TOKEN, "table"] {
                assert!(!text.contains(secret), "{text} contains {secret}");
            }
        }
    }
}

/// Twilio retries an inbound SMS on the other server: acknowledged there (200, empty TwiML), not
/// delivered again; each server delivers what it saw first, and nothing twice.
#[tokio::test]
async fn a_retry_on_the_other_server_is_acknowledged_not_delivered() {
    let Some(redis) = TestRedis::get() else { return };
    let id = ChannelId::new_random();
    let (a, b) = (server(&redis.url(), id), server(&redis.url(), id));
    let (first, second) = (sid(10), sid(11));
    a.post(&inbound(id, &first)).await;
    b.post(&inbound(id, &first)).await;
    b.post(&inbound(id, &second)).await;
    a.post(&inbound(id, &second)).await;
    a.post(&inbound(id, &first)).await;
    assert_eq!(a.sink.incoming_sids(), [first]);
    assert_eq!(b.sink.incoming_sids(), [second]);
    assert_eq!(a.store.fallbacks() + b.store.fallbacks(), 0);
}

/// `delivered` applied on one server, then a late `sent` and `queued` on the other: it stays delivered
/// (the other server hands the kept `delivered` over again, never `sent`); `read` after it on the first
/// still applies.
#[tokio::test]
async fn delivered_then_a_late_sent_on_the_other_server_stays_delivered() {
    let Some(redis) = TestRedis::get() else { return };
    let id = ChannelId::new_random();
    let (a, b) = (server(&redis.url(), id), server(&redis.url(), id));
    let message = sid(20);
    a.post(&status(id, &message, "delivered", None)).await;
    b.post(&status(id, &message, "sent", None)).await;
    b.post(&status(id, &message, "queued", None)).await;
    a.post(&status(id, &message, "read", None)).await;
    let delivered = (message.clone(), "delivered".to_owned());
    assert_eq!(a.sink.statuses(), [delivered.clone(), (message, "read".to_owned())]);
    assert_eq!(b.sink.statuses(), [delivered.clone(), delivered]);
}

/// The parts of one multi-part reply report on different servers, in an order Twilio may use: the
/// message ends in its true state (delivered when every part is; the failure when a part fails, even
/// after the last part's `delivered`), and the two sinks together saw it move only forward.
#[tokio::test]
async fn the_parts_of_a_reply_reporting_on_both_servers_end_in_its_true_state() {
    let Some(redis) = TestRedis::get() else { return };
    let id = ChannelId::new_random();
    let (a, b) = (server(&redis.url(), id), server(&redis.url(), id));
    // Reply 1, three parts, all delivered: part 3's delivered first (on B), then parts 1 and 2's (on A,
    // shown as sent for the message: refused), then part 1's late sent (on B).
    let (p1, p2, p3) = (sid(30), sid(31), sid(32));
    let tag = |part: u32| match part {
        1 => "part=1&of=3".to_owned(),
        n => format!("part={n}&of=3&first={p1}"),
    };
    b.post(&status(id, &p3, "delivered", Some(&tag(3)))).await;
    a.post(&status(id, &p1, "delivered", Some(&tag(1)))).await;
    a.post(&status(id, &p2, "delivered", Some(&tag(2)))).await;
    b.post(&status(id, &p1, "sent", Some(&tag(1)))).await;
    // Every callback after part 3's hands the kept `delivered` over again (never `sent`).
    let delivered = (p1.clone(), "delivered".to_owned());
    assert_eq!(b.sink.statuses(), [delivered.clone(), delivered.clone()]);
    assert_eq!(a.sink.statuses(), [delivered.clone(), delivered]);

    // Reply 2, two parts: part 2 delivered (on A), then part 1 undelivered (on B): the failure wins; part
    // 2's delivered repeated on B is the same callback (a duplicate); a late sent on A hands the failure
    // over again.
    let (q1, q2) = (sid(40), sid(41));
    let tag2 =
        |part: u32| if part == 1 { "part=1&of=2".to_owned() } else { format!("part=2&of=2&first={q1}") };
    a.post(&status(id, &q1, "sent", Some(&tag2(1)))).await;
    a.post(&status(id, &q2, "delivered", Some(&tag2(2)))).await;
    b.post(&status(id, &q1, "undelivered", Some(&tag2(1)))).await;
    b.post(&status(id, &q2, "delivered", Some(&tag2(2)))).await;
    a.post(&status(id, &q2, "sent", Some(&tag2(2)))).await;
    let undelivered = (q1.clone(), "undelivered".to_owned());
    assert_eq!(
        a.sink.statuses()[2..],
        [(q1.clone(), "sent".to_owned()), (q1.clone(), "delivered".to_owned()), undelivered.clone()]
    );
    assert_eq!(b.sink.statuses()[2..], [undelivered]);
    let mut conn = connection(&redis.url()).await;
    let kept: String = conn.get(format!("twilio-sms:{id}:rank:{q1}")).await.unwrap();
    assert_eq!(kept_rank(&kept), 7, "the failure's rank is what both servers now read");
}

/// A store that reads the rank, then writes it in a second step (what the Lua script avoids): the race
/// check below must catch it, so that it can catch a regression of `RedisStore`.
#[derive(Clone)]
struct ReadThenWrite {
    connection: redis::aio::MultiplexedConnection,
    prefix: String,
}

impl ChannelStore for ReadThenWrite {
    async fn first_sighting(&self, _key: &str) -> Result<bool, twilio_sms::hivekeep::store::StoreError> {
        Ok(true)
    }

    async fn advance(
        &self,
        message: &str,
        next: &AppliedStatus,
    ) -> Result<Option<AppliedStatus>, twilio_sms::hivekeep::store::StoreError> {
        let mut conn = self.connection.clone();
        let key = format!("{}rank:{message}", self.prefix);
        let kept: Option<String> = conn.get(&key).await.unwrap();
        let before = kept.map(|value| state(kept_rank(&value)));
        let rank = next.status.rank().unwrap();
        if before.as_ref().is_some_and(|kept| !rank.supersedes(kept.status.rank().unwrap())) {
            return Ok(before);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        let () =
            conn.pset_ex(&key, format!("{}|{}|", rank.get(), next.status.as_str()), 60_000).await.unwrap();
        Ok(before)
    }
}

/// Every rank 0..=7 sent for each of `MESSAGES` messages from both stores at once; what went wrong: a
/// non-final rank applied twice to a message (two servers both applied it), the final rank not applied
/// by both, or a message not ending on the highest rank.
async fn race<S: ChannelStore + Clone + 'static>(stores: [S; 2], url: &str, prefix: &str) -> Vec<String> {
    const MESSAGES: u64 = 150;
    let mut tasks = tokio::task::JoinSet::new();
    for m in 0..MESSAGES {
        for i in 0..16u64 {
            // Each message gets the ranks in another order, alternating the stores.
            let rank = u8::try_from((i * 5 + m * 3) % 8).unwrap();
            let store = stores[usize::try_from((i + m) % 2).unwrap()].clone();
            let message = sid(1000 + m);
            tasks.spawn(async move {
                let before = store.advance(&message, &state(rank)).await.unwrap();
                (message, rank, was_applied(rank, before.as_ref()))
            });
        }
    }
    let mut applied: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    let finished = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(result) = tasks.join_next().await {
            let (message, rank, ok) = result.unwrap();
            if ok {
                applied.entry(message).or_default().push(rank);
            }
        }
    })
    .await;
    assert!(finished.is_ok(), "the advances did not finish within 60 s");
    let mut conn = connection(url).await;
    let mut problems = Vec::new();
    for m in 0..MESSAGES {
        let message = sid(1000 + m);
        let ranks = applied.get(&message).cloned().unwrap_or_default();
        for rank in 0..5u8 {
            let times = ranks.iter().filter(|r| **r == rank).count();
            if times > 1 {
                problems.push(format!("{message}: non-final rank {rank} applied {times} times ({ranks:?})"));
            }
        }
        if ranks.iter().filter(|r| **r == 7).count() != 2 {
            problems.push(format!("{message}: the final rank not applied by both stores ({ranks:?})"));
        }
        let kept: Option<String> = conn.get(format!("{prefix}rank:{message}")).await.unwrap();
        let kept = kept.as_deref().map(kept_rank);
        if kept != Some(7) {
            problems.push(format!("{message}: ends on {kept:?}"));
        }
    }
    problems
}

/// Many advances race on the same messages from two stores (two connections, as two servers): each
/// non-final rank is applied at most once per message, the final one by both, and every message ends on
/// the highest rank. The same check catches a store that reads and then writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_advances_race_correctly() {
    let Some(redis) = TestRedis::get() else { return };
    let id = ChannelId::new_random();
    let options = RedisOptions::default().with_timeout(Duration::from_secs(5));
    let stores = [
        RedisStore::open(&redis.url(), options.clone()).unwrap().for_channel(&id),
        RedisStore::open(&redis.url(), options).unwrap().for_channel(&id),
    ];
    let prefix = stores[0].prefix().to_owned();
    let problems = race(stores.clone(), &redis.url(), &prefix).await;
    assert!(problems.is_empty(), "{} problems, first: {:?}", problems.len(), problems.first());
    assert_eq!(stores[0].fallbacks() + stores[1].fallbacks(), 0);

    let prefix = format!("twilio-sms-naive:{}:", ChannelId::new_random());
    let naive = ReadThenWrite { connection: connection(&redis.url()).await, prefix: prefix.clone() };
    let other = ReadThenWrite { connection: connection(&redis.url()).await, prefix: prefix.clone() };
    let problems = race([naive, other], &redis.url(), &prefix).await;
    assert!(!problems.is_empty(), "the check did not catch a read-then-write store");
}

/// Redis killed mid-run: every webhook is still answered 200 within the bound and delivered (at least
/// once: a retry is delivered again while Redis is down), the outage is logged once rather than per
/// request, and when Redis is back on its port the store finds it by itself: a retry is acknowledged
/// without delivery again.
#[test]
fn redis_killed_mid_run_then_back_the_channel_answers_throughout_and_recovers() {
    let Some(mut redis) = RedisServer::start() else { return };
    let logs = Captured::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    logs.run(|| {
        runtime.block_on(async {
            let id = ChannelId::new_random();
            let a = server(&redis.url(), id);
            let before = sid(50);
            a.post(&inbound(id, &before)).await;
            a.post(&inbound(id, &before)).await;
            assert_eq!(a.sink.incoming_sids(), [before.as_str()]);

            redis.kill();
            let during = sid(51);
            for _ in 0..20 {
                a.post(&inbound(id, &during)).await;
            }
            a.post(&status(id, &during, "delivered", None)).await;
            a.post(&status(id, &during, "sent", None)).await;
            let delivered = a.sink.incoming_sids().iter().filter(|s| **s == during).count();
            assert_eq!(delivered, 20, "at least once: every copy is delivered while Redis is down");
            assert_eq!(a.sink.statuses().len(), 2, "statuses applied without ordering while down");
            assert!(a.store.fallbacks() >= 22, "{}", a.store.fallbacks());
            let warnings = logs.text().matches("Redis unavailable").count();
            assert_eq!(warnings, 1, "logged once, not per request:\n{}", logs.text());

            redis.restart();
            let after = sid(52);
            let deadline = Instant::now() + RECOVERY;
            // Until the store has reconnected, `after` may be delivered more than once; then exactly once more.
            loop {
                let fallbacks = a.store.fallbacks();
                a.post(&inbound(id, &after)).await;
                if a.store.fallbacks() == fallbacks {
                    break;
                }
                assert!(Instant::now() < deadline, "the store did not find Redis again within {RECOVERY:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let count = |sids: Vec<String>| sids.iter().filter(|s| **s == after).count();
            let seen = count(a.sink.incoming_sids());
            a.post(&inbound(id, &after)).await;
            assert_eq!(count(a.sink.incoming_sids()), seen, "de-duplicated again once Redis is back");
            assert!(logs.text().contains("Redis reachable again"), "{}", logs.text());
            let text = logs.text();
            for secret in ["4155550142", TOKEN] {
                assert!(!text.contains(secret), "the logs carry {secret}");
            }
        });
    });
}

/// Redis restarted gracefully (it saves on SIGTERM): what it had saved is still there, so a retry of an
/// SMS delivered before the restart is still a duplicate, and the store reconnects by itself.
#[tokio::test]
async fn redis_restarted_keeps_what_it_saved_and_the_store_reconnects() {
    let Some(mut redis) = RedisServer::start() else { return };
    let id = ChannelId::new_random();
    let a = server(&redis.url(), id);
    let b = server(&redis.url(), id);
    let message = sid(60);
    a.post(&inbound(id, &message)).await;
    a.post(&status(id, &message, "delivered", None)).await;
    redis.stop();
    redis.restart();
    // The first operation after a restart may meet the dead connection (a fallback) and trigger the
    // reconnection; within the recovery bound the retry is a duplicate again.
    let deadline = Instant::now() + RECOVERY;
    loop {
        let fallbacks = b.store.fallbacks();
        b.post(&inbound(id, &message)).await;
        if b.store.fallbacks() == fallbacks {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not reconnect within {RECOVERY:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_on_b = b.sink.incoming_sids().len();
    b.post(&inbound(id, &message)).await;
    b.post(&status(id, &message, "sent", None)).await;
    assert_eq!(b.sink.incoming_sids().len(), delivered_on_b, "still a duplicate after the restart");
    // The late `sent` hands over the `delivered` kept before the restart.
    assert_eq!(
        b.sink.statuses(),
        [(message.clone(), "delivered".to_owned())],
        "delivered survived the restart"
    );
    assert_eq!(a.sink.incoming_sids(), [message]);
}

/// A server started while nothing listens on Redis's port: it answers and delivers (at least once) from
/// the first request, and once Redis starts there it uses it without being restarted.
#[tokio::test]
async fn a_server_started_before_redis_is_up_serves_then_connects() {
    if !support::redis::available() {
        return;
    }
    let port = free_port();
    assert!(!listening(port));
    let url = format!("redis://127.0.0.1:{port}");
    let id = ChannelId::new_random();
    let a = server(&url, id);
    let early = sid(70);
    a.post(&inbound(id, &early)).await;
    a.post(&inbound(id, &early)).await;
    assert_eq!(a.sink.incoming_sids(), [early.clone(), early], "delivered at least once without Redis");
    assert!(a.store.fallbacks() >= 2);

    let _redis = RedisServer::start_on(port).expect("redis-server did not start on the chosen port");
    let late = sid(71);
    let deadline = Instant::now() + RECOVERY;
    loop {
        let fallbacks = a.store.fallbacks();
        a.post(&inbound(id, &late)).await;
        if a.store.fallbacks() == fallbacks {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not connect within {RECOVERY:?} of Redis starting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = a.sink.incoming_sids().iter().filter(|s| **s == late).count();
    a.post(&inbound(id, &late)).await;
    assert_eq!(a.sink.incoming_sids().iter().filter(|s| **s == late).count(), seen, "a duplicate now");
}

/// Redis frozen (SIGSTOP: connected, never answering): each webhook is answered within the bound (the
/// store's timeout, not Twilio's 15 s) and delivered; when it thaws, the store uses it again.
#[tokio::test]
async fn a_frozen_redis_costs_at_most_the_timeout_per_operation() {
    let Some(redis) = RedisServer::start() else { return };
    let id = ChannelId::new_random();
    let a = server_with(&redis.url(), id, RedisOptions::default().with_timeout(Duration::from_millis(50)));
    let message = sid(80);
    a.post(&inbound(id, &message)).await;
    redis.freeze(true);
    let started = Instant::now();
    for _ in 0..5 {
        a.post(&inbound(id, &message)).await;
    }
    let took = started.elapsed();
    assert_eq!(a.sink.incoming_sids().len(), 6, "delivered while Redis does not answer");
    assert!(took >= Duration::from_millis(5 * 50), "each waited the timeout: {took:?}");
    assert!(took < Duration::from_secs(2), "and no longer: {took:?}");
    redis.freeze(false);
    let deadline = Instant::now() + RECOVERY;
    let fresh = sid(81);
    loop {
        let fallbacks = a.store.fallbacks();
        a.post(&inbound(id, &fresh)).await;
        if a.store.fallbacks() == fallbacks {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not come back within {RECOVERY:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = a.sink.incoming_sids().len();
    a.post(&inbound(id, &fresh)).await;
    a.post(&inbound(id, &message)).await;
    assert_eq!(a.sink.incoming_sids().len(), seen, "both duplicates once Redis answers again");
}

/// `target/<profile>/examples/webhook_server`, built first when run under cargo (`cargo test --test
/// redis_store` does not build examples).
fn webhook_server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(std::path::Path::parent).unwrap().to_path_buf();
    if let Ok(cargo) = std::env::var("CARGO") {
        let mut build = std::process::Command::new(cargo);
        build.current_dir(env!("CARGO_MANIFEST_DIR")).args(["build", "--example", "webhook_server"]);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        let mut child =
            build.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("building webhook_server took more than 600 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "cargo build --example webhook_server failed");
    }
    let binary = profile_dir.join("examples").join("webhook_server");
    assert!(binary.exists(), "{} is missing: cargo build --example webhook_server", binary.display());
    binary
}

/// A running `webhook_server`, killed when dropped; its stdout lines as they come.
struct Process {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn lines_with(&self, text: &str) -> usize {
        self.stdout.lock().unwrap().iter().filter(|l| l.contains(text)).count()
    }
}

/// Posts `webhook` to 127.0.0.1:`port` over a new connection (HTTP/1.1, `Connection: close`) and returns
/// the status code, within 10 s.
fn post_raw(port: u16, webhook: &Webhook) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        webhook.path,
        webhook.signature,
        webhook.body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(webhook.body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// `webhook_server` with `REDIS_URL` where nothing listens yet: it starts, answers Twilio and writes a
/// line per delivery (at least once: a retry too); once Redis is up there it uses it without a restart,
/// and a retry is then answered without a line. Its stdout holds JSON lines only.
#[test]
fn webhook_server_with_redis_url_starts_before_redis_and_then_uses_it() {
    if !support::redis::available() {
        return;
    }
    let binary = webhook_server_binary();
    let (port, redis_port) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{port}");
    let id = ChannelId::new_random();
    let mut child = std::process::Command::new(binary)
        .env("PUBLIC_URL", &public)
        .env("CHANNEL_ID", id.to_string())
        .env("TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_FROM_NUMBER", NUMBER)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("TWILIO_API_BASE", "http://127.0.0.1:9")
        .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    std::thread::spawn({
        let stdout = Arc::clone(&stdout);
        move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                stdout.lock().unwrap().push(line);
            }
        }
    });
    std::thread::spawn({
        let stderr = Arc::clone(&stderr);
        move || {
            use std::io::Read as _;
            let mut err = err;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                stderr.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        }
    });
    let server = Process { child, stdout, stderr };
    support::redis::wait_until(|| listening(port), "webhook_server to listen");

    let early = sid(90);
    for _ in 0..2 {
        assert_eq!(post_raw(port, &inbound_for(&public, id, &early)), 200);
    }
    support::redis::wait_until(|| server.lines_with(&early) == 2, "two lines for the SMS sent twice");

    let _redis = RedisServer::start_on(redis_port).expect("redis-server did not start on the chosen port");
    let deadline = Instant::now() + RECOVERY;
    let mut n = 91;
    loop {
        let late = sid(n);
        assert_eq!(post_raw(port, &inbound_for(&public, id, &late)), 200);
        assert_eq!(post_raw(port, &inbound_for(&public, id, &late)), 200);
        // The lines are written before the answer: a second line would be there now.
        if server.lines_with(&late) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "webhook_server did not use Redis within {RECOVERY:?} of its start"
        );
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = server.stdout.lock().unwrap().clone();
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("incoming").is_some(), "{line}");
    }
    // stderr is read by another thread: wait for the recovery line to have come through it.
    let logged = |text: &str| server.stderr.lock().unwrap().contains(text);
    support::redis::wait_until(
        || logged("Redis unavailable") && logged("Redis reachable again"),
        "the outage and recovery logs",
    );
    let stderr = server.stderr.lock().unwrap().clone();
    assert_eq!(stderr.matches("Redis unavailable").count(), 1, "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
}
