// Attack: send to a number that was never validated by converting a string infallibly. `E164` has no
// `From<&str>`: it is made only through `E164::parse`, `E164::normalize` or `TryFrom`, which check it.
use twilio_sms::E164;

fn recipient() -> E164 {
    "+15551234567".into()
}

fn main() {}
