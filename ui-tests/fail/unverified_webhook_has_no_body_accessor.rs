// Attack: get around the missing `params` by reading the raw body of an unverified webhook and decoding
// the form by hand. There is no `body` accessor on `UnverifiedWebhook`.
use twilio_sms::UnverifiedWebhook;

fn raw(webhook: &UnverifiedWebhook) -> &[u8] {
    webhook.body()
}

fn main() {}
