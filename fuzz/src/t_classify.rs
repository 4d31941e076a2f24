//! Target `classify`: the status-callback / inbound classifier (`delivery::classify`) on verified webhooks
//! built from random parameters signed with the channel's token, then everything downstream of it
//! (`StatusReport::for_message`, `DeliveryStatusUpdate::from_report`, `idempotency_key`, the hints).
//!
//! Invariants: a correctly signed request always verifies; `classify` equals an independent oracle
//! (same event, same fields, same error); the multi-part rule holds; no `Debug` of an event or error
//! carries a full phone number found in the parameters.

use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use twilio_sms::hivekeep::delivery::{
    self, BindingError, DeliveryStatusUpdate, Locale, PartTag, StatusReport, WebhookEvent,
};
use twilio_sms::{AccountSid, AuthToken, BodyLimit, E164, MessageSid, UnverifiedWebhook, WebhookUrl, WebhookVerifier};
use twilio_sms::status::MessageStatus;
use twilio_sms::webhook::InboundError;

use crate::reference::{self, Pairs};
use crate::rng::Rng;

const TOKEN: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const ACCOUNT: &str = "ACf00dfacef00dfacef00dfacef00dface";
const OTHER_ACCOUNT: &str = "ACbeefbeefbeefbeefbeefbeefbeefbeef";
const NUMBER: &str = "+14155550100";
const URL: &str =
    "https://agents.example.com/api/channels/plugin/twilio-sms/webhook/3f2504e0-4f89-41d3-9a0c-0305e82c3301";

pub struct Input {
    pub params: Pairs,
    pub query: Option<String>,
    pub has_number: bool,
    pub idempotency: Option<String>,
}

const STATUSES: &[&str] = &[
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "received",
    "receiving",
    "accepted",
    "scheduled",
    "canceled",
    "partially_delivered",
    "teleported",
    "",
    "DELIVERED",
];

/// Random text that can stand in a URL query (no white space or control characters).
fn query_text(rng: &mut Rng, len: usize) -> String {
    rng.unicode(len).chars().filter(|c| !c.is_whitespace() && !c.is_control() && *c != '#').collect()
}

fn sid(rng: &mut Rng, prefix: &str) -> String {
    match rng.below(10) {
        0 => format!("{prefix}{}", rng.hex(31)),
        1 => format!("{prefix}{}g", rng.hex(31)),
        2 => query_text(rng, 34),
        _ => format!("{prefix}{}", rng.hex(32)),
    }
}

fn phone(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => NUMBER.to_owned(),
        1 => format!("+{}{}", rng.range(1, 9), {
            let n = rng.range(9, 13);
            rng.digits(n)
        }),
        2 => rng.digits(5),
        3 => "HIVEKEEP".to_owned(),
        4 => format!("whatsapp:+1{}", rng.digits(10)),
        5 => String::new(),
        6 => format!("+1{}", rng.digits(10)),
        _ => format!("+44{}", rng.digits(10)),
    }
}

fn value_for(rng: &mut Rng, key: &str) -> String {
    match key {
        "AccountSid" => match rng.below(6) {
            0 => OTHER_ACCOUNT.to_owned(),
            1 => sid(rng, "AC"),
            _ => ACCOUNT.to_owned(),
        },
        "MessageSid" | "SmsSid" | "SmsMessageSid" => {
            let prefix = *rng.pick(&["SM", "MM", "SM", "AC"]);
            sid(rng, prefix)
        }
        "MessageStatus" | "SmsStatus" => (*rng.pick(STATUSES)).to_owned(),
        "From" | "To" => phone(rng),
        "Body" => match rng.below(4) {
            0 => format!("call me at +1 415 555 {}", rng.digits(4)),
            1 => format!("my number is +33{}", rng.digits(9)),
            _ => rng.unicode(30),
        },
        "NumMedia" | "NumSegments" => match rng.below(5) {
            0 => rng.unicode(3),
            1 => "+3".to_owned(),
            2 => "99999999999".to_owned(),
            _ => rng.below(11).to_string(),
        },
        "ErrorCode" => match rng.below(3) {
            0 => rng.unicode(5),
            _ => rng.range(30001, 30035).to_string(),
        },
        "ErrorMessage" => match rng.below(3) {
            0 => format!("Unreachable destination handset +1{}", rng.digits(10)),
            _ => rng.unicode(20),
        },
        _ => rng.unicode(10),
    }
}

