//! Strict verification of Twilio webhooks (`X-Twilio-Signature`, HMAC-SHA1).
//!
//! The flow is one-way: an [`UnverifiedWebhook`] holds a raw request and gives no access to its
//! parameters; [`WebhookVerifier::verify`] consumes it and returns a [`VerifiedWebhook`], the only type
//! that reads signed parameters, or a [`VerifyError`]. Nothing else constructs a `VerifiedWebhook` or a
//! [`VerifiedInbound`]: the MAC is always computed here, under a validated [`AuthToken`].
//!
//! The rules are the strict ones of the conformance suite: the exact URL and one port variant, the raw
//! query byte for byte, keys then distinct values in byte order, strict form decoding, `bodySHA256`
//! for JSON bodies, and a MAC compared in constant time (`subtle::ConstantTimeEq`).

pub(crate) mod form;
mod inbound;

use std::io::Read;

use base64::Engine as _;
use hmac::Mac as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};
use sha2::Digest as _;

pub use form::{FormError, MAX_PARAMETERS};
pub use inbound::{InboundError, Media, OptOut, VerifiedInbound};

use crate::token::{AuthToken, HmacSha1};
use crate::url::{PublicUrl, UrlError, WebhookUrl};
use form::Form;

/// The header Twilio puts its signature in.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// The header Twilio's Webhooks configuration adds when it signs with a SharedKey (HMAC-SHA256), which
/// this crate does not accept: such requests are refused (fail closed).
pub const SHARED_KEY_HEADER: &str = "x-twilio-webhooks-signature-settings";
/// The header carrying Twilio's idempotency token for a webhook delivery.
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

/// The headers above as names, so that looking them up parses nothing.
static SIGNATURE_NAME: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);
static SHARED_KEY_NAME: HeaderName = HeaderName::from_static(SHARED_KEY_HEADER);
static IDEMPOTENCY_NAME: HeaderName = HeaderName::from_static(IDEMPOTENCY_HEADER);

/// The body of the answer to an accepted webhook: an empty TwiML response, so Twilio sends no reply.
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// The largest body accepted, in bytes. Twilio's SMS webhooks are a few kilobytes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(usize);

impl BodyLimit {
    /// 64 KiB.
    pub const DEFAULT: Self = Self(64 * 1024);

    /// A limit of `bytes`.
    #[must_use]
    pub const fn bytes(bytes: usize) -> Self {
        Self(bytes)
    }

    /// The limit in bytes.
    #[must_use]
    pub const fn get(self) -> usize {
        self.0
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a webhook was refused. Every variant answers a bare `403` (or `413` for an oversized body)
/// through [`VerifyError::response`]; the precise reason is for logs, and contains no secret, no
/// signature and no phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The body is larger than the configured [`BodyLimit`].
    #[error("body larger than the {limit}-byte limit")]
    BodyTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The body could not be read.
    #[error("the body could not be read")]
    BodyUnreadable,
    /// The URL the webhook was sent to cannot be one Twilio called.
    #[error("webhook URL: {0}")]
    InvalidUrl(UrlError),
    /// The method is neither `POST` nor `GET`.
    #[error("method is neither POST nor GET")]
    UnsupportedMethod,
    /// No `X-Twilio-Signature` header.
    #[error("signature: missing X-Twilio-Signature header")]
    MissingSignature,
    /// The header is empty, repeated, or not 28 characters of padded base64 of 20 bytes.
    #[error("signature: malformed X-Twilio-Signature header")]
    MalformedSignature,
    /// The request was signed with a Webhooks SharedKey (HMAC-SHA256), which is not accepted.
    #[error("signature: SharedKey signatures (X-Twilio-Webhooks-Signature-Settings) are not accepted")]
    SharedKeySignature,
    /// No candidate URL and token reproduces the signature.
    #[error("signature: mismatch")]
    SignatureMismatch,
    /// `bodySHA256` appears more than once in the query.
    #[error("bodySHA256: repeated in the query")]
    RepeatedBodyHash,
    /// `bodySHA256` is not 64 lowercase hexadecimal digits.
    #[error("bodySHA256: not 64 lowercase hexadecimal digits")]
    MalformedBodyHash,
    /// The SHA-256 of the body is not the `bodySHA256` of the query.
    #[error("bodySHA256: body hash mismatch")]
    BodyHashMismatch,
    /// A POST without `bodySHA256` whose media type is not `application/x-www-form-urlencoded`.
    #[error("form: unsupported content type for a POST without bodySHA256")]
    UnsupportedContentType,
    /// A GET with a body.
    #[error("form: GET with a body")]
    GetWithBody,
    /// The form body (or a GET's query) is not strictly valid.
    #[error("form: {0}")]
    MalformedForm(FormError),
}

impl VerifyError {
    /// The HTTP answer for this rejection: `413` for an oversized body, else a bare `403` that tells a
    /// prober nothing.
    #[must_use]
    pub fn response(&self) -> Response<&'static str> {
        let status = match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::FORBIDDEN,
        };
        let mut response = Response::new("");
        *response.status_mut() = status;
        response
    }
}

