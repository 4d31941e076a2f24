//! The twilio-sms channel as Hivekeep's channel adapter runs it: one endpoint per channel for inbound
//! SMS and delivery status callbacks, and the agent's replies sent as SMS. The operations mirror
//! Hivekeep's `ChannelAdapter` and produce its JSON shapes (camelCase).
//!
//! The shapes, the send errors and their wording are sans I/O and always available (the WebAssembly
//! package uses them); `TwilioSmsChannel`, which sends over HTTP, needs the feature `client`.

#[cfg(feature = "client")]
use core::fmt;
#[cfg(feature = "client")]
use std::sync::Arc;

use http::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api_error::RetrySafety;
use crate::hivekeep::delivery::{DeliveryStatusUpdate, Locale};
use crate::outbound::{MAX_MEDIA, MediaUrl, MediaUrlError, RequestError, SentMessage};
use crate::webhook::VerifiedInbound;
#[cfg(feature = "client")]
use crate::{
    channel::ChannelId,
    client::{BotInfo, TwilioClient, ValidationError, WebhookConfigured, WebhookSetupError},
    credentials::Credentials,
    hivekeep::delivery::WebhookEvent,
    hivekeep::store::{ChannelStore, MemoryStore},
    outbound::{AccountInfo, StatusCallback},
    phone::E164,
    url::PublicUrl,
    webhook::BodyLimit,
};

mod send;
pub use send::{ReplySend, SendChannel, SendStep, Sending, Waiting};

/// The most SMS one reply is split into; longer content is refused before anything is sent.
pub const MAX_PARTS: usize = 10;

/// The SMS a reply is sent as: `content` split into parts (see [`crate::sms_text::split`]), at most
/// [`MAX_PARTS`] of them.
///
/// # Errors
/// [`SendMessageError::EmptyContent`] for a blank reply, [`SendMessageError::TooLong`] for one that
/// would take more than [`MAX_PARTS`] SMS.
#[allow(clippy::result_large_err, reason = "the send's own error, which `send_message` returns as is")]
pub fn reply_parts(content: &str) -> Result<Vec<crate::sms_text::SmsBody>, SendMessageError> {
    // A cheap bound first: 1600 UTF-16 units per part at most.
    if content.len() > MAX_PARTS * 1600 * 4 {
        return Err(SendMessageError::TooLong);
    }
    let bodies = crate::sms_text::split(content).map_err(|_| SendMessageError::EmptyContent)?;
    if bodies.len() > MAX_PARTS {
        return Err(SendMessageError::TooLong);
    }
    Ok(bodies)
}

/// Why an attachment of a reply was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotSentReason {
    /// Its `source` cannot be a `MediaUrl`.
    #[error("{0}")]
    Source(MediaUrlError),
    /// More than [`MAX_MEDIA`] attachments: the ones past it.
    #[error("more than 10 attachments")]
    TooMany,
    /// Not an attachment Hivekeep describes (`{source, mimeType, fileName?}`).
    #[error("not a readable attachment")]
    Unreadable,
}

/// An attachment of a reply that was not sent: its name (the file name, or the last segment of its
/// path; never a query) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotSent {
    /// The name the text and the context line give it (cleaned: see [`ReplyPlan::new`]).
    pub name: String,
    /// Why it was not sent.
    pub reason: NotSentReason,
}

/// What a reply with its attachments is sent as: the SMS parts, the media the first part carries (it
/// goes as an MMS), and the attachments that cannot be sent, which the text names. Its `Debug` gives
/// counts only (the text and the names are the conversation's).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyPlan {
    bodies: Vec<crate::sms_text::SmsBody>,
    /// At most [`MAX_MEDIA`].
    media: Vec<MediaUrl>,
    not_sent: Vec<NotSent>,
}

impl core::fmt::Debug for ReplyPlan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplyPlan")
            .field("parts", &self.bodies.len())
            .field("media", &self.media.len())
            .field("not_sent", &self.not_sent.len())
            .finish()
    }
}

impl ReplyPlan {
    /// The plan for Hivekeep's `content` and `attachments` (`{source, mimeType, fileName?}`), whose
    /// notes are in `locale`. A public `https` `source` goes out as a `MediaUrl` (at most
    /// [`MAX_MEDIA`]); any other (a file on the Hivekeep server, plain `http`, a private host) is named
    /// at the end of the text, `[Attachment not sent: report.pdf]` (unless that note alone would make the
    /// reply too long: the context line names them anyway). A name is the `fileName`, else the last
    /// segment of the source's path, cleaned as Twilio's error texts are (no control or invisible
    /// character, no credentials or phone numbers, at most 60 characters). A reply of attachments alone
    /// is the media with their names as the text, or the note alone when none can be sent.
    ///
    /// # Errors
    /// As [`reply_parts`]: [`SendMessageError::EmptyContent`] when there is neither text nor
    /// attachment, [`SendMessageError::TooLong`].
    #[allow(clippy::result_large_err, reason = "the send's own error, which `send_message` returns as is")]
    pub fn new(content: &str, attachments: &[Value], locale: Locale) -> Result<Self, SendMessageError> {
        let mut media: Vec<(String, MediaUrl)> = Vec::new();
        let mut not_sent = Vec::new();
        for (index, attachment) in attachments.iter().enumerate() {
            let source = attachment.get("source").and_then(Value::as_str);
            let name = attachment_name(attachment, source, index);
            let reason = match source.map(MediaUrl::parse) {
                None => NotSentReason::Unreadable,
                Some(Err(error)) => NotSentReason::Source(error),
                Some(Ok(_)) if media.len() >= MAX_MEDIA => NotSentReason::TooMany,
                Some(Ok(url)) => {
                    media.push((name, url));
                    continue;
                }
            };
            not_sent.push(NotSent { name, reason });
        }
        let content = content.trim();
        let names: Vec<&str> = media.iter().map(|(name, _)| name.as_str()).collect();
        // Attachments alone: their names are the text.
        let text = if content.is_empty() { names.join(", ") } else { content.to_owned() };
        let note = not_sent_note(&not_sent, locale);
        let bodies = match note {
            Some(note) if text.is_empty() => reply_parts(&note)?,
            // The note never makes a reply that fits too long: the context line still names them.
            Some(note) => reply_parts(&format!("{text}\n\n{note}")).or_else(|_| reply_parts(&text))?,
            None => reply_parts(&text)?,
        };
        Ok(Self { bodies, media: media.into_iter().map(|(_, url)| url).collect(), not_sent })
    }

    /// The number of messages.
    #[must_use]
    pub fn parts(&self) -> usize {
        self.bodies.len()
    }

    /// The texts, in order.
    #[must_use]
    pub fn bodies(&self) -> &[crate::sms_text::SmsBody] {
        &self.bodies
    }

    /// The public `https` attachments, sent as `MediaUrl`s of the first message.
    #[must_use]
    pub fn media(&self) -> &[MediaUrl] {
        &self.media
    }

    /// The attachments not sent.
    #[must_use]
    pub fn not_sent(&self) -> &[NotSent] {
        &self.not_sent
    }