const KEYS: &[&str] = &[
    "AccountSid",
    "MessageSid",
    "SmsSid",
    "SmsMessageSid",
    "MessageStatus",
    "SmsStatus",
    "From",
    "To",
    "Body",
    "NumMedia",
    "NumSegments",
    "ErrorCode",
    "ErrorMessage",
    "FromCountry",
    "ApiVersion",
];

pub fn generate(rng: &mut Rng) -> Input {
    // Start from a realistic inbound SMS or status callback, then add, drop and repeat parameters.
    let base: &[&str] = if rng.chance(1, 2) {
        &["AccountSid", "MessageSid", "SmsSid", "Body", "From", "To", "NumMedia", "SmsStatus"]
    } else {
        &["AccountSid", "MessageSid", "MessageStatus", "SmsStatus", "From", "To", "ErrorCode"]
    };
    let mut params: Pairs = base.iter().map(|k| ((*k).to_owned(), value_for(rng, k))).collect();
    if rng.chance(1, 2) {
        let (_, status) = params.iter().find(|(k, _)| k == "SmsStatus").cloned().unwrap_or_default();
        if let Some(p) = params.iter_mut().find(|(k, _)| k == "MessageStatus") {
            p.1 = status;
        }
    }
    for _ in 0..rng.below(4) {
        match rng.below(3) {
            0 if !params.is_empty() => {
                params.remove(rng.below(params.len()));
            }
            1 => {
                let key = *rng.pick(KEYS);
                params.insert(rng.below(params.len() + 1), (key.to_owned(), value_for(rng, key)));
            }
            _ => {
                let key = *rng.pick(KEYS);
                params.push((key.to_owned(), value_for(rng, key)));
            }
        }
    }
    let query = match rng.below(6) {
        0 => None,
        1 => Some(format!("part={}&of={}", rng.below(4), rng.below(4))),
        2 => {
            let part = rng.range(1, 3);
            let of = rng.range(1, 3);
            Some(format!("part={part}&of={of}&first={}", sid(rng, "SM")))
        }
        3 => Some(format!(
            "part={}&of=2&part={}&first={}&of={}",
            rng.below(3),
            query_text(rng, 2),
            sid(rng, "SM"),
            rng.below(3)
        )),
        4 => Some(format!("part=1&of={}", {
            let n = rng.range(1, 12);
            rng.digits(n)
        })),
        _ => None,
    };
    Input {
        params,
        query,
        has_number: rng.chance(4, 5),
        idempotency: rng.chance(1, 2).then(|| rng.unicode(8)).filter(|t| HeaderValue::from_str(t).is_ok()),
    }
}

fn first<'a>(params: &'a Pairs, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The oracle's reading of the multi-part tag: the last occurrence of each name wins.
fn part_tag(query: Option<&str>) -> Option<PartTag> {
    let (mut part, mut of, mut first) = (None, None, None);
    for pair in query?.split('&') {
        match pair.split_once('=') {
            Some(("part", v)) => part = v.parse::<u32>().ok(),
            Some(("of", v)) => of = v.parse::<u32>().ok(),
            Some(("first", v)) => first = MessageSid::parse(v).ok(),
            _ => {}
        }
    }
    let (part, of) = (part?, of?);
    (part >= 1 && part <= of).then_some(PartTag { part, of, first })
}

/// A status report's fields, as the oracle expects them.
#[derive(Debug, PartialEq)]
struct Report {
    message_sid: MessageSid,
    status: MessageStatus,
    error_code: Option<u32>,
    error_message: Option<String>,
    account_sid: Option<AccountSid>,
    from: Option<String>,
    part: Option<PartTag>,
}

impl Report {
    fn of(report: &StatusReport) -> Self {
        Self {
            message_sid: report.message_sid().clone(),
            status: report.status().clone(),
            error_code: report.error_code(),
            error_message: report.error_message().map(str::to_owned),
            account_sid: report.account_sid().cloned(),
            from: report.from().map(str::to_owned),
            part: report.part().cloned(),
        }
    }
}

/// What the oracle expects `classify` to say.
#[derive(Debug, PartialEq)]
enum Expected {
    Error(BindingError),
    Status(Report),
    Inbound { from: String, to: String, body: String, sid: String, num_media: u32, num_segments: u32 },
    Other,
}

