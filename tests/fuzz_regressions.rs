//! Regression tests for what the fuzz loop (`fuzz/`, see `fuzz/findings/README.md`) and the leak tests
//! (`tests/leaks.rs`) found. Each test names its finding and keeps the input that exposed it.

use http::{HeaderMap, HeaderValue, Method};
use twilio_sms::api_error::{parse_error_response, redact_phone_numbers};
use twilio_sms::hivekeep::adapter::{IncomingMessage, OutboundMessageParams};
use twilio_sms::hivekeep::delivery::{self, DeliveryStatusUpdate, Locale, StatusReport};
use twilio_sms::status::MessageStatus;
use twilio_sms::{
    AccountSid, AuthToken, BodyLimit, MessageSid, UnverifiedWebhook, VerifiedInbound, WebhookUrl,
    WebhookVerifier,
};
use twilio_sms_testkit::{encode_form, sign};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Fuzz finding `api_error` #1: a number in its URL encoding (`%2B…`, as in a query string) was not
/// recognised, so a `more_info` link carried it whole.
#[test]
fn a_url_encoded_plus_number_is_masked() {
    let body = br#"{"code":30007,"message":"Permission number.","status":200,"more_info":"https://www.twilio.com/docs/errors/21211?To=%2B5646429326"}"#;
    let e = parse_error_response(200, Some("application/json"), body);
    let text = format!("{e}\n{e:?}");
    assert!(!text.contains("5646429326"), "{text}");
    assert_eq!(e.more_info(), Some("https://www.twilio.com/docs/errors/21211?To=+56••••••26"));
    assert!(!redact_phone_numbers("To=%2b14155550177&x=1").contains("4155550177"));
    // `%2B` before too few digits, or not before digits, stays.
    assert_eq!(redact_phone_numbers("a%2B1234b %2Bx"), "a%2B1234b %2Bx");
}

/// Fuzz finding `api_error` #2: a standalone national number followed by a word that starts with
/// digits (`… 187 89c3…`, `… 1018 2㱰…`): the scan took that word's digits into the number, found it
/// glued to a letter, and left the whole run (number included) unmasked.
#[test]
fn a_number_followed_by_a_word_starting_with_digits_is_masked() {
    for (input, number) in [
        ("response: (388) 032) 187 89c3cc5b3ebaac9e3d86d606ffba f1", "388) 032) 187"),
        ("Basic x 10463151018 2㱰Ӥ", "10463151018"),
        ("Call (415) 555-0177 2nd line", "(415) 555-0177"),
        ("4155550177 3rd attempt", "4155550177"),
    ] {
        let out = redact_phone_numbers(input);
        assert!(!out.contains(number), "{input:?} -> {out:?}");
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        assert!(!out.contains(&digits), "{input:?} -> {out:?}");
    }
    // The glued word itself is kept as it was, and identifiers still are not numbers.
    assert!(redact_phone_numbers("4155550177 3rd attempt").ends_with(" 3rd attempt"));
    assert_eq!(redact_phone_numbers("SM0123456789abcdef 2010-04-01"), "SM0123456789abcdef 2010-04-01");
    let e = parse_error_response(503, Some("text/plain"), b"is (388) 032) 187 89c3cc5b3ebaac9e");
    assert!(!format!("{e}").contains("388) 032) 187"), "{e}");
}

