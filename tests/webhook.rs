//! Verification rules that the corpus does not spell out, through the public API.

mod support;

use http::{HeaderMap, HeaderValue, Method};
use twilio_sms::phone::AddressKind;
use twilio_sms::webhook::InboundError;
use twilio_sms::webhook::{SignedBody, accepted_response};
use twilio_sms::{
    AuthToken, BodyLimit, PublicUrl, UnverifiedWebhook, VerifiedInbound, VerifyError, WebhookUrl,
    WebhookVerifier,
};
use twilio_sms_testkit::{body_sha256_hex, encode_form, sign};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const URL: &str =
    "https://agents.example.com/api/channels/plugin/twilio-sms/webhook/3f2504e0-4f89-41d3-9a0c-0305e82c3301";

fn token() -> AuthToken {
    AuthToken::new(TOKEN).unwrap()
}

fn inbound_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ToCountry", "US"),
        ("SmsMessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("Body", "Hello there + café ✓"),
        ("From", "+14155550100"),
        ("To", "+14155550199"),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
}

fn form_headers(signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    h.insert("x-twilio-signature", HeaderValue::from_str(signature).unwrap());
    h
}

fn signed_form(url: &str, params: &[(&str, &str)]) -> UnverifiedWebhook {
    let sig = sign(TOKEN, url, params).to_string();
    let body = encode_form(params);
    UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(url).unwrap(),
        form_headers(&sig),
        body,
        BodyLimit::DEFAULT,
    )
    .unwrap()
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(&token())
}

#[test]
fn a_signed_inbound_sms_is_read_whole() {
    let verified = verifier().verify(signed_form(URL, &inbound_params())).unwrap();
    assert_eq!(verified.signed_body(), SignedBody::Form);
    assert_eq!(verified.param("ToCity"), Some(""));
    assert_eq!(verified.params().count(), inbound_params().len());
    let sms = VerifiedInbound::try_from(verified).unwrap();
    assert_eq!(sms.body(), "Hello there + café ✓");
    assert_eq!(sms.from().as_str(), "+14155550100");
    assert_eq!(sms.to().kind(), AddressKind::Number);
    assert_eq!(sms.message_sid().as_str(), "SM0123456789abcdef0123456789abcdef");
    assert_eq!(sms.account_sid().as_str(), "AC0123456789abcdef0123456789abcdef");
    assert_eq!((sms.num_media(), sms.num_segments()), (0, 1));
    assert_eq!(sms.webhook().param("ToCountry"), Some("US"));
}

#[test]
fn inbound_conversion_names_what_is_missing_or_wrong() {
    let without = |name: &str| -> Vec<(&'static str, &'static str)> {
        inbound_params().into_iter().filter(|(k, _)| *k != name).collect()
    };
    let read = |params: &[(&str, &str)]| {
        VerifiedInbound::try_from(verifier().verify(signed_form(URL, params)).unwrap())
    };
    assert_eq!(read(&without("From")).unwrap_err(), InboundError::Missing("From"));
    assert_eq!(read(&without("AccountSid")).unwrap_err(), InboundError::Missing("AccountSid"));
    let mut p = without("NumMedia");
    p.push(("NumMedia", "two"));
    assert_eq!(read(&p).unwrap_err(), InboundError::NotANumber("NumMedia"));
    let mut p = without("AccountSid");
    p.push(("AccountSid", "SM0123456789abcdef0123456789abcdef"));
    assert!(matches!(read(&p).unwrap_err(), InboundError::InvalidSid { name: "AccountSid", .. }));
    // A short-code sender stays usable.
    let mut p = without("From");
    p.push(("From", "89898"));
    assert_eq!(read(&p).unwrap().from().kind(), AddressKind::ShortCode);
}

#[test]
fn accepted_answer_is_empty_twiml() {
    let r = accepted_response();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/xml");
    assert_eq!(*r.body(), r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#);
}

#[test]
fn every_rejection_is_a_bare_403_except_an_oversized_body() {
    assert!(verifier().verify(signed_form(URL, &[("Body", "x")])).is_ok());
    // The body says x, the signature covers y.
    let sig = sign(TOKEN, URL, &[("Body", "y")]).to_string();
    let tampered = UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(URL).unwrap(),
        form_headers(&sig),
        "Body=x",
        BodyLimit::DEFAULT,
    )
    .unwrap();
    let e = verifier().verify(tampered).unwrap_err();
    assert_eq!(e, VerifyError::SignatureMismatch);
    let r = e.response();
    assert_eq!(r.status(), 403);
    assert!(r.body().is_empty() && r.headers().is_empty());
    assert_eq!(VerifyError::BodyTooLarge { limit: 10 }.response().status(), 413);
}

