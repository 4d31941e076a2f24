//! Outbound SMS, sans I/O: the message builder, the Messages API request it becomes, and the parsing of
//! Twilio's answer. The [`client`](crate::client) sends these over HTTP.

use core::fmt;
use std::time::SystemTime;

use http::{Method, Request, StatusCode, header};
use serde::Deserialize;

use crate::api_error::{RetrySafety, TwilioApiError};
use crate::channel::ChannelId;
use crate::credentials::{Credentials, Sender};
use crate::ids::{AccountSid, MessageSid};
use crate::phone::E164;
use crate::sms_text::SmsBody;
use crate::status::MessageStatus;
use crate::url::{ApiBase, PublicUrl};
pub use crate::url::{MediaUrl, MediaUrlError};

/// Twilio's REST API ([`ApiBase::twilio`]).
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// The longest answer body read by default (1 MiB; `ClientConfig::max_response_bytes`): a longer one is
/// [`RequestError::ResponseTooLarge`].
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// An SMS ready to send: a recipient and a body. The sender comes from the channel's
/// [`Credentials`]. Made by [`Sms::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    to: E164,
    body: SmsBody,
    media: Vec<MediaUrl>,
}

/// The most `MediaUrl`s one message carries (Twilio's limit).
pub const MAX_MEDIA: usize = 10;

/// More than [`MAX_MEDIA`] media for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an MMS carries at most 10 media")]
pub struct TooManyMedia;

/// Builder state: the recipient is still missing.
#[derive(Debug, Clone, Copy)]
pub struct WantsRecipient;

/// Builder state: the body is still missing.
#[derive(Debug, Clone, Copy)]
pub struct WantsBody;

/// Builds an [`Sms`]: `Sms::builder().to(number).body(text).build()`, in either order. `build` exists
/// only once both are set; the type parameters never need to be written.
#[derive(Debug, Clone)]
#[must_use]
pub struct SmsBuilder<To, Body> {
    to: To,
    body: Body,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::phone::E164 {}
    impl Sealed for crate::sms_text::SmsBody {}
}

/// Implemented only by a set recipient.
#[diagnostic::on_unimplemented(
    message = "this SMS has no recipient yet",
    label = "call `.to(E164)` before `.build()`"
)]
pub trait HasRecipient: sealed::Sealed {
    #[doc(hidden)]
    fn into_recipient(self) -> E164;
}

/// Implemented only by a set body.
#[diagnostic::on_unimplemented(
    message = "this SMS has no body yet",
    label = "call `.body(SmsBody)` before `.build()`"
)]
pub trait HasBody: sealed::Sealed {
    #[doc(hidden)]
    fn into_body(self) -> SmsBody;
}

impl HasRecipient for E164 {
    fn into_recipient(self) -> E164 {
        self
    }
}

impl HasBody for SmsBody {
    fn into_body(self) -> SmsBody {
        self
    }
}

impl Sms {
    /// Starts an SMS with neither recipient nor body.
    pub fn builder() -> SmsBuilder<WantsRecipient, WantsBody> {
        SmsBuilder { to: WantsRecipient, body: WantsBody }
    }

    /// The recipient.
    #[must_use]
    pub fn to(&self) -> &E164 {
        &self.to
    }

    /// The text.
    #[must_use]
    pub fn body(&self) -> &SmsBody {
        &self.body
    }

    /// The same message with `media` attached (sent as an MMS, each URL a `MediaUrl`; Twilio fetches
    /// them).
    ///
    /// # Errors
    /// [`TooManyMedia`] for more than [`MAX_MEDIA`].
    pub fn with_media(mut self, media: Vec<MediaUrl>) -> Result<Self, TooManyMedia> {
        if media.len() > MAX_MEDIA {
            return Err(TooManyMedia);
        }
        self.media = media;
        Ok(self)
    }

    /// An SMS with `media` the caller keeps within [`MAX_MEDIA`] (the reply plan does).
    pub(crate) fn with_checked_media(to: E164, body: SmsBody, media: Vec<MediaUrl>) -> Self {
        debug_assert!(media.len() <= MAX_MEDIA, "at most MAX_MEDIA media");
        Self { to, body, media }
    }

    /// The media attached (none for an SMS).
    #[must_use]
    pub fn media(&self) -> &[MediaUrl] {
        &self.media
    }
}

impl<Body> SmsBuilder<WantsRecipient, Body> {
    /// Sets the recipient.
    pub fn to(self, to: E164) -> SmsBuilder<E164, Body> {
        SmsBuilder { to, body: self.body }
    }
}

impl<To> SmsBuilder<To, WantsBody> {
    /// Sets the text (at most 1600 UTF-16 code units, not blank: see [`SmsBody::new`]).
    pub fn body(self, body: SmsBody) -> SmsBuilder<To, SmsBody> {
        SmsBuilder { to: self.to, body }
    }
}

