//! The REST API: authentication, recording, routing, validation and the JSON resources.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Body;
use axum::response::IntoResponse as _;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header, request::Parts};
use secrecy::zeroize::Zeroizing;
use serde::Serialize;
use twilio_sms::AccountSid;
use twilio_sms::status::MessageStatus;

use super::{ApiKeyKind, MockMessage, RecordedRequest, Shared, State, callbacks, text};
use crate::signing::secret_matches;

const API_VERSION: &str = "2010-04-01";
const ACCOUNTS: &str = "/2010-04-01/Accounts/";
/// Twilio's limit on `Body`, in characters (counted here as UTF-16 code units, as Twilio does).
const MAX_BODY_CHARS: usize = 1600;

/// A request path of the 2010 API, with the SIDs it names (unchecked text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route<'a> {
    /// `/2010-04-01/Accounts/{AccountSid}.json`
    Account(&'a str),
    /// `/2010-04-01/Accounts/{AccountSid}/Messages.json`
    Messages(&'a str),
    /// `/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`
    Message(&'a str, &'a str),
    /// `/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json`
    Numbers(&'a str),
    /// `/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json`
    Number(&'a str, &'a str),
}

impl<'a> Route<'a> {
    fn account(self) -> &'a str {
        match self {
            Self::Account(a)
            | Self::Messages(a)
            | Self::Message(a, _)
            | Self::Numbers(a)
            | Self::Number(a, _) => a,
        }
    }
}

/// Reads a path (without query).
pub(super) fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix(ACCOUNTS)?;
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [account] => Some(Route::Account(account.strip_suffix(".json")?)),
        [account, "Messages.json"] => Some(Route::Messages(account)),
        [account, "Messages", sid] => Some(Route::Message(account, sid.strip_suffix(".json")?)),
        [account, "IncomingPhoneNumbers.json"] => Some(Route::Numbers(account)),
        [account, "IncomingPhoneNumbers", sid] => Some(Route::Number(account, sid.strip_suffix(".json")?)),
        _ => None,
    }
}

/// Who a valid Basic credential authenticates.
#[derive(Debug, Clone)]
pub(super) struct Principal {
    account: AccountSid,
    /// `None` for the Auth Token, else the kind of API key.
    key: Option<ApiKeyKind>,
}

/// A request once read and recorded (no `Debug`: its parameters hold phone numbers).
pub(super) struct Received {
    principal: Option<Principal>,
    params: Vec<(String, String)>,
}

/// Authenticates and records a request whose body has been read.
pub(super) fn receive(shared: &Shared, parts: &Parts, body: &[u8]) -> Received {
    let params = decode(body);
    let mut state = shared.state();
    let (user, principal) = authenticate(&state, &parts.headers);
    state.requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        params: params.clone(),
        authenticated: principal.is_some(),
        user,
        at: SystemTime::now(),
    });
    drop(state);
    shared.notify();
    Received { principal, params }
}

/// Decoded form pairs; none for a body that is not a valid form.
fn decode(data: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(data).unwrap_or_default()
}

/// The Basic user presented, and who it authenticates when the secret is right.
fn authenticate(state: &State, headers: &HeaderMap) -> (Option<String>, Option<Principal>) {
    let Some(credential) = basic_credential(headers) else { return (None, None) };
    let Some((user, secret)) = credential.split_once(':') else { return (None, None) };
    let principal = if let Ok(account) = AccountSid::parse(user) {
        state
            .accounts
            .get(&account)
            .filter(|a| a.key.matches(secret))
            .map(|_| Principal { account, key: None })
    } else {
        state
            .keys
            .get(user)
            .filter(|k| secret_matches(&k.secret, secret))
            .map(|k| Principal { account: k.account.clone(), key: Some(k.kind) })
    };
    (Some(user.to_owned()), principal)
}

