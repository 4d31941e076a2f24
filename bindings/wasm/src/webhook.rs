//! Webhook verification and classification.
//!
//! The MAC is computed here, in wasm, and nowhere else: a channel's `setTokens` then `handle`, or a
//! `Verifier`'s `verifyUrl` given its tokens (each refuses an unusable token), checks every rule and
//! the MAC, as the native `WebhookVerifier::verify` does. Nothing here takes a MAC from the host, so
//! nothing the package exposes can turn an unsigned request into a verified one.

use core::fmt;

use http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use serde_json::Value;
use serde_json::json;
use twilio_sms::credentials::StoredChannelConfig;
use twilio_sms::hivekeep::adapter::{
    IncomingMessage, NeedsOrdering, NeedsSighting, OptOutNotice, WebhookChannel, WebhookDecision,
    WebhookResult, WebhookStep,
};
use twilio_sms::hivekeep::delivery::{AppliedStatus, DeliveryStatusUpdate, Locale, WebhookEvent};
use twilio_sms::hivekeep::store::{StoreError, SweepSchedule};
use twilio_sms::status::MessageStatus;
use twilio_sms::webhook::{EMPTY_TWIML, IDEMPOTENCY_HEADER, SHARED_KEY_HEADER, SIGNATURE_HEADER};
use twilio_sms::{
    ApiBase, AuthToken, BodyLimit, ChannelId, PublicUrl, UnverifiedWebhook, VerifiedWebhook, VerifyError,
    WebhookUrl, WebhookVerifier,
};
use wasm_bindgen::prelude::{JsError, wasm_bindgen};

/// The request headers that matter, as a host read them (`Headers.get`: repeated values are joined
/// with `", "`, which makes a repeated signature malformed, as the native check rules).
struct RequestHeaders {
    signature: Option<String>,
    content_type: Option<String>,
    shared_key: bool,
    idempotency_token: Option<String>,
}

impl RequestHeaders {
    fn into_map(self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(signature) = self.signature {
            // A value no header can hold is still a signature header, and a malformed one.
            let value = HeaderValue::from_str(&signature).unwrap_or(HeaderValue::from_static("!"));
            headers.insert(SIGNATURE_HEADER, value);
        }
        if let Some(value) = self.content_type.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(http::header::CONTENT_TYPE, value);
        }
        if self.shared_key {
            headers.insert(SHARED_KEY_HEADER, HeaderValue::from_static("1"));
        }
        if let Some(value) = self.idempotency_token.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(IDEMPOTENCY_HEADER, value);
        }
        headers
    }
}

fn method_of(method: &str) -> Result<Method, VerifyError> {
    Method::from_bytes(method.as_bytes()).map_err(|_| VerifyError::UnsupportedMethod)
}

fn tokens(primary: &str, secondary: Option<String>) -> Result<WebhookVerifier, JsError> {
    let token = |t: &str| AuthToken::new(t).map_err(|e| JsError::new(&format!("Auth Token: {e}")));
    let mut verifier = WebhookVerifier::new(&token(primary)?);
    if let Some(secondary) = secondary.filter(|s| !s.is_empty()) {
        verifier = verifier.with_secondary(&token(&secondary)?);
    }
    Ok(verifier)
}

/// Verifies `webhook` with `keys`, the MAC computed here. Without keys nothing verifies, but the rules
/// before the MAC still name what a request breaks: a verifier under a fixed key checks them, and its
/// verdict is never taken (a request that passes them, even one signed with that key, is a mismatch).
fn verify(
    keys: Option<&WebhookVerifier>,
    webhook: UnverifiedWebhook,
) -> Result<VerifiedWebhook, VerifyError> {
    if let Some(keys) = keys {
        return keys.verify(webhook);
    }
    match AuthToken::new("no usable Auth Token") {
        Ok(token) => WebhookVerifier::new(&token).verify(webhook).and(Err(VerifyError::SignatureMismatch)),
        Err(_) => Err(VerifyError::SignatureMismatch),
    }
}

/// The record kinds of the plugin's storage: an event seen, a message's status.
const SEEN: &str = "seen:";
const STATUS: &str = "status:";

/// Verifies webhooks at exact URLs, without a channel: for conformance runs and tools. It holds no
/// token: each call is given the Auth Token (and a second one during a rotation), keys its HMAC with
/// them and drops them when it returns, so a call made while another runs (from a caller's header
/// getter, say) cannot use the other's tokens.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    limit: BodyLimit,
}

