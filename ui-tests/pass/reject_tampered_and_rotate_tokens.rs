// Intended use: a tampered or unsigned webhook is refused with a bare 403, and a verifier holding a
// secondary token accepts signatures made with either token while the token is rotated.
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use twilio_sms::webhook::SIGNATURE_HEADER;
use twilio_sms::{AuthToken, BodyLimit, PublicUrl, UnverifiedWebhook, VerifyError, WebhookVerifier};
use twilio_sms_testkit::{encode_form, sign};

const URL: &str = "https://agents.example.com/hook";
const OLD: &str = "0123456789abcdef0123456789abcdef";
const NEW: &str = "fedcba9876543210fedcba9876543210";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn webhook(token: &str, sent: &[(&str, &str)], signed: &[(&str, &str)]) -> Result<UnverifiedWebhook> {
    let signature = sign(token, URL, signed);
    let mut headers = HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature.to_string())?);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    let url = PublicUrl::parse("https://agents.example.com")?.join("/hook")?;
    Ok(UnverifiedWebhook::new(Method::POST, url, headers, encode_form(sent), BodyLimit::DEFAULT)?)
}

fn main() -> Result<()> {
    let new = AuthToken::new(NEW)?;
    let verifier = WebhookVerifier::new(&new).with_secondary(&AuthToken::new(OLD)?);

    // Signed with the old token during rotation: accepted.
    let params = [("Body", "hi")];
    let verified = verifier.verify(webhook(OLD, &params, &params)?)?;
    assert_eq!(verified.param("Body"), Some("hi"));

    // The body was changed after signing: refused, with a bare 403.
    let rejection = match verifier.verify(webhook(NEW, &[("Body", "pay me")], &params)?) {
        Ok(_) => return Err("a tampered webhook was accepted".into()),
        Err(rejection) => rejection,
    };
    assert_eq!(rejection, VerifyError::SignatureMismatch);
    assert_eq!(rejection.response().status(), 403);
    assert_eq!(*rejection.response().body(), "");

    // Once rotation is over, the old token no longer verifies.
    let strict = WebhookVerifier::new(&new);
    assert!(strict.verify(webhook(OLD, &params, &params)?).is_err());

    // An unsigned request is refused.
    let public = PublicUrl::parse("https://agents.example.com")?;
    let request = http::Request::post("/hook")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"Body=hi".to_vec())?;
    let unsigned = UnverifiedWebhook::from_http(&public, request, BodyLimit::DEFAULT)?;
    assert_eq!(strict.verify(unsigned).unwrap_err(), VerifyError::MissingSignature);
    Ok(())
}
