// Attack: skip signature verification by building a `VerifiedWebhook` directly, with whatever
// method, URL, headers and body the attacker wants the application to trust. Its fields are private
// (and the parsed parameters are of a private type), so only `WebhookVerifier::verify` makes one.
use http::{HeaderMap, Method};
use twilio_sms::webhook::SignedBody;
use twilio_sms::{VerifiedWebhook, WebhookUrl};

fn forge(url: WebhookUrl) -> VerifiedWebhook {
    VerifiedWebhook {
        method: Method::POST,
        url,
        headers: HeaderMap::new(),
        body: b"From=%2B14155550100&Body=transfer+everything".to_vec(),
        signed_body: SignedBody::Form,
    }
}

fn main() {}
