// Attack: pull the body out of an unverified webhook by destructuring it. Its fields are private.
use twilio_sms::UnverifiedWebhook;

fn raw(webhook: UnverifiedWebhook) -> Vec<u8> {
    let UnverifiedWebhook { body, .. } = webhook;
    body
}

fn main() {}
