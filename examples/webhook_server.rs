//! A webhook server for one twilio-sms channel: it answers Twilio exactly as Hivekeep does, and writes
//! what the agent would receive on stdout.
//!
//! ```text
//! PUBLIC_URL=https://agents.example.com CHANNEL_ID=3f2504e0-4f89-41d3-9a0c-0305e82c3301 \
//! TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… TWILIO_FROM_NUMBER=+1… \
//!   cargo run --example webhook_server
//! ```
//!
//! Environment: `PUBLIC_URL` (the https base URL Twilio calls; `http://` only on loopback), `CHANNEL_ID`
//! (a version-4 UUID), `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_FROM_NUMBER` (E.164); optional
//! `BIND_ADDR` (default `127.0.0.1:8080`; port `0` picks a free one, logged), `TWILIO_API_BASE`
//! (another API base for the client, such as the embedded mock) and `RUST_LOG` (default `info`).
//!
//! The server is `twilio_sms::router::serve` with these limits (see `ServeLimits`):
//! - `READ_TIMEOUT_SECS` (default 10, from 1 to 3600): a request's head must arrive within it (from the
//!   connection's start, or the previous answer on a kept-alive connection), then its body within it;
//!   otherwise the connection is closed (a late body gets `408`). A client that stops reading the
//!   answers for as long is disconnected too. Twilio sends its few kilobytes at once.
//! - `MAX_CONNECTIONS` (default 512): open connections at most; past it, new ones wait in the kernel's
//!   listen queue until one closes. 512 stays under the usual limit of 1,024 open files and bounds what
//!   stalled clients hold (about 64 MB at worst: a head and a 64 KiB body each).
//!
//! `REDIS_URL` (optional, `redis://[user:password@]host[:port][/db]`): keep the channel's state (the
//! de-duplication keys and the delivery rank of each message) in Redis, so that several servers behind one
//! load balancer act as one (README, "Running several servers"). Without it the state is in memory, as
//! for one server. The server starts and answers even while Redis cannot be reached (delivering at least
//! once), and uses it as soon as it can.
//!
//! Stdout carries one compact JSON object per line and nothing else: `{"incoming": IncomingMessage}` for
//! each inbound SMS delivered to the agent, `{"deliveryUpdate": DeliveryStatusUpdate}` for each delivery
//! status applied (Hivekeep's camelCase shapes). Logs, and the webhook URL to paste in the Twilio
//! Console, go to stderr. Bad or missing configuration: a message on stderr and exit code 2.

use std::cell::RefCell;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{IncomingMessage, TwilioSmsChannel};
use twilio_sms::hivekeep::delivery::DeliveryStatusUpdate;
use twilio_sms::hivekeep::store::{RedisOptions, RedisStore};
use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve_with_shutdown, webhook_router};
use twilio_sms::{AccountSid, AuthToken, ChannelId, E164, PublicUrl};

const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The longest `READ_TIMEOUT_SECS` taken: an hour.
const MAX_READ_TIMEOUT_SECS: u64 = 3600;