fn oracle(input: &Input, url: &str) -> Expected {
    let p = &input.params;
    let number = input.has_number.then_some(NUMBER);
    if first(p, "AccountSid").is_some_and(|a| a != ACCOUNT) {
        return Expected::Error(BindingError::WrongAccount);
    }
    let status = first(p, "MessageStatus").or_else(|| first(p, "SmsStatus"));
    if let Some(status) = status.filter(|s| *s != "received" && *s != "receiving") {
        // A status callback must name the channel's account, and come from its number when it has one.
        if first(p, "AccountSid") != Some(ACCOUNT) {
            return Expected::Error(BindingError::WrongAccount);
        }
        if let Some(number) = number
            && first(p, "From") != Some(number)
        {
            return Expected::Error(BindingError::WrongSender);
        }
        let Some(message_sid) =
            first(p, "MessageSid").or_else(|| first(p, "SmsSid")).and_then(|s| MessageSid::parse(s).ok())
        else {
            return Expected::Error(BindingError::StatusWithoutSid);
        };
        return Expected::Status(Report {
            message_sid,
            status: MessageStatus::parse(status),
            error_code: first(p, "ErrorCode").and_then(|c| c.parse().ok()),
            error_message: first(p, "ErrorMessage").filter(|m| !m.is_empty()).map(str::to_owned),
            account_sid: first(p, "AccountSid").and_then(|s| AccountSid::parse(s).ok()),
            from: first(p, "From").map(str::to_owned),
            part: part_tag(url.split_once('?').map(|(_, q)| q)),
        });
    }
    if first(p, "Body").is_none() && first(p, "NumMedia").is_none() {
        return Expected::Other;
    }
    let inbound = |e| Expected::Error(BindingError::Inbound(e));
    let sid = match first(p, "MessageSid").or_else(|| first(p, "SmsSid")) {
        None => return inbound(InboundError::Missing("MessageSid")),
        Some(s) => match MessageSid::parse(s) {
            Ok(sid) => sid,
            Err(error) => return inbound(InboundError::InvalidSid { name: "MessageSid", error }),
        },
    };
    match first(p, "AccountSid").map(AccountSid::parse) {
        None => return inbound(InboundError::Missing("AccountSid")),
        Some(Err(error)) => return inbound(InboundError::InvalidSid { name: "AccountSid", error }),
        Some(Ok(_)) => {}
    }
    let Some(from) = first(p, "From") else { return inbound(InboundError::Missing("From")) };
    let Some(to) = first(p, "To") else { return inbound(InboundError::Missing("To")) };
    let count = |name: &'static str, default: u32| match first(p, name) {
        None => Ok(default),
        Some(n) => n.parse::<u32>().map_err(|_| InboundError::NotANumber(name)),
    };
    let num_media = match count("NumMedia", 0) {
        Ok(n) => n,
        Err(e) => return inbound(e),
    };
    let num_segments = match count("NumSegments", 1) {
        Ok(n) => n,
        Err(e) => return inbound(e),
    };
    if let Some(number) = number
        && to != number
    {
        return Expected::Error(BindingError::WrongRecipient);
    }
    Expected::Inbound {
        from: from.to_owned(),
        to: to.to_owned(),
        body: first(p, "Body").unwrap_or("").to_owned(),
        sid: sid.to_string(),
        num_media,
        num_segments,
    }
}

