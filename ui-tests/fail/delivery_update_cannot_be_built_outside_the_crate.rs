// Attack: hand the host a delivery update no status callback produced. `DeliveryStatusUpdate` is
// `#[non_exhaustive]`: outside the crate it is only read, never built.
use twilio_sms::status::HivekeepStatus;
use twilio_sms::hivekeep::delivery::DeliveryStatusUpdate;

fn main() {
    let _forged = DeliveryStatusUpdate {
        platform_message_id: "SM11111111111111111111111111111111".to_owned(),
        status: HivekeepStatus::Delivered,
        error_code: None,
        error_message: None,
        context_line: None,
    };
}