    /// Message `index` (from 0) to `to`: its text, and for the first the media.
    #[must_use]
    pub fn sms(&self, index: usize, to: &crate::E164) -> Option<crate::outbound::Sms> {
        let body = self.bodies.get(index)?.clone();
        let media = if index == 0 { self.media.clone() } else { Vec::new() };
        Some(crate::outbound::Sms::with_checked_media(to.clone(), body, media))
    }

    /// Every message to `to`, in order (see [`Self::sms`]).
    #[must_use]
    pub fn messages(&self, to: &crate::E164) -> Vec<crate::outbound::Sms> {
        (0..self.parts()).filter_map(|index| self.sms(index, to)).collect()
    }

    /// The context line's note on the attachments not sent (`attachment not sent: report.pdf (a file on
    /// the server, not a public URL)`), in `locale`; none when every attachment went.
    #[must_use]
    pub fn not_sent_line(&self, locale: Locale) -> Option<String> {
        if self.not_sent.is_empty() {
            return None;
        }
        let list: Vec<String> = self.not_sent.iter().map(|n| format!("{} ({})", n.name, n.reason)).collect();
        let label = not_sent_label(locale, self.not_sent.len());
        let label = if matches!(locale, Locale::De) { label.to_owned() } else { label.to_lowercase() };
        Some(format!("{label}: {}", list.join(", ")))
    }
}

/// The longest attachment name the text gives (in characters).
const MAX_NAME_CHARS: usize = 60;

/// An attachment's name: its `fileName` up to any `?` or `#`, else the last segment of its `source`'s
/// path (for a URL, of the path after the host: never its `user:password@` or query), else
/// `attachment N`; through the same
/// cleaning as Twilio's error texts (no control or invisible character, credentials and phone numbers
/// masked), at most 60 characters.
fn attachment_name(attachment: &Value, source: Option<&str>, index: usize) -> String {
    // Cut at `?` or `#`: Hivekeep names a URL's attachment after the URL's last segment, query and all.
    let given =
        attachment.get("fileName").and_then(Value::as_str).and_then(|name| name.split(['?', '#']).next());
    let from_source = source.and_then(|s| {
        let path = match s.split_once("://") {
            Some((_, rest)) => rest.find('/').and_then(|slash| rest.get(slash..)).unwrap_or(""),
            None => s,
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.rsplit(['/', '\\']).next()
    });
    [given, from_source]
        .into_iter()
        .flatten()
        .find_map(|name| crate::api_error::sanitize_text(name, MAX_NAME_CHARS))
        .unwrap_or_else(|| format!("attachment {}", index + 1))
}

/// The note the text ends with for attachments not sent, in `locale`.
fn not_sent_note(not_sent: &[NotSent], locale: Locale) -> Option<String> {
    if not_sent.is_empty() {
        return None;
    }
    let names: Vec<&str> = not_sent.iter().map(|n| n.name.as_str()).collect();
    Some(format!("[{}: {}]", not_sent_label(locale, not_sent.len()), names.join(", ")))
}

/// "Attachment(s) not sent", for `n` attachments, in `locale` (capitalised; German keeps its nouns so).
fn not_sent_label(locale: Locale, n: usize) -> &'static str {
    match (locale, n) {
        (Locale::Fr, 1) => "Pièce jointe non envoyée",
        (Locale::Fr, _) => "Pièces jointes non envoyées",
        (Locale::De, 1) => "Anhang nicht gesendet",
        (Locale::De, _) => "Anhänge nicht gesendet",
        (Locale::Es, 1) => "Adjunto no enviado",
        (Locale::Es, _) => "Adjuntos no enviados",
        (_, 1) => "Attachment not sent",
        (_, _) => "Attachments not sent",
    }
}

/// The path Hivekeep routes a channel's webhooks to, without the channel id.
pub const WEBHOOK_PATH_PREFIX: &str = "/api/channels/plugin/twilio-sms/webhook/";

/// Hivekeep's `OutboundMessageParams`.
///
/// Its `Debug` masks the recipient and leaves the text out.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OutboundMessageParams {
    /// The recipient: an E.164 phone number.
    pub chat_id: String,
    /// The text.
    pub content: String,
    /// The message this replies to (unused by SMS).
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
    /// Attachments, `{source, mimeType, fileName?}`: see [`ReplyPlan::new`] for what is sent.
    #[serde(default)]
    pub attachments: Vec<Value>,
    /// The locale of the context line (`en`, `fr`, `de`, `es`).
    #[serde(default)]
    pub locale: Option<String>,
}

impl core::fmt::Debug for OutboundMessageParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutboundMessageParams")
            .field("chat_id", &crate::phone::Redacted::new(&self.chat_id))
            .field("content_len", &self.content.len())
            .field("reply_to_message_id", &self.reply_to_message_id)
            .field("attachments", &self.attachments.len())
            .field("locale", &self.locale)
            .finish()
    }
}

impl OutboundMessageParams {
    /// Params for a text to `chat_id`.
    #[must_use]
    pub fn text(chat_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            chat_id: chat_id.into(),
            content: content.into(),
            reply_to_message_id: None,
            attachments: Vec::new(),
            locale: None,
        }
    }
}

/// Hivekeep's `OutboundMessageResult`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OutboundMessageResult {
    /// The SID of the first part: the id delivery updates are reported under.
    pub platform_message_id: String,
    /// The localized line shown under the bubble.
    pub context_line: String,
    /// Every part's SID, status and segments, plus whether live status will follow.
    pub delivery_meta: Value,
}

/// Hivekeep's `IncomingMessage`.
///
/// Its `Debug` masks the sender's number and leaves the text and the metadata out.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IncomingMessage {
    /// The sender's number.
    pub platform_user_id: String,
    /// The `MessageSid`.
    pub platform_message_id: String,
    /// The sender's number (the conversation).
    pub platform_chat_id: String,
    /// The sender's number again, as the name Hivekeep gives the contact and shows in the prompt
    /// (without it Hivekeep names the sender `twilio-sms:<number>`).
    pub platform_display_name: String,
    /// The text.
    pub content: String,
    /// The media of an MMS (none for an SMS, and then left out of the JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<IncomingAttachment>,
    /// `{"twilio": {accountSid, toNumber, numMedia, numSegments, fromCountry?, optOut?}}`.
    pub metadata: Value,
}

/// Hivekeep's `IncomingAttachment` for a media item of an inbound MMS.
///
/// Hivekeep downloads `url`. Twilio serves media URLs without credentials unless the account enforces
/// HTTP authentication on them; then the host adds the account's Basic credentials itself (no output of
/// this crate carries a secret, so `headers` is never set).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IncomingAttachment {
    /// The media's SID (`ME…`, the last segment of the URL's path), or the URL when it has none.
    pub platform_file_id: String,
    /// `MediaContentType{N}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// `MediaUrl{N}`.
    pub url: String,
}

impl IncomingAttachment {
    fn from_media(media: crate::webhook::Media<'_>) -> Self {
        let path = media.url.split(['?', '#']).next().unwrap_or_default();
        let last = path.trim_end_matches('/').rsplit('/').next().filter(|s| s.starts_with("ME"));
        Self {
            platform_file_id: last.unwrap_or(media.url).to_owned(),
            mime_type: media.content_type.map(str::to_owned),
            url: media.url.to_owned(),
        }
    }
}

