//! Twilio REST error responses: parsing, classification, redaction and retry safety.
//!
//! A non-2xx answer from the Messages API becomes a [`TwilioApiError`] through
//! [`parse_error_response`] (status, `Content-Type` and body) or [`TwilioApiError::from_response`]
//! (the same, plus the `Retry-After` header). Both are pure, total functions: every input, including
//! an empty, truncated or random body, gives a value and never a panic.
//!
//! Bodies understood:
//! - the classic 2010 JSON shape `{"code", "message", "more_info", "status"}` (optionally `detail`,
//!   `details`);
//! - RFC 9457 problem JSON as newer Twilio services send it: `{"type", "title", "status", "code",
//!   "detail", "instance", "errors": [{"detail", "pointer"}]}`. When `code` is missing it is read
//!   from a `type` URL ending in `/errors/NNNNN`;
//! - an HTML page from a proxy or load balancer: only its `<title>` (or first `<h1>`) is kept, cut to
//!   80 characters;
//! - plain text: only its first line is kept, cut to 80 characters;
//! - anything else (empty, truncated JSON, binary): no message, and the kind comes from the HTTP
//!   status alone.
//!
//! Twilio's messages quote phone numbers ("The 'To' number +15558675310 is not a valid phone
//! number."), so every text kept from a body goes through [`redact_credentials`] and
//! [`redact_phone_numbers`] before it is stored, so the fields, `Debug` and `Display` of a
//! [`TwilioApiError`] can be logged: they hold no phone number in a form those functions recognise
//! (E.164 with or without separators, national numbers of 9 or more digits) and no token.
//!
//! [`TwilioApiError::retry_safety`] says whether sending the same request again can create a second
//! SMS: the Messages create call has no idempotency key, so only a rate-limited request (HTTP 429 or
//! code 20429, which Twilio never processed) is [`RetrySafety::Safe`].

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

/// The longest wait [`parse_retry_after`] returns: a larger `Retry-After` is cut to this.
///
/// Ten minutes: Twilio documents `Retry-After` only for newer APIs, and a value far beyond this
/// from a proxy or a clock error would stall a conversation for no benefit. A caller that retries
/// after this much time and is still rate limited simply gets a new `Retry-After`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Only this many leading bytes of a body are looked at; a longer body counts as truncated.
const MAX_PARSED_BODY: usize = 64 * 1024;
/// Longest message kept from a JSON error body, in characters.
const MAX_MESSAGE_CHARS: usize = 300;
/// Longest snippet kept from an HTML or plain-text body, in characters.
const MAX_SNIPPET_CHARS: usize = 80;
/// Longest `more_info` URL kept, in characters.
const MAX_MORE_INFO_CHARS: usize = 200;
/// At most this many entries of a problem document's `errors` array are kept in the message.
const MAX_PROBLEM_ERRORS: usize = 3;

/// What went wrong, from the Twilio error code (or, without a code, from the HTTP status).
///
/// The codes and their meanings are Twilio's (`https://www.twilio.com/docs/api/errors/NNNNN`).
/// New classified codes may be added, so match with a wildcard arm; [`ErrorKind::Other`] keeps
/// every code that is not (yet) classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 20003 "Authenticate", or HTTP 401 without a code: the Account SID / Auth Token (or API key
    /// SID / secret) pair was refused, or (with HTTP 403) the key lacks permission.
    BadCredentials,
    /// 20404, or HTTP 404 without a code: the resource does not exist in this account (often a
    /// wrong Account SID in the URL).
    NotFound,
    /// 20429, or HTTP 429 without a code: the account's REST concurrency limit was exceeded. Twilio
    /// did not process the request.
    RateLimited,
    /// 21211: the `To` number is not a valid phone number.
    InvalidToNumber,
    /// 21408: sending to the `To` number's country or region is not enabled on the account (Messaging
    /// Geo Permissions).
    RegionNotEnabled,
    /// 21610: the recipient unsubscribed (replied STOP). Never resend.
    RecipientUnsubscribed,
    /// 21614: the `To` number is not a mobile number (a landline) and cannot receive SMS.
    ToNotMobile,
    /// 21617: the body exceeds Twilio's 1600-character limit.
    BodyTooLong,
    /// 21606: the `From` number is not a message-capable Twilio number of this account for this
    /// destination.
    FromNotCapable,
    /// 21612: Twilio cannot send between this `From` and `To` (sender-type rules for the destination,
    /// or no route).
    CannotRoute,
    /// A Twilio error code this crate does not classify (yet), kept as sent.
    Other(u32),
    /// The response carried no Twilio error code (empty, HTML or unreadable body) and its HTTP status
    /// has no fallback meaning.
    NoCode,
}

impl ErrorKind {
    /// The kind for a Twilio error code; [`ErrorKind::Other`] for unclassified codes.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            20003 => Self::BadCredentials,
            20404 => Self::NotFound,
            20429 => Self::RateLimited,
            21211 => Self::InvalidToNumber,
            21408 => Self::RegionNotEnabled,
            21606 => Self::FromNotCapable,
            21610 => Self::RecipientUnsubscribed,
            21612 => Self::CannotRoute,
            21614 => Self::ToNotMobile,
            21617 => Self::BodyTooLong,
            other => Self::Other(other),
        }
    }

    /// The kind for a response: from the code when there is one, otherwise from the HTTP status
    /// (401 → [`BadCredentials`](Self::BadCredentials), 404 → [`NotFound`](Self::NotFound), 429 →
    /// [`RateLimited`](Self::RateLimited), anything else → [`NoCode`](Self::NoCode)).
    #[must_use]
    pub const fn classify(http_status: u16, code: Option<u32>) -> Self {
        match (code, http_status) {
            (Some(code), _) => Self::from_code(code),
            (None, 401) => Self::BadCredentials,
            (None, 404) => Self::NotFound,
            (None, 429) => Self::RateLimited,
            (None, _) => Self::NoCode,
        }
    }
}

/// Whether sending the same request again is safe, given how it failed.
///
/// The Messages create call has no idempotency key, so the question is whether Twilio may already
/// have created the SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetrySafety {
    /// Twilio did not process the request (HTTP 429 or code 20429): send it again after backing off,
    /// honouring [`TwilioApiError::retry_after`] when present.
    Safe,
    /// The outcome is unknown (HTTP 5xx, or a status that is neither 4xx nor 5xx): the SMS may
    /// already exist. Do not resend blindly; reconcile first (for example list the messages sent to
    /// this `To` since the attempt) or opt in to at-least-once delivery.
    Ambiguous,
    /// Twilio rejected the request (any other 4xx): the same request fails the same way. Fix the
    /// request, the credentials or the account settings instead of retrying.
    Final,
}

/// An error answer from the Twilio REST API, parsed, classified and redacted.
///
/// Built by [`parse_error_response`] or [`TwilioApiError::from_response`]. The text fields hold
/// only redacted, bounded text (see [`redact_phone_numbers`] and [`redact_credentials`]), so this
/// value can be logged and shown as it is. `Display` reads like a line of a troubleshooting table:
/// what went wrong and what to do, with the HTTP status and the Twilio code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}", self.sentence())]
pub struct TwilioApiError {
    http_status: u16,
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
    kind: ErrorKind,
    retry_after: Option<Duration>,
}

