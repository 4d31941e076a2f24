//! Reads the conformance corpus (`corpus.jsonl`, format in twilio-signature.md §6.2) and runs every check
//! through the public API. Shared by `tests/conformance.rs` and `examples/conformance.rs`.

#![allow(dead_code)]

use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, WebhookUrl, WebhookVerifier};

/// One check's outcome.
pub struct Outcome {
    pub id: String,
    pub name: String,
    pub expect: bool,
    pub accepted: bool,
    /// The rejection reason, when rejected.
    pub reason: Option<String>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The request of `case` with the overrides of `check` applied.
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub token: String,
}

/// Builds the request a check describes. A `signature` key holding null means no header.
pub fn request(case: &Value, check: &Value) -> Request {
    let method = if str_field(case, "method") == Some("GET") { Method::GET } else { Method::POST };
    let url = str_field(check, "received_url").or_else(|| str_field(case, "url")).unwrap_or_default();
    let mut body =
        str_field(check, "body").or_else(|| str_field(case, "body")).unwrap_or_default().to_owned();
    if let Some(order) = check.get("segment_order").and_then(Value::as_array) {
        let segments: Vec<&str> = body.split('&').collect();
        body = order
            .iter()
            .filter_map(|i| i.as_u64().and_then(|i| segments.get(i as usize).copied()))
            .collect::<Vec<_>>()
            .join("&");
    }
    if let Some(suffix) = str_field(check, "body_suffix") {
        body.push_str(suffix);
    }
    let mut headers = HeaderMap::new();
    if let Some(ct) = str_field(case, "content_type") {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    let signature = match check.get("signature") {
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        _ => str_field(case, "signature"),
    };
    if let Some(sig) = signature {
        headers.insert("x-twilio-signature", HeaderValue::from_bytes(sig.as_bytes()).unwrap());
    }
    let token = str_field(check, "verifier_token").or_else(|| str_field(case, "token")).unwrap_or_default();
    Request { method, url: url.to_owned(), headers, body: body.into_bytes(), token: token.to_owned() }
}

/// Verifies one request through the public API; `Err` carries the rejection reason.
pub fn verify(request: Request, verifier: &WebhookVerifier) -> Result<(), String> {
    let url = WebhookUrl::exact(&request.url).map_err(|e| format!("url: {e}"))?;
    let webhook =
        UnverifiedWebhook::new(request.method, url, request.headers, request.body, BodyLimit::DEFAULT)
            .map_err(|e| e.to_string())?;
    verifier.verify(webhook).map(|_| ()).map_err(|e| e.to_string())
}

/// Runs every check of every case in a JSON-lines corpus.
pub fn run(corpus: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut verifiers: std::collections::HashMap<String, WebhookVerifier> = Default::default();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let id = case.get("id").map(|v| v.to_string()).unwrap_or_default();
        for check in case.get("checks").and_then(Value::as_array).into_iter().flatten() {
            let req = request(&case, check);
            let verifier = verifiers.entry(req.token.clone()).or_insert_with(|| {
                WebhookVerifier::new(&AuthToken::new(req.token.as_str()).expect("corpus token"))
            });
            let result = verify(req, verifier);
            out.push(Outcome {
                id: id.clone(),
                name: str_field(check, "name").unwrap_or_default().to_owned(),
                expect: check.get("expect").and_then(Value::as_bool).unwrap_or(false),
                accepted: result.is_ok(),
                reason: result.err(),
            });
        }
    }
    out
}
