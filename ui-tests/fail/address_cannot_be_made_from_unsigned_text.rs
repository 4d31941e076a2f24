// Attack: dress an arbitrary string up as a sender address (and through it an `E164` that skipped
// validation). Only a verified webhook makes an `Address`: its constructor is private to the crate.
use twilio_sms::phone::Address;

fn main() {
    let _spoofed = Address::from_signed("+15551234567");
}
