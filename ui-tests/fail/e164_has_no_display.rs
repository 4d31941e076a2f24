// Accident: write a full phone number into a log line. `E164` has no `Display`; the whole number is
// written out only through an explicit `as_str()`, and `Debug`/`redacted()` mask it.
use twilio_sms::E164;

fn log(number: &E164) {
    println!("sending to {}", number);
}

fn main() {}
