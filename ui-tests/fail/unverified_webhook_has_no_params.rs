// Attack: read a parameter from a webhook whose signature was never checked. `UnverifiedWebhook` has
// no `param`/`params`: parameters are readable only on a `VerifiedWebhook`.
use twilio_sms::UnverifiedWebhook;

fn sender(webhook: &UnverifiedWebhook) -> Option<&str> {
    webhook.param("From")
}

fn main() {}