#[wasm_bindgen]
impl Verifier {
    /// A verifier with a body limit in bytes (default 64 KiB).
    #[wasm_bindgen(constructor)]
    #[must_use]
    pub fn new(body_limit: Option<u32>) -> Self {
        Self { limit: body_limit.map_or(BodyLimit::DEFAULT, |n| BodyLimit::bytes(n as usize)) }
    }

    /// Verifies a request to the exact `url` under `primary` (and `secondary`), the MAC computed in
    /// wasm: nothing (`undefined`) when verified, else the reason. Without a token, every request is
    /// refused.
    ///
    /// # Errors
    /// An unusable token: empty, with surrounding white space or holding a control character.
    #[wasm_bindgen(js_name = verifyUrl)]
    #[allow(clippy::too_many_arguments, reason = "flat arguments are the cheapest to cross the boundary")]
    pub fn verify_url(
        &self,
        primary: Option<String>,
        secondary: Option<String>,
        url: &str,
        method: &str,
        signature: Option<String>,
        content_type: Option<String>,
        shared_key: bool,
        body: Vec<u8>,
    ) -> Result<Option<String>, JsError> {
        let keys = primary.map(|primary| tokens(&primary, secondary)).transpose()?;
        let headers = RequestHeaders { signature, content_type, shared_key, idempotency_token: None };
        let result = WebhookUrl::exact(url)
            .map_err(VerifyError::InvalidUrl)
            .and_then(|url| {
                UnverifiedWebhook::new(method_of(method)?, url, headers.into_map(), body, self.limit)
            })
            .and_then(|w| verify(keys.as_ref(), w));
        Ok(result.err().map(|e| e.to_string()))
    }

    /// As [`Self::verify_url`] for a request received behind `public_url` (Hivekeep's `PUBLIC_URL`,
    /// http allowed): the URL checked is `public_url` joined with `target`, the request's raw path
    /// and query, as a channel joins them.
    ///
    /// # Errors
    /// An unusable token: empty, with surrounding white space or holding a control character.
    #[wasm_bindgen(js_name = verifyAt)]
    #[allow(clippy::too_many_arguments, reason = "flat arguments are the cheapest to cross the boundary")]
    pub fn verify_at(
        &self,
        primary: Option<String>,
        secondary: Option<String>,
        public_url: &str,
        target: &str,
        method: &str,
        signature: Option<String>,
        content_type: Option<String>,
        shared_key: bool,
        body: Vec<u8>,
    ) -> Result<Option<String>, JsError> {
        let keys = primary.map(|primary| tokens(&primary, secondary)).transpose()?;
        let headers = RequestHeaders { signature, content_type, shared_key, idempotency_token: None };
        // An oversized body is refused before the public URL is read.
        let limit = self.limit.get();
        if body.len() > limit {
            return Ok(Some(VerifyError::BodyTooLarge { limit }.to_string()));
        }
        let result = PublicUrl::parse_allowing_http(public_url)
            .map_err(VerifyError::InvalidUrl)
            .and_then(|base| {
                let body = std::borrow::Cow::Owned(body);
                UnverifiedWebhook::received(&base, target, method, headers.into_map(), body, self.limit)
            })
            .and_then(|w| verify(keys.as_ref(), w));
        Ok(result.err().map(|e| e.to_string()))
    }
}

/// Options of a [`Channel`] (JSON): `publicUrl`, `allowHttp`, `locale`, `bodyLimit`, `apiBase`.
struct Options {
    public_url: Option<PublicUrl>,
    locale: Locale,
    limit: BodyLimit,
    api_base: ApiBase,
}