impl TwilioApiError {
    /// Parses a whole HTTP error response: the status, the `Content-Type` and `Retry-After` headers
    /// and the body. `now` is the time `Retry-After` dates are measured from (usually
    /// `SystemTime::now()`).
    ///
    /// Same as [`parse_error_response`] followed by [`with_retry_after`](Self::with_retry_after)
    /// with [`parse_retry_after`] of the first `Retry-After` header.
    #[must_use]
    pub fn from_response(
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Self {
        let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now));
        parse_error_response(status.as_u16(), content_type, body).with_retry_after(retry_after)
    }

    /// The same error with a `Retry-After` delay (cut to [`MAX_RETRY_AFTER`]).
    ///
    /// The delay is advice only: it does not change [`retry_safety`](Self::retry_safety).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after.map(|delay| delay.min(MAX_RETRY_AFTER));
        self
    }

    /// The HTTP status of the response.
    #[must_use]
    pub const fn http_status(&self) -> u16 {
        self.http_status
    }

    /// The Twilio error code, when the body carried one.
    #[must_use]
    pub const fn code(&self) -> Option<u32> {
        self.code
    }

    /// Twilio's message (or a short snippet of a non-JSON body), redacted and at most 300
    /// characters long.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The documentation link Twilio sent (`more_info`, or the problem document's `type` URL).
    #[must_use]
    pub fn more_info(&self) -> Option<&str> {
        self.more_info.as_deref()
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// How long the server asked to wait before retrying, when it sent a usable `Retry-After`.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether sending the same request again is safe: HTTP 429 or code 20429 →
    /// [`Safe`](RetrySafety::Safe); 5xx → [`Ambiguous`](RetrySafety::Ambiguous); any other 4xx →
    /// [`Final`](RetrySafety::Final); any other status (not an error status at all) →
    /// [`Ambiguous`](RetrySafety::Ambiguous).
    #[must_use]
    pub const fn retry_safety(&self) -> RetrySafety {
        match (self.http_status, self.code) {
            (429, _) | (_, Some(20429)) => RetrySafety::Safe,
            (500..=599, _) => RetrySafety::Ambiguous,
            (400..=499, _) => RetrySafety::Final,
            _ => RetrySafety::Ambiguous,
        }
    }

    const fn sentence(&self) -> Sentence<'_> {
        Sentence(self)
    }
}

/// The `Display` text of a [`TwilioApiError`].
struct Sentence<'a>(&'a TwilioApiError);

impl fmt::Display for Sentence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        let status = StatusAndCode(error);
        match error.kind {
            ErrorKind::BadCredentials if error.http_status == 403 => write!(
                f,
                "Twilio denied access ({status}): the credentials lack permission for this \
                 request; use the Auth Token or an API key that may send messages"
            ),
            ErrorKind::BadCredentials => write!(
                f,
                "Twilio rejected the credentials ({status}): check the Account SID and Auth Token \
                 (or the API key SID and secret)"
            ),
            ErrorKind::NotFound => write!(
                f,
                "Twilio could not find the requested resource ({status}): check the Account SID \
                 and that the resource belongs to this account"
            ),
            ErrorKind::RateLimited => write_rate_limited(f, error),
            ErrorKind::InvalidToNumber => write!(
                f,
                "Invalid To number ({status}): the recipient must be a real phone number in E.164 \
                 form (+, country code, digits only)"
            ),
            ErrorKind::RegionNotEnabled => write!(
                f,
                "SMS to the To number's country or region is not enabled on this Twilio account \
                 ({status}): enable it under Messaging Geo Permissions in the Twilio Console"
            ),
            ErrorKind::RecipientUnsubscribed => write!(
                f,
                "The recipient has unsubscribed by replying STOP ({status}): do not send to this \
                 number again; only the recipient can opt back in (by replying START)"
            ),
            ErrorKind::ToNotMobile => write!(
                f,
                "The To number cannot receive SMS because it is not a mobile number ({status}): \
                 send to a mobile number instead"
            ),
            ErrorKind::BodyTooLong => write!(
                f,
                "The message body is too long ({status}): Twilio accepts at most 1600 characters; \
                 shorten or split the text"
            ),
            ErrorKind::FromNotCapable => write!(
                f,
                "The From number cannot send this message ({status}): use an SMS-capable number \
                 owned by this Twilio account that can reach this destination"
            ),
            ErrorKind::CannotRoute => write!(
                f,
                "Twilio cannot send between this From and To ({status}): this sender type (number, \
                 short code or alphanumeric sender ID) is not supported for the destination; use \
                 another sender"
            ),
            ErrorKind::Other(_) | ErrorKind::NoCode => write_unclassified(f, error),
        }
    }
}

fn write_rate_limited(f: &mut fmt::Formatter<'_>, error: &TwilioApiError) -> fmt::Result {
    let status = StatusAndCode(error);
    write!(
        f,
        "Twilio is rate limiting this account, too many concurrent requests ({status}): the \
         request was not processed; "
    )?;
    match error.retry_after {
        Some(delay) if delay.as_secs() > 0 => write!(f, "retry after {} s", delay.as_secs()),
        _ => f.write_str("retry after backing off"),
    }
}

fn write_unclassified(f: &mut fmt::Formatter<'_>, error: &TwilioApiError) -> fmt::Result {
    let status = StatusAndCode(error);
    match error.http_status {
        429 => return write_rate_limited(f, error),
        403 => {
            write!(f, "Twilio denied access ({status}): the credentials lack permission for this request")?
        }
        400..=499 => {
            write!(f, "Twilio rejected the request ({status}): fix the request before sending it again")?
        }
        500..=599 => write!(
            f,
            "Twilio returned a server error ({status}): the SMS may or may not have been created; \
             check the message log before sending again"
        )?,
        _ => write!(
            f,
            "Unexpected response from Twilio ({status}): the outcome is unknown; check the \
             message log before sending again"
        )?,
    }
    if let Some(message) = &error.message {
        write!(f, "; response: \"{message}\"")?;
    }
    if let Some(more_info) = &error.more_info {
        write!(f, "; see {more_info}")?;
    }
    Ok(())
}

/// `HTTP 400, code 21211` or `HTTP 502`.
struct StatusAndCode<'a>(&'a TwilioApiError);

impl fmt::Display for StatusAndCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.0.http_status)?;
        if let Some(code) = self.0.code {
            write!(f, ", code {code}")?;
        }
        Ok(())
    }
}

/// Parses a Twilio error response from its HTTP status, `Content-Type` header value and body.
///
/// Never fails and never panics: a body that cannot be read gives no code and no message, and the
/// kind then comes from the status ([`ErrorKind::classify`]). Only the first 64 KiB of the body are
/// looked at. The HTTP status is authoritative; a `status` inside the body is ignored.
#[must_use]
pub fn parse_error_response(status: u16, content_type: Option<&str>, body: &[u8]) -> TwilioApiError {
    let body = body.get(..MAX_PARSED_BODY).unwrap_or(body);
    let parsed = parse_body(content_type, body);
    TwilioApiError {
        http_status: status,
        code: parsed.code,
        message: parsed.message,
        more_info: parsed.more_info,
        kind: ErrorKind::classify(status, parsed.code),
        retry_after: None,
    }
}

#[derive(Default)]
struct ParsedBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

#[derive(PartialEq, Eq)]
enum MediaType {
    Json,
    Markup,
    Other,
}

fn media_type(content_type: Option<&str>) -> MediaType {
    let Some(content_type) = content_type else {
        return MediaType::Other;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence.ends_with("json") {
        MediaType::Json
    } else if essence.contains("html") || essence.contains("xml") {
        MediaType::Markup
    } else {
        MediaType::Other
    }
}

fn parse_body(content_type: Option<&str>, body: &[u8]) -> ParsedBody {
    let body = body.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(body);
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(body.len());
    let body = body.get(start..).unwrap_or_default();
    let media = media_type(content_type);
    match body.first() {
        None => ParsedBody::default(),
        Some(b'{') => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => parse_json_object(&map),
            _ => ParsedBody::default(),
        },
        Some(b'<') => message_only(markup_snippet(body)),
        Some(_) if media == MediaType::Markup => message_only(markup_snippet(body)),
        // Claims JSON but is not an object: a truncated or foreign body, nothing worth keeping.
        Some(_) if media == MediaType::Json => ParsedBody::default(),
        Some(_) => message_only(text_snippet(body)),
    }
}

