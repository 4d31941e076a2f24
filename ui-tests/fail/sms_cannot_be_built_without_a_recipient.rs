// Mistake: build an SMS with a body but no recipient. `build` exists only once `.to(E164)` was called.
use twilio_sms::outbound::Sms;
use twilio_sms::sms_text::SmsBody;

fn main() {
    let body = SmsBody::new("hello").unwrap();
    let _sms = Sms::builder().body(body).build();
}