impl core::fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("platform_user_id", &crate::phone::Redacted::new(&self.platform_user_id))
            .field("platform_message_id", &self.platform_message_id)
            .field("platform_chat_id", &crate::phone::Redacted::new(&self.platform_chat_id))
            .field("platform_display_name", &crate::phone::Redacted::new(&self.platform_display_name))
            .field("content_len", &self.content.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

impl IncomingMessage {
    /// The message to hand to the agent for a verified inbound SMS, or none for a `STOP` (an
    /// [`OptOut::Stop`](crate::webhook::OptOut::Stop)): Twilio has unsubscribed the sender, so any answer would fail
    /// with 21610. `START` and `HELP` are delivered, marked in `metadata.twilio.optOut`.
    #[must_use]
    pub fn for_agent(sms: &VerifiedInbound) -> Option<Self> {
        if sms.opt_out() == Some(crate::webhook::OptOut::Stop) {
            tracing::info!(target: "twilio_sms::channel", sid = %sms.message_sid(), "STOP received: the sender unsubscribed; not handed to the agent");
            return None;
        }
        Some(Self::from_inbound(sms))
    }

    /// The message for a verified inbound SMS: the sender is the user and the conversation, the
    /// `MessageSid` the message id; an opt-out keyword is marked in `metadata.twilio.optOut` (`stop`,
    /// `start` or `help`).
    #[must_use]
    pub fn from_inbound(sms: &VerifiedInbound) -> Self {
        let from = sms.from().as_str().to_owned();
        let mut twilio = json!({
            "accountSid": sms.account_sid().as_str(),
            "toNumber": sms.to().as_str(),
            "numMedia": sms.num_media(),
            "numSegments": sms.num_segments(),
        });
        if let (Some(country), Some(object)) =
            (sms.webhook().param("FromCountry").filter(|c| !c.is_empty()), twilio.as_object_mut())
        {
            object.insert("fromCountry".to_owned(), json!(country));
        }
        if let (Some(opt_out), Some(object)) = (sms.opt_out(), twilio.as_object_mut()) {
            object.insert("optOut".to_owned(), json!(opt_out));
        }
        Self {
            platform_user_id: from.clone(),
            platform_message_id: sms.message_sid().to_string(),
            platform_chat_id: from.clone(),
            platform_display_name: from,
            content: sms.body().to_owned(),
            attachments: sms.media().map(IncomingAttachment::from_media).collect(),
            metadata: json!({ "twilio": twilio }),
        }
    }
}

/// A channel as its webhook decision needs it (see [`WebhookDecision::decide`]).
#[derive(Debug, Clone, Copy)]
pub struct WebhookChannel<'a> {
    /// The channel's id (the last segment of its webhook path).
    pub id: &'a crate::ChannelId,
    /// Hivekeep's `PUBLIC_URL`: without it nothing can be verified (the request's own host is not
    /// trusted).
    pub public_url: Option<&'a crate::PublicUrl>,
    /// The largest body taken.
    pub body_limit: crate::BodyLimit,
    /// The account a webhook must carry.
    pub account: &'a crate::AccountSid,
    /// The number an inbound message must be sent to (none for a Messaging Service alone).
    pub number: Option<&'a crate::E164>,
}

/// What a channel decides of a webhook before its store, sans I/O: the one decision of the native
/// channel and of the WebAssembly package. Refused: a `404` for another channel's id, a bare `403` for
/// every verification or binding failure (and without a public URL), a `413` for an oversized body;
/// accepted: `200` with empty TwiML, the event and its de-duplication key.
#[derive(Debug)]
#[non_exhaustive]
pub struct WebhookDecision {
    /// The HTTP status of the answer.
    pub status: http::StatusCode,
    /// Why it was refused (for `tracing`: no secret, no phone number).
    pub reason: Option<String>,
    /// The accepted event.
    pub event: Option<crate::hivekeep::delivery::WebhookEvent>,
    /// The accepted event's de-duplication key.
    pub idempotency_key: Option<String>,
    /// Whether the MAC did not match under the verifier's tokens (other tokens might verify it).
    mac_mismatch: bool,
}

impl WebhookDecision {
    fn refused(status: http::StatusCode, reason: String) -> Self {
        Self { status, reason: Some(reason), event: None, idempotency_key: None, mac_mismatch: false }
    }

    fn rejected(error: &crate::webhook::VerifyError) -> Self {
        let mut decision = Self::refused(error.response().status(), error.to_string());
        decision.mac_mismatch = matches!(error, crate::webhook::VerifyError::SignatureMismatch);
        decision
    }

    /// Whether it was refused because its MAC did not match under the verifier's tokens: the one
    /// refusal that tokens read again (a token replaced in the vault) could change. Every other
    /// refusal (no or a malformed signature, the URL, the body, the channel's bindings) stands whatever
    /// the tokens.
    #[must_use]
    pub fn refused_by_tokens(&self) -> bool {
        self.mac_mismatch
    }

    /// Decides a webhook `channel` received at `path_channel_id` (the id its path named), whose raw
    /// path and query is `target` (a borrowed `body` is copied only once it is within the limit): the channel's id, its public URL, the body limit, the URL, the
    /// method; then `verify` (the driver's verifier, which holds the tokens; it is the only way to a
    /// verified webhook) and the binding checks of [`crate::hivekeep::delivery::classify`].
    #[must_use]
    pub fn decide(
        channel: WebhookChannel<'_>,
        path_channel_id: &str,
        target: &str,
        method: &str,
        headers: http::HeaderMap,
        body: std::borrow::Cow<'_, [u8]>,
        verify: impl FnOnce(
            crate::webhook::UnverifiedWebhook,
        ) -> Result<crate::webhook::VerifiedWebhook, crate::webhook::VerifyError>,
    ) -> Self {
        use crate::webhook::VerifyError;
        if crate::ChannelId::parse(path_channel_id).ok().as_ref() != Some(channel.id) {
            return Self::refused(http::StatusCode::NOT_FOUND, "webhook for another channel id".to_owned());
        }
        let Some(public_url) = channel.public_url else {
            let reason = "no PUBLIC_URL: webhooks cannot be verified".to_owned();
            return Self::refused(VerifyError::SignatureMismatch.response().status(), reason);
        };
        let webhook = crate::webhook::UnverifiedWebhook::received(
            public_url,
            target,
            method,
            headers,
            body,
            channel.body_limit,
        )
        .and_then(verify);
        let verified = match webhook {
            Ok(verified) => verified,
            Err(error) => return Self::rejected(&error),
        };
        let token = verified.idempotency_token().map(str::to_owned);
        match crate::hivekeep::delivery::classify(verified, channel.account, channel.number) {
            Ok(event) => Self {
                status: http::StatusCode::OK,
                reason: None,
                idempotency_key: crate::hivekeep::delivery::idempotency_key(token.as_deref(), &event),
                mac_mismatch: false,
                event: Some(event),
            },
            Err(error) => {
                Self::refused(VerifyError::SignatureMismatch.response().status(), error.to_string())
            }
        }
    }

    /// The HTTP answer: `200` with empty TwiML, or a bare refusal.
    #[must_use]
    pub fn response(&self) -> Response<&'static str> {
        if self.status == http::StatusCode::OK {
            return crate::webhook::accepted_response();
        }
        let mut response = Response::new("");
        *response.status_mut() = self.status;
        response
    }
}

