// Attack: conjure an empty "verified" inbound SMS with `Default`. `VerifiedInbound` has no `Default`.
use twilio_sms::VerifiedInbound;

fn conjure() -> VerifiedInbound {
    VerifiedInbound::default()
}

fn main() {}