impl<To, Body> SmsBuilder<To, Body> {
    /// The finished SMS. Only available once the recipient and the body are set.
    pub fn build(self) -> Sms
    where
        To: HasRecipient,
        Body: HasBody,
    {
        Sms { to: self.to.into_recipient(), body: self.body.into_body(), media: Vec::new() }
    }
}

/// Where Twilio posts delivery status callbacks for a message: the channel's webhook,
/// `{PUBLIC_URL}/api/channels/plugin/twilio-sms/webhook/{channelId}`, optionally with a query.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusCallback(String);

impl StatusCallback {
    /// The channel's webhook URL.
    #[must_use]
    pub fn for_channel(public_url: &PublicUrl, channel: &ChannelId) -> Self {
        let base = public_url.as_str();
        let base = base.strip_suffix('/').unwrap_or(base);
        Self(format!("{base}/api/channels/plugin/twilio-sms/webhook/{channel}"))
    }

    /// The same URL with `name=value` query parameters appended (values must be URL-safe: letters,
    /// digits, `-`, `_`, `.`). Twilio signs the callback over this exact URL.
    #[must_use]
    pub fn with_query(mut self, pairs: &[(&str, &str)]) -> Self {
        for (i, (name, value)) in pairs.iter().enumerate() {
            let sep = if i == 0 && !self.0.contains('?') { '?' } else { '&' };
            self.0.push(sep);
            self.0.push_str(name);
            self.0.push('=');
            self.0.push_str(value);
        }
        self
    }

    /// The URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StatusCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCallback({})", self.0)
    }
}

/// Appends one `application/x-www-form-urlencoded` pair.
fn push_pair(form: &mut String, name: &str, value: &str) {
    if !form.is_empty() {
        form.push('&');
    }
    let encoded = serde_urlencoded::to_string([(name, value)]).unwrap_or_default();
    form.push_str(&encoded);
}

/// The `POST /2010-04-01/Accounts/{sid}/Messages.json` request for `sms`, with Basic auth (marked
/// sensitive), the form fields `To`, `From` and/or `MessagingServiceSid`, `Body`, a `MediaUrl` for each
/// medium, and `StatusCallback` when one is given.
///
/// # Errors
/// Only if the API base holds a character a URI cannot.
pub fn send_request(
    api_base: &ApiBase,
    credentials: &Credentials,
    sms: &Sms,
    status_callback: Option<&StatusCallback>,
) -> Result<Request<String>, http::Error> {
    let mut request = send_request_without_auth(
        api_base,
        credentials.account_sid(),
        credentials.sender(),
        sms,
        status_callback,
    )?;
    request.headers_mut().insert(header::AUTHORIZATION, credentials.authorization());
    Ok(request)
}

/// The same request as [`send_request`] without its `Authorization` header, for a host that adds the
/// Basic credential itself (the WebAssembly package), so the secret never passes through this crate.
///
/// # Errors
/// Only if the API base holds a character a URI cannot.
pub fn send_request_without_auth(
    api_base: &ApiBase,
    account: &AccountSid,
    sender: &Sender,
    sms: &Sms,
    status_callback: Option<&StatusCallback>,
) -> Result<Request<String>, http::Error> {
    let mut form = String::new();
    push_pair(&mut form, "To", sms.to.as_str());
    if let Some(from) = sender.number() {
        push_pair(&mut form, "From", from.as_str());
    }
    if let Some(service) = sender.service() {
        push_pair(&mut form, "MessagingServiceSid", service.as_str());
    }
    push_pair(&mut form, "Body", sms.body.as_str());
    for url in &sms.media {
        push_pair(&mut form, "MediaUrl", url.as_str());
    }
    if let Some(callback) = status_callback {
        push_pair(&mut form, "StatusCallback", callback.as_str());
    }
    form_post(api_base, &format!("/2010-04-01/Accounts/{account}/Messages.json"), form)
}