fn with_headers(url: &str, method: Method, headers: HeaderMap, body: &str) -> Result<(), VerifyError> {
    let w =
        UnverifiedWebhook::new(method, WebhookUrl::exact(url).unwrap(), headers, body, BodyLimit::DEFAULT)?;
    verifier().verify(w).map(|_| ())
}

#[test]
fn content_type_method_and_header_rules() {
    let sig = sign(TOKEN, URL, &[("Body", "x")]).to_string();
    // Right signature, but JSON content type without bodySHA256.
    let mut h = form_headers(&sig);
    h.insert("content-type", HeaderValue::from_static("application/json"));
    assert_eq!(with_headers(URL, Method::POST, h, "Body=x"), Err(VerifyError::UnsupportedContentType));
    let mut h = form_headers(&sig);
    h.remove("content-type");
    assert_eq!(with_headers(URL, Method::POST, h, "Body=x"), Err(VerifyError::UnsupportedContentType));
    assert_eq!(
        with_headers(URL, Method::PUT, form_headers(&sig), "Body=x"),
        Err(VerifyError::UnsupportedMethod)
    );
    // Two signature headers.
    let mut h = form_headers(&sig);
    h.append("x-twilio-signature", HeaderValue::from_str(&sig).unwrap());
    assert_eq!(with_headers(URL, Method::POST, h, "Body=x"), Err(VerifyError::MalformedSignature));
    // SharedKey signatures fail closed, even with a valid classic signature beside.
    let mut h = form_headers(&sig);
    h.insert(
        "x-twilio-webhooks-signature-settings",
        HeaderValue::from_static("key=KS1,algorithm=HMAC_SHA256"),
    );
    assert_eq!(with_headers(URL, Method::POST, h, "Body=x"), Err(VerifyError::SharedKeySignature));
    // The signature of another request's parameters, and of the same parameters with another token.
    let wrong = sign("ffffffffffffffffffffffffffffffff", URL, &[("Body", "x")]).to_string();
    assert_eq!(
        with_headers(URL, Method::POST, form_headers(&wrong), "Body=x"),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn get_webhooks_sign_the_query_and_carry_no_params_in_the_data_string() {
    let url = format!("{URL}?Body=hi+there&From=%2B14155550100");
    let sig = sign(TOKEN, &url, &[]).to_string();
    let mut h = HeaderMap::new();
    h.insert("x-twilio-signature", HeaderValue::from_str(&sig).unwrap());
    let w = UnverifiedWebhook::new(
        Method::GET,
        WebhookUrl::exact(&url).unwrap(),
        h.clone(),
        "",
        BodyLimit::DEFAULT,
    )
    .unwrap();
    let verified = verifier().verify(w).unwrap();
    assert_eq!(verified.signed_body(), SignedBody::Query);
    assert_eq!(verified.param("Body"), Some("hi there"));
    assert_eq!(verified.param("From"), Some("+14155550100"));
    // The classic mistake: signing the query parameters as params too.
    let doubled = sign(TOKEN, &url, &[("Body", "hi there"), ("From", "+14155550100")]).to_string();
    let mut h2 = HeaderMap::new();
    h2.insert("x-twilio-signature", HeaderValue::from_str(&doubled).unwrap());
    assert_eq!(with_headers(&url, Method::GET, h2, ""), Err(VerifyError::SignatureMismatch));
    assert_eq!(with_headers(&url, Method::GET, h, "x=1"), Err(VerifyError::GetWithBody));
}

#[test]
fn json_webhooks_check_body_sha256() {
    let body = r#"{"property": "value", "boolean": true}"#;
    let hash = body_sha256_hex(body.as_bytes());
    assert_eq!(hash, "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
    let json = |url: &str, body: &str| {
        let sig = sign(TOKEN, url, &[]).to_string();
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-twilio-signature", HeaderValue::from_str(&sig).unwrap());
        with_headers(url, Method::POST, h, body)
    };
    assert_eq!(json(&format!("{URL}?bodySHA256={hash}"), body), Ok(()));
    assert_eq!(json(&format!("{URL}?bodySHA256={hash}"), "{}"), Err(VerifyError::BodyHashMismatch));
    assert_eq!(
        json(&format!("{URL}?bodySHA256={}", hash.to_uppercase()), body),
        Err(VerifyError::MalformedBodyHash)
    );
    assert_eq!(
        json(&format!("{URL}?bodySHA256={hash}&bodySHA256={hash}"), body),
        Err(VerifyError::RepeatedBodyHash)
    );
    assert_eq!(json(&format!("{URL}?bodySHA256=abc"), body), Err(VerifyError::MalformedBodyHash));
    // Without bodySHA256, a JSON body is refused.
    assert_eq!(json(URL, body), Err(VerifyError::UnsupportedContentType));
}

#[test]
fn port_variants_are_the_only_url_leniency() {
    let with_port = "https://agents.example.com:443/hook?a=1";
    let params = [("Body", "x")];
    // Signed with :443, received as configured without it, and the other way round.
    let sig = sign(TOKEN, with_port, &params).to_string();
    assert_eq!(
        with_headers("https://agents.example.com/hook?a=1", Method::POST, form_headers(&sig), "Body=x"),
        Ok(())
    );
    let sig = sign(TOKEN, "https://agents.example.com/hook?a=1", &params).to_string();
    assert_eq!(with_headers(with_port, Method::POST, form_headers(&sig), "Body=x"), Ok(()));
    // No trailing-slash, host-case or query-encoding leniency.
    for signed in [
        "https://agents.example.com/hook/?a=1",
        "https://Agents.example.com/hook?a=1",
        "https://agents.example.com/hook?a=%31",
        "https://agents.example.com/hook",
    ] {
        let sig = sign(TOKEN, signed, &params).to_string();
        assert_eq!(
            with_headers("https://agents.example.com/hook?a=1", Method::POST, form_headers(&sig), "Body=x"),
            Err(VerifyError::SignatureMismatch),
            "{signed}"
        );
    }
}

#[test]
fn from_http_joins_the_public_url_with_the_raw_target() {
    let public = PublicUrl::parse("https://agents.example.com/").unwrap();
    let target = "/hook?b=It's+x&a=%C3%A9";
    let url = format!("https://agents.example.com{target}");
    let sig = sign(TOKEN, &url, &[("Body", "x")]).to_string();
    let request = http::Request::post(target)
        // The request's own host is the internal one behind a proxy: ignored.
        .header("host", "internal:3000")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body("Body=x")
        .unwrap();
    let w = UnverifiedWebhook::from_http(&public, request, BodyLimit::DEFAULT).unwrap();
    assert_eq!(w.url().as_str(), url);
    assert!(verifier().verify(w).is_ok());
}

#[test]
fn body_limits_refuse_before_buffering() {
    let url = WebhookUrl::exact(URL).unwrap();
    let limit = BodyLimit::bytes(16);
    let err = UnverifiedWebhook::new(Method::POST, url.clone(), HeaderMap::new(), vec![b'a'; 17], limit)
        .unwrap_err();
    assert_eq!(err, VerifyError::BodyTooLarge { limit: 16 });
    assert!(
        UnverifiedWebhook::new(Method::POST, url.clone(), HeaderMap::new(), vec![b'a'; 16], limit).is_ok()
    );

    // A declared Content-Length over the limit: nothing is read at all.
    struct Untouchable;
    impl std::io::Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("the body must not be read")
        }
    }
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from_static("1000000"));
    let err = UnverifiedWebhook::from_reader(Method::POST, url.clone(), h, Untouchable, limit).unwrap_err();
    assert_eq!(err, VerifyError::BodyTooLarge { limit: 16 });

    // An endless body without Content-Length: reading stops after limit + 1 bytes.
    struct Counting(std::rc::Rc<std::cell::Cell<usize>>);
    impl std::io::Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.set(self.0.get() + buf.len());
            buf.fill(b'a');
            Ok(buf.len())
        }
    }
    let read = std::rc::Rc::new(std::cell::Cell::new(0));
    let err = UnverifiedWebhook::from_reader(
        Method::POST,
        url.clone(),
        HeaderMap::new(),
        Counting(read.clone()),
        limit,
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::BodyTooLarge { limit: 16 });
    assert!(read.get() <= 17, "read {} bytes", read.get());

    let ok = UnverifiedWebhook::from_reader(Method::POST, url, HeaderMap::new(), &b"Body=x"[..], limit);
    assert!(ok.is_ok());
}

#[test]
fn rejections_are_logged_without_secrets_or_numbers() {
    let buf = support::logs::Captured::default();
    let params = inbound_params();
    let forged_sig = sign("ffffffffffffffffffffffffffffffff", URL, &params).to_string();
    let real_sig = sign(TOKEN, URL, &params).to_string();
    buf.run(|| {
        let w = UnverifiedWebhook::new(
            Method::POST,
            WebhookUrl::exact(URL).unwrap(),
            form_headers(&forged_sig),
            encode_form(&params),
            BodyLimit::DEFAULT,
        )
        .unwrap();
        assert!(verifier().verify(w).is_err());
    });
    let logs = buf.text();
    assert!(logs.contains("signature: mismatch"), "{logs}");
    for secret in [TOKEN, &forged_sig, &real_sig, "4155550100", "4155550199", "Hello there"] {
        assert!(!logs.contains(secret), "{secret} leaked into {logs}");
    }
    // Debug output of the pieces holds no secret either.
    let debug = format!("{:?} {:?}", token(), verifier());
    assert!(!debug.contains(TOKEN) && !debug.contains("0123"), "{debug}");
}
