// Attack: take a genuinely verified webhook (any old message) and splice a forged body into it with
// struct update syntax, keeping the rest. The fields are private, so a `VerifiedWebhook` cannot be
// rebuilt from another one.
use twilio_sms::VerifiedWebhook;

fn splice(genuine: VerifiedWebhook) -> VerifiedWebhook {
    VerifiedWebhook {
        body: b"From=%2B14155550100&Body=transfer+everything".to_vec(),
        ..genuine
    }
}

fn main() {}
