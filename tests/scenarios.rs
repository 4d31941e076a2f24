//! The scenario corpus (`tests/scenarios/*.json`, format in its README.md) run through the native
//! driver: webhooks through `TwilioSmsChannel::handle_inbound_webhook` with a store that mirrors the
//! default `MemoryStore`, sends through `TwilioSmsChannel::send_message` against a scripted Twilio on
//! loopback, store operations on `MemoryStore`. The package's JS tests run the same files through the
//! WebAssembly driver (`bindings/wasm/test/scenarios.test.mjs`). A known divergence between the two
//! drivers is data in the scenario: this runner checks the native side of it and reports it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use twilio_sms::api_error::RetrySafety;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{OutboundMessageParams, TwilioSmsChannel};
use twilio_sms::hivekeep::delivery::{AppliedStatus, Locale};
use twilio_sms::hivekeep::store::{ChannelStore, MemoryStore, StoreError};
use twilio_sms::status::{DeliveryRank, MessageStatus};
use twilio_sms::webhook::EMPTY_TWIML;
use twilio_sms::{AccountSid, AuthToken, BodyLimit, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::{SigningKey, encode_form};

/// Every scenario ends within this (a scripted Twilio that never answers cannot hang the run).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
/// Every wait for the client inside a scripted Twilio.
const WAIT: Duration = Duration::from_secs(20);
const DRIVER: &str = "native";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("scenarios")
}

/// The scenario files, sorted, with `{channel}` replaced by the scenario's channel id.
fn scenarios() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let raw: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let id = raw["channel"]["id"].as_str().unwrap_or("").to_owned();
            let text = if id.is_empty() { text } else { text.replace("{channel}", &id) };
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// `content` as a string, or pieces: strings and `{"repeat": s, "times": n}`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(pieces) => pieces.iter().map(text).collect(),
        Value::Object(o) => o["repeat"].as_str().unwrap().repeat(o["times"].as_u64().unwrap() as usize),
        _ => String::new(),
    }
}

/// What this driver is expected to give for `expect`: a divergence's field takes the native value.
fn expected_for_driver(expect: &Value, file: &str, at: &str, reported: &mut Vec<String>) -> Value {
    let mut expect = expect.clone();
    if let Some(list) = expect.get("divergences").and_then(Value::as_array).cloned() {
        for d in list {
            let field = d["field"].as_str().unwrap();
            expect[field] = d[DRIVER].clone();
            reported.push(format!("{file} {at}: {field}: {}", d["note"].as_str().unwrap_or("")));
        }
    }
    expect
}

fn check(failures: &mut Vec<String>, file: &str, at: &str, field: &str, actual: &Value, expected: &Value) {
    if actual != expected {
        let (expected, actual) = (masked(&expected.to_string()), masked(&actual.to_string()));
        failures.push(format!("{file} {at}: {field}: expected {expected}, native gave {actual}"));
    }
}

