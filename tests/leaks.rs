//! Secret-leak proof: every flow runs with `tracing` at TRACE (every crate, dependencies included) into a
//! buffer, and no Auth Token, API key secret, Basic credential (base64 of `AC…:token` or `SK…:secret`, or
//! the text `Basic `) or full phone number may appear in the logs, in any error (`Display` and `Debug`),
//! in the panic message of an `unwrap()` on it, or in the `Debug` of any public type.
//!
//! Flows: sends (success, multi-part, and every error kind through the mock: 401 with a token and with an
//! API key, 21610, 21408, 21606, 429, 5xx JSON and HTML, a timeout, resets before and after the request,
//! a truncated answer, an oversized answer, a refused connection), `validate_config` (whose account body
//! holds the Auth Token) and its failures, `bot_info`, reconciliation reads, the channel's
//! `send_message` (multi-part, with a failed part, and every error class), signed status callbacks, and
//! every webhook rejection (missing, empty, malformed and forged signatures, wrong token, tampered body
//! and URL, wrong channel, wrong account, wrong To, wrong From, oversize, invalid UTF-8, malformed
//! escapes, repeated `bodySHA256`, non-form content types, GET with a body, SharedKey, unknown channel,
//! unsupported method, no public URL, replays).
//!
//! The subscriber is global (tokio's worker threads log too), so everything runs in the two tests of
//! this file, which share it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method};
use tower::ServiceExt as _;
use twilio_sms::checks::{CheckedAccount, Validation, ValidationStep, WebhookSetup};
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, MemoryVault, Sender, StoredChannelConfig};
use twilio_sms::hivekeep::adapter::{
    IncomingMessage, OutboundMessageParams, ReplyPlan, ReplySend, SendChannel, SendStep, TwilioSmsChannel,
};
use twilio_sms::hivekeep::delivery::{self, DeliveryStatusUpdate, Locale, PartTag};
use twilio_sms::hivekeep::store::MemoryStore;
use twilio_sms::ids::ApiKeySid;
use twilio_sms::outbound::Sms;
use twilio_sms::retry::{self, RetryPolicy};
use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve, webhook_router};
use twilio_sms::sms_text::SmsBody;
use twilio_sms::token::ApiKeySecret;
use twilio_sms::{
    AccountSid, AuthToken, BodyLimit, ChannelId, E164, MessageSid, PublicUrl, UnverifiedWebhook,
    VerifiedInbound, WebhookUrl, WebhookVerifier,
};
use twilio_sms_testkit::mock::{
    AccountStatus, ApiKeyKind, Endpoint, Fault, MockTwilio, Outcome, SignedWebhook,
};
use twilio_sms_testkit::{SigningKey, body_sha256_hex, encode_form, sign};

const AC_A: &str = "AC5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const TOKEN_A: &str = "7a3f9c2e1b8d4f6a0c5e3b9d7f1a2c4e";
const AC_B: &str = "AC6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
const TOKEN_B: &str = "e4c2a1f7d9b3e5c0a6f4d8b1e2c9f3a7";
const WRONG_TOKEN: &str = "0d1e2a3d4b5e6e7f8d0e1a2d3b4e5e6f";
const SK: &str = "SK7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c";
const API_SECRET: &str = "Kx9Qm2Zp7Lw4Rt8Yv3Nb6Hc1Jd5Fg0Se";
const WRONG_API_SECRET: &str = "Pq4Wn8Xs1Dk6Vb3Ht9Mz2Gr7Jy5Lc0Fa";

/// The channel's number, another number of account A, a number without SMS, numbers nobody owns.
const NUM_A: &str = "+14155550123";
const NUM_A2: &str = "+14155550124";
const NUM_VOICE: &str = "+14155550188";
const NOT_OWNED: &str = "+14155550199";
const NUM_B: &str = "+14155550155";
/// The people texting: a customer, one who opted out, one abroad (geo-blocked).
const CUSTOMER: &str = "+14155550177";
const OPTED_OUT: &str = "+14155550166";
const ABROAD: &str = "+447400123456";
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The global TRACE subscriber, writing every event of every crate into one buffer.
fn logs() -> &'static Buf {
    static LOGS: OnceLock<Buf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
        // A call site registered while the subscriber was being installed may have cached "never" (see
        // tests/support/logs.rs): recompute every call site's interest now that it is in place.
        tracing::callsite::rebuild_interest_cache();
        buf
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