/// The answer to an accepted webhook: `200`, `Content-Type: application/xml`, an empty TwiML
/// `<Response>`.
#[must_use]
pub fn accepted_response() -> Response<&'static str> {
    let mut response = Response::new(EMPTY_TWIML);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// A decoded `X-Twilio-Signature`: the 20-byte HMAC-SHA1 tag.
///
/// It has no `PartialEq`: signatures are compared only inside [`WebhookVerifier::verify`], in constant
/// time. `Display` writes the header value (28 characters of base64).
#[derive(Clone, Copy)]
pub struct Signature([u8; 20]);

impl Signature {
    /// Parses a header value: exactly 28 characters matching `[A-Za-z0-9+/]{27}=`, decoding to 20 bytes
    /// in canonical base64.
    ///
    /// # Errors
    /// [`VerifyError::MalformedSignature`] for anything else.
    pub fn parse(header: &[u8]) -> Result<Self, VerifyError> {
        if header.len() != 28 || header.last() != Some(&b'=') {
            return Err(VerifyError::MalformedSignature);
        }
        let mut tag = [0u8; 20];
        match base64::engine::general_purpose::STANDARD.decode_slice(header, &mut tag) {
            Ok(20) => Ok(Self(tag)),
            _ => Err(VerifyError::MalformedSignature),
        }
    }
}

impl core::fmt::Display for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// A webhook request as received, before its signature has been checked.
///
/// It gives no access to its parameters: pass it to [`WebhookVerifier::verify`].
#[must_use = "an unverified webhook is only useful once verified"]
pub struct UnverifiedWebhook {
    method: Method,
    url: WebhookUrl,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl core::fmt::Debug for UnverifiedWebhook {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnverifiedWebhook")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl UnverifiedWebhook {
    /// A webhook from its parts: the method, the URL Twilio called, the headers and the raw body.
    ///
    /// # Errors
    /// [`VerifyError::BodyTooLarge`] when the body exceeds `limit`.
    pub fn new(
        method: Method,
        url: WebhookUrl,
        headers: HeaderMap,
        body: impl Into<Vec<u8>>,
        limit: BodyLimit,
    ) -> Result<Self, VerifyError> {
        let body = body.into();
        if body.len() > limit.get() {
            return Err(VerifyError::BodyTooLarge { limit: limit.get() });
        }
        Ok(Self { method, url, headers, body })
    }

    /// A webhook from an `http::Request` a server received: the URL is `public_url` joined with the
    /// request's path and raw query (the request's own scheme and host are ignored: behind a proxy they
    /// are the internal ones).
    ///
    /// A `#fragment` in the request target cannot be seen here: `http` drops it when it parses the
    /// target, so `POST /hook#x` arrives as `/hook`. That admits nothing new (the signature is still
    /// checked over the URL without it, so such a request is a replay of a signed one, which the
    /// channel's de-duplication absorbs). Where the raw target is at hand, build the URL with
    /// [`PublicUrl::join`], which refuses a fragment (the WebAssembly package does).
    ///
    /// # Errors
    /// [`VerifyError::BodyTooLarge`], or [`VerifyError::InvalidUrl`] when the request target cannot be
    /// joined to the public URL.
    pub fn from_http<B: AsRef<[u8]>>(
        public_url: &PublicUrl,
        request: http::Request<B>,
        limit: BodyLimit,
    ) -> Result<Self, VerifyError> {
        let (parts, body) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        let body = std::borrow::Cow::Borrowed(body.as_ref());
        Self::received(public_url, target, parts.method.as_str(), parts.headers, body, limit)
    }

    /// A webhook a server received behind `public_url` at `target` (the request's path and raw query,
    /// byte for byte), checked in the one order of every driver: the body limit, then the URL, then the
    /// method. A borrowed `body` is copied only once it is within the limit.
    ///
    /// # Errors
    /// [`VerifyError::BodyTooLarge`], [`VerifyError::InvalidUrl`] (a target that makes no URL with
    /// `public_url`), [`VerifyError::UnsupportedMethod`] (no HTTP method).
    pub fn received(
        public_url: &PublicUrl,
        target: &str,
        method: &str,
        headers: HeaderMap,
        body: std::borrow::Cow<'_, [u8]>,
        limit: BodyLimit,
    ) -> Result<Self, VerifyError> {
        if body.len() > limit.get() {
            return Err(VerifyError::BodyTooLarge { limit: limit.get() });
        }
        let url = public_url.join(target).map_err(VerifyError::InvalidUrl)?;
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| VerifyError::UnsupportedMethod)?;
        Self::new(method, url, headers, body.into_owned(), limit)
    }

