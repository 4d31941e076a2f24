//! Target `api_error`: the Twilio error-body parser (`parse_error_response`, `TwilioApiError::from_response`,
//! `parse_retry_after`) on random and mutated JSON (classic and problem documents), HTML, plain text and
//! bytes, into which phone numbers, Auth Tokens and Basic credentials are injected.
//!
//! Invariants: the kind and retry safety follow the documented rules; texts are bounded and clean; no
//! `Display`, `Debug`, message or link carries a full phone number, a token or a Basic credential that is
//! present in the input.

use base64::Engine as _;
use serde_json::{Value, json};
use twilio_sms::api_error::{self, ErrorKind, MAX_RETRY_AFTER, RetrySafety, TwilioApiError};

use crate::reference;
use crate::rng::Rng;

pub struct Input {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    /// What was injected and must not come out whole: (kind, text).
    pub secrets: Vec<(String, String)>,
}

/// A full phone number in one of the documented shapes, with the digits that identify it.
fn phone(rng: &mut Rng) -> String {
    let cc = rng.range(1, 99).to_string();
    let national = {
        let n = rng.range(9, 12).saturating_sub(cc.len()).max(8);
        rng.digits(n)
    };
    let grouped = |sep: &str, digits: &str| {
        let (a, rest) = digits.split_at(3.min(digits.len()));
        let (b, c) = rest.split_at(3.min(rest.len()));
        format!("{a}{sep}{b}{sep}{c}")
    };
    match rng.below(9) {
        0 | 1 => format!("+{cc}{national}"),
        2 => format!("+{cc} {}", grouped(" ", &national)),
        3 => format!("+{cc}-{}", grouped("-", &national)),
        4 => format!("+{cc} ({}", grouped(") ", &national)),
        5 => format!("+{cc}.{}", grouped(".", &national)),
        6 => format!("{cc}{national}"),
        7 => format!("({}", grouped(") ", &format!("{}{}", rng.digits(1), national))),
        _ => format!("%2B{cc}{national}"),
    }
}

const WORDS: &[&str] = &[
    "The",
    "'To'",
    "number",
    "is",
    "not",
    "a",
    "valid",
    "phone",
    "number.",
    "Attempt",
    "to",
    "send",
    "unsubscribed",
    "recipient",
    "Authenticate",
    "Permission",
    "denied",
    "2010-04-01",
    "SM0123456789abcdef0123456789abcdef",
    "21211",
    "error",
    "é",
    "✓",
    "\u{202e}",
    "\u{200b}",
    "\t",
    "\n",
    "Basic",
    "authentication",
    "Bearer",
];

fn sentence(rng: &mut Rng, secrets: &mut Vec<(String, String)>) -> String {
    let mut out = String::new();
    for _ in 0..rng.range(1, 10) {
        if !out.is_empty() {
            out.push(' ');
        }
        match rng.below(12) {
            0 => {
                let p = phone(rng);
                secrets.push(("phone".into(), p.clone()));
                out.push_str(&p);
            }
            1 => {
                let token = rng.hex(32);
                secrets.push(("token".into(), token.clone()));
                out.push_str(&token);
            }
            2 => {
                let secret = rng.alnum(32);
                secrets.push(("secret".into(), secret.clone()));
                out.push_str(&format!("'{secret}'"));
            }
            3 => {
                let token = rng.hex(32);
                let credential =
                    base64::engine::general_purpose::STANDARD.encode(format!("AC{}:{token}", rng.hex(32)));
                secrets.push(("token".into(), token));
                secrets.push(("basic".into(), credential.clone()));
                let scheme = *rng.pick(&["Basic ", "basic ", "BASIC  ", "Authorization: Basic "]);
                out.push_str(&format!("{scheme}{credential}"));
            }
            4 => out.push_str(&rng.unicode(12)),
            _ => out.push_str(*rng.pick(WORDS)),
        }
    }
    out
}

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(body.len() + 1);
        match rng.below(8) {
            0 if !body.is_empty() => body.truncate(rng.below(body.len())),
            1 => body.insert(at, *rng.pick(b"{}[]\",:<>/\\\0 \xff")),
            2 if !body.is_empty() => {
                let end = (at + rng.range(1, 6)).min(body.len());
                body.drain(at.min(end)..end);
            }
            3 => {
                let snippet = *rng.pick(&[
                    &b"<title>"[..],
                    b"</title>",
                    b"<h1 class=x>",
                    b"&amp;",
                    b"\\u002b",
                    b"\xef\xbb\xbf",
                ]);
                body.splice(at..at, snippet.iter().copied());
            }
            _ => {
                let noise = {
                    let n = rng.range(1, 3);
                    rng.bytes(n)
                };
                body.splice(at..at, noise);
            }
        }
    }
}