fn options(json: Option<&str>) -> Result<Options, JsError> {
    let value: Value = match json {
        Some(text) if !text.trim().is_empty() => {
            serde_json::from_str(text).map_err(|_| JsError::new("channel options: not JSON"))?
        }
        _ => Value::Null,
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let allow_http = value.get("allowHttp").and_then(Value::as_bool).unwrap_or(false);
    let public_url = text("publicUrl")
        .map(|url| if allow_http { PublicUrl::parse_allowing_http(url) } else { PublicUrl::parse(url) })
        .transpose()
        .map_err(|e| JsError::new(&format!("PUBLIC_URL: {e}")))?;
    let limit = value
        .get("bodyLimit")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .map_or(BodyLimit::DEFAULT, BodyLimit::bytes);
    // The Basic credential of every request goes there: https, or http only to this machine.
    let api_base = text("apiBase")
        .map(ApiBase::parse)
        .transpose()
        .map_err(|e| JsError::new(&format!("apiBase: {e}")))?
        .unwrap_or_default();
    Ok(Options { public_url, locale: Locale::parse(text("locale")), limit, api_base })
}

/// One Hivekeep twilio-sms channel: its id, stored config (no secret), public URL and locale. It
/// verifies and classifies the channel's webhooks and plans its sends, as the native
/// `TwilioSmsChannel` does, with the I/O left to the host.
#[wasm_bindgen]
pub struct Channel {
    id: ChannelId,
    /// The id as the host gave it, which the storage keys carry (the plugin's records predate the core's
    /// keys: written with it as given).
    key_id: String,
    config: StoredChannelConfig,
    public_url: Option<PublicUrl>,
    locale: Locale,
    limit: BodyLimit,
    api_base: ApiBase,
    keys: Option<WebhookVerifier>,
    sweeps: SweepSchedule,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("account", self.config.account_sid())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// A webhook outcome, as the JSON `Channel.handle` returns: the HTTP answer, and what the plugin does
/// with the event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    response: HttpAnswer,
    verified: bool,
    reason: Option<String>,
    event: Option<&'static str>,
    incoming: Option<IncomingMessage>,
    delivery_update: Option<DeliveryStatusUpdate>,
    idempotency_key: Option<String>,
    status_message_id: Option<String>,
    status_rank: Option<u8>,
    opt_out: Option<OptOutNotice>,
}

/// The HTTP answer of an [`Outcome`].
#[derive(Serialize)]
struct HttpAnswer {
    status: u16,
    headers: AnswerHeaders,
    body: &'static str,
}

/// The headers of an [`HttpAnswer`]: a content type for the TwiML of a `200`, none otherwise.
#[derive(Serialize)]
struct AnswerHeaders {
    #[serde(rename = "content-type", skip_serializing_if = "Option::is_none")]
    content_type: Option<&'static str>,
}

impl Outcome {
    /// An outcome with nothing for the plugin: the answer `status`, and why.
    fn refused(status: u16, reason: String) -> Self {
        Self {
            response: HttpAnswer::new(status),
            verified: false,
            reason: Some(reason),
            event: None,
            incoming: None,
            delivery_update: None,
            idempotency_key: None,
            status_message_id: None,
            status_rank: None,
            opt_out: None,
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A webhook `Channel.handle` decided, and what handling it still needs of the plugin's storage: the
/// core's steps ([`WebhookStep`]) run over the storage's `get` and `set`. Call [`Self::next`] until it
/// gives `done`, then `free()`.
#[wasm_bindgen]
pub struct Handled {
    flow: Flow,
    /// The channel id the storage keys carry.
    key_id: String,
    /// Whether the plugin has a storage (without one nothing is de-duplicated and every status applies).
    storage: bool,
    now_ms: f64,
    ttl_ms: Option<f64>,
    /// Whether this webhook may start a sweep of the channel's records once done (verified, with a
    /// storage).
    sweep: bool,
}

/// Where a [`Handled`] webhook stands: what the plugin's last storage operation answers.
enum Flow {
    /// The tokens the channel kept did not verify it: the plugin reads the vault and handles it again.
    ReadTokens,
    /// The core's next step, not yet asked of the storage.
    Step(WebhookStep),
    /// The event's record was read.
    SeenRead(NeedsSighting),
    /// The event's record was written.
    SeenWritten(NeedsSighting),
    /// The message's status record was read.
    StatusRead(NeedsOrdering),
    /// The message's new status record was written.
    StatusWritten(WebhookResult),
    Done,
}

impl fmt::Debug for Handled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handled").field("storage", &self.storage).finish_non_exhaustive()
    }
}

/// The kept state of a stored status record (`{rank, at, status, errorCode}`), when it still counts.
fn kept_state(kept: Option<&str>, now_ms: f64, ttl_ms: Option<f64>) -> Option<AppliedStatus> {
    let record = crate::text::fresh(kept, now_ms, ttl_ms)?;
    let status = MessageStatus::parse(record.get("status")?.as_str()?);
    status.rank()?;
    let error_code = record.get("errorCode").and_then(Value::as_u64).and_then(|c| u32::try_from(c).ok());
    Some(AppliedStatus { status, error_code })
}

/// The result the plugin returns to Hivekeep, as JSON: `{response, incoming, deliveryUpdate,
/// idempotencyKey, reason, optOut}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Delivered {
    response: HttpAnswer,
    incoming: Option<IncomingMessage>,
    delivery_update: Option<DeliveryStatusUpdate>,
    idempotency_key: Option<String>,
    reason: Option<String>,
    opt_out: Option<OptOutNotice>,
}

/// The storage failed (the core then delivers, and applies the status).
const STORAGE_FAILED: StoreError = StoreError::Unavailable { store: "plugin storage", reason: "failed" };

#[wasm_bindgen]
impl Handled {
    /// The next storage operation, from the answer to the last one (`value`: the JSON a `get` read, or
    /// nothing; `failed`: whether it threw): `{readTokens: true}` (read the vault and handle the webhook
    /// again), `{get: key}`, `{set: key, record}`, or `{done: {response, incoming, deliveryUpdate,
    /// idempotencyKey, reason, optOut}, sweep}` (with `sweep`, ask `Channel.startSweep` whether a sweep
    /// of the channel's records starts now, and call `Channel.sweepEnded` when it ends). The first call
    /// passes nothing.
    ///
    /// # Errors
    /// Called again after `done`.
    pub fn next(&mut self, value: Option<String>, failed: bool) -> Result<String, JsError> {
        let flow = std::mem::replace(&mut self.flow, Flow::Done);
        let answer = match flow {
            Flow::ReadTokens => return Ok(json!({"readTokens": true}).to_string()),
            Flow::Step(step) => return Ok(self.ask(step)),
            Flow::SeenRead(sighting) if failed => sighting.seen(Err(STORAGE_FAILED)),
            Flow::SeenRead(sighting) => {
                match crate::text::sighting(value.as_deref(), self.now_ms, self.ttl_ms) {
                    None => sighting.seen(Ok(false)),
                    Some(record) => {
                        let key = format!("{SEEN}{}:{}", self.key_id, sighting.key());
                        self.flow = Flow::SeenWritten(sighting);
                        return Ok(json!({"set": key, "record": record}).to_string());
                    }
                }
            }
            // A record that could not be written still delivers (at least once).
            Flow::SeenWritten(sighting) => sighting.seen(Ok(true)),
            Flow::StatusRead(ordering) if failed => WebhookStep::Done(ordering.ordered(Err(STORAGE_FAILED))),
            Flow::StatusRead(ordering) => {
                let kept = kept_state(value.as_deref(), self.now_ms, self.ttl_ms);
                let state = ordering.state();
                if !state.replaces(kept.as_ref()) {
                    WebhookStep::Done(ordering.ordered(Ok(kept)))
                } else {
                    let key = format!("{STATUS}{}:{}", self.key_id, ordering.message());
                    let rank = state.status.rank().map(twilio_sms::status::DeliveryRank::get);
                    let record = json!({"rank": rank, "at": self.now_ms, "status": state.status.as_str(), "errorCode": state.error_code});
                    self.flow = Flow::StatusWritten(ordering.ordered(Ok(kept)));
                    return Ok(json!({"set": key, "record": record}).to_string());
                }
            }
            // Not kept: the next callback decides without it.
            Flow::StatusWritten(result) => WebhookStep::Done(result),
            Flow::Done => return Err(JsError::new("the webhook was handled already")),
        };
        Ok(self.ask(answer))
    }
}

impl Handled {
    /// The storage operation of the core's `step` (none without a storage).
    fn ask(&mut self, step: WebhookStep) -> String {
        match step {
            WebhookStep::Sighting(sighting) if !self.storage => self.ask(sighting.seen(Ok(true))),
            WebhookStep::Sighting(sighting) => {
                let key = format!("{SEEN}{}:{}", self.key_id, sighting.key());
                self.flow = Flow::SeenRead(sighting);
                json!({"get": key}).to_string()
            }
            WebhookStep::Ordering(ordering) if !self.storage => {
                self.ask(WebhookStep::Done(ordering.ordered(Ok(None))))
            }
            WebhookStep::Ordering(ordering) => {
                let key = format!("{STATUS}{}:{}", self.key_id, ordering.message());
                self.flow = Flow::StatusRead(ordering);
                json!({"get": key}).to_string()
            }
            WebhookStep::Done(result) => {
                let done = Delivered {
                    response: HttpAnswer::new(result.response.status().as_u16()),
                    incoming: result.incoming,
                    delivery_update: result.delivery_update,
                    idempotency_key: result.idempotency_key,
                    reason: result.reason,
                    opt_out: result.opt_out,
                };
                json!({"done": done, "sweep": self.sweep}).to_string()
            }
        }
    }
}

impl HttpAnswer {
    fn new(status: u16) -> Self {
        let ok = status == 200;
        Self {
            status,
            headers: AnswerHeaders { content_type: ok.then_some("application/xml") },
            body: if ok { EMPTY_TWIML } else { "" },
        }
    }
}

#[wasm_bindgen]
impl Channel {
    /// A channel from its id, Hivekeep's stored config JSON (`accountSid`, `authTokenVaultKey`,
    /// `fromNumber` and/or `messagingServiceSid`, optional `apiKeySid` and `apiKeySecretVaultKey`) and
    /// options JSON (`publicUrl`: Hivekeep's `PUBLIC_URL`; `allowHttp`; `locale`; `bodyLimit`;
    /// `apiBase`). `fromNumber` is checked with the phone-number metadata (see `warmUp`).
    ///
    /// # Errors
    /// A channel id that is not a version-4 UUID, an unusable config (a plaintext `authToken` is
    /// refused), public URL or `apiBase` (https, or plain http only to a loopback host; no
    /// `user:password@`). The message holds no secret.
    #[wasm_bindgen(constructor)]
    pub fn new(
        channel_id: &str,
        config_json: &str,
        options_json: Option<String>,
    ) -> Result<Channel, JsError> {
        let id =
            ChannelId::parse(channel_id.trim()).map_err(|e| JsError::new(&format!("channel id: {e}")))?;
        let config = StoredChannelConfig::from_json(config_json).map_err(|e| JsError::new(&e.to_string()))?;
        let options = options(options_json.as_deref())?;
        Ok(Self {
            id,
            key_id: channel_id.to_owned(),
            config,
            public_url: options.public_url,
            locale: options.locale,
            limit: options.limit,
            api_base: options.api_base,
            keys: None,
            sweeps: SweepSchedule::default(),
        })
    }

    /// Gives the channel its Auth Token (and a second one during a rotation), for [`Self::handle`];
    /// none (`undefined`) takes them away. Without a usable token every webhook is refused (`403`): an
    /// unusable token leaves the channel with none.
    ///
    /// # Errors
    /// An empty token, one with surrounding white space or one holding a control character.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&mut self, primary: Option<String>, secondary: Option<String>) -> Result<(), JsError> {
        self.keys = None;
        if let Some(primary) = primary {
            self.keys = Some(tokens(&primary, secondary)?);
        }
        Ok(())
    }

    /// The channel's webhook URL, to paste in the Twilio Console (needs a public URL).
    #[wasm_bindgen(js_name = webhookUrl)]
    #[must_use]
    pub fn webhook_url(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|url| twilio_sms::outbound::StatusCallback::for_channel(url, &self.id).as_str().to_owned())
    }

    /// The vault key of the Auth Token.
    #[wasm_bindgen(js_name = authTokenVaultKey)]
    #[must_use]
    pub fn auth_token_vault_key(&self) -> String {
        self.config.auth_token_vault_key().to_owned()
    }

    /// Verifies (the MAC in wasm, with the tokens of [`Self::set_tokens`]) and classifies a webhook in
    /// one call: `target` is the request's path and raw query as received (the URL Twilio called is
    /// `publicUrl` + `target`; the request's own host is ignored). Returns the outcome JSON: `{response:
    /// {status, headers, body}, verified, reason, event, incoming, deliveryUpdate, idempotencyKey,
    /// statusMessageId, statusRank, optOut}` (`deliveryUpdate` is this callback's own, before any
    /// ordering). Nothing is de-duplicated.
    #[allow(clippy::too_many_arguments, reason = "flat arguments are the cheapest to cross the boundary")]
    pub fn outcome(
        &self,
        target: &str,
        method: &str,
        signature: Option<String>,
        content_type: Option<String>,
        shared_key: bool,
        idempotency_token: Option<String>,
        body: Vec<u8>,
    ) -> String {
        let headers = RequestHeaders { signature, content_type, shared_key, idempotency_token };
        outcome(&self.decide(target, method, headers, body), self.locale)
    }

    /// Handles a webhook as Hivekeep's `handleInboundWebhook`: decides it as [`Self::outcome`] does,
    /// then gives the steps the plugin runs over its storage ([`Handled::next`]). `tokens_kept`: the
    /// channel's tokens were kept from an earlier vault read (a webhook whose MAC does not match under
    /// them asks for a read); `storage`: whether the plugin has one; `now_ms` and `ttl_ms` (default a day) date and age
    /// its records. A verified webhook with a storage may start the channel's sweep (see
    /// [`Self::sweep_ended`]).
    #[allow(clippy::too_many_arguments, reason = "flat arguments are the cheapest to cross the boundary")]
    pub fn handle(
        &mut self,
        target: &str,
        method: &str,
        signature: Option<String>,
        content_type: Option<String>,
        shared_key: bool,
        idempotency_token: Option<String>,
        body: Vec<u8>,
        tokens_kept: bool,
        storage: bool,
        now_ms: f64,
        ttl_ms: Option<f64>,
    ) -> Handled {
        let headers = RequestHeaders { signature, content_type, shared_key, idempotency_token };
        let decision = self.decide(target, method, headers, body);
        let verified = decision.event.is_some();
        // Only a MAC that did not match under the kept tokens asks for the vault again: any other
        // refusal stands whatever the tokens, and costs no vault read.
        let flow = if tokens_kept && decision.refused_by_tokens() {
            Flow::ReadTokens
        } else {
            Flow::Step(decision.into_steps(self.locale))
        };
        // Whether it may start a sweep: the channel's schedule decides when `done` comes
        // (`Channel.startSweep`), so a webhook whose storage never answers holds no sweep back.
        let sweep = verified && storage;
        Handled { flow, key_id: self.key_id.clone(), storage, now_ms, ttl_ms, sweep }
    }

    /// Whether a sweep of the channel's records starts at `now_ms`, once a handled webhook is `done`
    /// with `sweep`: at most once per `SWEEP_INTERVAL_MS`, never while one runs (see
    /// [`Self::sweep_ended`]).
    #[wasm_bindgen(js_name = startSweep)]
    pub fn start_sweep(&mut self, now_ms: f64) -> bool {
        self.sweeps.start(crate::text::since_epoch(now_ms))
    }

    /// The sweep [`Self::start_sweep`] started is over (done or failed): the next one starts after the
    /// interval (`SWEEP_INTERVAL_MS`).
    #[wasm_bindgen(js_name = sweepEnded)]
    pub fn sweep_ended(&mut self) {
        self.sweeps.finished();
    }

    /// The largest request body the channel takes, in bytes (the plugin reads at most one more).
    #[wasm_bindgen(js_name = bodyLimit)]
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.limit.get()
    }

    /// Where the tokens to verify a webhook come from, for a request with this `X-Twilio-Signature`
    /// (and, with `shared_key`, an `X-Twilio-Webhooks-Signature-Settings` header): `"none"` when it
    /// cannot verify whatever the tokens (no signature that decodes to an HMAC-SHA1 tag, or a SharedKey
    /// header), so the plugin reads no vault for it; `"kept"` when the tokens read from the vault at
    /// `read_at_ms` are used again at `now_ms` (`cache_ms`: how long they count; a clock that went back
    /// does not keep them); else `"read"`: the plugin reads the vault.
    #[wasm_bindgen(js_name = tokenSource)]
    #[must_use]
    pub fn token_source(
        &self,
        signature: Option<String>,
        shared_key: bool,
        read_at_ms: Option<f64>,
        now_ms: f64,
        cache_ms: f64,
    ) -> String {
        let signed = !shared_key
            && signature.is_some_and(|s| twilio_sms::webhook::Signature::parse(s.as_bytes()).is_ok());
        let kept = read_at_ms.is_some_and(|at| now_ms >= at && now_ms - at < cache_ms);
        match (signed, kept) {
            (false, _) => "none",
            (true, true) => "kept",
            (true, false) => "read",
        }
        .to_owned()
    }

    /// The prefixes of this channel's records (what a sweep lists): `seen:<channel>:` and
    /// `status:<channel>:`.
    #[wasm_bindgen(js_name = recordPrefixes)]
    #[must_use]
    pub fn record_prefixes(&self) -> Vec<String> {
        vec![format!("{SEEN}{}:", self.key_id), format!("{STATUS}{}:", self.key_id)]
    }

    /// Plans the send of an agent's reply (Hivekeep's `OutboundMessageParams` as JSON) at `now_ms`: the
    /// core's steps ([`crate::SendPlan`]) under the retry policy (the native client's limits unless
    /// given: `maxAttempts`, a whole number from 1, at most 1000; each attempt's time and the whole
    /// send's, in ms).
    ///
    /// # Errors
    /// The `sendMessage` error text for a recipient that is not a valid E.164 number or a blank text.
    #[wasm_bindgen(js_name = planSend)]
    pub fn plan_send(
        &self,
        params_json: &str,
        max_attempts: Option<f64>,
        attempt_timeout_ms: Option<f64>,
        deadline_ms: Option<f64>,
        now_ms: f64,
    ) -> Result<crate::SendPlan, JsError> {
        let attempts = max_attempts.filter(|n| n.fract() == 0.0 && *n >= 1.0).map(|n| n.min(1000.0) as u32);
        let policy = crate::retry::policy(attempts, attempt_timeout_ms, deadline_ms);
        crate::send::plan(self, params_json, policy, now_ms)
    }
}