fn message_only(message: Option<String>) -> ParsedBody {
    ParsedBody { message, ..ParsedBody::default() }
}

fn parse_json_object(map: &Map<String, Value>) -> ParsedBody {
    let type_url = map.get("type").and_then(Value::as_str);
    let code = map.get("code").and_then(json_code).or_else(|| type_url.and_then(code_from_type_url));

    // Classic: message (+ detail/details). Problem JSON: title + detail + errors[].detail.
    let mut parts: Vec<String> = Vec::new();
    for key in ["message", "title", "detail", "details"] {
        if let Some(text) = map.get(key).and_then(Value::as_str) {
            push_part(&mut parts, text);
        }
    }
    if let Some(errors) = map.get("errors").and_then(Value::as_array) {
        for entry in errors.iter().take(MAX_PROBLEM_ERRORS) {
            let detail = entry.get("detail").and_then(Value::as_str);
            let pointer = entry.get("pointer").and_then(Value::as_str);
            match (detail, pointer) {
                (Some(detail), Some(pointer)) => push_part(&mut parts, &format!("{detail} ({pointer})")),
                (Some(detail), None) => push_part(&mut parts, detail),
                _ => {}
            }
        }
    }
    let message = match parts.split_first() {
        None => None,
        Some((first, [])) => sanitize_text(first, MAX_MESSAGE_CHARS),
        Some((first, rest)) => sanitize_text(&format!("{first}: {}", rest.join("; ")), MAX_MESSAGE_CHARS),
    };

    let more_info = map.get("more_info").and_then(Value::as_str).or(type_url).and_then(sanitize_url);

    ParsedBody { code, message, more_info }
}

fn push_part(parts: &mut Vec<String>, text: &str) {
    let text = text.trim();
    if !text.is_empty() && !parts.iter().any(|part| part == text) {
        parts.push(text.to_owned());
    }
}

/// A Twilio code from a JSON number or a numeric string; 0 and out-of-range values are no code.
fn json_code(value: &Value) -> Option<u32> {
    let code = match value {
        Value::Number(number) => u32::try_from(number.as_u64()?).ok()?,
        Value::String(text) => parse_code_digits(text.trim())?,
        _ => return None,
    };
    (code != 0).then_some(code)
}

fn parse_code_digits(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `https://www.twilio.com/docs/api/errors/20001` → 20001.
fn code_from_type_url(url: &str) -> Option<u32> {
    let url = url.trim().trim_end_matches('/');
    let (head, last) = url.rsplit_once('/')?;
    if !head.ends_with("/errors") {
        return None;
    }
    parse_code_digits(last).filter(|code| *code != 0)
}

/// Keeps an `https` URL without whitespace, at most 200 characters, redacted.
fn sanitize_url(url: &str) -> Option<String> {
    let url = url.trim();
    let is_web = url.starts_with("https://");
    let is_clean = !url.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible(c));
    if !is_web || !is_clean || url.chars().count() > MAX_MORE_INFO_CHARS {
        return None;
    }
    Some(redact_phone_numbers(&redact_credentials(url)))
}

/// The text of the first `<title>` (or `<h1>`) of an HTML page, tags stripped, at most 80 chars.
fn markup_snippet(body: &[u8]) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    ["title", "h1"].into_iter().find_map(|tag| {
        let inner = element_text(body, &lower, tag)?;
        sanitize_text(&decode_entities(&strip_tags(&inner)), MAX_SNIPPET_CHARS)
    })
}

fn element_text(body: &[u8], lower: &[u8], tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut from = 0;
    let content_start = loop {
        let at = find(lower, open.as_bytes(), from)?;
        let after = at + open.len();
        match lower.get(after) {
            Some(b'>') => break after + 1,
            Some(byte) if byte.is_ascii_whitespace() => break find(lower, b">", after)? + 1,
            _ => from = after,
        }
    };
    let content_end = find(lower, format!("</{tag}").as_bytes(), content_start)?;
    let inner = body.get(content_start..content_end)?;
    Some(String::from_utf8_lossy(inner).into_owned())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|position| position + from)
}

fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The first non-empty line of a readable text body, at most 80 characters; `None` for binary.
fn text_snippet(body: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        // Cut inside the last character: keep the valid part.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(body.get(..error.valid_up_to())?).ok()?
        }
        Err(_) => return None,
    };
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return None;
    }
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    sanitize_text(line, MAX_SNIPPET_CHARS)
}

/// Bidirectional controls and zero-width characters: they can disguise text in logs and terminals.
const fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFFD}'
    )
}

/// Control and invisible characters to spaces, whitespace collapsed, URLs' queries and `user:password@`
/// cut, credentials and phone numbers masked, then cut to `max_chars` characters (with `…`). `None`
/// when nothing is left.
pub(crate) fn sanitize_text(text: &str, max_chars: usize) -> Option<String> {
    let visible: String =
        text.chars().map(|c| if c.is_control() || is_invisible(c) { ' ' } else { c }).collect();
    let collapsed: Vec<String> = visible.split_whitespace().map(redact_url).collect();
    // Redact before cutting, so that a cut can never leave a partial secret unmasked.
    let redacted = redact_phone_numbers(&redact_credentials(&collapsed.join(" ")));
    if redacted.is_empty() {
        return None;
    }
    if redacted.chars().count() <= max_chars {
        return Some(redacted);
    }
    let mut cut: String = redacted.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    Some(cut)
}

/// A word holding a URL (`scheme://…`) without its `user:password@` (masked) and its query and fragment
/// (`?…`), which often carry signatures and tokens; any other word as it is.
fn redact_url(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else { return word.to_owned() };
    let (head, rest) = word.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", authority.get(at + 1..).unwrap_or("")),
        None => authority.to_owned(),
    };
    let path = match tail.find(['?', '#']) {
        Some(cut) => format!("{}?…", tail.get(..cut).unwrap_or("")),
        None => tail.to_owned(),
    };
    format!("{head}{host}{path}")
}

/// Separators allowed between the digit groups of a phone number.
const PHONE_SEPARATORS: [char; 5] = [' ', '-', '.', '(', ')'];

