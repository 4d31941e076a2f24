// Attack: pass an unchecked `String` (say, from a request) as an Account SID. `AccountSid` has no
// `From<String>`: it is made only through `parse`, `FromStr` or `TryFrom<&str>`, which check it.
use twilio_sms::AccountSid;

fn account(input: String) -> AccountSid {
    input.into()
}

fn main() {}