struct Config {
    bind: SocketAddr,
    public_url: PublicUrl,
    channel: ChannelId,
    credentials: Credentials,
    api_base: Option<String>,
    limits: ServeLimits,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Reads one required variable with `parse`, recording the problem (never the value) in `problems`.
fn required<T, E: std::fmt::Display>(
    problems: &mut Vec<String>,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    let Some(value) = env(name) else {
        problems.push(format!("{name} is not set"));
        return None;
    };
    parse(&value).map_err(|e| problems.push(format!("{name}: {e}"))).ok()
}

/// The server's limits from `READ_TIMEOUT_SECS` and `MAX_CONNECTIONS`, recording their problems.
fn limits(problems: &mut Vec<String>) -> ServeLimits {
    let mut limits = ServeLimits::default();
    if let Some(value) = env("READ_TIMEOUT_SECS") {
        match value.parse::<u64>() {
            Ok(secs) if (1..=MAX_READ_TIMEOUT_SECS).contains(&secs) => {
                limits = limits.with_read_timeout(Duration::from_secs(secs));
            }
            _ => problems.push(format!(
                "READ_TIMEOUT_SECS: expected a whole number of seconds from 1 to {MAX_READ_TIMEOUT_SECS}"
            )),
        }
    }
    if let Some(value) = env("MAX_CONNECTIONS") {
        match value.parse::<NonZeroUsize>() {
            Ok(max) => limits = limits.with_max_connections(max),
            Err(_) => problems.push("MAX_CONNECTIONS: expected a whole number of at least 1".to_owned()),
        }
    }
    limits
}

/// The configuration, or every problem found in it.
fn config() -> Result<Config, Vec<String>> {
    let mut problems = Vec::new();
    let bind = env("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND.to_owned());
    let bind = bind
        .parse::<SocketAddr>()
        .map_err(|_| {
            problems.push("BIND_ADDR: expected an address and port such as 127.0.0.1:8080".to_owned())
        })
        .ok();
    let public_url = required(&mut problems, "PUBLIC_URL", PublicUrl::parse);
    let channel = required(&mut problems, "CHANNEL_ID", ChannelId::parse);
    let account = required(&mut problems, "TWILIO_ACCOUNT_SID", AccountSid::parse);
    let token = required(&mut problems, "TWILIO_AUTH_TOKEN", |v: &str| AuthToken::new(v));
    let from = required(&mut problems, "TWILIO_FROM_NUMBER", E164::parse);
    let limits = limits(&mut problems);
    match (bind, public_url, channel, account, token, from) {
        (Some(bind), Some(public_url), Some(channel), Some(account), Some(token), Some(from))
            if problems.is_empty() =>
        {
            let credentials = Credentials::new(account, token, Sender::Number(from));
            Ok(Config { bind, public_url, channel, credentials, api_base: env("TWILIO_API_BASE"), limits })
        }
        _ => Err(problems),
    }
}

/// One stdout line: `{"incoming": …}` or `{"deliveryUpdate": …}`.
#[derive(Serialize)]
enum Line<'a> {
    #[serde(rename = "incoming")]
    Incoming(&'a IncomingMessage),
    #[serde(rename = "deliveryUpdate")]
    DeliveryUpdate(&'a DeliveryStatusUpdate),
}

thread_local! {
    /// Each worker's line buffer, reused so that a line costs no allocation once it has grown.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// Writes each event as one JSON line: serialized into the worker's buffer, then written whole under
/// the stdout lock and flushed, so lines from both workers never interleave.
struct StdoutSink;

impl StdoutSink {
    fn emit(line: &Line<'_>) {
        LINE.with_borrow_mut(|buf| {
            buf.clear();
            if let Err(error) = serde_json::to_writer(&mut *buf, line) {
                tracing::error!(%error, "event not serialized");
                return;
            }
            buf.push(b'\n');
            let mut stdout = std::io::stdout().lock();
            if let Err(error) = stdout.write_all(buf).and_then(|()| stdout.flush()) {
                tracing::error!(%error, "event not written to stdout");
            }
        });
    }
}

impl WebhookSink for StdoutSink {
    fn on_incoming(&self, channel: ChannelId, message: IncomingMessage) {
        tracing::debug!(%channel, sid = %message.platform_message_id, "inbound SMS");
        Self::emit(&Line::Incoming(&message));
    }

    fn on_delivery_update(&self, channel: ChannelId, update: DeliveryStatusUpdate) {
        tracing::debug!(%channel, sid = %update.platform_message_id, "delivery update");
        Self::emit(&Line::DeliveryUpdate(&update));
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// The router for `channel`, its state in Redis when `REDIS_URL` is set (connected lazily: nothing is
/// sent before the first webhook), and the webhook URL; or what is wrong with `REDIS_URL`.
fn channel_app(
    id: ChannelId,
    credentials: Credentials,
    public_url: PublicUrl,
    client: TwilioClient,
) -> Result<(axum::Router, String), String> {
    let Some(url) = env("REDIS_URL") else {
        let channel = TwilioSmsChannel::new(id, credentials, Some(public_url), client);
        let webhook_url = channel.webhook_url().unwrap_or_default();
        let registry: ChannelRegistry = [Arc::new(channel)].into_iter().collect();
        return Ok((webhook_router(Arc::new(registry), StdoutSink), webhook_url));
    };
    // The error never quotes the URL, which may carry a password.
    let redis = RedisStore::open(&url, RedisOptions::default()).map_err(|e| format!("REDIS_URL: {e}"))?;
    let store = Arc::new(redis.for_channel(&id));
    tracing::info!(keys = %format_args!("{}*", store.prefix()), "channel state in Redis (REDIS_URL)");
    let channel = TwilioSmsChannel::with_store(id, credentials, Some(public_url), client, store);
    let webhook_url = channel.webhook_url().unwrap_or_default();
    let registry: ChannelRegistry<RedisStore> = [Arc::new(channel)].into_iter().collect();
    Ok((webhook_router(Arc::new(registry), StdoutSink), webhook_url))
}

async fn serve(config: Config) -> ExitCode {
    let mut client_config = ClientConfig::default();
    if let Some(base) = config.api_base {
        client_config = client_config.with_api_base(match base.parse() {
            Ok(base) => base,
            Err(error) => {
                eprintln!("webhook_server: TWILIO_API_BASE: {error}");
                return ExitCode::from(2);
            }
        });
    }
    let client = match TwilioClient::with_config(client_config) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("webhook_server: the Twilio client could not be built: {error}");
            return ExitCode::from(2);
        }
    };
    let (app, webhook_url) = match channel_app(config.channel, config.credentials, config.public_url, client)
    {
        Ok(app) => app,
        Err(problem) => {
            eprintln!("webhook_server: {problem}");
            return ExitCode::from(2);
        }
    };

    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("webhook_server: cannot listen on {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(config.bind);
    let limits = config.limits;
    tracing::info!(
        %addr,
        channel = %config.channel,
        read_timeout_secs = limits.read_timeout().as_secs(),
        max_connections = limits.max_connections(),
        "listening"
    );
    eprintln!(
        "Paste this webhook URL in the Twilio Console (your number > Messaging > \"A message comes in\", HTTP POST):"
    );
    eprintln!("  {webhook_url}");
    // Stalled clients are disconnected after the read timeout, so the shutdown waits at most that long.
    serve_with_shutdown(listener, app, limits, shutdown_signal()).await;
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = match config() {
        Ok(config) => config,
        Err(problems) => {
            for problem in &problems {
                eprintln!("webhook_server: {problem}");
            }
            let timeout = ServeLimits::DEFAULT_READ_TIMEOUT.as_secs();
            let max = ServeLimits::DEFAULT_MAX_CONNECTIONS;
            eprintln!(
                "environment: PUBLIC_URL, CHANNEL_ID, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER; optional BIND_ADDR (default {DEFAULT_BIND}), READ_TIMEOUT_SECS (default {timeout}), MAX_CONNECTIONS (default {max}), TWILIO_API_BASE, RUST_LOG"
            );
            eprintln!("optional: REDIS_URL (channel state shared by several servers)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("webhook_server: the runtime could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}