/// Everything that must never appear.
fn secrets() -> Vec<(String, String)> {
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out: Vec<(String, String)> = [
        ("Auth Token A", TOKEN_A.to_owned()),
        ("Auth Token B", TOKEN_B.to_owned()),
        ("wrong Auth Token", WRONG_TOKEN.to_owned()),
        ("API key secret", API_SECRET.to_owned()),
        ("wrong API key secret", WRONG_API_SECRET.to_owned()),
        ("Basic credential A", b64(format!("{AC_A}:{TOKEN_A}"))),
        ("Basic credential B", b64(format!("{AC_B}:{TOKEN_B}"))),
        ("Basic credential, wrong token", b64(format!("{AC_A}:{WRONG_TOKEN}"))),
        ("Basic credential, API key", b64(format!("{SK}:{API_SECRET}"))),
        ("Basic credential, wrong API key", b64(format!("{SK}:{WRONG_API_SECRET}"))),
        ("the text `Basic `", "Basic ".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // Every number by its national digits: catches `+1415…`, `%2B1415…` and `1415…` alike.
    for n in [NUM_A, NUM_A2, NUM_VOICE, NOT_OWNED, NUM_B, CUSTOMER, OPTED_OUT, ABROAD] {
        out.push((format!("phone number {n}"), n[n.len() - 10..].to_owned()));
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for (name, secret) in secrets() {
        if let Some(at) = text.find(&secret) {
            let from = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
            let to = (at + secret.len() + 200).min(text.len());
            let to = (to..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            panic!("{name} leaked into {what}:\n…{}…", &text[from..to]);
        }
    }
}

/// The panic message of `unwrap()` on an error, captured by a panic hook scoped to this thread.
fn unwrap_panic_message<T, E: std::fmt::Debug>(result: Result<T, E>) -> String {
    type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>;
    static CAPTURED: Mutex<Option<String>> = Mutex::new(None);
    let me = std::thread::current().id();
    let previous: Arc<Hook> = Arc::new(std::panic::take_hook());
    let forward = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == me {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            *CAPTURED.lock().unwrap() = Some(text);
        } else {
            forward(info);
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = result.unwrap();
    }));
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert!(outcome.is_err(), "unwrap_panic_message is for errors");
    CAPTURED.lock().unwrap().take().unwrap_or_default()
}

/// Records an error three ways: `Display`, `Debug` and the panic message of `unwrap()`.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn error<T, E: std::fmt::Debug + std::fmt::Display>(&mut self, what: &str, result: Result<T, E>) {
        let Err(e) = result else { panic!("{what}: expected an error") };
        self.0.push(format!("{what}: {e}\n{e:?}\n{e:#?}"));
        self.0.push(unwrap_panic_message::<(), _>(Err(e)));
    }

    fn debug(&mut self, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{value:?}\n{value:#?}"));
    }
}

// ---------------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------------

fn sid(s: &str) -> AccountSid {
    AccountSid::parse(s).unwrap()
}

fn number(n: &str) -> E164 {
    E164::parse(n).unwrap()
}

fn credentials(account: &str, token: &str, from: &str) -> Credentials {
    Credentials::new(sid(account), AuthToken::new(token).unwrap(), Sender::Number(number(from)))
}

fn sms(to: &str, text: &str) -> Sms {
    Sms::builder().to(number(to)).body(SmsBody::new(text).unwrap()).build()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl WebhookSink for Recorder {
    fn on_incoming(&self, _: ChannelId, message: IncomingMessage) {
        self.0.lock().unwrap().push(format!("{message:?}"));
    }
    fn on_delivery_update(&self, _: ChannelId, update: DeliveryStatusUpdate) {
        self.0.lock().unwrap().push(format!("{update:?}"));
    }
}

async fn mock() -> MockTwilio {
    let mock = MockTwilio::start().await.unwrap();
    mock.add_account(&sid(AC_A), TOKEN_A).unwrap();
    mock.add_account(&sid(AC_B), TOKEN_B).unwrap();
    mock.add_number(&sid(AC_A), &number(NUM_A), true).unwrap();
    mock.add_number(&sid(AC_A), &number(NUM_A2), true).unwrap();
    mock.add_number(&sid(AC_A), &number(NUM_VOICE), false).unwrap();
    mock.add_number(&sid(AC_B), &number(NUM_B), true).unwrap();
    mock.add_api_key(&sid(AC_A), &ApiKeySid::parse(SK).unwrap(), API_SECRET, ApiKeyKind::Main).unwrap();
    mock.opt_out(&number(OPTED_OUT));
    mock.block_prefix("+44");
    mock.set_callback_delay(Duration::from_millis(5));
    mock
}

fn client(mock: &MockTwilio, tune: impl FnOnce(&mut ClientConfig)) -> TwilioClient {
    let mut config = ClientConfig::default().with_api_base(mock.api_base());
    tune(&mut config);
    TwilioClient::with_config(config).unwrap()
}

fn path_of(url: &str) -> &str {
    &url[url.find("/api/").unwrap()..]
}

fn request(webhook: &SignedWebhook, content_type: Option<&str>) -> http::Request<Body> {
    let mut request = http::Request::post(path_of(&webhook.url))
        .header("x-twilio-signature", &webhook.signature)
        .header("i-twilio-idempotency-token", &webhook.idempotency_token);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    request.body(Body::from(webhook.body.clone())).unwrap()
}

async fn status(router: &axum::Router, request: http::Request<Body>) -> u16 {
    router.clone().oneshot(request).await.unwrap().status().as_u16()
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

// ---------------------------------------------------------------------------------------------------
// Every flow
// ---------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_leaks_nothing_into_logs_errors_or_panics() {
    logs();
    let mock = mock().await;
    let mut seen = Seen::default();
    let c = client(&mock, |_| {});
    let creds = credentials(AC_A, TOKEN_A, NUM_A);

    // ---- sends ----
    let receipt = c.send(&creds, &sms(CUSTOMER, "Your table is booked."), None).await.unwrap();
    seen.debug(&receipt);
    let long = "A paragraph of the answer, long enough to need parts. ".repeat(60);
    let parts = c.send_text(&creds, &number(CUSTOMER), &long, |_| None).await.unwrap();
    seen.debug(&parts);
    seen.error("401", c.send(&credentials(AC_A, WRONG_TOKEN, NUM_A), &sms(CUSTOMER, "x"), None).await);
    let wrong_key = credentials(AC_A, TOKEN_A, NUM_A)
        .with_api_key(ApiKeySid::parse(SK).unwrap(), ApiKeySecret::new(WRONG_API_SECRET).unwrap());
    seen.error("401 (API key)", c.send(&wrong_key, &sms(CUSTOMER, "x"), None).await);
    let with_key = credentials(AC_A, TOKEN_A, NUM_A)
        .with_api_key(ApiKeySid::parse(SK).unwrap(), ApiKeySecret::new(API_SECRET).unwrap());
    seen.debug(&c.send(&with_key, &sms(CUSTOMER, "via key"), None).await.unwrap());
    seen.error("21610", c.send(&creds, &sms(OPTED_OUT, "x"), None).await);
    seen.error("21408", c.send(&creds, &sms(ABROAD, "x"), None).await);
    seen.error("21606", c.send(&credentials(AC_A, TOKEN_A, NOT_OWNED), &sms(CUSTOMER, "x"), None).await);
    for _ in 0..4 {
        mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: Some(0) });
    }
    seen.error("429", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    seen.error("503 JSON", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ProxyHtml { status: 502 });
    seen.error("502 HTML", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    let quick = client(&mock, |cfg| {
        cfg.attempt_timeout = Duration::from_millis(300);
        cfg.total_deadline = Duration::from_secs(2);
        cfg.max_response_bytes = 4096;
    });
    mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::from_secs(2)));
    seen.error("timeout", quick.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetBeforeRead);
    seen.error("reset before read", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetAfterRead { processed: true });
    seen.error("reset after read", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::Truncated);
    seen.error("truncated", c.send(&creds, &sms(CUSTOMER, "x"), None).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::HugeBody { bytes: 100_000 });
    seen.error("huge", quick.send(&creds, &sms(CUSTOMER, "x"), None).await);
    let refused = TwilioClient::with_config({
        let mut cfg = ClientConfig::default().with_api_base("http://127.0.0.1:1".parse().unwrap());
        cfg.total_deadline = Duration::from_secs(1);
        cfg
    })
    .unwrap();
    seen.error("connection refused", refused.send(&creds, &sms(CUSTOMER, "x"), None).await);
    // A multi-part send whose second part fails (a zero stall lets the first through).
    mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::ZERO));
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 500 });
    seen.error("partial", c.send_text(&creds, &number(CUSTOMER), &long, |_| None).await);

    // ---- validate_config (the account body holds the Auth Token), bot_info, reads ----
    seen.debug(&c.validate_config(&creds).await.unwrap());
    seen.debug(&c.validate_config(&with_key).await.unwrap());
    seen.error("validate 401", c.validate_config(&credentials(AC_A, WRONG_TOKEN, NUM_A)).await);
    seen.error("validate not owned", c.validate_config(&credentials(AC_A, TOKEN_A, NOT_OWNED)).await);
    seen.error("validate voice only", c.validate_config(&credentials(AC_A, TOKEN_A, NUM_VOICE)).await);
    mock.set_account_status(&sid(AC_B), AccountStatus::Suspended).unwrap();
    seen.error("validate suspended", c.validate_config(&credentials(AC_B, TOKEN_B, NUM_B)).await);
    mock.set_account_status(&sid(AC_B), AccountStatus::Active).unwrap();
    seen.debug(&c.bot_info(&creds).await.unwrap());
    seen.error("bot_info 401", c.bot_info(&credentials(AC_A, WRONG_TOKEN, NUM_A)).await);
    seen.debug(&c.fetch_message(&creds, &receipt.message.sid).await.unwrap());
    seen.debug(&c.recent_messages_to(&creds, &number(CUSTOMER), 20).await.unwrap());
    seen.error(
        "fetch unknown",
        c.fetch_message(&creds, &MessageSid::parse("SM00000000000000000000000000000000").unwrap()).await,
    );

    // ---- the channel: router on loopback, status callbacks, send_message ----
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = PublicUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let channel = |account: &str, token: &str, from: &str, public: Option<PublicUrl>| {
        Arc::new(TwilioSmsChannel::new(
            ChannelId::new_random(),
            credentials(account, token, from),
            public,
            c.clone(),
        ))
    };
    let a = channel(AC_A, TOKEN_A, NUM_A, Some(public.clone()));
    let a2 = channel(AC_A, TOKEN_A, NUM_A2, Some(public.clone()));
    let b = channel(AC_B, TOKEN_B, NUM_B, Some(public.clone()));
    let offline = channel(AC_A, TOKEN_A, NUM_A, None);
    let registry: Arc<ChannelRegistry> =
        Arc::new([a.clone(), a2.clone(), b.clone(), offline.clone()].into_iter().collect());
    let sink = Arc::new(Recorder::default());
    let router = webhook_router(registry, Arc::clone(&sink));
    let server = tokio::spawn({
        let router = router.clone();
        async move { serve(listener, router, ServeLimits::default()).await }
    });
    seen.debug(&a);

    mock.push_outcome(Outcome::Delivered);
    mock.push_outcome(Outcome::Undelivered(30007));
    let sent = a.send_message(&OutboundMessageParams::text(CUSTOMER, long.clone())).await.unwrap();
    seen.debug(&sent);
    mock.wait_for_callbacks(4, WAIT).await.unwrap();
    seen.debug(&mock.callbacks());
    seen.debug(&mock.messages());
    seen.debug(&mock.requests());
    mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::ZERO));
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    seen.error(
        "send_message partial",
        a.send_message(&OutboundMessageParams::text(CUSTOMER, long.clone())).await,
    );
    seen.error(
        "send_message recipient",
        a.send_message(&OutboundMessageParams::text("0415 555 0177", "x")).await,
    );
    seen.error("send_message empty", a.send_message(&OutboundMessageParams::text(CUSTOMER, " \n")).await);
    for _ in 0..4 {
        mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: Some(0) });
    }
    seen.error("send_message 429", a.send_message(&OutboundMessageParams::text(CUSTOMER, "x")).await);
    seen.error("send_message 21610", a.send_message(&OutboundMessageParams::text(OPTED_OUT, "x")).await);
    mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    seen.error("send_message 503", a.send_message(&OutboundMessageParams::text(CUSTOMER, "x")).await);
    seen.debug(&a.validate_config().await.unwrap());
    seen.debug(&a.bot_info().await.unwrap());
    seen.debug(&offline.send_message(&OutboundMessageParams::text(CUSTOMER, "no public URL")).await.unwrap());

    // ---- webhooks: the genuine one, its replays, and every rejection ----
    let a_url = a.webhook_url().unwrap();
    let inbound = |account: &str, to: &str| {
        MockTwilio::inbound_sms(
            &sid(account),
            &number(CUSTOMER),
            &number(to),
            &format!("call me on {CUSTOMER}"),
        )
    };
    let genuine = mock.sign_webhook(&a_url, &inbound(AC_A, NUM_A)).unwrap();
    let reply = mock.deliver(&genuine).await.unwrap();
    assert_eq!(reply.status, 200);
    seen.debug(&reply);
    assert_eq!(mock.deliver(&genuine).await.unwrap().status, 200, "replay");
    let mut fresh = genuine.clone();
    fresh.idempotency_token = "f0f0f0f0-0000-4000-8000-000000000000".to_owned();
    assert_eq!(status(&router, request(&fresh, FORM)).await, 200, "replay, fresh idempotency token");

    let mut cases: Vec<(&str, http::Request<Body>, u16)> = Vec::new();
    let mut missing = request(&genuine, FORM);
    missing.headers_mut().remove("x-twilio-signature");
    cases.push(("missing signature", missing, 403));
    let mut empty = request(&genuine, FORM);
    empty.headers_mut().insert("x-twilio-signature", HeaderValue::from_static(""));
    cases.push(("empty signature", empty, 403));
    let mut malformed = genuine.clone();
    malformed.signature = "not a signature".to_owned();
    cases.push(("malformed signature", request(&malformed, FORM), 403));
    cases.push(("forged signature", request(&genuine.forged(), FORM), 403));
    let mut wrong_token = genuine.clone();
    let pairs = inbound(AC_A, NUM_A);
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    wrong_token.signature = sign(WRONG_TOKEN, &a_url, &borrowed).to_string();
    cases.push(("wrong token", request(&wrong_token, FORM), 403));
    let mut tampered = genuine.clone();
    tampered.body = tampered.body.replace("call+me", "wire+me");
    cases.push(("tampered body", request(&tampered, FORM), 403));
    let mut moved = genuine.clone();
    moved.url.push_str("?x=1");
    cases.push(("tampered URL", request(&moved, FORM), 403));
    let mut other_channel = genuine.clone();
    other_channel.url = a2.webhook_url().unwrap();
    cases.push(("wrong channel", request(&other_channel, FORM), 403));
    let cross = inbound(AC_B, NUM_A);
    let cross_pairs: Vec<(&str, &str)> = cross.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut wrong_account = mock.sign_webhook(&a_url, &cross).unwrap();
    wrong_account.signature = sign(TOKEN_A, &a_url, &cross_pairs).to_string();
    cases.push(("wrong account", request(&wrong_account, FORM), 403));
    cases.push(("wrong To", request(&mock.sign_webhook(&a_url, &inbound(AC_A, NUM_A2)).unwrap(), FORM), 403));
    let status_from = |from: &'static str| {
        [
            ("MessageSid", "SM99999999999999999999999999999999"),
            ("MessageStatus", "delivered"),
            ("AccountSid", AC_A),
            ("From", from),
            ("To", CUSTOMER),
        ]
    };
    cases.push(("wrong From", request(&mock.sign_webhook(&a_url, &status_from(NUM_A2)).unwrap(), FORM), 403));
    let mut oversize = genuine.clone();
    oversize.body = format!("{}&Pad={}", genuine.body, "x".repeat(70_000));
    cases.push(("oversize", request(&oversize, FORM), 413));
    for (name, body) in [
        ("invalid UTF-8", format!("{}&Bad=%FF", genuine.body)),
        ("malformed escape", format!("{}&Bad=%ZZ", genuine.body)),
    ] {
        let mut bad = genuine.clone();
        bad.body = body;
        cases.push((name, request(&bad, FORM), 403));
    }
    let mut repeated = genuine.clone();
    let hash = body_sha256_hex(genuine.body.as_bytes());
    repeated.url = format!("{a_url}?bodySHA256={hash}&bodySHA256={hash}");
    cases.push(("repeated bodySHA256", request(&repeated, Some("application/json")), 403));
    cases.push(("JSON without bodySHA256", request(&genuine, Some("application/json")), 403));
    cases.push(("text/plain", request(&genuine, Some("text/plain")), 403));
    cases.push(("no content type", request(&genuine, None), 403));
    let get = http::Request::get(path_of(&a_url)).header("x-twilio-signature", &genuine.signature);
    cases.push(("GET with a body", get.body(Body::from(genuine.body.clone())).unwrap(), 403));
    let mut shared_key = request(&genuine, FORM);
    shared_key
        .headers_mut()
        .insert("x-twilio-webhooks-signature-settings", HeaderValue::from_static("key=KS1"));
    cases.push(("SharedKey", shared_key, 403));
    let mut unknown = genuine.clone();
    unknown.url = a_url.replace(&a.id().to_string(), &ChannelId::new_random().to_string());
    cases.push(("unknown channel", request(&unknown, FORM), 404));
    let put = http::Request::put(path_of(&a_url)).body(Body::from(genuine.body.clone())).unwrap();
    cases.push(("PUT", put, 405));
    let mut no_public_url = genuine.clone();
    no_public_url.url = format!(
        "{}{}",
        public.as_str(),
        path_of(&a_url).replace(&a.id().to_string(), &offline.id().to_string())
    );
    cases.push(("no PUBLIC_URL", request(&no_public_url, FORM), 403));
    for (name, request, expected) in cases {
        assert_eq!(status(&router, request).await, expected, "{name}");
    }
    // The same over a real socket, from the mock.
    for webhook in [genuine.forged(), tampered, moved, other_channel, wrong_account] {
        assert_eq!(mock.deliver(&webhook).await.unwrap().status, 403);
    }

    // The verifier's own errors, each reason.
    let verifier = WebhookVerifier::new(&AuthToken::new(TOKEN_A).unwrap());
    let exact = WebhookUrl::exact(&a_url).unwrap();
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    h.insert("x-twilio-signature", HeaderValue::from_str(&wrong_token.signature).unwrap());
    for body in [genuine.body.clone(), format!("{}&%FF", genuine.body), format!("{}&%Z", genuine.body)] {
        let w =
            UnverifiedWebhook::new(Method::POST, exact.clone(), h.clone(), body, BodyLimit::DEFAULT).unwrap();
        seen.debug(&w);
        seen.error("verify", verifier.verify(w));
    }
    seen.error(
        "too large",
        UnverifiedWebhook::new(
            Method::POST,
            exact.clone(),
            h.clone(),
            genuine.body.clone(),
            BodyLimit::bytes(8),
        ),
    );
    let w = UnverifiedWebhook::new(Method::POST, exact.clone(), h, genuine.body.clone(), BodyLimit::DEFAULT)
        .unwrap();
    let verified = verifier.verify(w);
    seen.error("mismatch", verified);

    // Status callbacks reached the sink; the genuine inbound too (once).
    let events = sink.0.lock().unwrap().clone();
    assert!(events.iter().any(|e| e.starts_with("IncomingMessage")), "{events:?}");
    assert!(events.iter().any(|e| e.starts_with("DeliveryStatusUpdate")), "{events:?}");
    seen.0.extend(events);
    server.abort();
    mock.shutdown().await;

    let logs = logged();
    if let Ok(path) = std::env::var("LEAKS_DUMP") {
        std::fs::write(
            path,
            format!("{logs}\n==== errors, Debug, panic messages ====\n{}", seen.0.join("\n")),
        )
        .unwrap();
    }
    assert!(
        logs.contains("webhook refused") && logs.contains("signature: mismatch"),
        "the logs were captured"
    );
    assert!(logs.contains(" TRACE "), "TRACE events were captured");
    assert!(logs.contains("mock answered"), "the mock's logs were captured");
    // The channel's spans name the channel and the message (a SID), never a number or a secret.
    assert!(logs.contains("twilio_sms.send{channel="), "the send span was captured");
    assert!(logs.contains("twilio_sms.webhook{channel="), "the webhook span was captured");
    assert!(logs.contains(" sid=SM"), "a span names the message by its SID");
    assert_clean("the logs", &logs);
    for text in &seen.0 {
        assert_clean("an error, a Debug or a panic message", text);
    }
}

