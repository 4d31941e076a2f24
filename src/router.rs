//! An axum router serving the webhook endpoint of many channels at once (feature `axum`).
//!
//! [`webhook_router`] answers `POST` (and `GET`) on
//! `/api/channels/plugin/twilio-sms/webhook/{channelId}` for every channel of a [`ChannelRegistry`], and
//! hands what each accepted webhook means to a [`WebhookSink`]: the inbound message for the agent, or the
//! delivery status to apply.
//!
//! The answers, in the order they are decided:
//!
//! | Request | Answer |
//! |---|---|
//! | a `{channelId}` that is not a version-4 UUID, or no channel with that id | `404`, empty body |
//! | a method other than `POST`, `GET` (or `HEAD`) | `405` (axum's), empty body |
//! | a `Content-Length` above the channel's [`BodyLimit`] | `413`, empty body, nothing read |
//! | a body that grows past the limit while being read (chunked) | `413`, empty body, reading stops there |
//! | a body that has not arrived whole within the read timeout ([`serve`]) | `408`, empty body, `Connection: close` |
//! | a body that cannot be read (the connection broke) | `400`, empty body |
//! | any verification or binding failure (signature, URL, account, number) | `403`, empty body |
//! | an accepted webhook (duplicates included) | `200`, `application/xml`, an empty TwiML `<Response>` |
//!
//! The sink is called before the `200` is sent, at most once per webhook the channel's store has not
//! seen before (Twilio's retries and replays are acknowledged without reaching it again).
//!
//! Mount the router at the root of the server (`Router::merge`, not `Router::nest`): the signature
//! covers the request's full path, which is joined to each channel's public URL.
//!
//! Serve it with [`serve`] (or [`serve_with_shutdown`]), not `axum::serve`, which sets no timer: a
//! client that never finishes its request head, stops sending its body, keeps an idle connection or
//! stops reading the answers would hold its connection forever. [`serve`] applies [`ServeLimits`]:
//!
//! - a **read timeout** (10 s by default): a request's head must arrive within it (from the
//!   connection's start, or the previous answer on a kept-alive connection), then its whole body within
//!   it (from the head, however it trickles in); otherwise the connection is closed (a late body gets
//!   `408` first). A write that makes no progress for as long (the client reads nothing) closes it too;
//! - a **bound on open connections** (512 by default): at the bound, no more are accepted and new ones
//!   wait in the kernel's listen queue until one closes, so stalled clients hold at most that many
//!   connections and their buffers (a request head of at most 64 KiB, a body of at most the channel's
//!   [`BodyLimit`]).
//!
//! Twilio's requests are a few kilobytes, sent at once and answered in about a millisecond, so neither
//! limit touches them. If you serve the router some other way, give that server the same limits.
//!
//! ```no_run
//! use std::sync::Arc;
//! use twilio_sms::hivekeep::adapter::{IncomingMessage, TwilioSmsChannel};
//! use twilio_sms::hivekeep::delivery::DeliveryStatusUpdate;
//! use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve, webhook_router};
//! use twilio_sms::ChannelId;
//!
//! struct Agent;
//!
//! impl WebhookSink for Agent {
//!     fn on_incoming(&self, channel: ChannelId, message: IncomingMessage) {
//!         // Hand it to the agent (through a queue: this must not block).
//!         let _ = (channel, message);
//!     }
//!     fn on_delivery_update(&self, channel: ChannelId, update: DeliveryStatusUpdate) {
//!         let _ = (channel, update);
//!     }
//! }
//!
//! # async fn run(channel: TwilioSmsChannel) -> std::io::Result<()> {
//! let registry = Arc::new(ChannelRegistry::new());
//! registry.insert(Arc::new(channel));
//! let app = webhook_router(Arc::clone(&registry), Agent);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, app, ServeLimits::default()).await;
//! # Ok(())
//! # }
//! ```

use core::fmt;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::body::{Body, HttpBody as _};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use http::{StatusCode, header};