/// A `POST` of `form` (`application/x-www-form-urlencoded`) to an API path, without `Authorization`.
fn form_post(api_base: &ApiBase, path: &str, form: String) -> Result<Request<String>, http::Error> {
    Request::builder()
        .method(Method::POST)
        .uri(api_base.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(form)
}

/// A `GET` of an API path (with its query) for `credentials`' account.
///
/// # Errors
/// Only if the API base and `path` make an invalid URI.
pub fn get_request(
    api_base: &ApiBase,
    credentials: &Credentials,
    path: &str,
) -> Result<Request<String>, http::Error> {
    let mut request = get_request_without_auth(api_base, path)?;
    request.headers_mut().insert(header::AUTHORIZATION, credentials.authorization());
    Ok(request)
}

/// The same request as [`get_request`] without its `Authorization` header, for a host that adds the
/// Basic credential itself (the WebAssembly package).
///
/// # Errors
/// Only if the API base and `path` make an invalid URI.
pub fn get_request_without_auth(api_base: &ApiBase, path: &str) -> Result<Request<String>, http::Error> {
    Request::builder()
        .method(Method::GET)
        .uri(api_base.url(path))
        .header(header::ACCEPT, "application/json")
        .body(String::new())
}

/// Why a request to Twilio failed (the `client` makes these; a host that sends the requests itself
/// makes them from what it saw). Every variant says whether retrying is safe
/// ([`RequestError::retry_safety`]); none holds a secret or a full phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Twilio answered with an error.
    #[error("{0}")]
    Api(TwilioApiError),
    /// No connection could be made: nothing was sent.
    #[error("could not connect to Twilio after {attempts} attempt(s); nothing was sent, so a retry is safe")]
    Connect {
        /// Attempts made.
        attempts: u32,
    },
    /// No answer arrived in time after the request was sent.
    #[error(
        "Twilio did not answer within {seconds} s after the request was sent; the SMS may exist, so check the message log before sending again"
    )]
    Timeout {
        /// Seconds waited.
        seconds: u64,
    },
    /// The connection broke after the request was (or may have been) sent, before a whole answer.
    #[error(
        "the connection to Twilio broke before a complete answer; the SMS may exist, so check the message log before sending again"
    )]
    ConnectionLost,
    /// Twilio answered with success, but the answer could not be read.
    #[error("{0}; the request probably took effect, so check before sending again")]
    Unreadable(UnreadableMessage),
    /// The answer was larger than the client's limit (`ClientConfig::max_response_bytes`).
    #[error("Twilio's answer (HTTP {status}) is larger than {limit} bytes and was not read")]
    ResponseTooLarge {
        /// The HTTP status of the answer.
        status: u16,
        /// The limit.
        limit: usize,
    },
    /// The HTTP client could not be built or the request could not be formed.
    #[error("the HTTP request could not be built: {0}")]
    Build(String),
}

impl RequestError {
    /// Whether the same request can be sent again without risking a second SMS.
    #[must_use]
    pub fn retry_safety(&self) -> RetrySafety {
        match self {
            Self::Api(e) => e.retry_safety(),
            Self::Connect { .. } => RetrySafety::Safe,
            Self::Timeout { .. } | Self::ConnectionLost | Self::Unreadable(_) => RetrySafety::Ambiguous,
            // Like an API error: 429 safe, other 4xx final, anything else (2xx, 3xx, 5xx) ambiguous.
            Self::ResponseTooLarge { status: 429, .. } => RetrySafety::Safe,
            Self::ResponseTooLarge { status: 400..=499, .. } | Self::Build(_) => RetrySafety::Final,
            Self::ResponseTooLarge { .. } => RetrySafety::Ambiguous,
        }
    }

    /// The HTTP status Twilio answered with, when it answered.
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.http_status()),
            Self::Unreadable(u) => Some(u.status),
            Self::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Twilio error code, when there is one.
    #[must_use]
    pub fn twilio_code(&self) -> Option<u32> {
        match self {
            Self::Api(e) => e.code(),
            _ => None,
        }
    }
}

/// A Twilio number or count, which the API writes as a string or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Count {
    Text(String),
    Number(u64),
}

impl Count {
    fn get(self) -> Option<u32> {
        match self {
            Self::Text(s) => s.parse().ok(),
            Self::Number(n) => u32::try_from(n).ok(),
        }
    }
}

#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
    status: Option<String>,
    to: Option<String>,
    from: Option<String>,
    num_segments: Option<Count>,
    num_media: Option<Count>,
    error_code: Option<Count>,
    error_message: Option<String>,
    date_created: Option<String>,
    price: Option<String>,
    price_unit: Option<String>,
}

/// A message as Twilio reports it (create, fetch or list), read leniently: unknown fields are ignored
/// and unknown statuses kept as text.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message's SID.
    pub sid: MessageSid,
    /// Its status.
    pub status: MessageStatus,
    /// The recipient, as Twilio wrote it.
    pub to: Option<String>,
    /// The sender (null when a Messaging Service has not picked one yet).
    pub from: Option<String>,
    /// Segments billed (0 until a Messaging Service has sent it).
    pub num_segments: Option<u32>,
    /// Media items.
    pub num_media: Option<u32>,
    /// The error code of a failed or undelivered message.
    pub error_code: Option<u32>,
    /// Twilio's error text (informational only).
    pub error_message: Option<String>,
    /// When it was created, as Twilio wrote it.
    pub date_created: Option<String>,
    /// The price (negative for a charge) and its unit.
    pub price: Option<(String, String)>,
}