/// A status callback the channel's account really signed, classified (only `classify` makes a
/// `StatusReport`).
fn report() -> StatusReport {
    let params = [
        ("MessageSid", "SM704f84a5c929317b97152054e7aa72dc"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("ErrorMessage", "Unreachable destination handset +14155550177"),
        ("AccountSid", "ACf00dfacef00dfacef00dfacef00dface"),
        ("From", "+14155550100"),
    ];
    let url = "https://agents.example.com/hook?part=1&of=2";
    let token = AuthToken::new(TOKEN).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    headers
        .insert("x-twilio-signature", HeaderValue::from_str(&sign(TOKEN, url, &params).to_string()).unwrap());
    let url = WebhookUrl::exact(url).unwrap();
    let webhook =
        UnverifiedWebhook::new(Method::POST, url, headers, encode_form(&params), BodyLimit::DEFAULT).unwrap();
    let verified = WebhookVerifier::new(&token).verify(webhook).unwrap();
    let account = AccountSid::parse("ACf00dfacef00dfacef00dfacef00dface").unwrap();
    match delivery::classify(verified, &account, None).unwrap() {
        delivery::WebhookEvent::Status(report) => {
            assert_eq!(
                report.message_sid(),
                &MessageSid::parse("SM704f84a5c929317b97152054e7aa72dc").unwrap()
            );
            assert_eq!(report.status(), &MessageStatus::Undelivered);
            assert_eq!(report.part().map(|t| (t.part, t.of)), Some((1, 2)));
            report
        }
        other => panic!("not a status callback: {other:?}"),
    }
}

/// Fuzz finding `classify` #1: the `Debug` of a `StatusReport` (and so of a `WebhookEvent::Status`)
/// printed the callback's `From` in full.
#[test]
fn a_status_report_debug_masks_the_number() {
    let debug = format!("{:?} {:#?}", report(), report());
    assert!(!debug.contains("4155550100"), "{debug}");
    assert!(!debug.contains("4155550177"), "{debug}");
    assert!(debug.contains("SM704f84a5c929317b97152054e7aa72dc") && debug.contains("Undelivered"), "{debug}");
}

/// Leak test finding: the `Debug` of a `DeliveryStatusUpdate` printed Twilio's `ErrorMessage`
/// unredacted, and it can quote the handset's number.
#[test]
fn a_delivery_update_debug_redacts_the_error_message() {
    let update = DeliveryStatusUpdate::from_report(&report(), Locale::En);
    assert_eq!(update.error_message.as_deref(), Some("Unreachable destination handset +14155550177"));
    let debug = format!("{update:?}");
    assert!(!debug.contains("4155550177"), "{debug}");
}

fn inbound(body: &str) -> VerifiedInbound {
    let url = "https://agents.example.com/hook";
    let params = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+14155550177"),
        ("To", "+14155550100"),
        ("Body", body),
    ];
    let token = AuthToken::new(TOKEN).unwrap();
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    h.insert("x-twilio-signature", HeaderValue::from_str(&sign(TOKEN, url, &params).to_string()).unwrap());
    let webhook = UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(url).unwrap(),
        h,
        encode_form(&params),
        BodyLimit::DEFAULT,
    )
    .unwrap();
    VerifiedInbound::try_from(WebhookVerifier::new(&token).verify(webhook).unwrap()).unwrap()
}

/// Fuzz-loop invariant (classify) and leak test: the `Debug` of a `VerifiedInbound` printed the message
/// text, which may quote a phone number; the crate's other types leave message text out.
#[test]
fn a_verified_inbound_debug_leaves_the_text_out() {
    let sms = inbound("my number is +33612345678");
    let debug = format!("{sms:?}");
    assert!(!debug.contains("612345678") && !debug.contains("4155550177"), "{debug}");
    assert!(debug.contains("body_len"), "{debug}");
    assert_eq!(sms.body(), "my number is +33612345678", "the accessor is unchanged");
}

/// Leak test findings: Hivekeep's shapes printed the customer's number (and the text) in `Debug`.
#[test]
fn hivekeep_shapes_mask_numbers_in_debug() {
    let message = IncomingMessage::from_inbound(&inbound("call me at +33612345678"));
    assert_eq!(message.platform_user_id, "+14155550177", "the data is unchanged");
    let params = OutboundMessageParams::text("+14155550177", "your code is 1234, or call +33612345678");
    let debug = format!("{message:?} {message:#?} {params:?} {params:#?}");
    for leaked in ["4155550177", "4155550100", "612345678"] {
        assert!(!debug.contains(leaked), "{leaked}: {debug}");
    }
}

/// Leak test finding: the `Debug` of a `WebhookUrl` (and so of an `UnverifiedWebhook` and a
/// `VerifiedWebhook`) printed the query, which for a GET webhook holds `From`, `To` and `Body`.
#[test]
fn a_webhook_url_debug_leaves_the_query_out() {
    let url = WebhookUrl::exact("https://agents.example.com/hook?From=%2B14155550177&Body=hi").unwrap();
    let debug = format!("{url:?}");
    assert_eq!(debug, "WebhookUrl(https://agents.example.com/hook?<27 bytes>)");
    assert_eq!(url.as_str(), "https://agents.example.com/hook?From=%2B14155550177&Body=hi");
    assert_eq!(
        format!("{:?}", WebhookUrl::exact("https://a.example/x").unwrap()),
        "WebhookUrl(https://a.example/x)"
    );
}
