// Accident: write the sender of an inbound SMS into a log line. `Address` has no `Display`; use
// `redacted()` for logs or `as_str()` deliberately.
use twilio_sms::phone::Address;

fn log(from: &Address) {
    println!("message from {}", from);
}

fn main() {}
