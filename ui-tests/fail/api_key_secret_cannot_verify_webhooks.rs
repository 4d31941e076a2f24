// Mistake: verify webhooks with an API key secret. Twilio signs webhooks with the Auth Token only, so
// the two secrets are distinct types and the verifier takes an `AuthToken`.
use twilio_sms::WebhookVerifier;
use twilio_sms::token::ApiKeySecret;

fn main() {
    let secret = ApiKeySecret::new("keysecretkeysecretkeysecret12345").unwrap();
    let _verifier = WebhookVerifier::new(&secret);
}