impl fmt::Debug for SentMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |n: &Option<String>| n.as_deref().map(|n| crate::phone::Redacted::new(n).to_string());
        f.debug_struct("SentMessage")
            .field("sid", &self.sid)
            .field("status", &self.status)
            .field("to", &masked(&self.to))
            .field("from", &masked(&self.from))
            .field("num_segments", &self.num_segments)
            .field("error_code", &self.error_code)
            .finish_non_exhaustive()
    }
}

/// Why a successful HTTP answer could not be read as a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Twilio answered HTTP {status} with a body that is not a message resource")]
pub struct UnreadableMessage {
    /// The HTTP status.
    pub status: u16,
}

impl SentMessage {
    fn from_resource(resource: MessageResource, status: u16) -> Result<Self, UnreadableMessage> {
        let sid = resource
            .sid
            .as_deref()
            .and_then(|s| MessageSid::parse(s).ok())
            .ok_or(UnreadableMessage { status })?;
        Ok(Self {
            sid,
            status: MessageStatus::parse(resource.status.as_deref().unwrap_or("")),
            to: resource.to,
            from: resource.from,
            num_segments: resource.num_segments.and_then(Count::get),
            num_media: resource.num_media.and_then(Count::get),
            error_code: resource.error_code.and_then(Count::get),
            error_message: resource.error_message,
            date_created: resource.date_created,
            price: resource.price.zip(resource.price_unit),
        })
    }
}

/// Twilio's answer to a request, read: either the expected value or a typed API error.
#[derive(Debug)]
pub enum Answer<T> {
    /// A 2xx answer that reads as expected.
    Ok(T),
    /// A 2xx answer that does not: the request probably took effect.
    Unreadable(UnreadableMessage),
    /// An error answer.
    Error(TwilioApiError),
}

fn read<T, R: serde::de::DeserializeOwned>(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    convert: impl FnOnce(R) -> Result<T, UnreadableMessage>,
) -> Answer<T> {
    read_at(status, headers, body, SystemTime::now, convert)
}

/// [`read`], with the clock `Retry-After` dates are measured by (read only for an error answer).
fn read_at<T, R: serde::de::DeserializeOwned>(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    now: impl FnOnce() -> SystemTime,
    convert: impl FnOnce(R) -> Result<T, UnreadableMessage>,
) -> Answer<T> {
    if !status.is_success() {
        return Answer::Error(TwilioApiError::from_response(status, headers, body, now()));
    }
    let unreadable = UnreadableMessage { status: status.as_u16() };
    match serde_json::from_slice::<R>(body) {
        Ok(resource) => match convert(resource) {
            Ok(value) => Answer::Ok(value),
            Err(e) => Answer::Unreadable(e),
        },
        Err(_) => Answer::Unreadable(unreadable),
    }
}

/// Reads the answer to a create or fetch of a message.
#[must_use]
pub fn parse_message(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> Answer<SentMessage> {
    read(status, headers, body, |r: MessageResource| SentMessage::from_resource(r, status.as_u16()))
}

/// [`parse_message`], with `now` the time a `Retry-After` date is measured from (for a host whose clock
/// the crate cannot read, as in WebAssembly).
#[must_use]
pub fn parse_message_at(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Answer<SentMessage> {
    read_at(
        status,
        headers,
        body,
        || now,
        |r: MessageResource| SentMessage::from_resource(r, status.as_u16()),
    )
}

#[derive(Deserialize)]
struct MessageList {
    messages: Vec<MessageResource>,
}

/// Reads the answer to a list of messages.
#[must_use]
pub fn parse_message_list(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Answer<Vec<SentMessage>> {
    read(status, headers, body, |list: MessageList| {
        list.messages.into_iter().map(|m| SentMessage::from_resource(m, status.as_u16())).collect()
    })
}

/// An account, as far as this crate needs it (the resource also carries the Auth Token, which is
/// never read or kept).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AccountInfo {
    /// The account's friendly name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `active`, `suspended` or `closed`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Why a channel's credentials were refused by the checks of `TwilioClient::validate_config` (the same
/// checks a host makes with [`check_account`] and [`NumberOwnership::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A request failed (for instance bad credentials: HTTP 401, code 20003).
    #[error("{0}")]
    Request(RequestError),
    /// The account exists but is not active.
    #[error("the Twilio account is {status}, not active")]
    AccountNotActive {
        /// Twilio's account status.
        status: String,
    },
    /// The From number does not belong to the account.
    #[error(
        "the From number is not a phone number of this Twilio account (check the number in the Twilio Console)"
    )]
    NumberNotOwned,
    /// The From number cannot send SMS.
    #[error("the From number of this account cannot send SMS (it has no SMS capability)")]
    NumberNotSmsCapable,
}