/// What `handle_inbound_webhook` returns: Hivekeep's `{incoming, response, deliveryUpdate}`.
#[derive(Debug)]
#[non_exhaustive]
pub struct WebhookResult {
    /// The inbound message to hand to the agent.
    pub incoming: Option<IncomingMessage>,
    /// The HTTP answer for Twilio.
    pub response: Response<&'static str>,
    /// The delivery status to apply.
    pub delivery_update: Option<DeliveryStatusUpdate>,
    /// The event's idempotency key (for hosts that de-duplicate themselves).
    pub idempotency_key: Option<String>,
    /// An inbound message's opt-out keyword and sender: with [`OptOut::Stop`](crate::webhook::OptOut::Stop) the
    /// message is not in `incoming`, and this is how the host learns that the sender unsubscribed.
    pub opt_out: Option<OptOutNotice>,
    /// Why the webhook was refused (no secret, no phone number); none when it was accepted.
    pub reason: Option<String>,
}

/// Who sent an opt-out keyword, and which (see [`VerifiedInbound::opt_out`]). Its `Debug` masks the
/// sender's number.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OptOutNotice {
    /// The keyword's meaning.
    pub keyword: crate::webhook::OptOut,
    /// The sender (`From`).
    pub sender: String,
}

impl OptOutNotice {
    /// The notice for a verified inbound message, when it is an opt-out keyword.
    #[must_use]
    pub fn of(sms: &VerifiedInbound) -> Option<Self> {
        Some(Self { keyword: sms.opt_out()?, sender: sms.from().as_str().to_owned() })
    }
}

impl core::fmt::Debug for OptOutNotice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OptOutNotice")
            .field("keyword", &self.keyword)
            .field("sender", &crate::phone::Redacted::new(&self.sender))
            .finish()
    }
}

impl WebhookResult {
    fn answer(decision: &WebhookDecision) -> Self {
        Self {
            incoming: None,
            response: decision.response(),
            delivery_update: None,
            idempotency_key: decision.idempotency_key.clone(),
            opt_out: None,
            reason: decision.reason.clone(),
        }
    }
}

/// What handling a webhook still needs after its [`WebhookDecision`], sans I/O: the one order of the
/// native channel and of the WebAssembly package. A driver runs each step against its store and hands
/// the store's answer back, until [`WebhookStep::Done`]. A store that fails never loses an event: the
/// event is then delivered (at least once), and a status applies.
///
/// Not `non_exhaustive`: a driver must run every step, so a new one must fail to compile there.
#[derive(Debug)]
pub enum WebhookStep {
    /// Record the event's de-duplication key ([`first_sighting`](crate::hivekeep::store::ChannelStore::first_sighting)).
    Sighting(NeedsSighting),
    /// Keep the message's delivery state ([`advance`](crate::hivekeep::store::ChannelStore::advance)).
    Ordering(NeedsOrdering),
    /// Nothing is left: the result.
    Done(WebhookResult),
}

/// An accepted event, with what the host is handed once the store has answered.
#[derive(Debug)]
struct Accepted {
    result: WebhookResult,
    event: crate::hivekeep::delivery::WebhookEvent,
    locale: Locale,
}

/// A step that needs the store's first sighting of [`Self::key`].
#[derive(Debug)]
pub struct NeedsSighting {
    key: String,
    accepted: Accepted,
}

/// A step that needs the store to [advance](crate::hivekeep::store::ChannelStore::advance) a message's state.
#[derive(Debug)]
pub struct NeedsOrdering {
    message: crate::MessageSid,
    report: crate::hivekeep::delivery::StatusReport,
    state: crate::hivekeep::delivery::AppliedStatus,
    result: WebhookResult,
    locale: Locale,
}

impl WebhookDecision {
    /// The steps after this decision, for a channel answering in `locale`: a refusal is done at once;
    /// an accepted event is de-duplicated (when it has a key), then delivered, a status callback after
    /// its ordering step.
    #[must_use]
    pub fn into_steps(self, locale: Locale) -> WebhookStep {
        let mut result = WebhookResult::answer(&self);
        let Some(event) = self.event else {
            let reason = self.reason.as_deref().unwrap_or("refused");
            tracing::warn!(target: "twilio_sms::channel", status = self.status.as_u16(), reason, "webhook refused");
            return WebhookStep::Done(result);
        };
        result.reason = None;
        let accepted = Accepted { result, event, locale };
        match self.idempotency_key {
            Some(key) => WebhookStep::Sighting(NeedsSighting { key, accepted }),
            None => accepted.deliver(),
        }
    }
}

impl Accepted {
    fn deliver(self) -> WebhookStep {
        let Self { mut result, event, locale } = self;
        match event {
            crate::hivekeep::delivery::WebhookEvent::Inbound(sms) => {
                result.opt_out = OptOutNotice::of(&sms);
                result.incoming = IncomingMessage::for_agent(&sms);
            }
            crate::hivekeep::delivery::WebhookEvent::Status(report) => {
                let state = report.applied();
                // An inbound or unknown status ranks nothing: nothing is kept, nothing applies.
                if state.status.rank().is_none() {
                    result.delivery_update = crate::hivekeep::delivery::step(&report, None, locale).update;
                    return WebhookStep::Done(result);
                }
                let message = report.for_message().0;
                return WebhookStep::Ordering(NeedsOrdering { message, report, state, result, locale });
            }
            crate::hivekeep::delivery::WebhookEvent::Other => {}
        }
        WebhookStep::Done(result)
    }
}

impl NeedsSighting {
    /// The event's de-duplication key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The next step, from the store's answer: a duplicate is acknowledged and nothing is delivered; a
    /// first sighting, or a store that failed, is delivered.
    #[must_use]
    pub fn seen(self, first: Result<bool, crate::hivekeep::store::StoreError>) -> WebhookStep {
        match first {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(target: "twilio_sms::channel", "duplicate webhook acknowledged");
                return WebhookStep::Done(self.accepted.result);
            }
            // Debug only: a store logs its own outage once per interval, not once per request.
            Err(error) => {
                tracing::debug!(target: "twilio_sms::channel", reason = %error, "de-duplication unavailable: delivered");
            }
        }
        self.accepted.deliver()
    }
}

impl NeedsOrdering {
    /// The message whose state is kept (a multi-part reply's first part).
    #[must_use]
    pub fn message(&self) -> &crate::MessageSid {
        &self.message
    }

    /// The state this callback reports for [`Self::message`].
    #[must_use]
    pub fn state(&self) -> &crate::hivekeep::delivery::AppliedStatus {
        &self.state
    }

    /// The result, from the state the store kept before this callback (see
    /// [`advance`](crate::hivekeep::store::ChannelStore::advance)); a store that failed kept
    /// nothing, so the update applies.
    #[must_use]
    pub fn ordered(
        self,
        kept: Result<Option<crate::hivekeep::delivery::AppliedStatus>, crate::hivekeep::store::StoreError>,
    ) -> WebhookResult {
        let kept = kept.unwrap_or_else(|error| {
            tracing::debug!(target: "twilio_sms::channel", reason = %error, "status order unavailable: applied");
            None
        });
        let Self { report, mut result, locale, .. } = self;
        let step = crate::hivekeep::delivery::step(&report, kept.as_ref(), locale);
        if step.update.is_none() {
            tracing::debug!(target: "twilio_sms::channel", status = %report.applied().status, "stale status ignored");
        }
        result.delivery_update = step.update;
        result
    }
}

