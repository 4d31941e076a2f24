// Intended use: every identifier is parsed (and checked) once, through a fallible constructor.
use std::str::FromStr;

use twilio_sms::{AccountSid, AuthToken, E164, MessageSid, PublicUrl, WebhookUrl};
use twilio_sms::ids::MessagingServiceSid;

const ACCOUNT: &str = AccountSid::checked("AC0123456789abcdef0123456789abcdef");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let account = AccountSid::parse(ACCOUNT)?;
    let message = MessageSid::try_from("SM0123456789abcdef0123456789abcdef")?;
    let service: MessagingServiceSid = "MG0123456789abcdef0123456789abcdef".parse()?;
    assert_eq!(account.as_str(), ACCOUNT);
    assert_eq!(message.to_string(), "SM0123456789abcdef0123456789abcdef");
    assert!(service.as_ref().starts_with("MG"));
    assert!(AccountSid::parse(message.as_str()).is_err(), "a Message SID is not an Account SID");

    let number = E164::parse("+14155550100")?;
    let typed = E164::normalize("(415) 555-0100", "US")?;
    assert_eq!(number, typed);
    assert_eq!(E164::try_from("+14155550100")?.as_str(), "+14155550100");
    assert!(E164::from_str("+15551234567").is_err());
    assert!(!format!("{number:?}").contains("5550100"), "Debug masks the number");

    let token = AuthToken::new("0123456789abcdef0123456789abcdef")?;
    assert_eq!(format!("{token:?}"), "AuthToken([redacted])");
    assert!(AuthToken::new("").is_err());

    let public = PublicUrl::parse("https://agents.example.com/")?;
    let url = public.join("/webhook?x=1")?;
    assert_eq!(url.as_str(), "https://agents.example.com/webhook?x=1");
    assert_eq!(WebhookUrl::exact("https://agents.example.com/webhook?x=1")?, url);
    assert!(PublicUrl::parse("http://agents.example.com").is_err());
    Ok(())
}