/// What `TwilioClient::bot_info` reports ([`BotInfo::new`]). Its `Debug` masks the sender.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BotInfo {
    /// The account's friendly name.
    pub name: String,
    /// The sender: the From number, or the Messaging Service SID.
    pub username: Option<String>,
}

impl core::fmt::Debug for BotInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BotInfo")
            .field("name", &self.name)
            .field("username", &self.username.as_deref().map(crate::phone::Redacted::new))
            .finish()
    }
}

impl BotInfo {
    /// Hivekeep's `getBotInfo` for an account and a channel's sender: the account's friendly name (or
    /// "Twilio SMS"), and the From number or the Messaging Service SID.
    #[must_use]
    pub fn new(account: &AccountInfo, sender: &Sender) -> Self {
        let username = match (sender.number(), sender.service()) {
            (Some(number), _) => Some(number.as_str().to_owned()),
            (None, Some(service)) => Some(service.as_str().to_owned()),
            (None, None) => None,
        };
        Self { name: account.friendly_name.clone().unwrap_or_else(|| "Twilio SMS".to_owned()), username }
    }
}

/// The API path of an account: `GET` it to check the credentials and the account.
#[must_use]
pub fn account_path(account: &AccountSid) -> String {
    format!("/2010-04-01/Accounts/{account}.json")
}

/// The API path that lists the account's numbers equal to `number` (read with
/// [`parse_number_ownership`]).
#[must_use]
pub fn number_path(account: &AccountSid, number: &E164) -> String {
    let query = serde_urlencoded::to_string([("PhoneNumber", number.as_str())]).unwrap_or_default();
    format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json?{query}")
}

/// The account, when it is active (or says nothing of its status).
///
/// # Errors
/// [`ValidationError::AccountNotActive`] for a suspended or closed account.
pub fn check_account(account: AccountInfo) -> Result<AccountInfo, ValidationError> {
    match account.status.as_deref() {
        Some("active") | None => Ok(account),
        Some(other) => Err(ValidationError::AccountNotActive { status: other.to_owned() }),
    }
}

/// Reads the answer to `GET /Accounts/{sid}.json`.
#[must_use]
pub fn parse_account(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> Answer<AccountInfo> {
    read(status, headers, body, Ok)
}

#[derive(Deserialize)]
struct NumberList {
    incoming_phone_numbers: Vec<IncomingNumber>,
}

#[derive(Deserialize)]
struct IncomingNumber {
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    sms_url: Option<String>,
    phone_number: Option<String>,
    #[serde(default)]
    capabilities: Capabilities,
}

#[derive(Deserialize, Default)]
struct Capabilities {
    #[serde(default)]
    sms: Option<bool>,
}

/// What the account says of a number it may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumberOwnership {
    /// The account owns it and it can send SMS.
    SmsCapable,
    /// The account owns it, but it cannot send SMS.
    NotSmsCapable,
    /// The account does not own it.
    NotOwned,
}

impl NumberOwnership {
    /// Whether the channel can send from the number.
    ///
    /// # Errors
    /// [`ValidationError::NumberNotOwned`] or [`ValidationError::NumberNotSmsCapable`].
    pub fn check(self) -> Result<(), ValidationError> {
        match self {
            Self::SmsCapable => Ok(()),
            Self::NotSmsCapable => Err(ValidationError::NumberNotSmsCapable),
            Self::NotOwned => Err(ValidationError::NumberNotOwned),
        }
    }
}

/// Reads the answer to `GET /Accounts/{sid}/IncomingPhoneNumbers.json?PhoneNumber=…` for `number`.
#[must_use]
pub fn parse_number_ownership(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    number: &E164,
) -> Answer<NumberOwnership> {
    read(status, headers, body, |list: NumberList| {
        let owned =
            list.incoming_phone_numbers.iter().find(|n| n.phone_number.as_deref() == Some(number.as_str()));
        Ok(match owned {
            None => NumberOwnership::NotOwned,
            Some(n) if n.capabilities.sms == Some(false) => NumberOwnership::NotSmsCapable,
            Some(_) => NumberOwnership::SmsCapable,
        })
    })
}

/// Where a new number's "A message comes in" webhook points until its owner sets it: Twilio's demo
/// reply. A number whose webhook is empty or this one has none of its own.
pub const TWILIO_DEMO_SMS_URL: &str = "https://demo.twilio.com/welcome/sms/reply";

/// A number of the account and where its "A message comes in" webhook points (read with
/// [`parse_number_webhook`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NumberWebhook {
    /// The number's SID (`PN` and 32 hex digits).
    sid: String,
    sms_url: String,
}

impl fmt::Debug for NumberWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NumberWebhook")
            .field("sid", &self.sid)
            .field("sms_url", &shown_host(&self.sms_url))
            .finish()
    }
}

