// Attack: check a signature with `==`, an early-exit comparison that leaks through timing how many
// leading bytes of a forged signature are right. `Signature` has no `PartialEq`: signatures are compared
// only inside `WebhookVerifier::verify`, in constant time.
use twilio_sms::webhook::Signature;
use twilio_sms_testkit::sign;

fn check(token: &str, header: &[u8]) -> bool {
    let expected = sign(token, "https://agents.example.com/hook", &[("Body", "hi")]);
    match Signature::parse(header) {
        Ok(received) => received == expected,
        Err(_) => false,
    }
}

fn main() {}
