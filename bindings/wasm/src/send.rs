//! Outbound sends, sans I/O: the plan (recipient and parts), each part's request without the secret,
//! and Twilio's answer read into the typed result or error with its retry safety.

use core::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde_json::{Value, json};
use twilio_sms::E164;
use twilio_sms::api_error::{ErrorKind, RetrySafety, TwilioApiError};
use twilio_sms::api_error::{parse_error_response, parse_retry_after, redact_phone_numbers};
use twilio_sms::credentials::StoredChannelConfig;
use twilio_sms::hivekeep::adapter::{
    OutboundMessageParams, ReplyPlan, ReplySend, SendChannel, SendMessageError, SendStep,
};
use twilio_sms::hivekeep::delivery::Locale;
use twilio_sms::outbound::{self, Answer, RequestError, SentMessage};
use twilio_sms::retry::Seen;
use wasm_bindgen::prelude::{JsError, wasm_bindgen};

use crate::webhook::Channel;

fn safety(retry: RetrySafety) -> &'static str {
    match retry {
        RetrySafety::Safe => "safe",
        RetrySafety::Ambiguous => "ambiguous",
        RetrySafety::Final => "final",
    }
}

fn kind(kind: ErrorKind) -> Value {
    let name = match kind {
        ErrorKind::BadCredentials => "badCredentials",
        ErrorKind::NotFound => "notFound",
        ErrorKind::RateLimited => "rateLimited",
        ErrorKind::InvalidToNumber => "invalidToNumber",
        ErrorKind::RegionNotEnabled => "regionNotEnabled",
        ErrorKind::RecipientUnsubscribed => "recipientUnsubscribed",
        ErrorKind::ToNotMobile => "toNotMobile",
        ErrorKind::BodyTooLong => "bodyTooLong",
        ErrorKind::FromNotCapable => "fromNotCapable",
        ErrorKind::CannotRoute => "cannotRoute",
        ErrorKind::NoCode => "noCode",
        _ => "other",
    };
    Value::from(name)
}

/// The time `Retry-After` dates are measured from: the host's clock (wasm32 has none of its own).
pub(crate) fn at(now_ms: f64) -> SystemTime {
    let millis = if now_ms.is_finite() && now_ms > 0.0 { now_ms as u64 } else { 0 };
    SystemTime::UNIX_EPOCH + Duration::from_millis(millis)
}

/// An answer body longer than the native client reads (`outbound::MAX_RESPONSE_BYTES`): the host
/// reads at most one byte more, and the core answers as the native client does.
fn too_large(status: u16, body: &[u8]) -> Option<RequestError> {
    (body.len() > outbound::MAX_RESPONSE_BYTES)
        .then_some(RequestError::ResponseTooLarge { status, limit: outbound::MAX_RESPONSE_BYTES })
}

/// The status of an answer the core reads, or why it reads none: a body over the limit, or a status no
/// HTTP answer has.
pub(crate) fn readable_status(status: u16, body: &[u8]) -> Result<StatusCode, RequestError> {
    if let Some(error) = too_large(status, body) {
        return Err(error);
    }
    StatusCode::from_u16(status)
        .map_err(|_| RequestError::Build("Twilio answered with no HTTP status".to_owned()))
}

/// Reads Twilio's answer to a message create (or fetch) the way `outbound::parse_message` does,
/// with the `Retry-After` clock from the host.
fn read(
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
    now_ms: f64,
) -> Result<SentMessage, RequestError> {
    if let Some(error) = too_large(status, body) {
        return Err(error);
    }
    match StatusCode::from_u16(status) {
        Ok(code) if code.is_success() => match outbound::parse_message(code, &http::HeaderMap::new(), body) {
            Answer::Ok(message) => Ok(message),
            Answer::Unreadable(unreadable) => Err(RequestError::Unreadable(unreadable)),
            Answer::Error(error) => Err(RequestError::Api(error)),
        },
        _ => {
            let delay = retry_after.and_then(|value| parse_retry_after(value, at(now_ms)));
            Err(RequestError::Api(parse_error_response(status, content_type, body).with_retry_after(delay)))
        }
    }
}

fn message_json(message: &SentMessage) -> Value {
    json!({
        "sid": message.sid.as_str(),
        "status": message.status.as_str(),
        "numSegments": message.num_segments,
        "numMedia": message.num_media,
        "errorCode": message.error_code,
        "errorMessage": message.error_message.as_deref().map(redact_phone_numbers),
        "dateCreated": message.date_created,
        "price": message.price.as_ref().map(|(price, _)| price),
        "priceUnit": message.price.as_ref().map(|(_, unit)| unit),
    })
}

