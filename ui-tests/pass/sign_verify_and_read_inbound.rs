// Intended use: build an UnverifiedWebhook, sign it the way Twilio does, verify it, read the SMS.
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use twilio_sms::webhook::{SIGNATURE_HEADER, SignedBody, accepted_response};
use twilio_sms::{
    AuthToken, BodyLimit, E164, UnverifiedWebhook, VerifiedInbound, WebhookUrl, WebhookVerifier,
};
use twilio_sms_testkit::{encode_form, sign};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let url = "https://agents.example.com/api/channels/plugin/twilio-sms/webhook/abc";
    let params = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("Body", "hello, world"),
        ("From", "+14158675309"),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("NumMedia", "0"),
        ("To", "+14155550100"),
    ];
    let signature = sign(TOKEN, url, &params);

    let mut headers = HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature.to_string())?);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    let body = encode_form(&params);
    let webhook = UnverifiedWebhook::new(Method::POST, WebhookUrl::exact(url)?, headers, body, BodyLimit::DEFAULT)?;

    let verified = WebhookVerifier::new(&AuthToken::new(TOKEN)?).verify(webhook)?;
    assert_eq!(verified.signed_body(), SignedBody::Form);
    assert_eq!(verified.param("Body"), Some("hello, world"));
    assert_eq!(verified.params().count(), params.len());

    let sms = VerifiedInbound::try_from(verified)?;
    assert_eq!(sms.body(), "hello, world");
    assert_eq!(sms.message_sid().as_str(), "SM0123456789abcdef0123456789abcdef");
    assert_eq!(sms.account_sid().as_str(), "AC0123456789abcdef0123456789abcdef");
    assert_eq!(sms.num_media(), 0);
    assert_eq!(sms.num_segments(), 1);
    assert!(sms.to().is(&E164::parse("+14155550100")?));
    assert_eq!(sms.from().as_str(), "+14158675309");
    assert_eq!(sms.webhook().param("NumMedia"), Some("0"));
    assert_eq!(accepted_response().status(), 200);
    Ok(())
}
