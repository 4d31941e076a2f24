// Attack: keep a copy of a verified webhook to re-submit it later as a fresh one. `VerifiedWebhook`
// is not `Clone`: each one comes from one call to `verify`.
use twilio_sms::VerifiedWebhook;

fn keep(webhook: VerifiedWebhook) -> (VerifiedWebhook, VerifiedWebhook) {
    (webhook.clone(), webhook)
}

fn main() {}
