// Attack (or accident): print the Auth Token into a log line. `AuthToken` has no `Display`
// (and its `Debug` prints `AuthToken([redacted])`).
use twilio_sms::AuthToken;

fn log(token: &AuthToken) {
    println!("using token {}", token);
}

fn main() {}