/// Masks everything in `s` that looks like a phone number.
///
/// A phone number is:
/// - a `+` (or `%2B`, its URL encoding) followed by at least 7 digits (E.164 has up to 15; longer
///   runs are masked too), the digit groups possibly separated by one or two of space, `-`, `.`,
///   `(`, `)`;
/// - or, without a `+`, a run of such groups that stands alone (not glued to a letter or digit on
///   either side) and has a group of 8 or more digits, or 9 or more digits in all
///   (`(555) 867-5310`, `612 345 678`). Dates such as `2010-04-01` (8 digits) stay readable; a
///   list of several error codes separated only by spaces would be masked.
///
/// The match is replaced by its `+` and digits (separators dropped), masked like the crate's
/// `E164::redacted`: with more than 8 characters the last 2 and up to 4 leading ones stay while at
/// least 6 are masked, every other one becomes `•`; with 8 or fewer, all become `•`. So
/// `+15558675310` → `+155••••••10`, `+5641234526` → `+56••••••26` and `+1555123` → `••••••••`. Digits inside identifiers (`SM0123456789…`) are left alone.
#[must_use]
pub fn redact_phone_numbers(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match phone_at(&chars, i) {
            Scan::Phone { end, significant } => {
                push_masked(&mut out, &significant);
                i = end;
            }
            // No start inside this run can match either: copy it at once (keeps the scan linear).
            Scan::GluedRun { end } => {
                out.extend(chars.get(i..end).unwrap_or_default());
                i = end.max(i + 1);
            }
            Scan::Nothing => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// What [`phone_at`] found.
enum Scan {
    /// A phone number: its end (exclusive) and its `+` and digits.
    Phone { end: usize, significant: Vec<char> },
    /// Digit groups glued to a letter or digit at `end`: part of an identifier, not a number.
    GluedRun { end: usize },
    /// Nothing that starts here.
    Nothing,
}

/// Looks for a phone number starting at `start`.
fn phone_at(chars: &[char], start: usize) -> Scan {
    let Some(&first) = chars.get(start) else {
        return Scan::Nothing;
    };
    // A `+`, or `%2B` (its URL encoding, as in a query string `To=%2B1415…`).
    let encoded_plus = first == '%'
        && chars.get(start + 1) == Some(&'2')
        && chars.get(start + 2).is_some_and(|c| c.eq_ignore_ascii_case(&'b'));
    let plus_len = if first == '+' {
        1
    } else if encoded_plus {
        3
    } else {
        0
    };
    let plus = plus_len > 0;
    if !plus {
        let glued =
            start.checked_sub(1).and_then(|before| chars.get(before)).is_some_and(|c| c.is_alphanumeric());
        if glued || !(first.is_ascii_digit() || first == '(') {
            return Scan::Nothing;
        }
    }
    let mut significant = Vec::new();
    let mut i = start;
    if plus {
        significant.push('+');
        i += plus_len;
    }
    let (mut end, mut digits, mut longest_group) = (None, 0_usize, 0_usize);
    // The run as it stood before its last group (end, digits, longest group, significant length).
    let mut before_last = None;
    loop {
        let mut j = i;
        while chars.get(j).is_some_and(|c| PHONE_SEPARATORS.contains(c)) {
            j += 1;
        }
        if j - i > 2 {
            break;
        }
        let group_start = j;
        let kept = significant.len();
        while let Some(&digit) = chars.get(j).filter(|c| c.is_ascii_digit()) {
            significant.push(digit);
            j += 1;
        }
        let group = j - group_start;
        if group == 0 {
            break;
        }
        before_last = end.map(|e| (e, digits, longest_group, kept));
        digits += group;
        longest_group = longest_group.max(group);
        end = Some(j);
        i = j;
    }
    let Some(end) = end else {
        return Scan::Nothing;
    };
    if !plus && chars.get(end).is_some_and(|c| c.is_alphanumeric()) {
        // Only the last group is glued to a word (`(555) 867-5310 2nd try`): the groups before it are
        // followed by a separator, so they stand alone and may be a number by themselves.
        if let Some((prefix_end, digits, longest, kept)) = before_last
            && (longest >= 8 || digits >= 9)
        {
            significant.truncate(kept);
            return Scan::Phone { end: prefix_end, significant };
        }
        return Scan::GluedRun { end };
    }
    let is_phone = if plus { digits >= 7 } else { longest_group >= 8 || digits >= 9 };
    if is_phone { Scan::Phone { end, significant } } else { Scan::Nothing }
}

fn push_masked(out: &mut String, significant: &[char]) {
    let count = significant.len();
    for (i, &c) in significant.iter().enumerate() {
        out.push(if crate::phone::visible(i, count) { c } else { '•' });
    }
}

/// Authorization schemes whose credentials are masked.
const AUTH_SCHEMES: [&str; 2] = ["basic", "bearer"];
/// What replaces a masked credential.
const REDACTED: &str = "[redacted]";

/// Masks everything in `s` that looks like a credential.
///
/// - `Basic <credentials>` and `Bearer <token>` (scheme in any case): the credentials become
///   `[redacted]` when they look like a token (8 or more characters with a digit, `+`, `/`, `=` or an
///   upper-case letter after the first), so `Basic authentication` stays readable.
/// - Any run of 32 or more ASCII letters and digits that is not a Twilio SID (2 upper-case letters
///   and 32 hex digits, such as `AC…`, `SK…`, `SM…`) becomes `[redacted]`. This covers Auth Tokens
///   (32 hex digits) and other long opaque secrets; a shorter secret is not recognised.
#[must_use]
pub fn redact_credentials(s: &str) -> String {
    redact_long_words(&redact_auth_schemes(s))
}

fn redact_auth_schemes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if let Some((scheme_end, token_end)) = auth_credentials_at(&chars, i) {
            out.extend(chars.get(i..scheme_end).unwrap_or_default());
            out.push(' ');
            out.push_str(REDACTED);
            i = token_end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// For `Basic xyz…` at `start`: the end of the scheme name and the end of the credentials.
fn auth_credentials_at(chars: &[char], start: usize) -> Option<(usize, usize)> {
    let glued =
        start.checked_sub(1).and_then(|before| chars.get(before)).is_some_and(|c| c.is_alphanumeric());
    if glued {
        return None;
    }
    let scheme = AUTH_SCHEMES.into_iter().find(|scheme| {
        scheme.chars().enumerate().all(|(offset, expected)| {
            chars.get(start + offset).is_some_and(|c| c.to_ascii_lowercase() == expected)
        })
    })?;
    let scheme_end = start + scheme.len();
    let mut token_start = scheme_end;
    while chars.get(token_start).is_some_and(|c| *c == ' ' || *c == '\t') {
        token_start += 1;
    }
    if token_start == scheme_end {
        return None;
    }
    let mut token_end = token_start;
    while chars.get(token_end).is_some_and(|c| c.is_ascii_alphanumeric() || "+/=-._~".contains(*c)) {
        token_end += 1;
    }
    let token = chars.get(token_start..token_end)?;
    looks_like_token(token).then_some((scheme_end, token_end))
}

fn looks_like_token(token: &[char]) -> bool {
    let has_digit_or_symbol = token.iter().any(|c| c.is_ascii_digit() || "+/=".contains(*c));
    let inner_upper = token.iter().skip(1).any(char::is_ascii_uppercase);
    let has_lower = token.iter().any(char::is_ascii_lowercase);
    token.len() >= 8 && (has_digit_or_symbol || (inner_upper && has_lower))
}

fn redact_long_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            push_word(&mut out, &word);
            word.clear();
            out.push(c);
        }
    }
    push_word(&mut out, &word);
    out
}

fn push_word(out: &mut String, word: &str) {
    if word.len() >= 32 && !is_sid(word) {
        out.push_str(REDACTED);
    } else {
        out.push_str(word);
    }
}

/// Two upper-case ASCII letters and 32 hex digits.
fn is_sid(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 34
        && bytes.iter().take(2).all(u8::is_ascii_uppercase)
        && bytes.iter().skip(2).all(u8::is_ascii_hexdigit)
}

/// Parses a `Retry-After` header value: delta-seconds (`"120"`) or an HTTP-date (RFC 9110 §5.6.7: the
/// IMF-fixdate `"Sun, 06 Nov 1994 08:49:37 GMT"`, and the obsolete RFC 850 and asctime forms a recipient
/// must accept), measured from `now`, through the `httpdate` crate.
///
/// The result is cut to [`MAX_RETRY_AFTER`]; a date in the past gives `Duration::ZERO`. Returns
/// `None` for anything else, including negative or fractional numbers and impossible dates (such as a
/// wrong day name, or before 1970); the caller then falls back to its own backoff.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        // All digits, so the only possible failure is overflow: an absurdly long wait.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