use crate::channel::ChannelId;
use crate::hivekeep::adapter::{
    IncomingMessage, OptOutNotice, TwilioSmsChannel, WEBHOOK_PATH_PREFIX, WebhookResult,
};
use crate::hivekeep::delivery::DeliveryStatusUpdate;
use crate::hivekeep::store::{ChannelStore, MemoryStore};
use crate::serve::is_body_timeout;
use crate::url::PublicUrl;
use crate::webhook::{BodyLimit, UnverifiedWebhook, VerifiedWebhook, WebhookVerifier};

pub use crate::serve::{ServeLimits, serve, serve_with_shutdown};

/// The route [`webhook_router`] serves, in axum's syntax.
pub const WEBHOOK_ROUTE: &str = "/api/channels/plugin/twilio-sms/webhook/{channelId}";

/// Where the router hands what accepted webhooks mean to the host application.
///
/// Its methods are called on the request's task, before Twilio gets its `200`: they must not block
/// (push to a queue, such as a `tokio::sync::mpsc` sender, and return). A webhook reaches the sink at
/// most once while the channel's store remembers it.
pub trait WebhookSink: Send + Sync + 'static {
    /// An inbound SMS for the agent of `channel`.
    fn on_incoming(&self, channel: ChannelId, message: IncomingMessage);

    /// A delivery status to show on a message `channel` sent (already ordered: a status older than the
    /// one applied never comes here).
    fn on_delivery_update(&self, channel: ChannelId, update: DeliveryStatusUpdate);

    /// A sender of `channel` sent an opt-out keyword. After a `STOP` (not given to `on_incoming`: any
    /// answer would fail) Twilio refuses to send to them until they send `START`. Ignored by default.
    fn on_opt_out(&self, channel: ChannelId, notice: OptOutNotice) {
        let _ = (channel, notice);
    }
}

/// Discards everything (webhooks are still verified, de-duplicated and answered).
impl WebhookSink for () {
    fn on_incoming(&self, _channel: ChannelId, _message: IncomingMessage) {}
    fn on_delivery_update(&self, _channel: ChannelId, _update: DeliveryStatusUpdate) {}
}

impl<T: WebhookSink + ?Sized> WebhookSink for Arc<T> {
    fn on_incoming(&self, channel: ChannelId, message: IncomingMessage) {
        T::on_incoming(self, channel, message);
    }
    fn on_delivery_update(&self, channel: ChannelId, update: DeliveryStatusUpdate) {
        T::on_delivery_update(self, channel, update);
    }
    fn on_opt_out(&self, channel: ChannelId, notice: OptOutNotice) {
        T::on_opt_out(self, channel, notice);
    }
}

/// The channels a [`webhook_router`] serves, by id. Channels can be added and removed while it serves.
pub struct ChannelRegistry<S: ChannelStore = MemoryStore> {
    channels: RwLock<HashMap<ChannelId, Arc<TwilioSmsChannel<S>>>>,
}

impl<S: ChannelStore> fmt::Debug for ChannelRegistry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelRegistry").field("channels", &self.len()).finish()
    }
}

impl<S: ChannelStore> Default for ChannelRegistry<S> {
    fn default() -> Self {
        Self { channels: RwLock::new(HashMap::new()) }
    }
}

impl<S: ChannelStore> FromIterator<Arc<TwilioSmsChannel<S>>> for ChannelRegistry<S> {
    fn from_iter<I: IntoIterator<Item = Arc<TwilioSmsChannel<S>>>>(iter: I) -> Self {
        let channels = iter.into_iter().map(|channel| (*channel.id(), channel)).collect();
        Self { channels: RwLock::new(channels) }
    }
}

impl<S: ChannelStore> ChannelRegistry<S> {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `channel` under its id, and returns the channel it replaces.
    pub fn insert(&self, channel: Arc<TwilioSmsChannel<S>>) -> Option<Arc<TwilioSmsChannel<S>>> {
        self.channels.write().unwrap_or_else(PoisonError::into_inner).insert(*channel.id(), channel)
    }