/// What a channel does about its number's webhook ([`NumberWebhook::setup`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookSetup {
    /// It already points at the channel.
    AlreadySet,
    /// It points nowhere of its owner's (empty, or Twilio's demo reply):
    /// [`NumberWebhook::update_request`] points it at the channel.
    Update,
    /// It points somewhere else, which is never overwritten: on which host (nothing more: a path, a
    /// query or a `user:password@` may hold a secret).
    PointsElsewhere(String),
    /// The channel's webhook URL is not one Twilio could call (not `https`, or not a public host).
    ChannelNotPublic,
}

impl WebhookSetup {
    /// What the driver does: `Ok(true)` send [`NumberWebhook::update_request`], `Ok(false)` nothing (it
    /// is already set), or the error to report (nothing is written).
    ///
    /// # Errors
    /// [`WebhookSetupError::PointsElsewhere`] or [`WebhookSetupError::ChannelNotPublic`].
    pub fn needs_update(self) -> Result<bool, WebhookSetupError> {
        match self {
            Self::AlreadySet => Ok(false),
            Self::Update => Ok(true),
            Self::PointsElsewhere(host) => Err(WebhookSetupError::PointsElsewhere(host)),
            Self::ChannelNotPublic => Err(WebhookSetupError::ChannelNotPublic),
        }
    }
}

/// The host a URL names, as a message may show it: no scheme, `user:password@`, port, path, query or
/// fragment (paths and queries often hold tokens or phone numbers), at most 100 characters.
fn shown_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    // Up to the path; the last `@` ends any `user:password@` (a `?` or `#` in a password included).
    let authority = rest.split(['/', '\\']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(['?', '#']).next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))
    } else {
        host.split(':').next().map(str::to_owned)
    };
    let host: String = host.unwrap_or_default().chars().filter(|c| !c.is_control()).take(100).collect();
    crate::api_error::sanitize_text(&host, 100).unwrap_or_else(|| "an unnamed host".to_owned())
}

/// The path Hivekeep routes a channel's webhooks to, up to the channel id.
const CHANNEL_WEBHOOK_PATH: &str = "/api/channels/plugin/twilio-sms/webhook/";

impl NumberWebhook {
    /// What to do for a channel whose webhook URL is `channel_url`: nothing when the number's webhook
    /// is that URL; point it there when it is empty, Twilio's demo reply, or this channel's webhook at
    /// another base (`…/api/channels/plugin/twilio-sms/webhook/{the same id}`, as after `PUBLIC_URL`
    /// moved); otherwise leave it and say on which host it points. Nothing is written for a channel URL
    /// Twilio could not call (not `https`, or not a public host: see [`MediaUrl::parse`]).
    #[must_use]
    pub fn setup(&self, channel_url: &str) -> WebhookSetup {
        if MediaUrl::parse(channel_url).is_err() {
            return WebhookSetup::ChannelNotPublic;
        }
        let current = self.sms_url.trim();
        if current == channel_url {
            return WebhookSetup::AlreadySet;
        }
        let own_path = channel_url.find(CHANNEL_WEBHOOK_PATH).and_then(|at| channel_url.get(at..));
        let ours = own_path.is_some_and(|path| current.ends_with(path));
        if current.is_empty() || current.trim_end_matches('/') == TWILIO_DEMO_SMS_URL || ours {
            return WebhookSetup::Update;
        }
        WebhookSetup::PointsElsewhere(shown_host(current))
    }

    /// The request that points the number's webhook at `channel_url` (`POST
    /// IncomingPhoneNumbers/{sid}.json` with `SmsUrl` and `SmsMethod=POST`, without `Authorization`).
    /// Setting the same value twice changes nothing, so it may be retried.
    ///
    /// # Errors
    /// Only if the API base and the path make an invalid URI.
    pub fn update_request(
        &self,
        api_base: &ApiBase,
        account: &AccountSid,
        channel_url: &str,
    ) -> Result<Request<String>, http::Error> {
        let mut form = String::new();
        push_pair(&mut form, "SmsUrl", channel_url);
        push_pair(&mut form, "SmsMethod", "POST");
        form_post(
            api_base,
            &format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{}.json", self.sid),
            form,
        )
    }
}

/// The number's webhook points at the channel: it already did, or it was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookConfigured {
    /// It already pointed at the channel.
    AlreadySet,
    /// It pointed nowhere of its owner's and now points at the channel.
    Set,
}

