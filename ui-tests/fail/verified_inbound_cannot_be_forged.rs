// Attack: take a genuinely verified webhook (any old message) and wrap it in a `VerifiedInbound` with
// a forged sender and text. The fields are private: the only way in is
// `VerifiedInbound::try_from(verified_webhook)`, which reads them from the signed parameters.
use twilio_sms::{AccountSid, MessageSid, VerifiedInbound, VerifiedWebhook};
use twilio_sms::phone::Address;

fn forge(
    webhook: VerifiedWebhook,
    message_sid: MessageSid,
    account_sid: AccountSid,
    from: Address,
    to: Address,
) -> VerifiedInbound {
    VerifiedInbound {
        from,
        to,
        body: String::from("transfer everything"),
        message_sid,
        account_sid,
        num_media: 0,
        num_segments: 1,
        webhook,
    }
}

fn main() {}