/// Hivekeep's `channel-retry.ts` rule, for tests: the words it reads as "retry me" in an error message.
#[cfg(test)]
pub(crate) fn host_would_retry(text: &str) -> bool {
    let lower = text.to_lowercase();
    let standalone_5xx = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| matches!(word, "500" | "502" | "503" | "504"));
    [
        "429",
        "too many requests",
        "rate limit",
        "econnreset",
        "etimedout",
        "enotfound",
        "socket hang up",
        "network",
        "fetch failed",
        "aborted",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
        || standalone_5xx
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- helpers -------------------------------------------------------------------------

    fn classic(status: u16, code: u32, message: &str) -> TwilioApiError {
        let body = serde_json::json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        });
        parse_error_response(status, Some("application/json; charset=utf-8"), body.to_string().as_bytes())
    }

    /// The longest run of ASCII digits in `s`.
    fn longest_digit_run(s: &str) -> usize {
        s.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
    }

    /// A small deterministic PRNG (xorshift64*), so the fuzz tests need no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
        <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

    fn at(seconds: u64) -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    // ---- classified codes, classic bodies (examples from the reference / trimmed spec) ----

    #[test]
    fn code_20003_bad_credentials() {
        let error = classic(401, 20003, "Authenticate");
        assert_eq!(error.kind(), ErrorKind::BadCredentials);
        assert_eq!(error.code(), Some(20003));
        assert_eq!(error.message(), Some("Authenticate"));
        assert_eq!(error.more_info(), Some("https://www.twilio.com/docs/errors/20003"));
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert_eq!(
            error.to_string(),
            "Twilio rejected the credentials (HTTP 401, code 20003): check the Account SID and \
             Auth Token (or the API key SID and secret)"
        );
    }

    #[test]
    fn code_20003_with_403_reads_as_permission() {
        let error = classic(403, 20003, "Permission Denied");
        assert_eq!(error.kind(), ErrorKind::BadCredentials);
        assert!(error.to_string().starts_with("Twilio denied access (HTTP 403, code 20003)"));
        assert_eq!(error.retry_safety(), RetrySafety::Final);
    }

    #[test]
    fn code_20404_not_found_keeps_sids() {
        let error = classic(
            404,
            20404,
            "The requested resource /2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/\
             SMded05904ccb347238880ca9264e8fe1c.json was not found",
        );
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        // SIDs (even with 9 digits in a row) are identifiers, not phone numbers or secrets.
        let message = error.message().unwrap();
        assert!(message.contains("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(message.contains("SMded05904ccb347238880ca9264e8fe1c.json"));
        assert!(message.contains("/2010-04-01/"));
        assert_eq!(
            error.to_string(),
            "Twilio could not find the requested resource (HTTP 404, code 20404): check the \
             Account SID and that the resource belongs to this account"
        );
    }

    #[test]
    fn code_20429_rate_limited_is_safe() {
        let error = classic(429, 20429, "Too Many Requests");
        assert_eq!(error.kind(), ErrorKind::RateLimited);
        assert_eq!(error.retry_safety(), RetrySafety::Safe);
        assert_eq!(
            error.to_string(),
            "Twilio is rate limiting this account, too many concurrent requests (HTTP 429, code \
             20429): the request was not processed; retry after backing off"
        );
        let waited = error.with_retry_after(Some(Duration::from_secs(30)));
        assert!(waited.to_string().ends_with("retry after 30 s"));
    }

    #[test]
    fn code_21211_invalid_to_is_redacted() {
        let error = classic(400, 21211, "The 'To' number +15558675310 is not a valid phone number.");
        assert_eq!(error.kind(), ErrorKind::InvalidToNumber);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert_eq!(error.message(), Some("The 'To' number +155••••••10 is not a valid phone number."));
        // The reference's own example: a short (8-character) number is fully masked.
        let short = classic(400, 21211, "The 'To' number +1555123 is not a valid phone number.");
        assert_eq!(short.message(), Some("The 'To' number •••••••• is not a valid phone number."));
        assert_eq!(
            error.to_string(),
            "Invalid To number (HTTP 400, code 21211): the recipient must be a real phone number \
             in E.164 form (+, country code, digits only)"
        );
    }

    #[test]
    fn code_21408_region_not_enabled() {
        // Wording modelled on Twilio's; the reference gives the meaning only.
        let error = classic(
            400,
            21408,
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' \
             number: +447700900123.",
        );
        assert_eq!(error.kind(), ErrorKind::RegionNotEnabled);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert!(!error.message().unwrap().contains("7700900"));
        assert!(error.message().unwrap().contains("+447•••••••23"));
        assert!(error.to_string().contains("Messaging Geo Permissions"));
        assert!(error.to_string().contains("(HTTP 400, code 21408)"));
    }

    #[test]
    fn code_21610_unsubscribed() {
        let error = classic(400, 21610, "Attempt to send to unsubscribed recipient");
        assert_eq!(error.kind(), ErrorKind::RecipientUnsubscribed);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert_eq!(
            error.to_string(),
            "The recipient has unsubscribed by replying STOP (HTTP 400, code 21610): do not send \
             to this number again; only the recipient can opt back in (by replying START)"
        );
    }

    #[test]
    fn code_21614_not_mobile() {
        let error = classic(400, 21614, "'To' number +15558675310 is not a valid mobile number");
        assert_eq!(error.kind(), ErrorKind::ToNotMobile);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert!(error.to_string().contains("not a mobile number (HTTP 400, code 21614)"));
    }

    #[test]
    fn code_21617_body_too_long() {
        let error = classic(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
        assert_eq!(error.kind(), ErrorKind::BodyTooLong);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        // "1600" is a short number and stays readable.
        assert_eq!(error.message(), Some("The concatenated message body exceeds the 1600 character limit."));
        assert!(error.to_string().contains("at most 1600 characters"));
    }

    #[test]
    fn code_21606_from_not_capable() {
        let error = classic(
            400,
            21606,
            "The 'From' phone number provided (+15005550001) is not a valid message-capable Twilio \
             phone number for this destination.",
        );
        assert_eq!(error.kind(), ErrorKind::FromNotCapable);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert!(error.message().unwrap().contains("(+150••••••01)"));
        assert!(error.to_string().contains("(HTTP 400, code 21606)"));
    }

    #[test]
    fn code_21612_cannot_route() {
        let error = classic(
            400,
            21612,
            "The 'To' phone number: +15558675310, is not currently reachable using the 'From' phone \
             number: +15005550006 via SMS.",
        );
        assert_eq!(error.kind(), ErrorKind::CannotRoute);
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        let message = error.message().unwrap();
        assert!(message.contains("+155••••••10,"));
        assert!(message.contains("+150••••••06 via SMS."));
        assert!(error.to_string().contains("(HTTP 400, code 21612)"));
    }

    #[test]
    fn unclassified_codes_are_other() {
        let error = classic(400, 21602, "Message body is required.");
        assert_eq!(error.kind(), ErrorKind::Other(21602));
        assert_eq!(error.retry_safety(), RetrySafety::Final);
        assert_eq!(
            error.to_string(),
            "Twilio rejected the request (HTTP 400, code 21602): fix the request before sending it \
             again; response: \"Message body is required.\"; see \
             https://www.twilio.com/docs/errors/21602"
        );
        for (code, message) in
            [(21603, "A 'From' phone number is required."), (21604, "A 'To' phone number is required.")]
        {
            assert_eq!(classic(400, code, message).kind(), ErrorKind::Other(code));
        }

        let internal = classic(500, 20500, "Internal Server Error");
        assert_eq!(internal.kind(), ErrorKind::Other(20500));
        assert_eq!(internal.retry_safety(), RetrySafety::Ambiguous);
        assert!(internal.to_string().starts_with(
            "Twilio returned a server error (HTTP 500, code 20500): the SMS may or may not have \
             been created"
        ));
    }

    #[test]
    fn every_classified_code_maps_back() {
        let table = [
            (20003, ErrorKind::BadCredentials),
            (20404, ErrorKind::NotFound),
            (20429, ErrorKind::RateLimited),
            (21211, ErrorKind::InvalidToNumber),
            (21408, ErrorKind::RegionNotEnabled),
            (21606, ErrorKind::FromNotCapable),
            (21610, ErrorKind::RecipientUnsubscribed),
            (21612, ErrorKind::CannotRoute),
            (21614, ErrorKind::ToNotMobile),
            (21617, ErrorKind::BodyTooLong),
            (30007, ErrorKind::Other(30007)),
        ];
        for (code, kind) in table {
            assert_eq!(ErrorKind::from_code(code), kind);
            assert_eq!(ErrorKind::classify(400, Some(code)), kind);
        }
    }

    #[test]
    fn code_wins_over_status_and_numeric_strings_are_read() {
        let body = br#"{"code":"21610","message":"Attempt to send to unsubscribed recipient","status":400}"#;
        let error = parse_error_response(400, Some("application/json"), body);
        assert_eq!(error.code(), Some(21610));
        assert_eq!(error.kind(), ErrorKind::RecipientUnsubscribed);
        // A code of 20429 is safe whatever the status says.
        let odd = classic(400, 20429, "Too Many Requests");
        assert_eq!(odd.retry_safety(), RetrySafety::Safe);
        // Nonsense codes are dropped, not wrapped.
        for body in [
            br#"{"code":-1,"message":"x"}"#.as_slice(),
            br#"{"code":0,"message":"x"}"#,
            br#"{"code":99999999999,"message":"x"}"#,
            br#"{"code":1.5,"message":"x"}"#,
            br#"{"code":"21x11","message":"x"}"#,
        ] {
            let error = parse_error_response(400, None, body);
            assert_eq!(error.code(), None, "{}", String::from_utf8_lossy(body));
            assert_eq!(error.kind(), ErrorKind::NoCode);
        }
    }

    // ---- RFC 9457 problem JSON ----------------------------------------------------------

    #[test]
    fn problem_json_with_code() {
        // The shape twilio-python's tests use for newer services.
        let body = br#"{
            "type": "https://www.twilio.com/docs/api/errors/20001",
            "title": "Invalid parameter",
            "status": 400,
            "code": 20001,
            "detail": "The 'PhoneNumber' parameter is required.",
            "instance": "/api/v1/accounts/AC123/calls/CA456"
        }"#;
        let error = parse_error_response(400, Some("application/problem+json"), body);
        assert_eq!(error.code(), Some(20001));
        assert_eq!(error.kind(), ErrorKind::Other(20001));
        assert_eq!(error.message(), Some("Invalid parameter: The 'PhoneNumber' parameter is required."));
        assert_eq!(error.more_info(), Some("https://www.twilio.com/docs/api/errors/20001"));
        assert_eq!(error.retry_safety(), RetrySafety::Final);
    }

    #[test]
    fn problem_json_minimal_and_with_errors() {
        let body = br#"{"type":"https://www.twilio.com/docs/api/errors/20404","title":"Resource not found","status":404,"code":20404}"#;
        let error = parse_error_response(404, Some("application/problem+json"), body);
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.message(), Some("Resource not found"));

        let body = br##"{"type":"https://www.twilio.com/docs/api/errors/20001","title":"Validation failed",
            "status":422,"code":20001,"detail":"Request validation failed",
            "errors":[{"detail":"must be a valid phone number, not +15558675310","pointer":"#/to"},
                      {"detail":"must be 'green', 'red' or 'blue'","pointer":"#/profile/color"}]}"##;
        let error = parse_error_response(422, Some("application/problem+json"), body);
        assert_eq!(error.kind(), ErrorKind::Other(20001));
        assert_eq!(
            error.message(),
            Some(
                "Validation failed: Request validation failed; must be a valid phone number, not \
                 +155••••••10 (#/to); must be 'green', 'red' or 'blue' (#/profile/color)"
            )
        );
    }

    #[test]
    fn problem_json_code_from_type_url() {
        let body = br#"{"type":"https://www.twilio.com/docs/api/errors/20429/","title":"Too Many Requests","status":429}"#;
        let error = parse_error_response(429, Some("application/problem+json"), body);
        assert_eq!(error.code(), Some(20429));
        assert_eq!(error.kind(), ErrorKind::RateLimited);

        let body = br#"{"type":"about:blank","title":"Forbidden","status":403}"#;
        let error = parse_error_response(403, Some("application/problem+json"), body);
        assert_eq!(error.code(), None);
        assert_eq!(error.more_info(), None);
        assert_eq!(error.kind(), ErrorKind::NoCode);
        assert_eq!(
            error.to_string(),
            "Twilio denied access (HTTP 403): the credentials lack permission for this request; \
             response: \"Forbidden\""
        );
    }

    // ---- non-JSON bodies ----------------------------------------------------------------

    #[test]
    fn nginx_502_page_keeps_only_the_title() {
        let error = parse_error_response(502, Some("text/html"), NGINX_502.as_bytes());
        assert_eq!(error.kind(), ErrorKind::NoCode);
        assert_eq!(error.code(), None);
        assert_eq!(error.message(), Some("502 Bad Gateway"));
        assert_eq!(error.more_info(), None);
        assert_eq!(error.retry_safety(), RetrySafety::Ambiguous);
        assert_eq!(
            error.to_string(),
            "Twilio returned a server error (HTTP 502): the SMS may or may not have been created; \
             check the message log before sending again; response: \"502 Bad Gateway\""
        );
        // Without a Content-Type the page is still recognised.
        let error = parse_error_response(502, None, NGINX_502.as_bytes());
        assert_eq!(error.message(), Some("502 Bad Gateway"));
    }

    #[test]
    fn html_page_without_title_or_huge_keeps_little() {
        let page = format!("<html><body><p>{}</p></body></html>", "secret stuff ".repeat(5000));
        let error = parse_error_response(503, Some("text/html; charset=UTF-8"), page.as_bytes());
        assert_eq!(error.message(), None);

        let page = format!(
            "<!DOCTYPE html><html><head><TITLE class=x>  Service &amp; Unavailable {}</TITLE></head>",
            "x ".repeat(500)
        );
        let error = parse_error_response(503, Some("text/html"), page.as_bytes());
        let message = error.message().unwrap();
        assert!(message.starts_with("Service & Unavailable x x"));
        assert!(message.chars().count() <= MAX_SNIPPET_CHARS);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn plain_text_keeps_first_line_only() {
        let body = b"upstream connect error or disconnect/reset before headers. reset reason: connection termination\nsecond line with +15558675310";
        let error = parse_error_response(503, Some("text/plain"), body);
        let message = error.message().unwrap();
        assert!(message.starts_with("upstream connect error"));
        assert!(message.chars().count() <= MAX_SNIPPET_CHARS);
        assert!(!message.contains("second line"));
        assert_eq!(error.retry_safety(), RetrySafety::Ambiguous);

        let error = parse_error_response(
            401,
            Some("text/plain"),
            b"Unauthorized: token 0123456789abcdef0123456789abcdef",
        );
        assert_eq!(error.message(), Some("Unauthorized: token [redacted]"));
        assert_eq!(error.kind(), ErrorKind::BadCredentials);
    }

    #[test]
    fn empty_bodies_fall_back_on_the_status() {
        for (status, kind, safety) in [
            (401, ErrorKind::BadCredentials, RetrySafety::Final),
            (404, ErrorKind::NotFound, RetrySafety::Final),
            (429, ErrorKind::RateLimited, RetrySafety::Safe),
            (400, ErrorKind::NoCode, RetrySafety::Final),
            (403, ErrorKind::NoCode, RetrySafety::Final),
            (500, ErrorKind::NoCode, RetrySafety::Ambiguous),
            (504, ErrorKind::NoCode, RetrySafety::Ambiguous),
        ] {
            for body in [b"".as_slice(), b"   \r\n", b"\xEF\xBB\xBF"] {
                let error = parse_error_response(status, Some("application/json"), body);
                assert_eq!(error.kind(), kind, "{status}");
                assert_eq!(error.code(), None);
                assert_eq!(error.message(), None);
                assert_eq!(error.retry_safety(), safety, "{status}");
            }
        }
        assert_eq!(
            parse_error_response(401, None, b"").to_string(),
            "Twilio rejected the credentials (HTTP 401): check the Account SID and Auth Token (or \
             the API key SID and secret)"
        );
    }

    #[test]
    fn garbage_and_truncated_bodies() {
        let full = br#"{"code":21211,"message":"The 'To' number +15558675310 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;
        for cut in 0..full.len() {
            let error = parse_error_response(400, Some("application/json"), &full[..cut]);
            assert_eq!(error.kind(), ErrorKind::NoCode);
            assert_eq!(error.message(), None);
        }
        assert_eq!(parse_error_response(400, None, full).kind(), ErrorKind::InvalidToNumber);
        // A body longer than 64 KiB is cut, so even valid JSON reads as truncated.
        let huge = serde_json::json!({ "code": 21211, "message": "x".repeat(MAX_PARSED_BODY) });
        assert_eq!(parse_error_response(400, None, huge.to_string().as_bytes()).kind(), ErrorKind::NoCode);

        for body in [
            b"\x00\x01\x02\xff\xfe binary".as_slice(),
            b"\xff\xff\xff\xff",
            b"[1,2,3]",
            b"\"just a string\"",
            b"null",
            b"{}",
            b"{\"code\": {\"nested\": true}}",
        ] {
            let error = parse_error_response(400, Some("application/json"), body);
            assert_eq!(error.code(), None);
            assert_eq!(error.message(), None, "{}", String::from_utf8_lossy(body));
            assert_eq!(error.kind(), ErrorKind::NoCode);
        }
        // Binary without a Content-Type is not kept as text either.
        assert_eq!(parse_error_response(502, None, b"\x00\x01\x02\xff").message(), None);
        // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_error_response(400, None, deep.as_bytes()).message(), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let content_types = [
            None,
            Some("application/json"),
            Some("application/problem+json"),
            Some("text/html"),
            Some("text/plain"),
            Some(""),
            Some(";;;"),
        ];
        let seeds: [&[u8]; 5] = [b"{\"code\":", b"<title>", b"{\"type\":\"", b"+1555", b"Basic "];
        for round in 0..20_000 {
            let len = rng.below(300);
            let mut body = rng.bytes(len);
            if round % 3 == 0 {
                let seed = seeds[rng.below(seeds.len())];
                body.splice(0..0, seed.iter().copied());
            }
            let status = u16::try_from(rng.below(1000)).unwrap();
            let content_type = content_types[rng.below(content_types.len())];
            let error = parse_error_response(status, content_type, &body);
            let shown = error.to_string();
            assert!(!shown.is_empty());
            if let Some(message) = error.message() {
                assert!(message.chars().count() <= MAX_MESSAGE_CHARS);
                assert!(!message.chars().any(char::is_control));
            }
            let _ = error.retry_safety();
            let _ = format!("{error:?}");
        }
    }

    #[test]
    fn urls_quoted_back_lose_their_query_and_credentials() {
        let body = r#"{"code":21620,"message":"Media urls: https://cdn.example.com/a.png?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE&sig=Zx9-Q2 are invalid. See https://u:pw@h.example.com/x#frag","status":400}"#;
        let text = parse_error_response(400, Some("application/json"), body.as_bytes()).to_string();
        assert!(text.contains("https://cdn.example.com/a.png?…"), "{text}");
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE") && !text.contains("Zx9-Q2"), "{text}");
        assert!(!text.contains("pw@") && !text.contains("frag"), "{text}");
    }

    #[test]
    fn random_text_never_panics_and_redaction_is_stable() {
        let mut rng = Rng(42);
        let alphabet: Vec<char> = "0123456789+-() .aB\u{2022}é\n\tACSK".chars().collect();
        for _ in 0..20_000 {
            let len = rng.below(60);
            let text: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
            let once = redact_phone_numbers(&redact_credentials(&text));
            let twice = redact_phone_numbers(&redact_credentials(&once));
            assert_eq!(once, twice, "input {text:?}");
            assert!(!once.contains("+1234567"));
            let _ = parse_retry_after(&text, at(1_000_000_000));
            let _ = sanitize_text(&text, 10);
        }
    }

    #[test]
    fn redaction_handles_hostile_input() {
        // Digit groups glued to a letter at the very end used to be rescanned from every start (a
        // quadratic scan would make this test take minutes; speed itself is not asserted here).
        let glued = format!("{}1a", "1 ".repeat(60_000));
        // The groups before the glued `1a` stand alone: masked like the spaced run below; `1a` stays.
        let redacted = redact_phone_numbers(&glued);
        assert!(redacted.ends_with(" 1a") && !redacted.contains("1 1 1 1 1"));
        let body = serde_json::json!({ "code": 21211, "message": glued });
        let _ = parse_error_response(400, None, body.to_string().as_bytes());
        let spaced = "1 ".repeat(60_000);
        assert!(!redact_phone_numbers(&spaced).contains("1 1 1 1 1"));
    }

    // ---- redaction ----------------------------------------------------------------------

    #[test]
    fn phone_numbers_are_masked() {
        let cases = [
            ("+15558675310", "+155••••••10"),
            ("+447700900123", "+447•••••••23"),
            ("+1 (555) 867-5310", "+155••••••10"),
            ("+44 7700 900123.", "+447•••••••23."),
            ("+1555123", "••••••••"),
            ("call 5558675310 now", "call 55••••••10 now"),
            ("(555) 867-5310", "55••••••10"),
            ("555.867.5310", "55••••••10"),
            ("12345678", "••••••••"),
            ("612 345 678", "6••••••78"),
            ("whatsapp:+15558675310", "whatsapp:+155••••••10"),
            ("To=+15558675310&From=+15005550006", "To=+155••••••10&From=+150••••••06"),
            ("+1234567890123456789", "+123••••••••••••••89"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_phone_numbers(input), expected, "{input}");
        }
    }

    #[test]
    fn non_phone_numbers_are_kept() {
        for text in [
            "code 21211, HTTP 400",
            "exceeds the 1600 character limit",
            "+155 is a prefix",
            "+1555",
            "1234567",
            "123 456 78",
            "/2010-04-01/Accounts",
            "SMded05904ccb347238880ca9264e8fe1c",
            "abc12345678",
            "12345678abc",
            "price -0.00750 USD",
            "Thu, 24 Aug 2023 05:01:45 +0000",
            "",
        ] {
            assert_eq!(redact_phone_numbers(text), text);
        }
    }

    #[test]
    fn credentials_are_masked() {
        let token = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(redact_credentials(token), "[redacted]");
        assert_eq!(
            redact_credentials(&format!("token={token}; sid=AC{token}")),
            format!("token=[redacted]; sid=AC{token}")
        );
        assert_eq!(
            redact_credentials("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:Xy12abcDEFghiJKLmnoPQRstuVWXyz99"),
            "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:[redacted]"
        );
        // A SID with a 33rd hex digit is not a SID.
        assert_eq!(redact_credentials("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "[redacted]");
        assert_eq!(
            redact_credentials("Authorization: Basic QUMxMjM0NTY3ODkwOnNlY3JldA=="),
            "Authorization: Basic [redacted]"
        );
        assert_eq!(redact_credentials("basic   dXNlcjpwYXNz end"), "basic [redacted] end");
        assert_eq!(redact_credentials("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"), "Bearer [redacted]");
        for text in [
            "Use Basic authentication",
            "basic",
            "Basic abc",
            "Authenticate",
            "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "short 0123456789abcdef",
        ] {
            assert_eq!(redact_credentials(text), text);
        }
    }

    #[test]
    fn messages_are_sanitised() {
        let body = serde_json::json!({
            "code": 21211,
            "message": "bad\u{1b}[31m\u{202e}number\r\n\t+15558675310 with token 0123456789abcdef0123456789abcdef",
            "more_info": "https://www.twilio.com/docs/errors/21211",
        });
        let error = parse_error_response(400, None, body.to_string().as_bytes());
        assert_eq!(error.message(), Some("bad [31m number +155••••••10 with token [redacted]"));

        let long = serde_json::json!({ "code": 21211, "message": "word ".repeat(400) });
        let error = parse_error_response(400, None, long.to_string().as_bytes());
        assert_eq!(error.message().unwrap().chars().count(), MAX_MESSAGE_CHARS);

        for more_info in [
            "javascript:alert(1)",
            "http://www.twilio.com/docs/errors/21211",
            "https://example.com/a b",
            "https://example.com/\u{202e}x",
        ] {
            let body = serde_json::json!({ "code": 21211, "message": "x", "more_info": more_info });
            let error = parse_error_response(400, None, body.to_string().as_bytes());
            assert_eq!(error.more_info(), None, "{more_info}");
        }
        let body = serde_json::json!({
            "code": 21211, "message": "x",
            "more_info": "https://example.com/?to=+15558675310&t=0123456789abcdef0123456789abcdef",
        });
        let error = parse_error_response(400, None, body.to_string().as_bytes());
        assert_eq!(error.more_info(), Some("https://example.com/?to=+155••••••10&t=[redacted]"));
    }

    // ---- Display ------------------------------------------------------------------------

    #[test]
    fn display_never_shows_numbers_or_secrets() {
        let secret = "0123456789abcdef0123456789abcdef";
        let number = "+15558675310";
        let message = format!("The 'To' number {number} failed; auth {secret}; Basic QUMxMjM6c2VjcmV0");
        let statuses = [400, 401, 403, 404, 429, 500, 502, 302, 0];
        let codes = [
            None,
            Some(20003),
            Some(20404),
            Some(20429),
            Some(21211),
            Some(21408),
            Some(21606),
            Some(21610),
            Some(21612),
            Some(21614),
            Some(21617),
            Some(21602),
            Some(20500),
        ];
        for status in statuses {
            for code in codes {
                let mut body = serde_json::json!({
                    "message": message,
                    "more_info": format!("https://www.twilio.com/docs/errors/x?n={number}&k={secret}"),
                });
                if let Some(code) = code {
                    body["code"] = serde_json::json!(code);
                }
                let error = parse_error_response(status, None, body.to_string().as_bytes())
                    .with_retry_after(Some(Duration::from_secs(5)));
                for shown in [error.to_string(), format!("{error:?}")] {
                    assert!(!shown.contains("8675310"), "{shown}");
                    assert!(!shown.contains(secret), "{shown}");
                    assert!(!shown.contains("QUMxMjM6c2VjcmV0"), "{shown}");
                    assert!(longest_digit_run(&shown) <= 5, "{shown}");
                }
                let shown = error.to_string();
                assert!(shown.contains(&format!("HTTP {status}")), "{shown}");
                if let Some(code) = code {
                    assert!(shown.contains(&format!("code {code}")), "{shown}");
                }
            }
        }
    }

    #[test]
    fn display_wording_matches_retry_safety_for_the_host() {
        // Hivekeep's host retries when the error text mentions 429 / rate limit / a bare 5xx status.
        // Final errors must not read that way; rate-limited ones must.
        let codes = [20003, 20404, 21211, 21408, 21606, 21610, 21612, 21614, 21617, 21602];
        for code in codes {
            for status in [400, 401, 403, 404] {
                let error = classic(status, code, "x");
                assert_eq!(error.retry_safety(), RetrySafety::Final);
                assert!(!host_would_retry(&error.to_string()), "{error}");
            }
        }
        for status in [400, 401, 403, 404, 422] {
            let error = parse_error_response(status, None, b"");
            assert!(!host_would_retry(&error.to_string()), "{error}");
        }
        assert!(host_would_retry(&classic(429, 20429, "x").to_string()));
        assert!(host_would_retry(&parse_error_response(429, None, b"").to_string()));
    }

    #[test]
    fn unexpected_status_reads_as_unknown() {
        let error = parse_error_response(302, Some("text/html"), b"<html><title>Found</title></html>");
        assert_eq!(error.retry_safety(), RetrySafety::Ambiguous);
        assert_eq!(
            error.to_string(),
            "Unexpected response from Twilio (HTTP 302): the outcome is unknown; check the message \
             log before sending again; response: \"Found\""
        );
    }

    // ---- retry safety -------------------------------------------------------------------

    #[test]
    fn retry_safety_per_status() {
        for (status, safety) in [
            (429, RetrySafety::Safe),
            (500, RetrySafety::Ambiguous),
            (502, RetrySafety::Ambiguous),
            (503, RetrySafety::Ambiguous),
            (504, RetrySafety::Ambiguous),
            (599, RetrySafety::Ambiguous),
            (400, RetrySafety::Final),
            (401, RetrySafety::Final),
            (403, RetrySafety::Final),
            (404, RetrySafety::Final),
            (405, RetrySafety::Final),
            (409, RetrySafety::Final),
            (422, RetrySafety::Final),
            (200, RetrySafety::Ambiguous),
            (301, RetrySafety::Ambiguous),
            (0, RetrySafety::Ambiguous),
            (600, RetrySafety::Ambiguous),
        ] {
            assert_eq!(parse_error_response(status, None, b"").retry_safety(), safety, "{status}");
        }
        // 20429 inside a 5xx (never seen, but Twilio says 20429 requests are not processed).
        assert_eq!(classic(503, 20429, "Too Many Requests").retry_safety(), RetrySafety::Safe);
    }

    // ---- Retry-After --------------------------------------------------------------------

    #[test]
    fn retry_after_delta_seconds() {
        let now = at(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0\t", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("99999999999999999999999999", now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn retry_after_http_date() {
        // 1994-11-06T08:49:37Z = 784111777.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(date, at(784_111_777 - 90)), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after(date, at(784_111_777)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(date, at(784_111_777 + 5)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(date, at(700_000_000)), Some(MAX_RETRY_AFTER));
        // The obsolete forms RFC 9110 says a recipient must accept.
        for obsolete in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(
                parse_retry_after(obsolete, at(784_111_777 - 30)),
                Some(Duration::from_secs(30)),
                "{obsolete}"
            );
        }
        // Leap day, epoch, and a 2026 date Twilio might send.
        let epoch = at(0);
        assert_eq!(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", epoch), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", at(1_709_164_800 - 3)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", epoch), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 12:00:05 GMT", at(1_795_780_800)),
            Some(Duration::from_secs(5))
        );
        // Through the header map.
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static(date));
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        let error = TwilioApiError::from_response(
            http::StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}"#,
            at(784_111_777 - 7),
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(error.kind(), ErrorKind::RateLimited);
        assert!(error.to_string().ends_with("retry after 7 s"));
    }

    #[test]
    fn retry_after_garbage() {
        let now = at(1_700_000_000);
        for value in [
            "",
            "   ",
            "-5",
            "+5",
            "1.5",
            "5s",
            "0x10",
            "١٢٣", // non-ASCII digits
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Mon, 06 Nov 1994 08:49:37 GMT", // wrong day name
            "sun, 06 Nov 1994 08:49:37 GMT", // case-sensitive
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun,  6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT", // before 1970
            "Fri, 29 Feb 2023 00:00:00 GMT", // not a leap year
            "Sat, 31 Apr 2023 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sun, 06 Nov 1994 08:49:37 GMTX",
            "Sun, 06 Nov 1994 08:4é:37 GMT",
        ] {
            if value == "Sun, 06 Nov 1994 08:49:37 GMT " {
                // Surrounding whitespace is optional whitespace, so this one is fine.
                assert!(parse_retry_after(value, now).is_some());
                continue;
            }
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn from_response_without_headers() {
        let error = TwilioApiError::from_response(
            http::StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            NGINX_502.as_bytes(),
            SystemTime::now(),
        );
        assert_eq!(error.http_status(), 502);
        assert_eq!(error.retry_after(), None);
        assert_eq!(error.message(), Some("502 Bad Gateway"));
        assert_eq!(error.retry_safety(), RetrySafety::Ambiguous);
    }
}