    /// A webhook whose body is read from `reader`, never buffering more than `limit` + 1 bytes: a
    /// `Content-Length` above the limit is refused before anything is read, and reading stops as soon as
    /// the limit is passed.
    ///
    /// # Errors
    /// [`VerifyError::BodyTooLarge`], or [`VerifyError::BodyUnreadable`] when reading fails.
    pub fn from_reader<R: Read>(
        method: Method,
        url: WebhookUrl,
        headers: HeaderMap,
        reader: R,
        limit: BodyLimit,
    ) -> Result<Self, VerifyError> {
        let too_large = VerifyError::BodyTooLarge { limit: limit.get() };
        let max = u64::try_from(limit.get()).unwrap_or(u64::MAX);
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max) {
            return Err(too_large);
        }
        // Trust a declared length for the first allocation only up to 64 KiB: the client chose it.
        let initial = declared.map_or(0, |n| usize::try_from(n.min(64 * 1024)).unwrap_or(0));
        let mut body = Vec::with_capacity(initial);
        reader.take(max.saturating_add(1)).read_to_end(&mut body).map_err(|_| VerifyError::BodyUnreadable)?;
        if body.len() > limit.get() {
            return Err(too_large);
        }
        Ok(Self { method, url, headers, body })
    }

    /// The URL the webhook is checked against.
    #[must_use]
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }
}

/// How the body of a verified webhook was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedBody {
    /// A form POST: its parameters were signed.
    Form,
    /// A GET: its parameters are in the signed query string.
    Query,
    /// A body (JSON) whose SHA-256 is the signed `bodySHA256` query parameter.
    BodyHash,
}

/// A webhook whose signature has been verified. Only [`WebhookVerifier::verify`] makes one.
#[must_use]
pub struct VerifiedWebhook {
    method: Method,
    url: WebhookUrl,
    headers: HeaderMap,
    body: Vec<u8>,
    params: Form,
    signed_body: SignedBody,
}

impl core::fmt::Debug for VerifiedWebhook {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedWebhook")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("signed_body", &self.signed_body)
            .field("params", &self.params.pairs().count())
            .finish_non_exhaustive()
    }
}

impl VerifiedWebhook {
    /// The signed parameters in the order they were sent: the form body of a POST, the query of a GET,
    /// none for a body signed through `bodySHA256`. Repeated names and blank values are kept.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.params.pairs()
    }

    /// The first value of the parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.values(name).next()
    }

    /// Every value of the parameter `name`, in wire order.
    pub fn param_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params.values(name)
    }

    /// How the body was signed.
    #[must_use]
    pub fn signed_body(&self) -> SignedBody {
        self.signed_body
    }

    /// The raw body (for a [`SignedBody::BodyHash`] webhook, the JSON document).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The request method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL that was verified.
    #[must_use]
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// The request headers (not covered by the signature).
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Twilio's `I-Twilio-Idempotency-Token` header, when present and readable.
    #[must_use]
    pub fn idempotency_token(&self) -> Option<&str> {
        self.headers.get(&IDEMPOTENCY_NAME).and_then(|v| v.to_str().ok())
    }
}