// ---------------------------------------------------------------------------------------------------
// Debug of every public type
// ---------------------------------------------------------------------------------------------------

/// Builds a value of every public type (secrets and numbers inside) and checks its `Debug` (and
/// `Display`, where there is one). Message text is content: `Sms`/`SmsBody` print it by design, so the
/// texts here hold no number.
#[test]
fn debug_of_every_public_type_leaks_nothing() {
    logs();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut out: Vec<String> = Vec::new();
    let mut push = |value: &dyn std::fmt::Debug| out.push(format!("{value:?}\n{value:#?}"));

    // Secrets and credentials.
    let token = AuthToken::new(TOKEN_A).unwrap();
    push(&token);
    push(&SigningKey::new(TOKEN_A));
    push(&ApiKeySecret::new(API_SECRET).unwrap());
    let creds = credentials(AC_A, TOKEN_A, NUM_A)
        .with_api_key(ApiKeySid::parse(SK).unwrap(), ApiKeySecret::new(API_SECRET).unwrap());
    push(&creds);
    let vault = MemoryVault::default();
    vault.insert("tok", TOKEN_A);
    vault.insert("sk", API_SECRET);
    push(&vault);
    let config = StoredChannelConfig::from_json(&format!(
        r#"{{"accountSid":"{AC_A}","authTokenVaultKey":"tok","fromNumber":"{NUM_A}","apiKeySid":"{SK}","apiKeySecretVaultKey":"sk"}}"#
    ))
    .unwrap();
    push(&config);
    push(&config.sender());
    push(&runtime.block_on(config.resolve(&vault)).unwrap());
    push(
        &StoredChannelConfig::from_json(&format!(r#"{{"accountSid":"{AC_A}","authToken":"{TOKEN_A}"}}"#))
            .unwrap_err(),
    );
    push(
        &StoredChannelConfig::from_json(&format!(
            r#"{{"accountSid":"{AC_A}","authTokenVaultKey":"k","fromNumber":"+1555{}"}}"#,
            &CUSTOMER[5..]
        ))
        .unwrap_err(),
    );
    push(&AuthToken::new(format!(" {TOKEN_A}")).unwrap_err());

    // Identifiers and numbers.
    let e164 = number(CUSTOMER);
    push(&e164);
    push(&e164.redacted());
    push(&e164.redacted().to_string());
    push(&E164::normalize("(415) 555-0177", "US").unwrap());
    push(&E164::parse("+15551234567").unwrap_err());
    push(&sid(AC_A));
    push(&MessageSid::parse("SM0123456789abcdef0123456789abcdef").unwrap());
    push(&AccountSid::parse(CUSTOMER).unwrap_err());
    push(&ChannelId::new_random());
    push(&ChannelId::parse(CUSTOMER).unwrap_err());
    let public = PublicUrl::parse("https://agents.example.com").unwrap();
    push(&public);
    push(&PublicUrl::parse(&format!("https://x.com/{CUSTOMER} x")).unwrap_err());

    // Webhooks: a GET inbound (its query holds the numbers) and a POST, unverified and verified.
    let verifier = WebhookVerifier::new(&token).with_secondary(&AuthToken::new(TOKEN_B).unwrap());
    push(&verifier);
    let params =
        MockTwilio::inbound_sms(&sid(AC_A), &number(CUSTOMER), &number(NUM_A), &format!("I am {CUSTOMER}"));
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let get_url = format!("https://agents.example.com/hook?{}", encode_form(&pairs));
    let exact = WebhookUrl::exact(&get_url).unwrap();
    push(&exact);
    let mut h = HeaderMap::new();
    h.insert("x-twilio-signature", HeaderValue::from_str(&sign(TOKEN_A, &get_url, &[]).to_string()).unwrap());
    let get = UnverifiedWebhook::new(Method::GET, exact, h, Vec::new(), BodyLimit::DEFAULT).unwrap();
    push(&get);
    let verified = verifier.verify(get).unwrap();
    push(&verified);
    push(&verified.signed_body());
    let post_url = "https://agents.example.com/hook";
    let signature = sign(TOKEN_A, post_url, &pairs);
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    h.insert("x-twilio-signature", HeaderValue::from_str(&signature.to_string()).unwrap());
    let post = UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(post_url).unwrap(),
        h,
        encode_form(&pairs),
        BodyLimit::DEFAULT,
    )
    .unwrap();
    let inbound = VerifiedInbound::try_from(verifier.verify(post).unwrap()).unwrap();
    push(&inbound);
    push(inbound.from());
    push(inbound.to());
    push(&IncomingMessage::from_inbound(&inbound));
    push(&BodyLimit::DEFAULT);

    // Delivery: a status callback from the channel's number with an error message quoting a number.
    let status = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("MessageStatus", "undelivered"),
        ("AccountSid", AC_A),
        ("From", NUM_A),
        ("To", CUSTOMER),
        ("ErrorCode", "30003"),
        ("ErrorMessage", "Unreachable destination handset +14155550177"),
    ];
    let url = "https://agents.example.com/hook?part=2&of=2&first=SM11111111111111111111111111111111";
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    h.insert("x-twilio-signature", HeaderValue::from_str(&sign(TOKEN_A, url, &status).to_string()).unwrap());
    let w = UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(url).unwrap(),
        h,
        encode_form(&status),
        BodyLimit::DEFAULT,
    )
    .unwrap();
    let event = delivery::classify(verifier.verify(w).unwrap(), &sid(AC_A), Some(&number(NUM_A))).unwrap();
    push(&event);
    if let delivery::WebhookEvent::Status(report) = &event {
        push(report);
        push(&DeliveryStatusUpdate::from_report(report, Locale::Fr));
    }
    push(&PartTag::from_query(Some("part=1&of=2")));
    push(&delivery::BindingError::WrongRecipient);
    push(&MemoryStore::default());

    // Outbound and the client: every type the mock flows produce (their errors are in the other test).
    runtime.block_on(async {
        let mock = mock().await;
        push(&mock);
        let c = client(&mock, |_| {});
        push(&c);
        push(c.config());
        let sms = sms(NUM_A2, "hello there");
        push(&sms);
        push(&OutboundMessageParams::text(CUSTOMER, format!("reply to {CUSTOMER}")));
        let receipt = c.send(&creds, &sms, None).await.unwrap();
        push(&receipt);
        push(&receipt.message);
        push(&receipt.status_updates);
        push(&c.bot_info(&creds).await.unwrap());
        push(&c.validate_config(&creds).await.unwrap());
        let channel = TwilioSmsChannel::new(
            ChannelId::new_random(),
            credentials(AC_A, TOKEN_A, NUM_A),
            Some(public.clone()),
            c.clone(),
        );
        push(&channel);
        let request = http::Request::post(path_of(&channel.webhook_url().unwrap()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body(encode_form(&pairs))
            .unwrap();
        push(&channel.handle_inbound_webhook(&channel.id().to_string(), request).await);
        let signed = mock.sign_webhook(&channel.webhook_url().unwrap(), &params).unwrap();
        push(&signed);
        mock.push_fault(Fault::ResetBeforeRead);
        push(&Fault::TooManyRequests { retry_after: Some(3) });
        push(&Endpoint::CreateMessage);
        push(&Outcome::Undelivered(30007));
        push(&AccountStatus::Suspended);
        push(&ApiKeyKind::Standard);
        push(&mock.requests());
        push(&mock.messages());
        push(&mock.add_account(&sid("AC0000000000000000000000000000000f"), " bad").unwrap_err());
        mock.shutdown().await;
    });
    push(&twilio_sms::api_error::parse_error_response(
        400,
        Some("application/json"),
        format!(r#"{{"code":21211,"message":"The 'To' number {CUSTOMER} is not valid","more_info":"https://www.twilio.com/docs/errors/21211?To=%2B14155550177"}}"#).as_bytes(),
    ));
    push(&twilio_sms::sms_text::segments("hello"));

    // The core's steps, whose requests carry numbers and text: a reply's send (in flight, waiting, the
    // error), the account check at the number's read, the webhook setup.
    let id = ChannelId::new_random();
    let (api_base, account) = (twilio_sms::ApiBase::default(), sid(AC_A));
    let sender = Sender::Number(number(NUM_A));
    let send_channel = SendChannel {
        id: &id,
        public_url: Some(&public),
        api_base: &api_base,
        account: &account,
        sender: &sender,
    };
    let plan = ReplyPlan::new(&format!("call me at {CUSTOMER}"), &[], Locale::En).unwrap();
    let now = std::time::SystemTime::now();
    let step =
        ReplySend::start(plan, number(CUSTOMER), send_channel, Locale::En, RetryPolicy::default(), now);
    push(&step);
    let SendStep::Send(sending) = step else { panic!("a send starts with its request") };
    let step = sending.failed(now, retry::Seen::Connect);
    push(&step);
    let SendStep::Wait(waiting) = step else { panic!("no connection: a wait") };
    let SendStep::Send(sending) = waiting.over(now) else { panic!("then the request again") };
    push(&sending.failed(now, retry::Seen::Lost));
    let checked = CheckedAccount { api_base: &api_base, account: &account, sender: &sender };
    let ValidationStep::Request(read) = Validation::start(checked, true, RetryPolicy::default(), now) else {
        panic!("the account is read")
    };
    let active = format!(r#"{{"sid":"{AC_A}","friendly_name":"Agents","status":"active"}}"#);
    let step = read.answered(http::StatusCode::OK, &HeaderMap::new(), active.as_bytes(), now);
    assert!(matches!(step, ValidationStep::Request(_)), "then the number: {step:?}");
    push(&step);
    push(&WebhookSetup::start(checked, "https://agents.example.com/hook", RetryPolicy::default(), now));

    for text in &out {
        assert_clean("a Debug", text);
    }
}