/// `text` with every phone number (`+` and 8 or more digits) masked but its last two digits.
fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(plus) = rest.find('+') {
        out.push_str(&rest[..=plus]);
        rest = &rest[plus + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits >= 8 {
            out.push_str(&"•".repeat(digits - 2));
            out.push_str(&rest[digits - 2..digits]);
        } else {
            out.push_str(&rest[..digits]);
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// The store: the default MemoryStore, with what it holds mirrored so that it can be compared.

/// `MemoryStore` (the native channel's default), with a copy of the keys it saw first and of the
/// messages it was given a status for (their kept state is read back from the store itself).
struct Mirror {
    inner: MemoryStore,
    seen: Mutex<BTreeSet<String>>,
    /// The messages a status was given for; what the store keeps for them is read back from it.
    messages: Mutex<BTreeSet<String>>,
}

/// A status of rank `n` (the first one with that rank).
fn status_of_rank(n: u64) -> &'static str {
    ["scheduled", "accepted", "queued", "sending", "sent", "delivered", "read", "failed"]
        [usize::try_from(n).unwrap()]
}

impl Mirror {
    fn new(ttl: Duration) -> Self {
        Self { inner: MemoryStore::new(10_000, ttl), seen: Mutex::default(), messages: Mutex::default() }
    }

    /// Writes a normalised store state (`{seen: [...], status: {sid: {rank, status?, errorCode?}}}`) into
    /// the store.
    async fn load(&self, state: &Value) {
        for key in state["seen"].as_array().into_iter().flatten() {
            assert!(self.first_sighting(key.as_str().unwrap()).await.unwrap());
        }
        for (sid, record) in state["status"].as_object().into_iter().flatten() {
            let status =
                record["status"].as_str().unwrap_or_else(|| status_of_rank(record["rank"].as_u64().unwrap()));
            let error_code = record["errorCode"].as_u64().map(|c| u32::try_from(c).unwrap());
            let applied = AppliedStatus { status: MessageStatus::parse(status), error_code };
            assert_eq!(
                applied.status.rank().map(|r| u64::from(r.get())),
                record["rank"].as_u64(),
                "{sid}: rank and status"
            );
            assert_eq!(self.advance(sid, &applied).await.unwrap(), None);
        }
    }

    /// The normalised state: `{rank, status, errorCode}` per message, as the store keeps it (read back
    /// with an inbound status, which it gives the kept state for and never keeps).
    async fn state(&self) -> Value {
        let seen: Vec<String> = self.seen.lock().unwrap().iter().cloned().collect();
        let messages: Vec<String> = self.messages.lock().unwrap().iter().cloned().collect();
        let probe = AppliedStatus { status: MessageStatus::Received, error_code: None };
        let mut status = Map::new();
        for sid in messages {
            if let Some(kept) = self.inner.advance(&sid, &probe).await.unwrap() {
                let rank = kept.status.rank().map(DeliveryRank::get);
                status.insert(
                    sid,
                    json!({"rank": rank, "status": kept.status.as_str(), "errorCode": kept.error_code}),
                );
            }
        }
        json!({"seen": seen, "status": status})
    }
}

impl ChannelStore for Mirror {
    async fn first_sighting(&self, key: &str) -> Result<bool, StoreError> {
        let first = self.inner.first_sighting(key).await?;
        if first {
            self.seen.lock().unwrap().insert(key.to_owned());
        }
        Ok(first)
    }

    async fn advance(
        &self,
        message: &str,
        state: &AppliedStatus,
    ) -> Result<Option<AppliedStatus>, StoreError> {
        self.messages.lock().unwrap().insert(message.to_owned());
        self.inner.advance(message, state).await
    }
}

/// Whether the store kept `state`, given the state it gave back as kept before.
fn applied(state: &AppliedStatus, before: Option<&AppliedStatus>) -> bool {
    let Some(rank) = state.status.rank() else { return false };
    before.and_then(|b| b.status.rank()).is_none_or(|kept| rank.supersedes(kept))
}

/// The native state projected on what the expected state names: a record given as `{rank}` alone (the
/// store scenarios, whose operations are by rank) is compared by rank alone.
fn projected(got: &Value, expected: &Value) -> Value {
    let mut got = got.clone();
    for (sid, record) in got["status"].as_object_mut().into_iter().flatten() {
        let names =
            expected["status"][sid.as_str()].as_object().map(|r| r.keys().cloned().collect::<Vec<_>>());
        if let (Some(names), Some(fields)) = (names, record.as_object_mut()) {
            fields.retain(|name, _| names.contains(name));
        }
    }
    got
}

/// A normalised expected state: its `seen` keys in order.
fn normalised(state: &Value) -> Value {
    let seen: BTreeSet<String> =
        state["seen"].as_array().into_iter().flatten().map(|k| k.as_str().unwrap().to_owned()).collect();
    json!({"seen": seen, "status": state["status"].as_object().cloned().unwrap_or_default()})
}

// ---------------------------------------------------------------------------------------------
// The channel.

fn channel(spec: &Value, client: TwilioClient, store: Arc<Mirror>) -> TwilioSmsChannel<Mirror> {
    let id = ChannelId::parse(spec["id"].as_str().unwrap()).unwrap();
    let sender = Sender::Number(E164::parse(spec["fromNumber"].as_str().unwrap()).unwrap());
    let credentials = Credentials::new(
        AccountSid::parse(spec["accountSid"].as_str().unwrap()).unwrap(),
        AuthToken::new(spec["token"].as_str().unwrap()).unwrap(),
        sender,
    );
    let public_url = spec["publicUrl"].as_str().map(|u| PublicUrl::parse(u).unwrap());
    let mut channel = TwilioSmsChannel::with_store(id, credentials, public_url, client, store)
        .with_locale(Locale::parse(spec["locale"].as_str()));
    if let Some(limit) = spec["bodyLimit"].as_u64() {
        channel = channel.with_body_limit(BodyLimit::bytes(limit as usize));
    }
    channel
}

// ---------------------------------------------------------------------------------------------
// Webhooks.

fn pairs(params: &Value) -> Vec<(String, String)> {
    params
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect()
}

/// The request of a step: the body from `params` (form-encoded) or `body`; the signature computed
/// when `sign` asks for it (with the channel's token and `publicUrl` + `target`, or its overrides).
fn request_of(step: &Value, spec: &Value) -> (String, http::Request<Vec<u8>>) {
    let r = &step["request"];
    let target = r["target"].as_str().unwrap().to_owned();
    let method = r["method"].as_str().unwrap_or("POST");
    let params = pairs(&r["params"]);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = match r.get("body") {
        Some(body) => text(body).into_bytes(),
        None if r.get("params").is_some() => encode_form(&borrowed).into_bytes(),
        None => Vec::new(),
    };
    let mut builder = http::Request::builder().method(method).uri(&target);
    let mut has_type = false;
    for (name, value) in r["headers"].as_object().into_iter().flatten() {
        has_type |= name.eq_ignore_ascii_case("content-type");
        builder = builder.header(name.as_str(), value.as_str().unwrap());
    }
    if !has_type && method == "POST" && r.get("params").is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    if let Some(sign) = r.get("sign").filter(|s| !s.is_null() && *s != false) {
        let token = sign.get("token").and_then(Value::as_str).or(spec["token"].as_str()).unwrap();
        let base = spec["publicUrl"].as_str().unwrap_or("https://unset.invalid");
        let url =
            sign.get("url").and_then(Value::as_str).map_or_else(|| format!("{base}{target}"), str::to_owned);
        let signature = SigningKey::new(token).sign(&url, &borrowed).to_string();
        builder = builder.header("x-twilio-signature", signature);
    }
    let path = target.split('?').next().unwrap();
    let path_id = path.rsplit('/').next().unwrap().to_owned();
    (path_id, builder.body(body).unwrap())
}

async fn run_webhook(file: &str, s: &Value, failures: &mut Vec<String>, reported: &mut Vec<String>) {
    let spec = &s["channel"];
    let store = Arc::new(Mirror::new(Duration::from_secs(24 * 3600)));
    store.load(&s["store"]["before"]).await;
    let client = TwilioClient::with_config(ClientConfig::default()).unwrap();
    let ch = channel(spec, client, Arc::clone(&store));
    for (i, step) in s["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("step {}", i + 1);
        let expect = expected_for_driver(&step["expect"], file, &at, reported);
        let (path_id, request) = request_of(step, spec);
        let result = ch.handle_inbound_webhook(&path_id, request).await;
        let status = result.response.status().as_u16();
        check(failures, file, &at, "response", &json!(status), &expect["response"]);
        let content_type =
            result.response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let body = *result.response.body();
        let (want_type, want_body) =
            if status == 200 { (Some("application/xml".to_owned()), EMPTY_TWIML) } else { (None, "") };
        if content_type != want_type || body != want_body {
            failures.push(format!(
                "{file} {at}: the answer's body is not the rule's ({content_type:?}, {body:?})"
            ));
        }
        let json_of = |v: Option<Value>| v.unwrap_or(Value::Null);
        let incoming = json_of(result.incoming.as_ref().map(|m| serde_json::to_value(m).unwrap()));
        let update = json_of(result.delivery_update.as_ref().map(|u| serde_json::to_value(u).unwrap()));
        let opt_out = json_of(result.opt_out.as_ref().map(|n| serde_json::to_value(n).unwrap()));
        let key = json_of(result.idempotency_key.clone().map(Value::from));
        check(failures, file, &at, "incoming", &incoming, &expect["incoming"]);
        check(failures, file, &at, "deliveryUpdate", &update, &expect["deliveryUpdate"]);
        check(failures, file, &at, "optOut", &opt_out, &expect["optOut"]);
        check(failures, file, &at, "idempotencyKey", &key, &expect["idempotencyKey"]);
    }
    let after = expected_for_driver(&s["store"], file, "store", reported);
    let expected = normalised(&after["after"]);
    check(failures, file, "store", "after", &projected(&store.state().await, &expected), &expected);
}

// ---------------------------------------------------------------------------------------------
// Sends: a scripted Twilio on loopback.

/// One scripted step of Twilio: an answer, or a failure of the connection.
#[derive(Debug, Clone)]
enum Step {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Nothing listens: the connection is refused.
    Refuse,
    /// The request is read, then the connection is closed without an answer.
    Reset,
    /// The request is read and never answered (the client's attempt times out).
    Stall,
}

fn steps(script: &Value) -> Vec<Step> {
    script
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a.get("fail").and_then(Value::as_str) {
            Some("refuse") => Step::Refuse,
            Some("reset") => Step::Reset,
            Some("stall") => Step::Stall,
            Some(other) => panic!("unknown failure {other}"),
            None => {
                let mut body = match &a["body"] {
                    Value::String(s) => s.clone().into_bytes(),
                    Value::Null => Vec::new(),
                    other => other.to_string().into_bytes(),
                };
                if let Some(size) = a.get("padTo").and_then(Value::as_u64) {
                    body.resize(size as usize, b' ');
                }
                let headers = a["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                Step::Answer { status: a["status"].as_u64().unwrap() as u16, headers, body }
            }
        })
        .collect()
}

/// The client's wait before attempt `n + 1` after attempt `n` failed safely without a Retry-After.
fn backoff_ms(n: u32) -> u64 {
    250u64 << n.saturating_sub(1).min(4)
}

/// How long after the connection closes (or the run starts) the refused run starting at step `at`
/// lasts: until the middle of the wait before the attempt that follows it.
fn refused_for(steps: &[Step], at: usize) -> Option<Duration> {
    // The attempt number (within its part) of step `at`, and the wait before it.
    let (mut attempt, mut wait) = (1u32, 0u64);
    for step in &steps[..at] {
        match step {
            Step::Answer { status: 429, headers, .. } => {
                let retry = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after"));
                wait = retry.map_or(backoff_ms(attempt), |(_, v)| v.trim().parse::<u64>().unwrap() * 1000);
                attempt += 1;
            }
            Step::Refuse => {
                wait = backoff_ms(attempt);
                attempt += 1;
            }
            _ => (attempt, wait) = (1, 0),
        }
    }
    let mut total = wait;
    let mut i = at;
    while matches!(steps.get(i), Some(Step::Refuse)) {
        if !matches!(steps.get(i + 1), Some(Step::Refuse)) {
            // The middle of the wait after the run's last refusal.
            total += backoff_ms(attempt) / 2;
        } else {
            total += backoff_ms(attempt);
        }
        attempt += 1;
        i += 1;
    }
    // Nothing after the run: it is never reopened.
    steps.get(i).map(|_| Duration::from_millis(total))
}

/// A request the scripted Twilio received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    user: Option<String>,
    password: Option<String>,
    form: Vec<(String, String)>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                    })
                    .map_or(0, |v| v.parse::<usize>().unwrap());
                if buf.len() >= end + 4 + length {
                    return Some((head, buf[end + 4..end + 4 + length].to_vec()));
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let (head, body) = tokio::time::timeout(WAIT, read).await.ok()??;
    let mut words = head.split(' ');
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let basic = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().strip_prefix("Basic ").map(str::to_owned))?
    });
    let decoded = basic.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let credential = decoded.map(|d| String::from_utf8(d).unwrap());
    let (user, password) = match credential.as_deref().and_then(|c| c.split_once(':')) {
        Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
        None => (None, None),
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    Some(Received { method, path, user, password, form })
}

