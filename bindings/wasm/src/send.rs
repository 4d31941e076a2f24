//! Outbound sends, sans I/O: the plan (recipient and parts), each part's request without the secret,
//! and Twilio's answer read into the typed result or error with its retry safety.

use core::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde_json::{Value, json};
use twilio_sms::adapter::{OutboundMessageParams, OutboundMessageResult, ReplyPlan, SendMessageError};
use twilio_sms::api_error::{ErrorKind, RetrySafety, TwilioApiError};
use twilio_sms::api_error::{parse_error_response, parse_retry_after, redact_phone_numbers};
use twilio_sms::credentials::{Sender, StoredChannelConfig};
use twilio_sms::delivery::{Locale, PartTag};
use twilio_sms::outbound::StatusCallback;
use twilio_sms::outbound::{self, Answer, RequestError, SentMessage};
use twilio_sms::{AccountSid, ApiBase, E164};
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
fn at(now_ms: f64) -> SystemTime {
    let millis = if now_ms.is_finite() && now_ms > 0.0 { now_ms as u64 } else { 0 };
    SystemTime::UNIX_EPOCH + Duration::from_millis(millis)
}

/// An answer body longer than the native client reads (`outbound::MAX_RESPONSE_BYTES`): the host
/// reads at most one byte more, and the core answers as the native client does.
pub(crate) fn too_large(status: u16, body: &[u8]) -> Option<RequestError> {
    (body.len() > outbound::MAX_RESPONSE_BYTES)
        .then_some(RequestError::ResponseTooLarge { status, limit: outbound::MAX_RESPONSE_BYTES })
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

/// A planned send: the recipient and the parts, sent in order by the host. For each part `i`:
/// `request(i)` gives the HTTP request (the host adds `Authorization: Basic` from the secret named
/// in `auth`), then `answer(i, …)` (or `failure(i, …)` when no answer came) reads the outcome. When
/// every part is accepted, `result()` gives Hivekeep's `OutboundMessageResult`. An error's `message`
/// is the text to throw: its wording tells Hivekeep's retry logic whether to resend, and it never
/// invites a resend after an SMS may have gone out.
#[wasm_bindgen]
pub struct SendPlan {
    to: E164,
    reply: ReplyPlan,
    sent: Vec<SentMessage>,
    account: AccountSid,
    sender: Sender,
    auth: Value,
    callback: Option<StatusCallback>,
    api_base: ApiBase,
    locale: Locale,
}

impl fmt::Debug for SendPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPlan")
            .field("to", &self.to)
            .field("parts", &self.reply.parts())
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

fn error_text(error: SendMessageError) -> JsError {
    JsError::new(&error.to_string())
}

/// Plans a send for `channel` (see [`Channel::plan_send`]).
pub(crate) fn plan(channel: &Channel, params_json: &str) -> Result<SendPlan, JsError> {
    let params: OutboundMessageParams =
        serde_json::from_str(params_json).map_err(|_| JsError::new("sendMessage params: not valid JSON"))?;
    let config = channel.config();
    let to = E164::recipient(&params.chat_id, config.sender().number())
        .map_err(|_| error_text(SendMessageError::InvalidRecipient))?;
    let locale = Locale::parse(params.locale.as_deref());
    let reply = ReplyPlan::new(&params.content, &params.attachments, locale).map_err(error_text)?;
    let auth = auth_json(config);
    Ok(SendPlan {
        to,
        reply,
        sent: Vec::new(),
        account: config.account_sid().clone(),
        sender: config.sender().clone(),
        auth,
        callback: channel.public_url().map(|url| StatusCallback::for_channel(url, channel.id())),
        api_base: channel.api_base().clone(),
        locale,
    })
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
pub(crate) fn request_json(request: &http::Request<String>, auth: &Value) -> String {
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
    .to_string()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[wasm_bindgen]
impl SendPlan {
    /// The number of SMS the text is sent as.
    #[must_use]
    pub fn parts(&self) -> u32 {
        count(self.reply.parts())
    }

    /// The segments each part is estimated to cost (Twilio's `num_segments` is authoritative).
    #[must_use]
    pub fn segments(&self) -> Vec<u32> {
        self.reply.bodies().iter().map(|b| b.segments().segments).collect()
    }

    fn check_next(&self, index: u32) -> Result<(), JsError> {
        if index as usize != self.sent.len() || self.sent.len() >= self.reply.parts() {
            return Err(JsError::new("the parts are sent in order, each once"));
        }
        Ok(())
    }

    /// The request for part `index` (from 0; the parts go in order, since parts after the first carry
    /// its SID in their status callback): `{method, url, headers, body, auth: {username, secret,
    /// vaultKey}}`. `secret` names the secret (`authToken` or `apiKeySecret`) the host reads from the
    /// vault under `vaultKey` for `Authorization: Basic base64(username:secret)`.
    ///
    /// # Errors
    /// An index out of order.
    pub fn request(&self, index: u32) -> Result<String, JsError> {
        self.check_next(index)?;
        let sms = self.reply.sms(index as usize, &self.to).ok_or_else(|| JsError::new("no such part"))?;
        let of = self.parts();
        let callback = self.callback.clone().map(|base| {
            if of <= 1 {
                return base;
            }
            let first = self.sent.first().map(|m| m.sid.clone());
            let pairs = PartTag::query(index + 1, of, first.as_ref());
            let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            base.with_query(&borrowed)
        });
        let request = outbound::send_request_without_auth(
            &self.api_base,
            &self.account,
            &self.sender,
            &sms,
            callback.as_ref(),
        )
        .map_err(|_| JsError::new("the API base URL is not a valid URL"))?;
        Ok(request_json(&request, &self.auth))
    }

    fn outcome(&mut self, index: u32, read: Result<SentMessage, RequestError>) -> String {
        match read {
            Ok(message) => {
                let json = json!({"ok": true, "message": message_json(&message)});
                self.sent.push(message);
                json
            }
            Err(error) => {
                let detail = request_error_json(&error);
                let sent = self.sent.iter().map(|m| m.sid.to_string()).collect();
                let failure = SendMessageError::for_part(error, sent, index as usize, self.reply.parts());
                json!({
                    "ok": false,
                    "error": {
                        "message": failure.to_string(),
                        "retrySafety": safety(failure.retry_safety()),
                        "cause": detail,
                    },
                })
            }
        }
        .to_string()
    }

    /// Reads Twilio's answer to part `index`: `{ok: true, message}` (the part was accepted), or `{ok:
    /// false, error: {message, retrySafety, cause}}`, where `message` is the `sendMessage` error text
    /// (a part failing after others went out is never retry-safe).
    ///
    /// # Errors
    /// An index out of order.
    pub fn answer(
        &mut self,
        index: u32,
        status: u16,
        content_type: Option<String>,
        retry_after: Option<String>,
        body: &[u8],
        now_ms: f64,
    ) -> Result<String, JsError> {
        self.check_next(index)?;
        let read = read(status, content_type.as_deref(), retry_after.as_deref(), body, now_ms);
        Ok(self.outcome(index, read))
    }

    /// Part `index` got no answer: `kind` is `connect` (no connection was made, nothing was sent:
    /// `detail` is the number of attempts), `timeout` (no answer within `detail` seconds after sending),
    /// `secret` (the secret could not be read from the vault, so the part was not sent) or anything
    /// else (the connection broke after sending). Gives the error as [`Self::answer`] does.
    ///
    /// # Errors
    /// An index out of order.
    pub fn failure(&mut self, index: u32, kind: &str, detail: u32) -> Result<String, JsError> {
        self.check_next(index)?;
        let error = match kind {
            // Not retried: the vault is not expected to recover by itself. After parts went out, the
            // error is the plan's partial failure, in words that never make the host resend them.
            "secret" if self.sent.is_empty() => {
                let message = "the Twilio secret could not be read from the vault; nothing was sent";
                let error = json!({"message": message, "retrySafety": "final", "cause": {"kind": "secret"}});
                return Ok(json!({"ok": false, "error": error}).to_string());
            }
            "secret" => RequestError::Build("the Twilio secret could not be read from the vault".to_owned()),
            "connect" => RequestError::Connect { attempts: detail.max(1) },
            "timeout" => RequestError::Timeout { seconds: u64::from(detail) },
            _ => RequestError::ConnectionLost,
        };
        Ok(self.outcome(index, Err(error)))
    }

    /// Hivekeep's `OutboundMessageResult` (JSON) once every part was accepted: the first part's SID as
    /// `platformMessageId`, the localized `contextLine`, and every part in `deliveryMeta`.
    ///
    /// # Errors
    /// Parts still unsent.
    pub fn result(&self) -> Result<String, JsError> {
        if self.sent.len() != self.reply.parts() {
            return Err(JsError::new("not every part was sent"));
        }
        let result =
            OutboundMessageResult::from_plan(&self.reply, &self.sent, self.callback.is_some(), self.locale);
        serde_json::to_string(&result).map_err(|_| JsError::new("the result could not be written"))
    }
}
