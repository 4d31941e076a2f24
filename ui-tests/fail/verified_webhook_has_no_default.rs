// Attack: conjure an empty "verified" webhook with `Default`. `VerifiedWebhook` has no `Default`.
use twilio_sms::VerifiedWebhook;

fn conjure() -> VerifiedWebhook {
    VerifiedWebhook::default()
}

fn main() {}