fn api_error_json(error: &TwilioApiError) -> Value {
    json!({
        "kind": kind(error.kind()),
        "httpStatus": error.http_status(),
        "code": error.code(),
        "message": error.to_string(),
        "twilioMessage": error.message(),
        "moreInfo": error.more_info(),
        "retrySafety": safety(error.retry_safety()),
        "retryAfterMs": error.retry_after().map(|d| d.as_millis() as u64),
    })
}

fn request_error_json(error: &RequestError) -> Value {
    match error {
        RequestError::Api(api) => api_error_json(api),
        other => json!({
            "kind": "unreadable",
            "httpStatus": other.http_status(),
            "code": other.twilio_code(),
            "message": other.to_string(),
            "retrySafety": safety(other.retry_safety()),
        }),
    }
}

/// Reads Twilio's answer to one message create: `{ok: {sid, status, numSegments, ...}}`, or
/// `{error: {kind, httpStatus, code, message, retrySafety, retryAfterMs, ...}}` with the retry safety
/// (`safe`: nothing was created; `ambiguous`: the SMS may exist; `final`: refused). `nowMs` is the
/// host's clock (`Date.now()`), for `Retry-After` dates. No full phone number is returned.
#[wasm_bindgen(js_name = parseSendAnswer)]
#[must_use]
pub fn parse_send_answer(
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: &[u8],
    now_ms: f64,
) -> String {
    match read(status, content_type.as_deref(), retry_after.as_deref(), body, now_ms) {
        Ok(message) => json!({ "ok": message_json(&message) }),
        Err(error) => json!({ "error": request_error_json(&error) }),
    }
    .to_string()
}

/// A planned send: the core's [`ReplySend`] steps (the parts in order, each tried again by the retry
/// policy), which the host runs. Each step is JSON: `{send: {method, url, headers, body, auth},
/// timeoutMs}` (send it, adding `Authorization: Basic` from the secret `auth` names, within
/// `timeoutMs`; then [`Self::answered`] or [`Self::failed`]), `{wait: ms}` (then [`Self::waited`]),
/// `{done: OutboundMessageResult}` or `{fail: {message, retrySafety, cause}}`, where `message` is the
/// text to throw: its wording tells Hivekeep's retry logic whether to resend, and it never invites a
/// resend after an SMS may have gone out.
#[wasm_bindgen]
pub struct SendPlan {
    /// The step in flight (a request or a wait); none once done or failed.
    step: Option<SendStep>,
    /// The step's JSON, as [`Self::step`] gives it.
    current: String,
    auth: Value,
}

impl fmt::Debug for SendPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPlan").field("step", &self.step).finish_non_exhaustive()
    }
}

fn error_text(error: SendMessageError) -> JsError {
    JsError::new(&error.to_string())
}

/// Plans a send for `channel` (see [`Channel::plan_send`]).
pub(crate) fn plan(
    channel: &Channel,
    params_json: &str,
    policy: twilio_sms::retry::RetryPolicy,
    now_ms: f64,
) -> Result<SendPlan, JsError> {
    let params: OutboundMessageParams =
        serde_json::from_str(params_json).map_err(|_| JsError::new("sendMessage params: not valid JSON"))?;
    let config = channel.config();
    let to = E164::recipient(&params.chat_id, config.sender().number())
        .map_err(|_| error_text(SendMessageError::InvalidRecipient))?;
    let locale = Locale::parse(params.locale.as_deref());
    let reply = ReplyPlan::new(&params.content, &params.attachments, locale).map_err(error_text)?;
    let send = SendChannel {
        id: channel.id(),
        public_url: channel.public_url(),
        api_base: channel.api_base(),
        account: config.account_sid(),
        sender: config.sender(),
    };
    let mut plan = SendPlan { step: None, current: String::new(), auth: auth_json(config) };
    plan.take(ReplySend::start(reply, to, send, locale, policy, at(now_ms)));
    Ok(plan)
}

/// Whose Basic credential a request needs: `{username, secret, vaultKey}`, where `secret` names the
/// secret (`authToken` or `apiKeySecret`) the host reads from the vault under `vaultKey`.
pub(crate) fn auth_json(config: &StoredChannelConfig) -> Value {
    match config.api_key() {
        Some((sid, key)) => json!({"username": sid.as_str(), "secret": "apiKeySecret", "vaultKey": key}),
        None => json!({
            "username": config.account_sid().as_str(),
            "secret": "authToken",
            "vaultKey": config.auth_token_vault_key(),
        }),
    }
}