async fn answer(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head =
        format!("HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// Serves `steps` in order on `port` (refusing where the script says), then answers anything more
/// with an unscripted 500; records every request read.
async fn scripted_twilio(port: u16, steps: Vec<Step>, seen: Arc<Mutex<Vec<Received>>>) {
    let bind = || async { TcpListener::bind(("127.0.0.1", port)).await.expect("rebind the scripted port") };
    let mut listener = None;
    let mut i = 0;
    loop {
        let step = steps.get(i).cloned();
        if let Some(Step::Refuse) = step {
            listener = None;
            let Some(closed) = refused_for(&steps, i) else { return };
            tokio::time::sleep(closed).await;
            while matches!(steps.get(i), Some(Step::Refuse)) {
                i += 1;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => bind().await,
        };
        let Ok(Ok((mut stream, _))) = tokio::time::timeout(WAIT, l.accept()).await else { return };
        listener = Some(l);
        let Some(request) = read_request(&mut stream).await else { continue };
        seen.lock().unwrap().push(request);
        // Before the answer, so that the client's next connection is refused.
        if let Some(Step::Refuse) = steps.get(i + 1) {
            listener = None;
        }
        match step {
            Some(Step::Answer { status, headers, body }) => {
                answer(&mut stream, status, &headers, &body).await
            }
            Some(Step::Reset) => drop(stream),
            Some(Step::Stall) => {
                let mut sink = [0u8; 64];
                let _ = tokio::time::timeout(WAIT, stream.read(&mut sink)).await;
            }
            Some(Step::Refuse) => unreachable!(),
            None => {
                let body = br#"{"code":20500,"message":"unscripted request","status":500}"#;
                answer(&mut stream, 500, &[("content-type".into(), "application/json".into())], body).await;
            }
        }
        i += 1;
    }
}

fn safety(retry: RetrySafety) -> &'static str {
    match retry {
        RetrySafety::Safe => "safe",
        RetrySafety::Ambiguous => "ambiguous",
        _ => "final",
    }
}

async fn run_send(file: &str, s: &Value, failures: &mut Vec<String>, reported: &mut Vec<String>) {
    let spec = &s["channel"];
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(scripted_twilio(port, steps(&s["twilio"]), Arc::clone(&seen)));
    let mut config =
        ClientConfig::default().with_api_base(format!("http://127.0.0.1:{port}").parse().unwrap());
    let options = &s["client"];
    if let Some(n) = options["maxAttempts"].as_u64() {
        config.max_attempts = n as u32;
    }
    if let Some(ms) = options["attemptTimeoutMs"].as_u64() {
        config.attempt_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = options["deadlineMs"].as_u64() {
        config.total_deadline = Duration::from_millis(ms);
    }
    let client = TwilioClient::with_config(config).unwrap();
    let ch = channel(spec, client, Arc::new(Mirror::new(Duration::from_secs(3600))));
    let p = &s["params"];
    let mut params = OutboundMessageParams::text(p["chatId"].as_str().unwrap(), text(&p["content"]));
    params.locale = p["locale"].as_str().map(str::to_owned);
    params.attachments = p["attachments"].as_array().cloned().unwrap_or_default();
    let outcome = ch.send_message(&params).await;
    server.abort();
    let expect = expected_for_driver(&s["expect"], file, "send", reported);
    let (result, error) = match outcome {
        Ok(result) => (serde_json::to_value(result).unwrap(), Value::Null),
        Err(e) => {
            let cause = match &e {
                twilio_sms::hivekeep::adapter::SendMessageError::RetrySafe(r)
                | twilio_sms::hivekeep::adapter::SendMessageError::Refused(r)
                | twilio_sms::hivekeep::adapter::SendMessageError::Ambiguous(r)
                | twilio_sms::hivekeep::adapter::SendMessageError::Partial { error: r, .. } => Some(r),
                _ => None,
            };
            let mut error = json!({"message": e.to_string(), "retrySafety": safety(e.retry_safety())});
            if expect["error"].get("httpStatus").is_some() {
                error["httpStatus"] = json!(cause.and_then(|c| c.http_status()));
            }
            if expect["error"].get("code").is_some() {
                error["code"] = json!(cause.and_then(|c| c.twilio_code()));
            }
            (Value::Null, error)
        }
    };
    check(failures, file, "send", "result", &result, &expect["result"]);
    check(failures, file, "send", "error", &error, &expect["error"]);
    let token = spec["token"].as_str().unwrap();
    let requests: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            if r.password.as_deref() != Some(token) {
                failures.push(format!("{file}: a request without the channel's Basic credential"));
            }
            json!({"method": r.method, "path": r.path, "user": r.user, "form": r.form})
        })
        .collect();
    check(failures, file, "send", "requests", &Value::from(requests), &expect["requests"]);
}

// ---------------------------------------------------------------------------------------------
// Store operations on MemoryStore.

async fn run_store(file: &str, s: &Value, failures: &mut Vec<String>, reported: &mut Vec<String>) {
    let ttl = Duration::from_millis(s["ttlMs"].as_u64().unwrap_or(24 * 3600 * 1000));
    let store = Mirror::new(ttl);
    store.load(&s["before"]).await;
    if let Some(age) = s["ageMs"].as_u64() {
        tokio::time::sleep(Duration::from_millis(age)).await;
        // The state is what still counts: records older than the TTL do not.
        if Duration::from_millis(age) >= ttl {
            store.seen.lock().unwrap().clear();
        }
    }
    for (i, op) in s["operations"].as_array().unwrap().iter().enumerate() {
        let at = format!("operation {}", i + 1);
        let expect = expected_for_driver(op, file, &at, reported);
        let got = match op["op"].as_str().unwrap() {
            "firstSighting" => store.first_sighting(op["key"].as_str().unwrap()).await.unwrap(),
            "advance" => {
                let state = AppliedStatus {
                    status: MessageStatus::parse(op["status"].as_str().unwrap()),
                    error_code: None,
                };
                let before = store.advance(op["message"].as_str().unwrap(), &state).await.unwrap();
                applied(&state, before.as_ref())
            }
            other => panic!("{file}: unknown operation {other}"),
        };
        check(failures, file, &at, "expect", &json!(got), &expect["expect"]);
    }
    let after = expected_for_driver(s, file, "store", reported);
    let expected = normalised(&after["after"]);
    check(failures, file, "store", "after", &projected(&store.state().await, &expected), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_corpus_holds_for_the_native_driver() {
    let all = scenarios();
    assert!(all.len() >= 25, "the corpus is missing: {} scenarios", all.len());
    let mut failures = Vec::new();
    let mut reported = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (file, s) in &all {
        let kind = s["kind"].as_str().unwrap_or_else(|| panic!("{file}: no kind"));
        *kinds.entry(kind.to_owned()).or_default() += 1;
        let run = async {
            match kind {
                "webhook" => run_webhook(file, s, &mut failures, &mut reported).await,
                "send" => run_send(file, s, &mut failures, &mut reported).await,
                "store" => run_store(file, s, &mut failures, &mut reported).await,
                other => panic!("{file}: unknown kind {other}"),
            }
        };
        tokio::time::timeout(SCENARIO_TIMEOUT, run).await.unwrap_or_else(|_| panic!("{file}: timed out"));
    }
    println!("scenarios (native): {} run, by kind {kinds:?}", all.len());
    for d in &reported {
        println!("known divergence: {d}");
    }
    assert!(failures.is_empty(), "{} scenario check(s) failed:\n{}", failures.len(), failures.join("\n"));
}