/// Why the number's webhook was not pointed at the channel. The texts name no secret and no number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookSetupError {
    /// It points somewhere else (the host alone is named), which is never overwritten.
    #[error(
        "the From number's \"A message comes in\" webhook points at another URL (on {0}), not at this channel; it was left as it is (point it at this channel's webhook URL in the Twilio Console, or clear it there and test again)"
    )]
    PointsElsewhere(String),
    /// The stored config does not name the channel (Hivekeep names the vault key of a channel's Auth
    /// Token after it), so which channel the webhook is for is not known for sure.
    #[error(
        "the stored config does not name this channel (its Auth Token's vault key is not Hivekeep's channel_twilio-sms_{{id}}_authToken), so the From number's webhook was left as it is"
    )]
    ChannelUnknown,
    /// The channel's webhook URL is not one Twilio could call.
    #[error(
        "the channel's webhook URL is not a public https address (check PUBLIC_URL), so Twilio could not call it; the From number's webhook was left as it is"
    )]
    ChannelNotPublic,
    /// The channel has no webhook URL (no public URL).
    #[error(
        "the channel has no webhook URL (PUBLIC_URL is not set), so the From number's webhook cannot point at it"
    )]
    NoWebhookUrl,
    /// The channel sends through a Messaging Service alone.
    #[error(
        "the channel sends through a Messaging Service: its incoming webhook is set on the service, in the Twilio Console"
    )]
    NoNumber,
    /// The account does not own the From number, or a request failed.
    #[error("{0}")]
    Validation(ValidationError),
    /// Twilio answered the update with another URL.
    #[error("Twilio did not apply the channel's webhook URL to the From number")]
    NotApplied,
}

/// Reads the answer to `GET /Accounts/{sid}/IncomingPhoneNumbers.json?PhoneNumber=…` (see
/// [`number_path`]) as `number`'s webhook, or `None` when the account does not own it.
#[must_use]
pub fn parse_number_webhook(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    number: &E164,
) -> Answer<Option<NumberWebhook>> {
    read(status, headers, body, |list: NumberList| {
        let Some(owned) = list
            .incoming_phone_numbers
            .into_iter()
            .find(|n| n.phone_number.as_deref() == Some(number.as_str()))
        else {
            return Ok(None);
        };
        let sid = owned.sid.filter(|sid| {
            sid.len() == 34 && sid.starts_with("PN") && sid.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
        });
        match sid {
            Some(sid) => Ok(Some(NumberWebhook { sid, sms_url: owned.sms_url.unwrap_or_default() })),
            None => Err(UnreadableMessage { status: status.as_u16() }),
        }
    })
}

#[derive(Deserialize)]
struct UpdatedNumber {
    #[serde(default)]
    sms_url: Option<String>,
}

