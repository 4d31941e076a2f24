// Accident: verify a webhook with `?` and drop the `VerifiedWebhook`, then go on to read the request
// some other way. `VerifiedWebhook` is `#[must_use]`: it is the value to read parameters from.
#![deny(unused_must_use)]

use twilio_sms::{UnverifiedWebhook, VerifyError, WebhookVerifier};

fn handle(verifier: &WebhookVerifier, webhook: UnverifiedWebhook) -> Result<(), VerifyError> {
    verifier.verify(webhook)?;
    Ok(())
}

fn main() {}