/// Why `send_message` failed. Its text is what Hivekeep's retry logic reads: only an error after which
/// nothing was sent and a retry is safe uses the words that make the host retry (rate limit, network);
/// an ambiguous or partial failure never does, so the host never sends an SMS twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendMessageError {
    /// `chatId` is not a phone number (see [`E164::recipient`]).
    #[error(
        "chatId is not a phone number: write it in E.164 form (+ and country code), or as a national number of the channel's country"
    )]
    InvalidRecipient,
    /// Nothing to send: the content is blank and there is no attachment.
    #[error("nothing to send: the reply is blank")]
    EmptyContent,
    /// The content would take more than [`MAX_PARTS`] SMS; nothing was sent.
    #[error("the reply is too long for SMS: it would take more than ten messages; nothing was sent")]
    TooLong,
    /// Nothing was sent and sending again is safe.
    #[error("{}", safe_text(.0))]
    RetrySafe(RequestError),
    /// Twilio refused the message; sending it again would fail the same way.
    #[error("Twilio refused the SMS: {0}")]
    Refused(RequestError),
    /// The outcome is unknown: the SMS may exist. Not to be retried blindly.
    #[error("{}", ambiguous_text(.0))]
    Ambiguous(RequestError),
    /// Part of a multi-part message went out before a part failed.
    #[error(
        "part {failed} of {total} could not be sent after parts {sent_list} went out; the parts sent must not be sent again, so this is not retried: {reason}",
        failed = .failed_index + 1,
        sent_list = sent_range(.sent.len()),
        reason = outcome_text(.error),
    )]
    Partial {
        /// SIDs of the parts that went out.
        sent: Vec<String>,
        /// The index (from 0) of the part that failed.
        failed_index: usize,
        /// The number of parts.
        total: usize,
        /// Why it failed.
        error: RequestError,
    },
}

fn sent_range(n: usize) -> String {
    if n == 1 { "1".to_owned() } else { format!("1-{n}") }
}

/// The words of a safe failure: they make the host retry.
fn safe_text(error: &RequestError) -> String {
    match error {
        RequestError::Api(_) => "Twilio rate limit (429): nothing was sent; retry later".to_owned(),
        _ => "network error: could not connect to Twilio; nothing was sent, so a retry is safe".to_owned(),
    }
}

/// Describes a failure without the words and numbers that make the host retry: no Twilio text, no
/// code, no status digit that could read as 429 or 500-504.
fn outcome_text(error: &RequestError) -> String {
    match error.retry_safety() {
        RetrySafety::Final => match error.http_status() {
            Some(status) => format!("Twilio refused it (HTTP {}xx)", status / 100),
            None => "the request could not be made".to_owned(),
        },
        RetrySafety::Safe => match error {
            RequestError::Api(_) => "Twilio asked to slow down before accepting it".to_owned(),
            _ => "no connection to Twilio could be made".to_owned(),
        },
        _ => match (error.http_status(), error.twilio_code()) {
            (Some(status), _) => {
                format!("Twilio answered without accepting it clearly (HTTP {}xx)", status / 100)
            }
            _ => "no complete answer came back from Twilio".to_owned(),
        },
    }
}

fn ambiguous_text(error: &RequestError) -> String {
    format!(
        "the SMS may already have been sent: {}; it is not retried automatically, to avoid a double send; check the Twilio message log",
        outcome_text(error)
    )
}

impl SendMessageError {
    /// The error of a send that failed at part `failed_index` (from 0) of `total`, after the parts whose
    /// SIDs are in `sent` went out: [`Partial`](Self::Partial) when any did, otherwise by the error's
    /// retry safety.
    #[must_use]
    pub fn for_part(error: RequestError, sent: Vec<String>, failed_index: usize, total: usize) -> Self {
        if !sent.is_empty() {
            return Self::Partial { sent, failed_index, total, error };
        }
        match error.retry_safety() {
            RetrySafety::Safe => Self::RetrySafe(error),
            RetrySafety::Final => Self::Refused(error),
            RetrySafety::Ambiguous => Self::Ambiguous(error),
        }
    }

    /// The request's error behind a failed part (none for a reply refused before anything was tried).
    #[must_use]
    pub fn cause(&self) -> Option<&RequestError> {
        match self {
            Self::RetrySafe(error) | Self::Refused(error) | Self::Ambiguous(error) => Some(error),
            Self::Partial { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether calling `send_message` again is safe.
    #[must_use]
    pub fn retry_safety(&self) -> RetrySafety {
        match self {
            Self::RetrySafe(_) => RetrySafety::Safe,
            Self::Ambiguous(_) | Self::Partial { .. } => RetrySafety::Ambiguous,
            _ => RetrySafety::Final,
        }
    }
}

/// One twilio-sms channel: its id, credentials, public URL, the shared client and its store (feature
/// `client`).
#[cfg(feature = "client")]
pub struct TwilioSmsChannel<S: ChannelStore = MemoryStore> {
    id: ChannelId,
    credentials: Credentials,
    verifier: crate::webhook::WebhookVerifier,
    public_url: Option<PublicUrl>,
    client: TwilioClient,
    store: Arc<S>,
    body_limit: BodyLimit,
    locale: Locale,
}

#[cfg(feature = "client")]
impl<S: ChannelStore> fmt::Debug for TwilioSmsChannel<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSmsChannel")
            .field("id", &self.id)
            .field("credentials", &self.credentials)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "client")]
impl TwilioSmsChannel<MemoryStore> {
    /// A channel with the default in-memory store.
    #[must_use]
    pub fn new(
        id: ChannelId,
        credentials: Credentials,
        public_url: Option<PublicUrl>,
        client: TwilioClient,
    ) -> Self {
        Self::with_store(id, credentials, public_url, client, Arc::new(MemoryStore::default()))
    }
}

#[cfg(feature = "client")]
impl<S: ChannelStore> TwilioSmsChannel<S> {
    /// A channel with a host-provided store (shared between instances).
    #[must_use]
    pub fn with_store(
        id: ChannelId,
        credentials: Credentials,
        public_url: Option<PublicUrl>,
        client: TwilioClient,
        store: Arc<S>,
    ) -> Self {
        Self {
            id,
            verifier: credentials.webhook_verifier(),
            credentials,
            public_url,
            client,
            store,
            body_limit: BodyLimit::DEFAULT,
            locale: Locale::En,
        }
    }

    /// The body limit for webhooks (default 64 KiB).
    #[must_use]
    pub fn with_body_limit(mut self, limit: BodyLimit) -> Self {
        self.body_limit = limit;
        self
    }

    /// The locale of delivery hints (Twilio's callbacks carry none; default English).
    #[must_use]
    pub fn with_locale(mut self, locale: Locale) -> Self {
        self.locale = locale;
        self
    }

    /// The channel id.
    #[must_use]
    pub fn id(&self) -> &ChannelId {
        &self.id
    }