    /// Removes the channel `id`: its webhooks then answer `404`.
    pub fn remove(&self, id: &ChannelId) -> Option<Arc<TwilioSmsChannel<S>>> {
        self.channels.write().unwrap_or_else(PoisonError::into_inner).remove(id)
    }

    /// The channel `id`.
    #[must_use]
    pub fn get(&self, id: &ChannelId) -> Option<Arc<TwilioSmsChannel<S>>> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned()
    }

    /// The number of channels.
    #[must_use]
    pub fn len(&self) -> usize {
        self.channels.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether there is no channel.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Shared<S: ChannelStore, K> {
    registry: Arc<ChannelRegistry<S>>,
    sink: K,
}

/// A router serving [`WEBHOOK_ROUTE`] (`POST` and `GET`) for every channel of `registry`, handing inbound
/// messages and delivery updates to `sink`. See the [module](self) for its answers.
pub fn webhook_router<S, K>(registry: Arc<ChannelRegistry<S>>, sink: K) -> Router
where
    S: ChannelStore + 'static,
    K: WebhookSink,
{
    let shared = Arc::new(Shared { registry, sink });
    Router::new().route(WEBHOOK_ROUTE, post(webhook::<S, K>).get(webhook::<S, K>)).with_state(shared)
}

fn bare(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Whether buffering failed because the body passed the limit (`http_body_util::LengthLimitError`, which
/// this crate cannot name: it is recognized by its message).
fn exceeded_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.to_string() == "length limit exceeded" {
            return true;
        }
        source = error.source();
    }
    false
}

/// Reads a webhook's body, never more than `limit`: a declared length above it is `413` before anything
/// is read, a body that grows past it is `413` where it passes it, a body not received within the read
/// timeout ([`serve`]) is `408` (the connection closes), a broken one `400`.
async fn read_body(
    headers: &http::HeaderMap,
    body: Body,
    limit: BodyLimit,
    channel: Option<&ChannelId>,
) -> Result<Bytes, Response> {
    let channel = channel.map(ToString::to_string).unwrap_or_default();
    let limit = limit.get();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        .max(body.size_hint().lower());
    if declared > u64::try_from(limit).unwrap_or(u64::MAX) {
        tracing::warn!(target: "twilio_sms::router", channel, limit, "declared body over the limit: 413");
        return Err(bare(StatusCode::PAYLOAD_TOO_LARGE));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(error) if exceeded_limit(&error) => {
            tracing::warn!(target: "twilio_sms::router", channel, limit, "body over the limit: 413");
            Err(bare(StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(error) if is_body_timeout(&error) => {
            tracing::warn!(target: "twilio_sms::router", channel, "body not received within the read timeout: 408");
            let mut response = bare(StatusCode::REQUEST_TIMEOUT);
            response.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            Err(response)
        }
        Err(error) => {
            tracing::debug!(target: "twilio_sms::router", channel, reason = %error, "body unreadable: 400");
            Err(bare(StatusCode::BAD_REQUEST))
        }
    }
}

/// What the [`Verified`] extractor takes from a router's state: the verifier (the channel's Auth
/// Token, and a second one while rotating), the public URL Twilio calls, and the body limit.
#[derive(Clone)]
pub struct WebhookState {
    verifier: Arc<WebhookVerifier>,
    public_url: PublicUrl,
    limit: BodyLimit,
}

impl fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookState")
            .field("public_url", &self.public_url)
            .field("limit", &self.limit)
            .finish()
    }
}

impl WebhookState {
    /// Verifies with `verifier` the requests Twilio sends to `public_url` (the URL is this joined with
    /// each request's raw path and query), bodies of at most [`BodyLimit::DEFAULT`].
    #[must_use]
    pub fn new(verifier: WebhookVerifier, public_url: PublicUrl) -> Self {
        Self { verifier: Arc::new(verifier), public_url, limit: BodyLimit::DEFAULT }
    }

    /// The same state with another body limit.
    #[must_use]
    pub fn with_body_limit(mut self, limit: BodyLimit) -> Self {
        self.limit = limit;
        self
    }
}

/// An axum extractor: the request as a [`VerifiedWebhook`], or the rejection answered for you (a bare
/// `403` for every verification failure, `413` for a body over the limit, `408` for one not received
/// in time; the reason goes to `tracing`). Its state is a [`WebhookState`] (or a state it can be taken
/// from, `FromRef`). Mount the route at the root (`merge`, not `nest`): the signature covers the full
/// path.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use twilio_sms::router::{ServeLimits, Verified, WebhookState, serve};
/// use twilio_sms::{AuthToken, PublicUrl, VerifiedInbound, WebhookVerifier};
///
/// async fn sms(Verified(webhook): Verified) -> &'static str {
///     if let Ok(sms) = VerifiedInbound::try_from(webhook) {
///         let _ = (sms.from(), sms.body()); // hand it over (a queue: do not block)
///     }
///     twilio_sms::webhook::EMPTY_TWIML
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let token = AuthToken::new(std::env::var("TWILIO_AUTH_TOKEN")?)?;
/// let state = WebhookState::new(WebhookVerifier::new(&token), PublicUrl::parse("https://sms.example.com")?);
/// let app = Router::new().route("/twilio/sms", post(sms)).with_state(state);
/// serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?, app, ServeLimits::default()).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Verified(pub VerifiedWebhook);

impl<S> axum::extract::FromRequest<S> for Verified
where
    S: Send + Sync,
    WebhookState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let state = <WebhookState as axum::extract::FromRef<S>>::from_ref(state);
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, state.limit, None).await?;
        let request = http::Request::from_parts(parts, bytes);
        UnverifiedWebhook::from_http(&state.public_url, request, state.limit)
            .and_then(|webhook| state.verifier.verify(webhook))
            .map(Verified)
            .map_err(|error| {
                tracing::warn!(target: "twilio_sms::router", reason = %error, "webhook refused");
                error.response().map(Body::from)
            })
    }
}

