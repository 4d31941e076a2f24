//! The status-callback and inbound classifier on correctly signed webhooks whose parameters come from
//! the input: signing then verifying must accept, and classification must never panic.
#![no_main]

use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use twilio_sms::hivekeep::delivery::classify;
use twilio_sms::{AccountSid, AuthToken, BodyLimit, E164, UnverifiedWebhook, WebhookUrl, WebhookVerifier};

// The one reference of the rules (signing, form encoding), shared with the tests and the stable loop.
#[allow(dead_code)]
#[path = "../../../tests/support/reference.rs"]
mod reference;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params: Vec<(String, String)> = text
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .take(64)
        .collect();
    let url = "https://example.com/api/channels/plugin/twilio-sms/webhook/3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    let token = AuthToken::new(TOKEN).expect("token");
    let signature = reference::signature(TOKEN, url, Some(&params));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    headers.insert("x-twilio-signature", HeaderValue::from_str(&signature).expect("base64"));
    // Style 0: encoded as Twilio encodes a form (`java.net.URLEncoder`).
    let body = reference::encode(&params, 0);
    let url = WebhookUrl::exact(url).expect("url");
    let Ok(webhook) = UnverifiedWebhook::new(Method::POST, url, headers, body, BodyLimit::bytes(1 << 20)) else {
        return;
    };
    let verified = WebhookVerifier::new(&token).verify(webhook).expect("a correctly signed webhook verifies");
    let account = AccountSid::parse("AC0123456789abcdef0123456789abcdef").expect("sid");
    let number = E164::parse("+14155550100").expect("number");
    let _ = classify(verified, &account, Some(&number));
});
