//! The axum extractor `router::Verified` on a real loopback server (`router::serve`): a signed webhook
//! reaches the handler verified; a forged, unsigned, tampered or oversized one gets the bare rejection
//! and never reaches it. Every wait has a timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use tokio::net::TcpListener;
use twilio_sms::router::{ServeLimits, Verified, WebhookState, serve};
use twilio_sms::{AuthToken, BodyLimit, PublicUrl, VerifiedInbound, WebhookVerifier};
use twilio_sms_testkit::{encode_form, sign};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const PUBLIC: &str = "https://sms.example.com";
const WAIT: Duration = Duration::from_secs(10);

/// An application state holding the extractor's state beside its own.
#[derive(Clone)]
struct App {
    webhooks: WebhookState,
    received: Arc<Mutex<Vec<String>>>,
}

impl FromRef<App> for WebhookState {
    fn from_ref(app: &App) -> Self {
        app.webhooks.clone()
    }
}

async fn sms(State(app): State<App>, Verified(webhook): Verified) -> &'static str {
    let sms = VerifiedInbound::try_from(webhook).expect("an inbound SMS");
    app.received.lock().unwrap().push(sms.body().to_owned());
    twilio_sms::webhook::EMPTY_TWIML
}

async fn start(limit: BodyLimit) -> (String, Arc<Mutex<Vec<String>>>) {
    let token = AuthToken::new(TOKEN).unwrap();
    let webhooks = WebhookState::new(WebhookVerifier::new(&token), PublicUrl::parse(PUBLIC).unwrap())
        .with_body_limit(limit);
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = App { webhooks, received: Arc::clone(&received) };
    let router = Router::new().route("/twilio/sms", post(sms)).with_state(app);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, router, ServeLimits::default()));
    (base, received)
}

fn params(body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AccountSid", format!("AC{}", "0".repeat(32))),
        ("Body", body.to_owned()),
        ("From", "+14155550142".to_owned()),
        ("MessageSid", format!("SM{}", "1".repeat(32))),
        ("To", "+14155550100".to_owned()),
    ]
}

async fn post_form(base: &str, signature: Option<String>, form: String) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/twilio/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    let response = tokio::time::timeout(WAIT, request.send()).await.expect("answered in time").unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn signed(body: &str) -> (String, String) {
    let params = params(body);
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signature = sign(TOKEN, &format!("{PUBLIC}/twilio/sms"), &pairs).to_string();
    (signature, encode_form(&pairs))
}

#[tokio::test]
async fn a_signed_webhook_reaches_the_handler_verified() {
    let (base, received) = start(BodyLimit::DEFAULT).await;
    let (signature, form) = signed("hello there");
    assert_eq!(
        post_form(&base, Some(signature), form).await,
        (200, twilio_sms::webhook::EMPTY_TWIML.to_owned())
    );
    assert_eq!(*received.lock().unwrap(), ["hello there"]);
}

#[tokio::test]
async fn forged_unsigned_tampered_and_oversized_webhooks_never_reach_the_handler() {
    let (base, received) = start(BodyLimit::bytes(512)).await;
    let (signature, form) = signed("hello");
    let forged = sign(&"f".repeat(32), &format!("{PUBLIC}/twilio/sms"), &[]);
    assert_eq!(post_form(&base, Some(forged.to_string()), form.clone()).await, (403, String::new()));
    assert_eq!(post_form(&base, None, form.clone()).await, (403, String::new()));
    let tampered = form.replace("hello", "HELLO");
    assert_eq!(post_form(&base, Some(signature.clone()), tampered).await, (403, String::new()));
    let (big_signature, big_form) = signed(&"x".repeat(600));
    assert_eq!(post_form(&base, Some(big_signature), big_form).await, (413, String::new()));
    assert!(received.lock().unwrap().is_empty(), "a refused webhook reached the handler");
    // The genuine one still goes through.
    assert_eq!(post_form(&base, Some(signature), form).await.0, 200);
    assert_eq!(received.lock().unwrap().len(), 1);
}