pub fn generate(rng: &mut Rng) -> Input {
    let mut secrets = Vec::new();
    let status = match rng.below(10) {
        0 => rng.below(1000) as u16,
        1 => rng.next_u64() as u16,
        _ => *rng.pick(&[400, 401, 403, 404, 429, 500, 502, 503, 504, 200, 301]),
    };
    let code = match rng.below(6) {
        0 => json!(rng.next_u64()),
        1 => json!(
            ({
                let n = rng.range(1, 11);
                rng.digits(n)
            })
        ),
        2 => json!(-1),
        3 => json!(null),
        _ => json!(*rng.pick(&[20003, 20404, 20429, 21211, 21408, 21606, 21610, 21612, 21614, 21617, 30007])),
    };
    let (content_type, body): (Option<String>, Vec<u8>) = match rng.below(7) {
        0 | 1 => {
            let mut doc = json!({"code": code, "message": sentence(rng, &mut secrets), "status": status});
            if rng.chance(1, 2) {
                let more = format!(
                    "https://www.twilio.com/docs/errors/21211{}",
                    match rng.below(3) {
                        0 => format!("?To={}", phone(rng)),
                        _ => String::new(),
                    }
                );
                if more.contains("To=") {
                    secrets.push(("phone".into(), more.split("To=").nth(1).unwrap_or_default().to_owned()));
                }
                doc["more_info"] = json!(more);
            }
            if rng.chance(1, 3) {
                doc["detail"] = json!(sentence(rng, &mut secrets));
            }
            (Some("application/json".into()), serde_json::to_vec(&doc).unwrap_or_default())
        }
        2 => {
            let errors: Vec<Value> = (0..rng.below(5))
                .map(|_| json!({"detail": sentence(rng, &mut secrets), "pointer": "/To"}))
                .collect();
            let doc = json!({
                "type": format!("https://www.twilio.com/docs/api/errors/{}", rng.range(20000, 30000)),
                "title": sentence(rng, &mut secrets),
                "detail": sentence(rng, &mut secrets),
                "status": status,
                "errors": errors,
            });
            (Some("application/problem+json".into()), serde_json::to_vec(&doc).unwrap_or_default())
        }
        3 => {
            let page = format!(
                "<html><head><title>{}</title></head><body><h1>{}</h1></body></html>",
                sentence(rng, &mut secrets),
                sentence(rng, &mut secrets)
            );
            (Some("text/html; charset=utf-8".into()), page.into_bytes())
        }
        4 => (
            Some("text/plain".into()),
            format!("\n  {}\nsecond line", sentence(rng, &mut secrets)).into_bytes(),
        ),
        5 => (None, {
            let n = rng.below(64);
            rng.bytes(n)
        }),
        _ => (Some(rng.unicode(10)), sentence(rng, &mut secrets).into_bytes()),
    };
    let mut body = body;
    if rng.chance(1, 4) {
        mutate(rng, &mut body);
    }
    let retry_after = match rng.below(6) {
        0 => None,
        1 => Some({
            let n = rng.range(1, 25);
            rng.digits(n)
        }),
        2 => Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        3 => Some(format!(
            "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
            rng.pick(&["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Xyz"]),
            rng.below(40),
            rng.pick(&["Jan", "Feb", "Dec", "Foo"]),
            rng.range(1900, 9999),
            rng.below(30),
            rng.below(70),
            rng.below(70)
        )),
        4 => Some(rng.unicode(30)),
        _ => Some(format!("{}", rng.next_u64())),
    };
    Input { status, content_type, body, retry_after, secrets }
}

/// The text a secret leaves behind when it leaks: phone numbers by their digits.
fn leaked(kind: &str, secret: &str, text: &str) -> bool {
    if kind == "phone" {
        let digits: String = secret.chars().filter(char::is_ascii_digit).collect();
        // "%2B" puts a 2 before the digits that is not part of the number.
        let digits =
            if secret.starts_with("%2B") { digits.get(1..).unwrap_or("").to_owned() } else { digits };
        return digits.len() >= 9 && (text.contains(secret) || text.contains(&digits));
    }
    text.contains(secret)
}

/// Whether a token sits, in `text`, in a run of letters and digits shaped like a Twilio SID (two
/// capital letters glued to its 32 hex digits): documented as kept, since it cannot be told from a SID.
fn sid_shaped(secret: &str, text: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().rev().take_while(char::is_ascii_alphanumeric).collect::<Vec<_>>();
        let after = text[at + secret.len()..].chars().take_while(char::is_ascii_alphanumeric).count();
        before.len() == 2 && after == 0 && before.iter().all(char::is_ascii_uppercase)
    })
}

