// Mix-up: pass a Message SID where an Account SID is expected. Each kind of SID is its own type.
use twilio_sms::{AccountSid, MessageSid};

fn belongs_to(account: &AccountSid) -> bool {
    account.as_str().starts_with("AC")
}

fn check(message: &MessageSid) -> bool {
    belongs_to(message)
}

fn main() {}