/// Checks webhook signatures with a channel's Auth Token, and optionally a second one while a token is
/// being rotated.
///
/// The verifier holds the tokens as keyed HMAC states; its `Debug` says only how many there are.
#[derive(Clone)]
pub struct WebhookVerifier {
    keys: Vec<HmacSha1>,
}

impl core::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebhookVerifier").field("tokens", &self.keys.len()).finish()
    }
}

/// What the signature covers once the body has been read.
enum Signed {
    Params(Form, SignedBody),
    BodyHash,
}

fn is_form_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Finds the one `bodySHA256` in a raw query, checking rules 4a and 4b.
fn body_hash_param(query: Option<&str>) -> Result<Option<&str>, VerifyError> {
    const NAME: &str = "bodySHA256";
    let Some(query) = query else { return Ok(None) };
    let mut found = None;
    // The name is searched for, not every segment split: a query may hold a GET webhook's parameters.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(NAME));
    for at in FINDER.find_iter(query.as_bytes()) {
        let starts_segment = at == 0 || query.as_bytes().get(at - 1) == Some(&b'&');
        let rest = query.get(at + NAME.len()..).unwrap_or_default();
        let value = match rest.strip_prefix('=') {
            Some(value) => value.split('&').next().unwrap_or_default(),
            None if rest.is_empty() || rest.starts_with('&') => "",
            None => continue,
        };
        if !starts_segment {
            continue;
        }
        if found.is_some() {
            return Err(VerifyError::RepeatedBodyHash);
        }
        found = Some(value);
    }
    if let Some(hash) = found
        && (hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(VerifyError::MalformedBodyHash);
    }
    Ok(found)
}

/// Whether `expected` (64 lowercase hex digits) is the SHA-256 of `body`. Nothing secret is compared: the
/// sender chose both, and anyone can hash a body.
fn body_hash_matches(body: &[u8], expected: &str) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = sha2::Sha256::digest(body);
    let hex =
        digest.iter().flat_map(|byte| [byte >> 4, byte & 15]).map(|n| DIGITS.get(usize::from(n)).copied());
    expected.len() == 64 && hex.zip(expected.bytes()).all(|(digit, e)| digit == Some(e))
}

impl WebhookVerifier {
    /// A verifier for one Auth Token.
    #[must_use]
    pub fn new(token: &AuthToken) -> Self {
        Self { keys: vec![token.hmac_sha1()] }
    }

    /// Also accepts signatures made with `secondary`, so a token can be rotated without dropping
    /// traffic. The primary token is tried first.
    #[must_use]
    pub fn with_secondary(mut self, secondary: &AuthToken) -> Self {
        self.keys.truncate(1);
        self.keys.push(secondary.hmac_sha1());
        self
    }

    /// Verifies a webhook, strictly.
    ///
    /// A rejection is logged at `debug` level through `tracing` with its reason (never a secret, a
    /// signature or a phone number); answer it with [`VerifyError::response`].
    ///
    /// # Errors
    /// A [`VerifyError`] naming the first rule the request breaks.
    pub fn verify(&self, webhook: UnverifiedWebhook) -> Result<VerifiedWebhook, VerifyError> {
        let result = self.check(webhook);
        if let Err(error) = &result {
            tracing::debug!(target: "twilio_sms::webhook", reason = %error, "webhook rejected");
        }
        result
    }

    fn check(&self, webhook: UnverifiedWebhook) -> Result<VerifiedWebhook, VerifyError> {
        let UnverifiedWebhook { method, url, headers, body } = webhook;
        let signed = signed_content(&method, &url, &headers, &body)?;
        let tag = signature(&headers)?;
        // Only a form POST signs its parameters; a GET's are in the URL, a JSON body's hash too.
        let params_data = match &signed {
            Signed::Params(form, SignedBody::Form) => form.canonical(),
            _ => Vec::new(),
        };
        let matches = |key: &HmacSha1, candidate: &str| {
            let mut mac = key.clone();
            mac.update(candidate.as_bytes());
            mac.update(&params_data);
            // Compared in constant time: how much of a forged tag is right must not show in the time.
            let computed = mac.finalize().into_bytes();
            bool::from(subtle::ConstantTimeEq::ct_eq(computed.as_slice(), tag.0.as_slice()))
        };
        // The exact URL with each token first; the port variant is only built when that fails.
        let verified = self.keys.iter().any(|key| matches(key, url.as_str()))
            || self.keys.iter().any(|key| matches(key, &url.port_variant()));
        if !verified {
            return Err(VerifyError::SignatureMismatch);
        }
        let (params, signed_body) = match signed {
            Signed::Params(form, kind) => (form, kind),
            Signed::BodyHash => (Form::default(), SignedBody::BodyHash),
        };
        Ok(VerifiedWebhook { method, url, headers, body, params, signed_body })
    }
}

