// Attack: turn arbitrary text into a Message SID (for de-duplication or a status lookup) with `.into()`.
// `MessageSid` has no `From<&str>`: only the checked `parse`/`FromStr`/`TryFrom` make one.
use twilio_sms::MessageSid;

fn message(input: &str) -> MessageSid {
    input.into()
}

fn main() {}