impl Channel {
    /// The core's decision of a webhook to this channel.
    fn decide(&self, target: &str, method: &str, headers: RequestHeaders, body: Vec<u8>) -> WebhookDecision {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        let channel = WebhookChannel {
            id: &self.id,
            public_url: self.public_url.as_ref(),
            body_limit: self.limit,
            account: self.config.account_sid(),
            number: self.config.sender().number(),
        };
        let keys = self.keys.as_ref();
        WebhookDecision::decide(
            channel,
            path.rsplit('/').next().unwrap_or(""),
            target,
            method,
            headers.into_map(),
            std::borrow::Cow::Owned(body),
            |webhook| verify(keys, webhook),
        )
    }
}

/// The outcome JSON of a decision (see `Channel.outcome`): the answer, the event, its idempotency key,
/// this callback's update and its rank.
fn outcome(decision: &WebhookDecision, locale: Locale) -> String {
    let status = decision.status.as_u16();
    let Some(event) = &decision.event else {
        return Outcome::refused(status, decision.reason.clone().unwrap_or_default()).to_json();
    };
    let mut outcome = Outcome {
        response: HttpAnswer::new(status),
        verified: true,
        reason: None,
        event: Some("other"),
        incoming: None,
        delivery_update: None,
        idempotency_key: decision.idempotency_key.clone(),
        status_message_id: None,
        status_rank: None,
        opt_out: None,
    };
    match event {
        WebhookEvent::Inbound(sms) => {
            outcome.event = Some("inbound");
            outcome.incoming = IncomingMessage::for_agent(sms);
            outcome.opt_out = OptOutNotice::of(sms);
        }
        WebhookEvent::Status(report) => {
            let (message, status) = report.for_message();
            outcome.event = Some("status");
            outcome.delivery_update = Some(DeliveryStatusUpdate::from_report(report, locale));
            outcome.status_message_id = Some(message.to_string());
            outcome.status_rank = status.rank().map(twilio_sms::status::DeliveryRank::get);
        }
        _ => {}
    }
    outcome.to_json()
}

/// What a [`crate::SendPlan`] needs of its channel.
impl Channel {
    pub(crate) fn id(&self) -> &ChannelId {
        &self.id
    }
    pub(crate) fn config(&self) -> &StoredChannelConfig {
        &self.config
    }
    pub(crate) fn public_url(&self) -> Option<&PublicUrl> {
        self.public_url.as_ref()
    }
    pub(crate) fn api_base(&self) -> &ApiBase {
        &self.api_base
    }
}

/// One verification through the whole path, for [`crate::warm_up`].
pub(crate) fn warm_up() -> bool {
    let Ok(url) = WebhookUrl::exact("https://example.com/hook") else { return false };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    let body = b"Body=warm+up%21&From=%2B14155550100".to_vec();
    let Ok(webhook) = UnverifiedWebhook::new(Method::POST, url, headers, body, BodyLimit::DEFAULT) else {
        return false;
    };
    let Ok(verifier) = AuthToken::new("warm-up").map(|t| WebhookVerifier::new(&t)) else { return false };
    matches!(verifier.verify(webhook), Err(VerifyError::SignatureMismatch))
}
