// Attack: have a webhook verified by a MAC the caller supplies (the request's own signature header
// decodes to one that always matches) instead of one computed under the channel's Auth Token. The
// split check that took a host's MAC (`UnverifiedWebhook::prepare`, then `PreparedWebhook::finish`)
// does not exist, with any feature: only `WebhookVerifier::verify` computes the MAC and decides.
use twilio_sms::{UnverifiedWebhook, VerifiedWebhook, VerifyError};

fn forge(webhook: UnverifiedWebhook, signature: &[u8]) -> Result<VerifiedWebhook, VerifyError> {
    webhook.prepare()?.finish(signature)
}

fn main() {}