pub fn check(input: &Input) -> Result<(), String> {
    let url = match &input.query {
        Some(q) => format!("{URL}?{q}"),
        None => URL.to_owned(),
    };
    let token = AuthToken::new(TOKEN).map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    let signature = reference::signature(TOKEN, &url, Some(&input.params));
    headers.insert("x-twilio-signature", HeaderValue::from_str(&signature).map_err(|e| e.to_string())?);
    if let Some(t) = input.idempotency.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("i-twilio-idempotency-token", t);
    }
    // Style 0: encoded as Twilio encodes a form (`java.net.URLEncoder`).
    let body = reference::encode(&input.params, 0);
    let webhook_url = WebhookUrl::exact(&url).map_err(|e| format!("URL refused: {e}"))?;
    let verified = UnverifiedWebhook::new(Method::POST, webhook_url, headers, body, BodyLimit::DEFAULT)
        .and_then(|w| WebhookVerifier::new(&token).verify(w))
        .map_err(|e| format!("a correctly signed request was refused: {e}"))?;
    let token_header = verified.idempotency_token().map(str::to_owned);
    let account = AccountSid::parse(ACCOUNT).map_err(|e| e.to_string())?;
    let number = E164::parse(NUMBER).map_err(|e| e.to_string())?;
    let got = delivery::classify(verified, &account, input.has_number.then_some(&number));
    let expected = oracle(input, &url);

    // No full phone number of the parameters in any Debug.
    let debug = match &got {
        Ok(event) => format!("{event:?}"),
        Err(error) => format!("{error} {error:?}"),
    };
    for (key, value) in &input.params {
        if matches!(key.as_str(), "From" | "To" | "Body" | "ErrorMessage") {
            for digits in reference::phone_digit_runs(value) {
                if debug.contains(&digits) {
                    return Err(format!("a phone number ({key}) is in a Debug: {debug}"));
                }
            }
        }
    }

    match (&got, &expected) {
        (Err(e), Expected::Error(x)) if e == x => Ok(()),
        (Ok(WebhookEvent::Other), Expected::Other) => {
            let key = delivery::idempotency_key(token_header.as_deref(), &WebhookEvent::Other);
            let want = token_header.filter(|t| !t.is_empty()).map(|t| format!("token:{t}"));
            if key != want {
                return Err(format!("idempotency key of Other: {key:?}, expected {want:?}"));
            }
            Ok(())
        }
        (Ok(WebhookEvent::Status(report)), Expected::Status(x)) if Report::of(report) == *x => {
            check_report(report, got.as_ref())
        }
        (
            Ok(WebhookEvent::Inbound(sms)),
            Expected::Inbound { from, to, body, sid, num_media, num_segments },
        ) if sms.from().as_str() == from
            && sms.to().as_str() == to
            && sms.body() == body
            && sms.message_sid().as_str() == sid
            && sms.num_media() == *num_media
            && sms.num_segments() == *num_segments
            && sms.account_sid().as_str() == ACCOUNT =>
        {
            let key = got.as_ref().ok().and_then(|e| delivery::idempotency_key(Some("x"), e));
            if key.as_deref() != Some(&format!("sms:{sid}")) {
                return Err(format!("idempotency key of an inbound SMS: {key:?}"));
            }
            Ok(())
        }
        _ => Err(format!("classify disagrees with the oracle: got {got:?}, expected {expected:?}")),
    }
}

/// The multi-part rule and what is built from a report.
fn check_report(report: &StatusReport, event: Result<&WebhookEvent, &BindingError>) -> Result<(), String> {
    let (message, status) = report.for_message();
    let want_message =
        report.part().and_then(|t| t.first.clone()).unwrap_or_else(|| report.message_sid().clone());
    if message != want_message {
        return Err(format!("for_message names {message}, expected {want_message}"));
    }
    let last = report.part().is_none_or(|t| t.part == t.of);
    let want_status = match report.status() {
        MessageStatus::Delivered | MessageStatus::Read if !last => MessageStatus::Sent,
        other => other.clone(),
    };
    if status != want_status {
        return Err(format!("for_message status {status}, expected {want_status}"));
    }
    for locale in [Locale::En, Locale::Fr, Locale::De, Locale::Es] {
        let update = DeliveryStatusUpdate::from_report(report, locale);
        if update.platform_message_id != message.as_str()
            || update.context_line.as_deref().is_none_or(str::is_empty)
        {
            return Err(format!("bad update {update:?}"));
        }
        serde_json::to_string(&update).map_err(|e| e.to_string())?;
    }
    let key = event.ok().and_then(|e| delivery::idempotency_key(None, e));
    if key != Some(format!("status:{}:{}", report.message_sid(), report.status())) {
        return Err(format!("idempotency key of a status: {key:?}"));
    }
    Ok(())
}

pub fn to_json(input: &Input) -> Value {
    json!({
        "params": input.params,
        "query": input.query,
        "has_number": input.has_number,
        "idempotency": input.idempotency,
    })
}

pub fn from_json(v: &Value) -> Option<Input> {
    Some(Input {
        params: serde_json::from_value(v.get("params")?.clone()).ok()?,
        query: v.get("query").and_then(Value::as_str).map(str::to_owned),
        has_number: v.get("has_number")?.as_bool()?,
        idempotency: v.get("idempotency").and_then(Value::as_str).map(str::to_owned),
    })
}