async fn webhook<S, K>(State(shared): State<Arc<Shared<S, K>>>, request: Request) -> Response
where
    S: ChannelStore + 'static,
    K: WebhookSink,
{
    let (parts, body) = request.into_parts();
    // A clone of the URI shares its bytes: the id is read from it while the parts move on.
    let uri = parts.uri.clone();
    let path = uri.path();
    let segment =
        path.strip_prefix(WEBHOOK_PATH_PREFIX).unwrap_or_else(|| path.rsplit('/').next().unwrap_or(""));
    let Some(channel) = ChannelId::parse(segment).ok().and_then(|id| shared.registry.get(&id)) else {
        tracing::debug!(target: "twilio_sms::router", "webhook for an unknown channel: 404");
        return bare(StatusCode::NOT_FOUND);
    };
    let id = *channel.id();
    let bytes = match read_body(&parts.headers, body, channel.body_limit(), Some(&id)).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    let result = channel.handle_inbound_webhook(segment, http::Request::from_parts(parts, bytes)).await;
    let WebhookResult { incoming, response, delivery_update, opt_out, .. } = result;
    if let Some(notice) = opt_out {
        shared.sink.on_opt_out(id, notice);
    }
    if let Some(message) = incoming {
        shared.sink.on_incoming(id, message);
    }
    if let Some(update) = delivery_update {
        shared.sink.on_delivery_update(id, update);
    }
    response.map(Body::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_told_apart_from_a_broken_one() {
        let error = axum::body::to_bytes(Body::from(vec![0u8; 11]), 10).await.unwrap_err();
        assert!(exceeded_limit(&error), "{error:?}");
        let broken = axum::Error::new(std::io::Error::other("connection reset"));
        assert!(!exceeded_limit(&broken));
    }

    #[test]
    fn the_route_is_the_adapters_path() {
        assert_eq!(WEBHOOK_ROUTE.strip_suffix("{channelId}"), Some(WEBHOOK_PATH_PREFIX));
    }
}
