// Mistake: pass raw text as the body, skipping the empty and 1600-character checks of `SmsBody::new`.
use twilio_sms::E164;
use twilio_sms::outbound::Sms;

fn main() {
    let to = E164::parse("+14155550100").unwrap();
    let _sms = Sms::builder().to(to).body("hello").build();
}