/// Rules 4 to 6: what the signature covers besides the URL, with the body checks that come first.
fn signed_content(
    method: &Method,
    url: &WebhookUrl,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Signed, VerifyError> {
    if method != Method::POST && method != Method::GET {
        return Err(VerifyError::UnsupportedMethod);
    }
    if method == Method::GET && !body.is_empty() {
        return Err(VerifyError::GetWithBody);
    }
    if let Some(hash) = body_hash_param(url.query())? {
        if !body_hash_matches(body, hash) {
            return Err(VerifyError::BodyHashMismatch);
        }
        return Ok(Signed::BodyHash);
    }
    if method == Method::GET {
        let query = url.query().unwrap_or("");
        let form = Form::decode(query.as_bytes()).map_err(VerifyError::MalformedForm)?;
        // A GET's parameters are signed as part of the URL, not as parameters.
        return Ok(Signed::Params(form, SignedBody::Query));
    }
    if !is_form_content_type(headers) {
        return Err(VerifyError::UnsupportedContentType);
    }
    let form = Form::decode(body).map_err(VerifyError::MalformedForm)?;
    Ok(Signed::Params(form, SignedBody::Form))
}

fn signature(headers: &HeaderMap) -> Result<Signature, VerifyError> {
    if headers.contains_key(&SHARED_KEY_NAME) {
        return Err(VerifyError::SharedKeySignature);
    }
    let mut values = headers.get_all(&SIGNATURE_NAME).iter();
    let value = values.next().ok_or(VerifyError::MissingSignature)?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedSignature);
    }
    Signature::parse(value.as_bytes())
}

#[cfg(test)]
mod body_hash_tests {
    use super::*;

    /// Rules 4a and 4b the plain way: every segment split and its name compared.
    fn reference(query: &str) -> Result<Option<&str>, VerifyError> {
        let mut found = None;
        for segment in query.split('&') {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            if name == "bodySHA256" {
                if found.is_some() {
                    return Err(VerifyError::RepeatedBodyHash);
                }
                found = Some(value);
            }
        }
        match found {
            Some(h) if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                Err(VerifyError::MalformedBodyHash)
            }
            _ => Ok(found),
        }
    }

    #[test]
    fn the_body_hash_is_found_only_as_a_whole_segment_name() {
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let queries = [
            String::new(),
            format!("bodySHA256={hash}"),
            format!("foo=1&bodySHA256={hash}&bar=2"),
            format!("xbodySHA256={hash}"),
            format!("a=bodySHA256&bodySHA256x={hash}"),
            format!("a=x%26bodySHA256={hash}"),
            format!("bodySHA256={hash}&bodySHA256={hash}"),
            format!("bodySHA256={hash}&bodySHA256"),
            format!("bodySHA256={}", hash.to_uppercase()),
            format!("bodySHA256={hash}=x"),
            "bodySHA256".to_owned(),
            "bodySHA256&a=1".to_owned(),
            "bodySHA256=".to_owned(),
            "a=1&bodySHA256bodySHA256=2".to_owned(),
            "&&bodySHA256==&".to_owned(),
            // Occurrences that are not a segment's name, before the one that is.
            format!("xbodySHA256=1&bodySHA256={hash}"),
            format!("bodySHA256x=1&bodySHA256={hash}"),
            format!("=bodySHA256={hash}"),
            format!("a=bodySHA256={hash}&bodySHA256={hash}"),
            format!("bodySHA256bodySHA256={hash}"),
        ];
        for query in &queries {
            assert_eq!(body_hash_param(Some(query)), reference(query), "{query}");
        }
        assert_eq!(body_hash_param(None), Ok(None));
    }
}
