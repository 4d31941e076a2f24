//! The whole verify path from raw bytes: method, URL, content type, signature header and body are cut
//! from the input; verification must never panic.
#![no_main]

use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, WebhookUrl, WebhookVerifier};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |&b| b == b'\n');
    let method = if parts.next().is_some_and(|m| m.first() == Some(&b'G')) { Method::GET } else { Method::POST };
    let url = parts.next().map(String::from_utf8_lossy).unwrap_or_default();
    let content_type = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let Ok(url) = WebhookUrl::exact(&format!("https://example.com/{url}")) else { return };
    let mut headers = HeaderMap::new();
    if let Ok(ct) = HeaderValue::from_bytes(content_type) {
        headers.insert("content-type", ct);
    }
    if let Ok(sig) = HeaderValue::from_bytes(signature) {
        headers.insert("x-twilio-signature", sig);
    }
    let token = AuthToken::new("0123456789abcdef0123456789abcdef").expect("token");
    if let Ok(webhook) = UnverifiedWebhook::new(method, url, headers, body.to_vec(), BodyLimit::DEFAULT) {
        let _ = WebhookVerifier::new(&token).verify(webhook);
    }
});
