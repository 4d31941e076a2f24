// Attack (or accident): call `verify` and carry on whatever it returns, so an unsigned request is
// processed anyway. The `Result` is `#[must_use]`; with `deny(unused_must_use)` ignoring it is an error.
#![deny(unused_must_use)]

use twilio_sms::{UnverifiedWebhook, WebhookVerifier};

fn handle(verifier: &WebhookVerifier, webhook: UnverifiedWebhook) {
    verifier.verify(webhook);
}

fn main() {}