    /// The body limit for webhooks.
    #[must_use]
    pub fn body_limit(&self) -> BodyLimit {
        self.body_limit
    }

    /// The channel's webhook URL, to paste in the Twilio Console (needs a public URL).
    #[must_use]
    pub fn webhook_url(&self) -> Option<String> {
        self.public_url.as_ref().map(|url| StatusCallback::for_channel(url, &self.id).as_str().to_owned())
    }

    /// The channel config schema for `plugin.json`.
    #[must_use]
    pub fn config_schema() -> Value {
        config_schema()
    }

    /// Checks the credentials against Twilio.
    ///
    /// # Errors
    /// A [`ValidationError`] naming what is wrong.
    pub async fn validate_config(&self) -> Result<AccountInfo, ValidationError> {
        self.client.validate_config(&self.credentials).await
    }

    /// Points the From number's "A message comes in" webhook at this channel's webhook URL, when it
    /// points nowhere of its owner's (see [`TwilioClient::configure_webhook`]).
    ///
    /// # Errors
    /// A [`WebhookSetupError`]: no public URL, another URL there (never overwritten), a failed request.
    pub async fn configure_webhook(&self) -> Result<WebhookConfigured, WebhookSetupError> {
        let url = self.webhook_url().ok_or(WebhookSetupError::NoWebhookUrl)?;
        self.client.configure_webhook(&self.credentials, &url).await
    }

    /// The account's name and the sender.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn bot_info(&self) -> Result<BotInfo, RequestError> {
        self.client.bot_info(&self.credentials).await
    }

    /// Sends the agent's reply to `chatId`. Content longer than one SMS goes out as parts, in order;
    /// the result's `platformMessageId` is the first part's SID and every part's status reaches it
    /// (see [`PartTag`](crate::hivekeep::delivery::PartTag)).
    ///
    /// # Errors
    /// A [`SendMessageError`]; its wording decides whether Hivekeep retries, and it never invites a
    /// retry after anything may have been sent.
    #[tracing::instrument(
        name = "twilio_sms.send",
        target = "twilio_sms::channel",
        skip_all,
        fields(channel = %self.id, sid = tracing::field::Empty, parts = tracing::field::Empty)
    )]
    pub async fn send_message(
        &self,
        params: &OutboundMessageParams,
    ) -> Result<OutboundMessageResult, SendMessageError> {
        let to = E164::recipient(&params.chat_id, self.credentials.sender().number())
            .map_err(|_| SendMessageError::InvalidRecipient)?;
        let locale = Locale::parse(params.locale.as_deref());
        let plan = ReplyPlan::new(&params.content, &params.attachments, locale)?;
        tracing::Span::current().record("parts", plan.parts());
        let channel = SendChannel {
            id: &self.id,
            public_url: self.public_url.as_ref(),
            api_base: &self.client.config().api_base,
            account: self.credentials.account_sid(),
            sender: self.credentials.sender(),
        };
        let policy = self.client.config().retry_policy();
        // The core's steps; this driver only sends and waits.
        let clock = crate::client::StepClock::start();
        let mut step = ReplySend::start(plan, to, channel, locale, policy, clock.now());
        loop {
            step = match step {
                SendStep::Send(sending) => self.client.attempt_part(&self.credentials, sending, clock).await,
                SendStep::Wait(waiting) => {
                    tokio::time::sleep(waiting.duration()).await;
                    waiting.over(clock.now())
                }
                SendStep::Done(result) => {
                    tracing::Span::current().record("sid", result.platform_message_id.as_str());
                    return Ok(result);
                }
                SendStep::Fail(error) => return Err(error),
            };
        }
    }

    /// Handles a webhook Hivekeep's dispatcher received for `path_channel_id`: verifies it, checks it
    /// belongs to this channel, drops duplicates, and returns the inbound message or the delivery
    /// update with the HTTP answer for Twilio (a bare `403` for every verification or binding failure).
    #[tracing::instrument(
        name = "twilio_sms.webhook",
        target = "twilio_sms::channel",
        skip_all,
        fields(channel = %self.id, sid = tracing::field::Empty)
    )]
    pub async fn handle_inbound_webhook<B: AsRef<[u8]>>(
        &self,
        path_channel_id: &str,
        request: http::Request<B>,
    ) -> WebhookResult {
        let (parts, body) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        let channel = WebhookChannel {
            id: &self.id,
            public_url: self.public_url.as_ref(),
            body_limit: self.body_limit,
            account: self.credentials.account_sid(),
            number: self.credentials.sender().number(),
        };
        let decision = WebhookDecision::decide(
            channel,
            path_channel_id,
            target,
            parts.method.as_str(),
            parts.headers,
            std::borrow::Cow::Borrowed(body.as_ref()),
            |webhook| self.verifier.verify(webhook),
        );
        let message = match &decision.event {
            Some(WebhookEvent::Inbound(sms)) => Some(sms.message_sid()),
            Some(WebhookEvent::Status(report)) => Some(report.message_sid()),
            _ => None,
        };
        if let Some(sid) = message {
            tracing::Span::current().record("sid", tracing::field::display(sid));
        }
        // The core's steps; this driver only runs each against the store.
        let mut step = decision.into_steps(self.locale);
        loop {
            step = match step {
                WebhookStep::Sighting(sighting) => {
                    let first = self.store.first_sighting(sighting.key()).await;
                    sighting.seen(first)
                }
                WebhookStep::Ordering(ordering) => {
                    let kept = self.store.advance(ordering.message().as_str(), ordering.state()).await;
                    WebhookStep::Done(ordering.ordered(kept))
                }
                WebhookStep::Done(result) => return result,
            };
        }
    }
}

impl OutboundMessageResult {
    /// The result of a send whose parts Twilio all accepted, in order: the first part's SID, the
    /// localized context line (saying when no live status will follow: `live` is false without a public
    /// URL), and every part's SID, status and segments.
    #[must_use]
    pub fn from_parts(parts: &[SentMessage], live: bool, locale: Locale) -> Self {
        let first = parts.first().map(|m| m.sid.to_string()).unwrap_or_default();
        let meta: Vec<Value> = parts
            .iter()
            .map(|m| json!({"sid": m.sid.as_str(), "status": m.status.as_str(), "segments": m.num_segments}))
            .collect();
        Self {
            platform_message_id: first,
            context_line: sent_line(parts.len(), live, locale),
            delivery_meta: json!({"twilio": {"parts": meta, "liveStatus": live}}),
        }
    }
}

impl OutboundMessageResult {
    /// The result of a send planned by `plan` whose parts Twilio all accepted ([`Self::from_parts`]),
    /// with the media sent (`deliveryMeta.twilio.media`) and the attachments not sent named in the
    /// context line and in `deliveryMeta.twilio.attachmentsNotSent` (`{name, reason}`).
    #[must_use]
    pub fn from_plan(plan: &ReplyPlan, parts: &[SentMessage], live: bool, locale: Locale) -> Self {
        let mut result = Self::from_parts(parts, live, locale);
        if let Some(line) = plan.not_sent_line(locale) {
            result.context_line = format!("{} · {line}", result.context_line);
        }
        if let Some(twilio) = result.delivery_meta.get_mut("twilio").and_then(Value::as_object_mut) {
            if !plan.media.is_empty() {
                twilio.insert("media".to_owned(), Value::from(plan.media.len()));
            }
            if !plan.not_sent.is_empty() {
                let list: Vec<Value> = plan
                    .not_sent
                    .iter()
                    .map(|n| json!({"name": n.name, "reason": n.reason.to_string()}))
                    .collect();
                twilio.insert("attachmentsNotSent".to_owned(), Value::from(list));
            }
        }
        result
    }
}