/// The decoded `user:secret` of an `Authorization: Basic …` header, wiped when dropped.
fn basic_credential(headers: &HeaderMap) -> Option<Zeroizing<String>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    match String::from_utf8(bytes) {
        Ok(text) => Some(Zeroizing::new(text)),
        Err(error) => {
            use secrecy::zeroize::Zeroize as _;
            error.into_bytes().zeroize();
            None
        }
    }
}

/// Routes and processes an authenticated request.
pub(super) fn respond(shared: &Arc<Shared>, parts: &Parts, received: &Received) -> Response<Body> {
    let path = parts.uri.path();
    let Some(principal) = &received.principal else {
        let mut response = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
        return response;
    };
    // Another account's resources, like unknown ones, are not found (reference §3.5).
    let Some(route) = route(path).filter(|r| r.account() == principal.account.as_str()) else {
        return not_found(path);
    };
    let query = decode(parts.uri.query().unwrap_or("").as_bytes());
    let response = match (&parts.method, route) {
        // Standard API keys cannot access `/Accounts` (reference §3.1); Twilio answers such a key with
        // 401 / 20003 "Authenticate" (twilio/twilio-python#259, twilio/twilio-cli#146).
        (&Method::GET, Route::Account(_)) if principal.key == Some(ApiKeyKind::Standard) => {
            error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
        }
        (&Method::GET, Route::Account(_)) => account(&shared.state(), &principal.account),
        (&Method::POST, Route::Messages(_)) => create(shared, &principal.account, &received.params),
        (&Method::GET, Route::Messages(_)) => list(&shared.state(), &principal.account, &query),
        (&Method::GET, Route::Message(_, sid)) => fetch(&shared.state(), &principal.account, sid, path),
        (&Method::GET, Route::Numbers(_)) => numbers(&shared.state(), &principal.account, &query),
        (&Method::POST, Route::Number(_, sid)) => {
            update_number(&mut shared.state(), &principal.account, sid, &received.params, path)
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed"),
    };
    tracing::debug!(target: "twilio_sms_testkit::mock", method = %parts.method, path, status = response.status().as_u16(), "mock answered");
    response
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// `POST …/Messages.json`: validates like Twilio, creates the message and starts its lifecycle.
fn create(shared: &Arc<Shared>, account_sid: &AccountSid, params: &[(String, String)]) -> Response<Body> {
    let bad = |code, message: &str| error(StatusCode::BAD_REQUEST, code, message);
    let Some(to) = first(params, "To") else {
        return bad(21604, "A 'To' phone number is required.");
    };
    if !text::is_e164_syntax(to) {
        return bad(21211, &format!("The 'To' number {to} is not a valid phone number."));
    }
    let from = first(params, "From");
    let service = first(params, "MessagingServiceSid");
    if from.is_none() && service.is_none() {
        return bad(21603, "A 'From' phone number is required.");
    }
    let body = params.iter().find(|(k, _)| k == "Body").map_or("", |(_, v)| v.as_str());
    let num_media = params.iter().filter(|(k, _)| k == "MediaUrl").count();
    if body.is_empty() && num_media == 0 && first(params, "ContentSid").is_none() {
        return bad(21602, "Message body is required.");
    }
    if body.encode_utf16().count() > MAX_BODY_CHARS {
        return bad(21617, "The concatenated message body exceeds the 1600 character limit.");
    }

    let mut state = shared.state();
    let Some(account) = state.accounts.get(account_sid) else { return not_found(ACCOUNTS) };
    if let Some(from) = from
        && !account.numbers.iter().any(|n| n.sms && n.number == from)
    {
        return bad(
            21606,
            &format!(
                "The From phone number {from} is not a valid, SMS-capable inbound phone number or short \
                 code for your account."
            ),
        );
    }
    if state.blocked_prefixes.iter().any(|prefix| to.starts_with(prefix.as_str())) {
        return bad(
            21408,
            &format!(
                "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
            ),
        );
    }
    if state.opted_out.contains(to) {
        return bad(21610, "Attempt to send to unsubscribed recipient");
    }

    let now = SystemTime::now();
    // Without `From`, a Messaging Service picks the sender later: `accepted`, no `from`, 0 segments.
    let via_service = from.is_none();
    let message = MockMessage {
        sid: text::new_sid("SM"),
        account_sid: account_sid.clone(),
        to: to.to_owned(),
        from: from.map(str::to_owned),
        messaging_service_sid: service.map(str::to_owned),
        body: body.to_owned(),
        status: if via_service { MessageStatus::Accepted } else { MessageStatus::Queued },
        error_code: None,
        status_callback: first(params, "StatusCallback").map(str::to_owned),
        num_segments: if via_service { 0 } else { twilio_sms::sms_text::segments(body).segments },
        num_media: u32::try_from(num_media).unwrap_or(u32::MAX),
        date_created: now,
        date_updated: now,
        date_sent: None,
    };
    let outcome = state.next_outcome(to);
    let response = (StatusCode::CREATED, Json(MessageJson::new(&message))).into_response();
    let sid = message.sid.clone();
    state.messages.push(message);
    drop(state);
    shared.notify();
    tracing::debug!(target: "twilio_sms_testkit::mock", sid, ?outcome, "mock message created");
    callbacks::start_lifecycle(shared, sid, outcome, via_service);
    response
}

/// `GET …/Messages/{Sid}.json`.
fn fetch(state: &State, account: &AccountSid, sid: &str, path: &str) -> Response<Body> {
    match state.messages.iter().find(|m| m.sid == sid && &m.account_sid == account) {
        Some(message) => Json(MessageJson::new(message)).into_response(),
        None => not_found(path),
    }
}

/// `GET …/Messages.json?To=…&From=…&PageSize=N`: the first page, newest first.
fn list(state: &State, account: &AccountSid, query: &[(String, String)]) -> Response<Body> {
    let to = first(query, "To");
    let from = first(query, "From");
    let page_size =
        first(query, "PageSize").and_then(|n| n.parse::<usize>().ok()).unwrap_or(50).clamp(1, 1000);
    let messages: Vec<MessageJson<'_>> = state
        .messages
        .iter()
        .rev()
        .filter(|m| &m.account_sid == account)
        .filter(|m| to.is_none_or(|to| m.to == to))
        .filter(|m| from.is_none_or(|from| m.from.as_deref() == Some(from)))
        .take(page_size)
        .map(MessageJson::new)
        .collect();
    let uri = format!("{ACCOUNTS}{account}/Messages.json?PageSize={page_size}&Page=0");
    let page = PageMeta::new(messages.len(), page_size, uri);
    Json(MessagesPage { messages, page }).into_response()
}

/// `GET …/IncomingPhoneNumbers.json?PhoneNumber=…`: the account's numbers containing the digits given.
fn numbers(state: &State, account_sid: &AccountSid, query: &[(String, String)]) -> Response<Body> {
    // An unencoded `+` reads as a space: compare digits only.
    let wanted = first(query, "PhoneNumber").map(|n| n.trim_start_matches(['+', ' ']));
    let numbers: Vec<NumberJson<'_>> = state
        .accounts
        .get(account_sid)
        .map(|account| {
            account
                .numbers
                .iter()
                .filter(|n| wanted.is_none_or(|w| n.number.contains(w)))
                .map(|n| number_json(account_sid, account.created, n))
                .collect()
        })
        .unwrap_or_default();
    let uri = format!("{ACCOUNTS}{account_sid}/IncomingPhoneNumbers.json?PageSize=50&Page=0");
    let page = PageMeta::new(numbers.len(), 50, uri);
    Json(NumbersPage { incoming_phone_numbers: numbers, page }).into_response()
}

fn number_json<'a>(
    account: &'a AccountSid,
    created: SystemTime,
    n: &'a super::OwnedNumber,
) -> NumberJson<'a> {
    NumberJson {
        sid: &n.sid,
        account_sid: account.as_str(),
        phone_number: &n.number,
        friendly_name: &n.number,
        capabilities: Capabilities { sms: n.sms, mms: n.sms, voice: true, fax: false },
        status: "in-use",
        sms_url: &n.sms_url,
        sms_method: "POST",
        date_created: text::rfc2822(created),
        uri: format!("{ACCOUNTS}{account}/IncomingPhoneNumbers/{}.json", n.sid),
    }
}