/// A request as the host sends it: `{method, url, headers, body, auth}` (no secret in it).
pub(crate) fn request_value(request: &http::Request<String>, auth: &Value) -> Value {
    let headers: serde_json::Map<String, Value> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), Value::from(value.to_str().ok()?))))
        .collect();
    json!({
        "method": request.method().as_str(),
        "url": request.uri().to_string(),
        "headers": headers,
        "body": request.body(),
        "auth": auth,
    })
}

fn failure_json(error: &SendMessageError) -> Value {
    json!({
        "message": error.to_string(),
        "retrySafety": safety(error.retry_safety()),
        "cause": error.cause().map(request_error_json),
    })
}

/// The headers of Twilio's answer the core reads: its `Content-Type` and `Retry-After`.
pub(crate) fn answer_headers(content_type: Option<String>, retry_after: Option<String>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let pairs = [(http::header::CONTENT_TYPE, content_type), (http::header::RETRY_AFTER, retry_after)];
    for (name, value) in pairs {
        if let Some(value) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

impl SendPlan {
    /// Keeps `step` (a request or a wait) and its JSON.
    fn take(&mut self, step: SendStep) {
        self.current = match &step {
            SendStep::Send(sending) => json!({
                "send": request_value(sending.request(), &self.auth),
                "timeoutMs": crate::retry::ms(sending.timeout()),
            }),
            SendStep::Wait(waiting) => json!({"wait": crate::retry::ms(waiting.duration())}),
            SendStep::Done(result) => json!({"done": result}),
            SendStep::Fail(error) => json!({"fail": failure_json(error)}),
        }
        .to_string();
        self.step = matches!(step, SendStep::Send(_) | SendStep::Wait(_)).then_some(step);
    }

    fn sending(&mut self) -> Result<twilio_sms::hivekeep::adapter::Sending, JsError> {
        match self.step.take() {
            Some(SendStep::Send(sending)) => Ok(sending),
            other => {
                self.step = other;
                Err(JsError::new("no request of the plan is in flight"))
            }
        }
    }
}

#[wasm_bindgen]
impl SendPlan {
    /// The current step (JSON, see [`SendPlan`]).
    #[must_use]
    pub fn step(&self) -> String {
        self.current.clone()
    }

    /// Twilio answered the request in flight at `now_ms` (`body`: at most one byte more than the core
    /// reads, see `maxResponseBytes`): the next step.
    ///
    /// # Errors
    /// No request in flight.
    pub fn answered(
        &mut self,
        status: u16,
        content_type: Option<String>,
        retry_after: Option<String>,
        body: &[u8],
        now_ms: f64,
    ) -> Result<String, JsError> {
        let sending = self.sending()?;
        let next = match readable_status(status, body) {
            Ok(status) => {
                sending.answered(at(now_ms), status, &answer_headers(content_type, retry_after), body)
            }
            Err(error) => sending.refused(error),
        };
        self.take(next);
        Ok(self.step())
    }

    /// The request in flight got no answer at `now_ms`: `kind` is `connect` (no connection was made,
    /// nothing was sent), `timeout` (no answer within its time), `secret` (the secret could not be
    /// read from the vault, so it was not sent) or anything else (the connection broke after sending).
    /// The next step.
    ///
    /// # Errors
    /// No request in flight.
    pub fn failed(&mut self, kind: &str, now_ms: f64) -> Result<String, JsError> {
        let sending = self.sending()?;
        let now = at(now_ms);
        let next = match kind {
            // Not retried: the vault is not expected to recover by itself. After parts went out, the
            // error is the plan's partial failure, in words that never make the host resend them.
            "secret" if !sending.after_sent_parts() => {
                let message = "the Twilio secret could not be read from the vault; nothing was sent";
                let error = json!({"message": message, "retrySafety": "final", "cause": {"kind": "secret"}});
                self.current = json!({"fail": error}).to_string();
                return Ok(self.step());
            }
            "secret" => sending.refused(RequestError::Build(
                "the Twilio secret could not be read from the vault".to_owned(),
            )),
            "connect" => sending.failed(now, Seen::Connect),
            "timeout" => sending.failed(now, Seen::Timeout),
            _ => sending.failed(now, Seen::Lost),
        };
        self.take(next);
        Ok(self.step())
    }

    /// The wait is over at `now_ms`: the next step.
    ///
    /// # Errors
    /// No wait in progress.
    pub fn waited(&mut self, now_ms: f64) -> Result<String, JsError> {
        match self.step.take() {
            Some(SendStep::Wait(waiting)) => {
                self.take(waiting.over(at(now_ms)));
                Ok(self.step())
            }
            other => {
                self.step = other;
                Err(JsError::new("no wait of the plan is in progress"))
            }
        }
    }
}