/// Reads the answer to [`WebhookSetup::Update`]'s request: `Ok(true)` when the number's webhook is now
/// `channel_url`, `Ok(false)` when Twilio answered with another.
#[must_use]
pub fn parse_webhook_update(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    channel_url: &str,
) -> Answer<bool> {
    read(status, headers, body, |number: UpdatedNumber| Ok(number.sms_url.as_deref() == Some(channel_url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number_list(sms_url: &str) -> String {
        format!(
            r#"{{"incoming_phone_numbers":[{{"sid":"PN0123456789abcdef0123456789abcdef","phone_number":"+14155550100","sms_url":"{sms_url}","capabilities":{{"sms":true}}}}]}}"#
        )
    }

    fn webhook_of(body: &str) -> Answer<Option<NumberWebhook>> {
        let number = E164::parse("+14155550100").unwrap();
        parse_number_webhook(StatusCode::OK, &http::HeaderMap::new(), body.as_bytes(), &number)
    }

    #[test]
    fn a_numbers_webhook_is_set_only_when_it_points_nowhere_of_its_owners() {
        let base = ApiBase::parse("https://api.twilio.com").unwrap();
        let account = AccountSid::parse(&format!("AC{}", "0".repeat(32))).unwrap();
        let channel = "https://hooks.example.com/api/channels/plugin/twilio-sms/webhook/c1";
        let setup = |sms_url: &str| {
            let Answer::Ok(Some(number)) = webhook_of(&number_list(sms_url)) else { panic!("{sms_url}") };
            (number.setup(channel), number.update_request(&base, &account, channel).unwrap())
        };
        assert!(matches!(setup(channel).0, WebhookSetup::AlreadySet));
        for unset in
            ["", "https://demo.twilio.com/welcome/sms/reply", "https://demo.twilio.com/welcome/sms/reply/"]
        {
            let (WebhookSetup::Update, request) = setup(unset) else { panic!("{unset:?}") };
            assert_eq!(request.method(), Method::POST);
            assert_eq!(
                request.uri().to_string(),
                format!(
                    "https://api.twilio.com/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/PN0123456789abcdef0123456789abcdef.json"
                )
            );
            let form: Vec<(String, String)> = serde_urlencoded::from_str(request.body()).unwrap();
            assert_eq!(
                form,
                [("SmsUrl".to_owned(), channel.to_owned()), ("SmsMethod".to_owned(), "POST".to_owned())]
            );
            assert!(request.headers().get(header::AUTHORIZATION).is_none());
        }
        let elsewhere = |url: &str| match setup(url).0 {
            WebhookSetup::PointsElsewhere(shown) => shown,
            other => panic!("{other:?}"),
        };
        for (url, host) in [
            ("https://user:pw@other.example.com/sms?key=s3cret", "other.example.com"),
            ("https://hooks.zapier.com/hooks/catch/123456/s3cretT0k/", "hooks.zapier.com"),
            ("https://crm.example.com/sms/+14155550100", "crm.example.com"),
            ("https://user:pa#ss@crm.example.com/x", "crm.example.com"),
            ("https://user:pa?ss@crm.example.com:8443/x", "crm.example.com"),
            ("https://hooks.example.com/api/channels/plugin/twilio-sms/webhook/c0", "hooks.example.com"),
        ] {
            assert_eq!(elsewhere(url), host, "{url}");
        }
        // This channel's webhook at an old base (PUBLIC_URL moved) is the channel's own: updated.
        let moved = "http://localhost:3000/api/channels/plugin/twilio-sms/webhook/c1";
        assert!(matches!(setup(moved).0, WebhookSetup::Update));
        // Nothing is written for a channel URL Twilio could not call.
        let number = match webhook_of(&number_list("")) {
            Answer::Ok(Some(number)) => number,
            other => panic!("{other:?}"),
        };
        for unreachable in
            ["", "http://localhost:3000/api/channels/plugin/twilio-sms/webhook/c1", "https://10.0.0.2/x"]
        {
            assert!(matches!(number.setup(unreachable), WebhookSetup::ChannelNotPublic), "{unreachable}");
        }
        assert!(matches!(webhook_of(r#"{"incoming_phone_numbers":[]}"#), Answer::Ok(None)));
        let bad_sid = r#"{"incoming_phone_numbers":[{"sid":"PN../x","phone_number":"+14155550100"}]}"#;
        assert!(matches!(webhook_of(bad_sid), Answer::Unreadable(_)));
        let updated = |body: &str| {
            parse_webhook_update(StatusCode::OK, &http::HeaderMap::new(), body.as_bytes(), channel)
        };
        assert!(matches!(updated(&format!(r#"{{"sms_url":"{channel}"}}"#)), Answer::Ok(true)));
        assert!(matches!(updated(r#"{"sms_url":""}"#), Answer::Ok(false)));
    }

    fn answer(status: u16, body: &str) -> Answer<SentMessage> {
        parse_message(StatusCode::from_u16(status).unwrap(), &http::HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn answers_are_read_leniently() {
        let created = answer(
            201,
            r#"{"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"teleported","num_segments":"2","num_media":0,
                "error_code":null,"price":"-0.00750","price_unit":"USD","to":"+14155550142","extra":[1,2]}"#,
        );
        let Answer::Ok(m) = created else { panic!("{created:?}") };
        assert_eq!(m.status, MessageStatus::Unknown("teleported".into()));
        assert_eq!((m.num_segments, m.num_media, m.error_code), (Some(2), Some(0), None));
        assert_eq!(m.price, Some(("-0.00750".into(), "USD".into())));
        assert!(!format!("{m:?}").contains("4155550142"));
        assert!(matches!(answer(201, "{}"), Answer::Unreadable(UnreadableMessage { status: 201 })));
        assert!(matches!(answer(201, "<html>"), Answer::Unreadable(_)));
        assert!(matches!(
            answer(201, r#"{"sid":"AC00000000000000000000000000000000"}"#),
            Answer::Unreadable(_)
        ));
        let Answer::Error(e) = answer(
            400,
            r#"{"code":21211,"message":"The 'To' number +15551234567 is not a valid phone number.","status":400}"#,
        ) else {
            panic!()
        };
        assert_eq!(e.code(), Some(21211));
        assert!(!e.to_string().contains("5551234567"), "{e}");
    }

    #[test]
    fn check_paths_encode_the_number() {
        let account = AccountSid::parse("AC0123456789abcdef0123456789abcdef").unwrap();
        let number = E164::parse("+14155550100").unwrap();
        assert_eq!(account_path(&account), "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json");
        assert_eq!(
            number_path(&account, &number),
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/IncomingPhoneNumbers.json?PhoneNumber=%2B14155550100"
        );
    }

    #[test]
    fn status_callback_urls_are_the_channel_webhook() {
        let public = PublicUrl::parse("https://agents.example.com/hk/").unwrap();
        let channel = ChannelId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
        let cb = StatusCallback::for_channel(&public, &channel).with_query(&[("m", "abc"), ("part", "2")]);
        assert_eq!(
            cb.as_str(),
            "https://agents.example.com/hk/api/channels/plugin/twilio-sms/webhook/3f2504e0-4f89-41d3-9a0c-0305e82c3301?m=abc&part=2"
        );
    }
}