/// The context line of a send of `parts` SMS, in `locale`; without live status (`live` false) it says
/// that no delivery tracking follows.
#[must_use]
pub fn sent_line(parts: usize, live: bool, locale: Locale) -> String {
    let sms = match (locale, parts) {
        (Locale::Fr, 1) => "Envoyé par SMS".to_owned(),
        (Locale::Fr, n) => format!("Envoyé par SMS en {n} parties"),
        (Locale::De, 1) => "Per SMS gesendet".to_owned(),
        (Locale::De, n) => format!("Per SMS in {n} Teilen gesendet"),
        (Locale::Es, 1) => "Enviado por SMS".to_owned(),
        (Locale::Es, n) => format!("Enviado por SMS en {n} partes"),
        (_, 1) => "Sent by SMS".to_owned(),
        (_, n) => format!("Sent by SMS in {n} parts"),
    };
    if live {
        return sms;
    }
    let note = match locale {
        Locale::Fr => "pas de suivi de distribution (PUBLIC_URL absent)",
        Locale::De => "keine Zustellverfolgung (PUBLIC_URL fehlt)",
        Locale::Es => "sin seguimiento de entrega (falta PUBLIC_URL)",
        _ => "no delivery tracking (PUBLIC_URL not set)",
    };
    format!("{sms} · {note}")
}

/// The channel config schema for `plugin.json`: Account SID, Auth Token (password, so Hivekeep vaults it)
/// and From Number, all required, and the switch `configureWebhook` (off by default).
#[must_use]
pub fn config_schema() -> Value {
    json!({
        "fields": [
            {
                "name": "accountSid",
                "label": "Account SID",
                "type": "text",
                "required": true,
                "placeholder": "AC...",
                "description": "Your Twilio Account SID (starts with AC), from the Twilio Console."
            },
            {
                "name": "authToken",
                "label": "Auth Token",
                "type": "password",
                "required": true,
                "description": "Your Twilio Auth Token. Stored in the Hivekeep vault (encrypted at rest), never logged."
            },
            {
                "name": "fromNumber",
                "label": "From Number",
                "type": "text",
                "required": true,
                "placeholder": "+15551234567",
                "description": "The E.164 number that sends SMS. Must be a number you own on Twilio with SMS enabled."
            },
            {
                "name": "configureWebhook",
                "label": "Set the number's incoming webhook",
                "type": "switch",
                "default": false,
                "required": false,
                "description": "When the channel is tested or started, point the From number's \"A message comes in\" webhook at this channel (if it is empty or Twilio's demo). A URL already set elsewhere is never overwritten: the test says where it points."
            }
        ]
    })
}

#[cfg(test)]
mod reply_tests {
    use super::*;

    #[test]
    fn a_reply_takes_at_most_ten_sms() {
        // One 16,000-character word: ten parts of 1,600 (cut at grapheme boundaries).
        let ten = "a".repeat(MAX_PARTS * 1600);
        assert_eq!(reply_parts(&ten).map(|parts| parts.len()), Ok(MAX_PARTS));
        assert_eq!(reply_parts(&format!("{ten}a")), Err(SendMessageError::TooLong));
        assert_eq!(reply_parts(" \n "), Err(SendMessageError::EmptyContent));
        assert_eq!(reply_parts("Hi").map(|parts| parts.len()), Ok(1));
    }

    fn plan(content: &str, attachments: Value) -> ReplyPlan {
        let list = attachments.as_array().cloned().unwrap_or_default();
        ReplyPlan::new(content, &list, Locale::En).unwrap()
    }

    fn texts(plan: &ReplyPlan) -> Vec<&str> {
        plan.bodies().iter().map(crate::sms_text::SmsBody::as_str).collect()
    }

