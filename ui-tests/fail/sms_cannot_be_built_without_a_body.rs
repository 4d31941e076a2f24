// Mistake: build an SMS with a recipient but no text. `build` exists only once `.body(SmsBody)` was called.
use twilio_sms::E164;
use twilio_sms::outbound::Sms;

fn main() {
    let to = E164::parse("+14155550100").unwrap();
    let _sms = Sms::builder().to(to).build();
}