/// `POST …/IncomingPhoneNumbers/{Sid}.json`: sets `SmsUrl` (the only field the mock keeps).
fn update_number(
    state: &mut super::State,
    account_sid: &AccountSid,
    sid: &str,
    params: &[(String, String)],
    path: &str,
) -> Response<Body> {
    let Some(account) = state.accounts.get_mut(account_sid) else { return not_found(path) };
    let created = account.created;
    let Some(number) = account.numbers.iter_mut().find(|n| n.sid == sid) else { return not_found(path) };
    if let Some((_, url)) = params.iter().find(|(k, _)| k == "SmsUrl") {
        url.clone_into(&mut number.sms_url);
    }
    Json(number_json(account_sid, created, number)).into_response()
}

/// `GET /2010-04-01/Accounts/{Sid}.json`, `auth_token` included as Twilio does.
fn account(state: &State, sid: &AccountSid) -> Response<Body> {
    let Some(account) = state.accounts.get(sid) else { return not_found(ACCOUNTS) };
    let created = text::rfc2822(account.created);
    Json(AccountJson {
        sid: sid.as_str(),
        owner_account_sid: sid.as_str(),
        friendly_name: "Mock account",
        status: account.status.as_str(),
        kind: "Full",
        auth_token: account.key.token_text(),
        date_created: created.clone(),
        date_updated: created,
        uri: format!("{ACCOUNTS}{sid}.json"),
        subresource_uris: AccountUris {
            messages: format!("{ACCOUNTS}{sid}/Messages.json"),
            incoming_phone_numbers: format!("{ACCOUNTS}{sid}/IncomingPhoneNumbers.json"),
        },
    })
    .into_response()
}

