// Attack: convert an unverified webhook straight into a `VerifiedInbound`, skipping `verify`.
// `VerifiedInbound` converts only from a `VerifiedWebhook`.
use twilio_sms::{UnverifiedWebhook, VerifiedInbound};

fn skip(webhook: UnverifiedWebhook) -> Option<VerifiedInbound> {
    webhook.try_into().ok()
}

fn main() {}