/// Whether the secret is in the input (verbatim, or in a JSON string value) in a form the documented
/// rules cover: a number without `+` must stand alone (no letter or digit glued to either side).
fn present(kind: &str, secret: &str, body: &[u8]) -> bool {
    fn strings(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut decoded = String::new();
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        strings(&v, &mut decoded);
    }
    let standalone_needed = kind == "phone" && !secret.starts_with('+') && !secret.starts_with("%2B");
    [String::from_utf8_lossy(body).into_owned(), decoded].iter().any(|text| {
        text.match_indices(secret).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + secret.len()..].chars().next();
            !standalone_needed
                || !(before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric))
        })
    })
}

pub fn check(input: &Input) -> Result<(), String> {
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
    let error = api_error::parse_error_response(input.status, input.content_type.as_deref(), &input.body);
    let mut headers = http::HeaderMap::new();
    if let Some(ct) = input.content_type.as_deref().and_then(|c| http::HeaderValue::from_str(c).ok()) {
        headers.insert(http::header::CONTENT_TYPE, ct);
    }
    if let Some(r) = input.retry_after.as_deref().and_then(|c| http::HeaderValue::from_str(c).ok()) {
        headers.insert(http::header::RETRY_AFTER, r);
    }
    let retry = input.retry_after.as_deref().and_then(|r| api_error::parse_retry_after(r, now));
    if retry.is_some_and(|d| d > MAX_RETRY_AFTER) {
        return Err(format!("Retry-After {retry:?} above the maximum"));
    }
    let status = http::StatusCode::from_u16(input.status).ok();
    let full: Option<TwilioApiError> =
        status.map(|s| TwilioApiError::from_response(s, &headers, &input.body, now));

    for e in std::iter::once(&error).chain(full.as_ref()) {
        if e.http_status() != input.status {
            return Err("the HTTP status changed".into());
        }
        if e.kind() != ErrorKind::classify(input.status, e.code()) {
            return Err(format!("kind {:?} is not classify({}, {:?})", e.kind(), input.status, e.code()));
        }
        let safety = match (input.status, e.code()) {
            (429, _) | (_, Some(20429)) => RetrySafety::Safe,
            (500..=599, _) => RetrySafety::Ambiguous,
            (400..=499, _) => RetrySafety::Final,
            _ => RetrySafety::Ambiguous,
        };
        if e.retry_safety() != safety {
            return Err(format!("retry safety {:?}, expected {safety:?}", e.retry_safety()));
        }
        if e.code() == Some(0) {
            return Err("code 0 kept".into());
        }
        if let Some(m) = e.message()
            && (m.chars().count() > 300 || m.is_empty() || m.chars().any(|c| c.is_control()))
        {
            return Err(format!("message not bounded or not clean: {m:?}"));
        }
        if let Some(link) = e.more_info()
            && (!link.starts_with("https://")
                || link.chars().count() > 200
                || link.chars().any(char::is_whitespace))
        {
            return Err(format!("more_info not a clean https URL: {link:?}"));
        }
        if e.retry_after().is_some_and(|d| d > MAX_RETRY_AFTER) {
            return Err("retry_after above the maximum".into());
        }
        let text = format!("{e}\n{e:?}\n{}\n{}", e.message().unwrap_or(""), e.more_info().unwrap_or(""));
        for (kind, secret) in &input.secrets {
            let sid_like = kind != "phone" && sid_shaped(secret, &text);
            if present(kind, secret, &input.body) && leaked(kind, secret, &text) && !sid_like {
                return Err(format!("a {kind} of the input came out whole ({secret:?}): {text}"));
            }
        }
    }
    Ok(())
}

pub fn to_json(input: &Input) -> Value {
    json!({
        "status": input.status,
        "content_type": input.content_type,
        "body": reference::show(&input.body),
        "retry_after": input.retry_after,
        "secrets": input.secrets,
    })
}

pub fn from_json(v: &Value) -> Option<Input> {
    Some(Input {
        status: u16::try_from(v.get("status")?.as_u64()?).ok()?,
        content_type: v.get("content_type").and_then(Value::as_str).map(str::to_owned),
        body: reference::unshow(v.get("body")?)?,
        retry_after: v.get("retry_after").and_then(Value::as_str).map(str::to_owned),
        secrets: serde_json::from_value(v.get("secrets")?.clone()).ok()?,
    })
}