/// A Twilio error response: `{code, message, more_info, status}`.
pub(super) fn error(status: StatusCode, code: u32, message: &str) -> Response<Body> {
    let body = ErrorJson {
        code,
        message,
        more_info: format!("https://www.twilio.com/docs/errors/{code}"),
        status: status.as_u16(),
    };
    (status, Json(body)).into_response()
}

fn not_found(path: &str) -> Response<Body> {
    error(StatusCode::NOT_FOUND, 20404, &format!("The requested resource {path} was not found"))
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: u32,
    message: &'a str,
    more_info: String,
    status: u16,
}

/// The message resource (`api.v2010.account.message`).
#[derive(Serialize)]
struct MessageJson<'a> {
    account_sid: &'a str,
    api_version: &'static str,
    body: &'a str,
    date_created: String,
    date_sent: Option<String>,
    date_updated: String,
    direction: &'static str,
    error_code: Option<u32>,
    error_message: Option<&'static str>,
    from: Option<&'a str>,
    messaging_service_sid: Option<&'a str>,
    num_media: String,
    num_segments: String,
    price: Option<&'static str>,
    price_unit: &'static str,
    sid: &'a str,
    status: &'a str,
    subresource_uris: MessageUris,
    to: &'a str,
    uri: String,
}

#[derive(Serialize)]
struct MessageUris {
    media: String,
}

impl<'a> MessageJson<'a> {
    fn new(message: &'a MockMessage) -> Self {
        let base = format!("{ACCOUNTS}{}/Messages/{}", message.account_sid, message.sid);
        Self {
            account_sid: message.account_sid.as_str(),
            api_version: API_VERSION,
            body: &message.body,
            date_created: text::rfc2822(message.date_created),
            date_sent: message.date_sent.map(text::rfc2822),
            date_updated: text::rfc2822(message.date_updated),
            direction: "outbound-api",
            error_code: message.error_code,
            error_message: message.error_code.map(error_message),
            from: message.from.as_deref(),
            messaging_service_sid: message.messaging_service_sid.as_deref(),
            num_media: message.num_media.to_string(),
            num_segments: message.num_segments.to_string(),
            price: None,
            price_unit: "USD",
            sid: &message.sid,
            status: message.status.as_str(),
            subresource_uris: MessageUris { media: format!("{base}/Media.json") },
            to: &message.to,
            uri: format!("{base}.json"),
        }
    }
}

