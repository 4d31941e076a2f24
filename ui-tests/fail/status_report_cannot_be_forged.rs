// Attack: make up a delivery status (a `StatusReport`, and through it a `WebhookEvent::Status` or a
// `DeliveryStatusUpdate::from_report`) without a signed status callback. Only `delivery::classify`, on a
// verified webhook, makes one: its fields are private to the crate.
use twilio_sms::hivekeep::delivery::{DeliveryStatusUpdate, Locale, StatusReport};
use twilio_sms::MessageSid;
use twilio_sms::status::MessageStatus;

fn main() {
    let forged = StatusReport {
        message_sid: MessageSid::parse("SM11111111111111111111111111111111").unwrap(),
        status: MessageStatus::Delivered,
        error_code: None,
        error_message: None,
        account_sid: None,
        from: None,
        part: None,
    };
    let _update = DeliveryStatusUpdate::from_report(&forged, Locale::En);
}