    #[test]
    fn public_https_attachments_go_as_media_of_the_first_part_and_the_rest_are_named() {
        let p = plan(
            &"word ".repeat(400),
            json!([
                {"source": "https://cdn.example.com/charts/q3.png?token=s3cret", "mimeType": "image/png"},
                {"source": "/srv/hivekeep/data/workspaces/a/report.pdf", "mimeType": "application/pdf", "fileName": "report.pdf"},
                {"source": "http://cdn.example.com/b.png?token=s3cret", "mimeType": "image/png"},
                {"mimeType": "image/png"},
            ]),
        );
        assert_eq!(p.media().len(), 1);
        let names: Vec<&str> = p.not_sent().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["report.pdf", "b.png", "attachment 4"]);
        assert_eq!(p.not_sent()[0].reason, NotSentReason::Source(MediaUrlError::NotAUrl));
        assert_eq!(p.not_sent()[2].reason, NotSentReason::Unreadable);
        let all = texts(&p).concat();
        assert!(all.ends_with("[Attachments not sent: report.pdf, b.png, attachment 4]"), "{all}");
        let to = crate::E164::parse("+14155550100").unwrap();
        assert_eq!(p.sms(0, &to).unwrap().media().len(), 1);
        assert!(p.parts() > 1 && p.sms(1, &to).unwrap().media().is_empty());
        assert!(p.sms(p.parts(), &to).is_none());
        let line = p.not_sent_line(Locale::En).unwrap();
        assert!(
            line.starts_with("attachments not sent: report.pdf (a file on the server, not a public URL)"),
            "{line}"
        );
        // The refused http URL's query is named nowhere.
        assert!(!line.contains("s3cret") && !all.contains("s3cret"), "{line} / {all}");
        assert!(!format!("{p:?}").contains("chart"), "Debug gives counts only");
    }

    #[test]
    fn a_reply_of_attachments_alone_is_never_blank() {
        let media = plan(
            "  ",
            json!([{"source": "https://cdn.example.com/q3.png", "mimeType": "image/png", "fileName": "Q3 chart.png"}]),
        );
        assert_eq!(texts(&media), ["Q3 chart.png"]);
        assert_eq!(media.media().len(), 1);
        let local = plan("", json!([{"source": "/tmp/a.pdf", "mimeType": "application/pdf"}]));
        assert_eq!(texts(&local), ["[Attachment not sent: a.pdf]"]);
        assert!(local.media().is_empty());
        let mixed =
            plan("", json!([{"source": "https://cdn.example.com/a.png"}, {"source": "C:\\files\\b.pdf"}]));
        assert_eq!(texts(&mixed), ["a.png\n\n[Attachment not sent: b.pdf]"]);
        assert_eq!(ReplyPlan::new(" ", &[], Locale::En), Err(SendMessageError::EmptyContent));
    }

    #[test]
    fn at_most_ten_media_and_names_are_bounded() {
        let many: Vec<Value> =
            (0..12).map(|i| json!({"source": format!("https://cdn.example.com/{i}.png")})).collect();
        let p = ReplyPlan::new("Hi", &many, Locale::Fr).unwrap();
        assert_eq!(p.media().len(), MAX_MEDIA);
        assert_eq!(p.not_sent().iter().map(|n| n.reason).collect::<Vec<_>>(), [NotSentReason::TooMany; 2]);
        assert!(texts(&p)[0].ends_with("[Pièces jointes non envoyées: 10.png, 11.png]"));
        let long = plan("Hi", json!([{"source": "/x", "fileName": "quarterly report ".repeat(10)}]));
        let name = &long.not_sent()[0].name;
        assert!(name.chars().count() <= 60 && name.ends_with('…'), "{name}");
    }

    #[test]
    fn names_carry_no_credentials_invisible_characters_or_numbers() {
        let name = |attachment: Value| plan("Hi", json!([attachment])).not_sent()[0].name.clone();
        // A URL without a path: never its authority (which holds the credentials).
        assert_eq!(name(json!({"source": "https://AC123:s3cret@10.0.0.1"})), "attachment 1");
        assert_eq!(name(json!({"source": "https://user:pw@10.0.0.1/files/a.png?k=v"})), "a.png");
        assert_eq!(name(json!({"source": "/x", "fileName": "a\u{7}b.pdf"})), "a b.pdf");
        // Hivekeep names a URL's attachment after its last segment, query included.
        let named_by_host =
            json!({"source": "http://h.example.com/r.pdf?sig=s3cret", "fileName": "r.pdf?sig=s3cret"});
        assert_eq!(name(named_by_host), "r.pdf");
        let bidi = name(json!({"source": "/x", "fileName": "invoice\u{202E}fdp.exe\u{2028}x\u{200B}"}));
        assert!(!bidi.contains(['\u{202E}', '\u{2028}', '\u{200B}']), "{bidi:?}");
        assert!(!name(json!({"source": "/x", "fileName": "call +14155550100.pdf"})).contains("4155550100"));
        let p = plan("Hi", json!([{"source": "https://AC123:s3cret@10.0.0.1"}]));
        assert!(!texts(&p).concat().contains("s3cret"));
        assert!(!p.not_sent_line(Locale::En).unwrap().contains("s3cret"));
    }

    #[test]
    fn the_note_never_makes_a_reply_that_fits_too_long() {
        let ten = "a".repeat(1600 * MAX_PARTS);
        let p = ReplyPlan::new(&ten, &[json!({"source": "/srv/x/report.pdf"})], Locale::En).unwrap();
        assert_eq!(p.parts(), MAX_PARTS);
        assert!(
            p.not_sent_line(Locale::En).unwrap().contains("report.pdf"),
            "the context line still names it"
        );
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;
    use crate::api_error::{host_would_retry, parse_error_response};

    fn api(status: u16, body: &str) -> RequestError {
        RequestError::Api(parse_error_response(status, Some("application/json"), body.as_bytes()))
    }

    #[test]
    fn only_safe_failures_invite_the_host_to_retry() {
        let rate = api(429, r#"{"code":20429,"message":"Too Many Requests","status":429}"#);
        let server = api(503, r#"{"code":20503,"message":"Service Unavailable","status":503}"#);
        let html = RequestError::Api(parse_error_response(
            502,
            Some("text/html"),
            b"<html><title>502 Bad Gateway</title></html>",
        ));
        let refused =
            api(400, r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#);
        let sid = "SM11111111111111111111111111111111".to_owned();

        let safe = [
            SendMessageError::for_part(rate.clone(), Vec::new(), 0, 1),
            SendMessageError::for_part(RequestError::Connect { attempts: 4 }, Vec::new(), 0, 1),
        ];
        for e in &safe {
            assert_eq!(e.retry_safety(), RetrySafety::Safe);
            assert!(host_would_retry(&e.to_string()), "{e}");
        }
        let never = [
            SendMessageError::for_part(server.clone(), Vec::new(), 0, 1),
            SendMessageError::for_part(html, Vec::new(), 0, 1),
            SendMessageError::for_part(RequestError::Timeout { seconds: 15 }, Vec::new(), 0, 1),
            SendMessageError::for_part(RequestError::ConnectionLost, Vec::new(), 0, 1),
            SendMessageError::for_part(refused.clone(), Vec::new(), 0, 1),
            SendMessageError::Partial { sent: vec![sid.clone()], failed_index: 1, total: 3, error: rate },
            SendMessageError::Partial { sent: vec![sid.clone()], failed_index: 1, total: 3, error: server },
            SendMessageError::Partial {
                sent: vec![sid],
                failed_index: 1,
                total: 2,
                error: RequestError::Connect { attempts: 4 },
            },
            SendMessageError::InvalidRecipient,
            SendMessageError::EmptyContent,
            SendMessageError::TooLong,
            // A bloated 5xx answer, a proxy body whose "code" is 503, SIDs and codes that contain 429.
            SendMessageError::for_part(
                RequestError::ResponseTooLarge { status: 503, limit: 1 },
                Vec::new(),
                0,
                1,
            ),
            SendMessageError::for_part(
                api(502, r#"{"code":503,"message":"rate limit exceeded upstream"}"#),
                Vec::new(),
                0,
                1,
            ),
            SendMessageError::Partial {
                sent: vec!["SM42942942942942942942942942942942".to_owned()],
                failed_index: 1,
                total: 2,
                error: api(400, r#"{"code":21429,"message":"network rate limit 429","status":400}"#),
            },
        ];
        for e in &never {
            assert_ne!(e.retry_safety(), RetrySafety::Safe, "{e}");
            assert!(!host_would_retry(&e.to_string()), "the host would resend after: {e}");
        }
        let partial = never[5].to_string();
        assert!(
            partial.starts_with("part 2 of 3 could not be sent after parts 1 went out; the parts sent"),
            "{partial}"
        );
        assert!(matches!(never[4], SendMessageError::Refused(_)));
        assert!(never[4].to_string().contains("21610"));
    }

    #[test]
    fn the_config_schema_has_the_three_required_fields_and_the_webhook_switch_off() {
        let schema = config_schema();
        let fields = schema["fields"].as_array().unwrap();
        let names: Vec<(&str, &str)> =
            fields.iter().map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap())).collect();
        assert_eq!(
            names,
            [
                ("accountSid", "text"),
                ("authToken", "password"),
                ("fromNumber", "text"),
                ("configureWebhook", "switch")
            ]
        );
        assert!(fields.iter().all(|f| f["label"].is_string() && f["description"].is_string()));
        let required: Vec<bool> = fields.iter().map(|f| f["required"] == true).collect();
        assert_eq!(required, [true, true, true, false]);
        assert_eq!(fields[3]["default"], false);
        // plugin.json carries the same schema.
        let manifest: Value = serde_json::from_str(include_str!("../../plugin/plugin.json")).unwrap();
        assert_eq!(manifest["channels"]["twilio-sms"]["configSchema"], schema);
    }

    #[test]
    fn context_lines_are_localized_and_say_when_no_status_follows() {
        assert_eq!(sent_line(1, true, Locale::En), "Sent by SMS");
        assert_eq!(sent_line(3, true, Locale::Fr), "Envoyé par SMS en 3 parties");
        assert!(sent_line(1, false, Locale::De).contains("PUBLIC_URL"));
    }
}