/// The `error_message` Twilio gives for the asynchronous codes a scripted outcome may use.
fn error_message(code: u32) -> &'static str {
    match code {
        30001 => "Queue overflow",
        30002 => "Account suspended",
        30003 => "Unreachable destination handset",
        30004 => "Message blocked",
        30005 => "Unknown destination handset",
        30006 => "Landline or unreachable carrier",
        30007 => "Carrier violation",
        _ => "Unknown error",
    }
}

/// The paging fields of a list response (always its first and only page).
#[derive(Serialize)]
struct PageMeta {
    page: u32,
    page_size: usize,
    start: usize,
    end: usize,
    uri: String,
    first_page_uri: String,
    next_page_uri: Option<String>,
    previous_page_uri: Option<String>,
}

impl PageMeta {
    fn new(len: usize, page_size: usize, uri: String) -> Self {
        Self {
            page: 0,
            page_size,
            start: 0,
            end: len.saturating_sub(1),
            first_page_uri: uri.clone(),
            uri,
            next_page_uri: None,
            previous_page_uri: None,
        }
    }
}

#[derive(Serialize)]
struct MessagesPage<'a> {
    messages: Vec<MessageJson<'a>>,
    #[serde(flatten)]
    page: PageMeta,
}

#[derive(Serialize)]
struct NumbersPage<'a> {
    incoming_phone_numbers: Vec<NumberJson<'a>>,
    #[serde(flatten)]
    page: PageMeta,
}

#[derive(Serialize)]
struct NumberJson<'a> {
    sid: &'a str,
    account_sid: &'a str,
    phone_number: &'a str,
    friendly_name: &'a str,
    capabilities: Capabilities,
    status: &'static str,
    sms_url: &'a str,
    sms_method: &'static str,
    date_created: String,
    uri: String,
}

#[derive(Serialize)]
#[allow(clippy::struct_excessive_bools, reason = "the wire format")]
struct Capabilities {
    sms: bool,
    mms: bool,
    voice: bool,
    fax: bool,
}

#[derive(Serialize)]
struct AccountJson<'a> {
    sid: &'a str,
    owner_account_sid: &'a str,
    friendly_name: &'static str,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    auth_token: &'a str,
    date_created: String,
    date_updated: String,
    uri: String,
    subresource_uris: AccountUris,
}

#[derive(Serialize)]
struct AccountUris {
    messages: String,
    incoming_phone_numbers: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn routes_are_read_from_paths() {
        let path = |p: &str| format!("/2010-04-01/Accounts/{AC}{p}");
        assert_eq!(route(&path(".json")), Some(Route::Account(AC)));
        assert_eq!(route(&path("/Messages.json")), Some(Route::Messages(AC)));
        assert_eq!(route(&path("/Messages/SMx.json")), Some(Route::Message(AC, "SMx")));
        assert_eq!(route(&path("/IncomingPhoneNumbers.json")), Some(Route::Numbers(AC)));
        for unknown in
            [path(""), path("/Messages"), path("/Messages/SMx"), path("/Calls.json"), "/".to_owned()]
        {
            assert_eq!(route(&unknown), None, "{unknown}");
        }
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYTpzcw=="));
        assert_eq!(basic_credential(&headers).unwrap().as_str(), "user:pa:ss");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer dXNlcjpwYXNz"));
        assert!(basic_credential(&headers).is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert!(basic_credential(&headers).is_none());
    }

    #[test]
    fn error_bodies_have_the_twilio_shape() {
        let body = serde_json::to_value(ErrorJson {
            code: 21211,
            message: "m",
            more_info: "https://www.twilio.com/docs/errors/21211".to_owned(),
            status: 400,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 21211, "message": "m",
                "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
        );
    }
}
