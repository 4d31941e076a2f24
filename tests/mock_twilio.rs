//! The embedded mock Twilio server (`twilio_sms::mock`), driven with plain `reqwest` (not the crate's
//! client): authentication, validation, faults, recording, status callbacks and inbound webhooks.

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use http::StatusCode;
use serde_json::{Value, json};
use twilio_sms::ids::ApiKeySid;
use twilio_sms::status::MessageStatus;
use twilio_sms::webhook::EMPTY_TWIML;
use twilio_sms::{
    AccountSid, AuthToken, BodyLimit, E164, PublicUrl, UnverifiedWebhook, VerifiedInbound, WebhookVerifier,
};
use twilio_sms_testkit::mock::{ApiKeyKind, Endpoint, Fault, MockError, MockTwilio, Outcome};

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_ACCOUNT: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const TOKEN: &str = "mock-auth-token-0123456789abcdef";
const OTHER_TOKEN: &str = "other-auth-token-0123456789abcdef";
const STANDARD_KEY: &str = "SK11111111111111111111111111111111";
const MAIN_KEY: &str = "SK22222222222222222222222222222222";
const KEY_SECRET: &str = "mock-key-secret-0123456789abcdef";
const FROM: &str = "+14155550100";
const NO_SMS: &str = "+14155550199";
const TO: &str = "+14155550101";
const TO_2: &str = "+14155550102";
const SERVICE: &str = "MGcccccccccccccccccccccccccccccccc";

fn e164(n: &str) -> E164 {
    E164::parse(n).unwrap()
}

struct Fixture {
    mock: MockTwilio,
    http: reqwest::Client,
}

/// A mock with one account (two numbers, one not SMS-capable, and two API keys), a second account,
/// and fast callbacks.
async fn fixture() -> Fixture {
    let mock = MockTwilio::start().await.unwrap();
    let account = AccountSid::parse(ACCOUNT).unwrap();
    mock.add_account(&account, TOKEN).unwrap();
    mock.add_number(&account, &e164(FROM), true).unwrap();
    mock.add_number(&account, &e164(NO_SMS), false).unwrap();
    for (key, kind) in [(STANDARD_KEY, ApiKeyKind::Standard), (MAIN_KEY, ApiKeyKind::Main)] {
        let key = ApiKeySid::parse(key).unwrap();
        mock.add_api_key(&account, &key, KEY_SECRET, kind).unwrap();
    }
    mock.add_account(&AccountSid::parse(OTHER_ACCOUNT).unwrap(), OTHER_TOKEN).unwrap();
    mock.set_callback_delay(Duration::from_millis(2));
    Fixture { mock, http: client(Duration::from_secs(5)) }
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(timeout).build().unwrap()
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("{}/2010-04-01/Accounts/{ACCOUNT}{path}", self.mock.base_url())
    }

    async fn create_with(
        &self,
        http: &reqwest::Client,
        params: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        http.post(self.url("/Messages.json")).basic_auth(ACCOUNT, Some(TOKEN)).form(params).send().await
    }

    /// Creates a message and returns the status and JSON body.
    async fn create(&self, params: &[(&str, &str)]) -> (u16, Value) {
        let response = self.create_with(&self.http, params).await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// A GET with the Auth Token, returning the JSON body.
    async fn get_owned(&self, path: String) -> Value {
        self.get(&path, ACCOUNT, TOKEN).await.1
    }

    async fn get(&self, path: &str, user: &str, secret: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).basic_auth(user, Some(secret)).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn send(body: &str) -> Vec<(&'static str, String)> {
    vec![("To", TO.to_owned()), ("From", FROM.to_owned()), ("Body", body.to_owned())]
}

fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The `std::io::ErrorKind` somewhere in the error's source chain.
fn io_kind(error: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// Whether the request failed on a TCP reset (RST) while waiting for the response.
fn is_reset(error: &reqwest::Error) -> bool {
    error.is_request() && !error.is_timeout() && io_kind(error) == Some(std::io::ErrorKind::ConnectionReset)
}

// ----- a webhook receiver that verifies signatures for real -----

#[derive(Debug, Clone)]
struct Received {
    path: String,
    verified: bool,
    params: Vec<(String, String)>,
    idempotency_token: Option<String>,
}

impl Received {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct ReceiverState {
    public: PublicUrl,
    verifier: WebhookVerifier,
    status: StatusCode,
    got: Mutex<Vec<Received>>,
}

struct Receiver {
    base: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }
}

/// An axum server on 127.0.0.1 that verifies every request with `WebhookVerifier` and answers
/// `status` (403 when the signature is wrong).
async fn receiver(token: &str, status: StatusCode) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(ReceiverState {
        public: PublicUrl::parse(&base).unwrap(),
        verifier: WebhookVerifier::new(&AuthToken::new(token).unwrap()),
        status,
        got: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new().fallback(receive).with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { base, state }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    let request = http::Request::from_parts(parts, body.to_vec());
    let webhook = UnverifiedWebhook::from_http(&state.public, request, BodyLimit::DEFAULT).unwrap();
    let (received, response) = match state.verifier.verify(webhook) {
        Ok(verified) => {
            let received = Received {
                path,
                verified: true,
                params: verified.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                idempotency_token: verified.idempotency_token().map(str::to_owned),
            };
            if verified.param("SmsStatus") == Some("received") {
                let sms = VerifiedInbound::try_from(verified).unwrap();
                assert_eq!(sms.from().as_str(), TO);
            }
            let response = (state.status, [(http::header::CONTENT_TYPE, "application/xml")], EMPTY_TWIML);
            (received, response.into_response())
        }
        Err(_) => {
            let received = Received { path, verified: false, params: Vec::new(), idempotency_token: None };
            (received, StatusCode::FORBIDDEN.into_response())
        }
    };
    state.got.lock().unwrap().push(received);
    response
}

// ----- authentication -----

#[tokio::test]
async fn authentication_accepts_tokens_and_keys_and_refuses_the_rest() {
    let f = fixture().await;
    let params = send("hi");
    let params = pairs(&params);

    // Auth Token, Standard key and Main key can all send.
    for (user, secret) in [(ACCOUNT, TOKEN), (STANDARD_KEY, KEY_SECRET), (MAIN_KEY, KEY_SECRET)] {
        let response = f
            .http
            .post(f.url("/Messages.json"))
            .basic_auth(user, Some(secret))
            .form(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{user}");
    }

    // Wrong secret, unknown user, no header: 401 with Twilio's exact body.
    let expected = json!({"code": 20003, "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401});
    for user in
        [Some((ACCOUNT, "wrong-token")), Some((STANDARD_KEY, TOKEN)), Some((OTHER_ACCOUNT, TOKEN)), None]
    {
        let request = f.http.post(f.url("/Messages.json")).form(&params);
        let request = match user {
            Some((user, secret)) => request.basic_auth(user, Some(secret)),
            None => request,
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(response.json::<Value>().await.unwrap(), expected);
    }

    // Another account's path with valid credentials: not found.
    let other = format!("{}/2010-04-01/Accounts/{OTHER_ACCOUNT}/Messages.json", f.mock.base_url());
    let response = f.http.get(other).basic_auth(ACCOUNT, Some(TOKEN)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 20404);

    // Every request is recorded, with the user presented and never the secret.
    let requests = f.mock.requests();
    assert_eq!(requests.len(), 8);
    assert_eq!(f.mock.count("POST", "/Messages.json"), 7);
    assert_eq!(requests.iter().filter(|r| r.authenticated).count(), 4);
    assert_eq!(requests[0].user.as_deref(), Some(ACCOUNT));
    assert_eq!(requests[1].user.as_deref(), Some(STANDARD_KEY));
    assert_eq!(requests[3].user.as_deref(), Some(ACCOUNT));
    assert!(!requests[3].authenticated);
    assert_eq!(requests[6].user, None);
    assert_eq!(requests[0].param("Body"), Some("hi"));
    assert_eq!(requests[0].method, "POST");
    assert!(requests[0].at <= std::time::SystemTime::now());
    let debug = format!("{:?} {:?} {:?}", f.mock, requests, f.mock.messages());
    for secret in [TOKEN, KEY_SECRET, "wrong-token", TO, FROM, "5550101"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[tokio::test]
async fn the_account_resource_returns_the_token_except_to_standard_keys() {
    let f = fixture().await;
    let (status, account) = f.get(".json", ACCOUNT, TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(account["sid"], ACCOUNT);
    assert_eq!(account["status"], "active");
    assert_eq!(account["type"], "Full");
    assert_eq!(account["auth_token"], TOKEN);

    let (status, account) = f.get(".json", MAIN_KEY, KEY_SECRET).await;
    assert_eq!((status, account["auth_token"].as_str()), (200, Some(TOKEN)));

    // Standard keys cannot access /Accounts (reference §3.1).
    let (status, error) = f.get(".json", STANDARD_KEY, KEY_SECRET).await;
    assert_eq!((status, error["code"].as_i64()), (401, Some(20003)));

    f.mock
        .set_account_status(
            &AccountSid::parse(ACCOUNT).unwrap(),
            twilio_sms_testkit::mock::AccountStatus::Suspended,
        )
        .unwrap();
    assert_eq!(f.get(".json", ACCOUNT, TOKEN).await.1["status"], "suspended");
}

// ----- validation -----

#[tokio::test]
async fn validation_errors_carry_twilio_codes() {
    let f = fixture().await;
    f.mock.opt_out(&e164(TO_2));
    f.mock.block_prefix("+44");
    let long = "a".repeat(1601);
    // 800 emoji are 1600 UTF-16 code units: allowed; one more is too long.
    let emoji_ok = "😀".repeat(800);
    let emoji_long = "😀".repeat(801);
    // The parameters, the code expected, and its exact message when checked.
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (vec![("From", FROM), ("Body", "x")], 21604, Some("A 'To' phone number is required.")),
        (vec![("To", ""), ("From", FROM), ("Body", "x")], 21604, None),
        (
            vec![("To", "+1555123a"), ("From", FROM), ("Body", "x")],
            21211,
            Some("The 'To' number +1555123a is not a valid phone number."),
        ),
        (vec![("To", "4155550101"), ("From", FROM), ("Body", "x")], 21211, None),
        (vec![("To", TO), ("Body", "x")], 21603, Some("A 'From' phone number is required.")),
        (vec![("To", TO), ("From", FROM)], 21602, Some("Message body is required.")),
        (vec![("To", TO), ("From", FROM), ("Body", &long)], 21617, None),
        (vec![("To", TO), ("From", FROM), ("Body", &emoji_long)], 21617, None),
        (vec![("To", TO_2), ("From", FROM), ("Body", "x")], 21610, None),
        (vec![("To", "+442079460958"), ("From", FROM), ("Body", "x")], 21408, None),
        (vec![("To", TO), ("From", "+14155550123"), ("Body", "x")], 21606, None),
        (vec![("To", TO), ("From", NO_SMS), ("Body", "x")], 21606, None),
    ];
    for (params, code, message) in cases {
        let (status, error) = f.create(&params).await;
        assert_eq!((status, error["code"].as_u64()), (400, Some(u64::from(code))), "{params:?}");
        assert_eq!(error["status"], 400);
        assert_eq!(error["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
        if let Some(message) = message {
            assert_eq!(error["message"], message);
        }
    }
    assert!(f.mock.messages().is_empty());

    // The limits are inclusive, and repeated keys are fine (the first value counts).
    let (status, message) =
        f.create(&[("To", TO), ("From", FROM), ("Body", &emoji_ok), ("Body", "ignored")]).await;
    assert_eq!(status, 201);
    // 33 emoji (66 UTF-16 units) per 67-unit segment: a surrogate pair is never split.
    assert_eq!(message["num_segments"], "25");
    let (status, _) = f.create(&[("To", TO), ("From", FROM), ("MediaUrl", "https://e.com/a.png")]).await;
    assert_eq!(status, 201);
}

// ----- resources -----

#[tokio::test]
async fn create_fetch_list_and_incoming_numbers() {
    let f = fixture().await;
    let (status, message) = f.create(&[("To", TO), ("From", FROM), ("Body", "Hello! 👍")]).await;
    assert_eq!(status, 201);
    let sid = message["sid"].as_str().unwrap().to_owned();
    assert!(twilio_sms::MessageSid::parse(&sid).is_ok());
    assert_eq!(message["status"], "queued");
    assert_eq!(message["num_segments"], "1");
    assert_eq!(message["num_media"], "0");
    assert_eq!((message["from"].as_str(), message["to"].as_str()), (Some(FROM), Some(TO)));
    assert_eq!(message["body"], "Hello! 👍");
    assert_eq!(message["account_sid"], ACCOUNT);
    assert_eq!(message["api_version"], "2010-04-01");
    assert_eq!(message["direction"], "outbound-api");
    assert!(message["error_code"].is_null());
    assert!(message["messaging_service_sid"].is_null());
    assert_eq!(message["uri"], format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"));
    let created = message["date_created"].as_str().unwrap();
    assert!(created.ends_with(" +0000") && created.len() == 31, "{created}");

    // A Messaging Service send without From is `accepted`, from null, 0 segments; then queued.
    let (status, service) = f.create(&[("To", TO_2), ("MessagingServiceSid", SERVICE), ("Body", "x")]).await;
    assert_eq!((status, service["status"].as_str()), (201, Some("accepted")));
    assert!(service["from"].is_null());
    assert_eq!(service["num_segments"], "0");
    assert_eq!(service["messaging_service_sid"], SERVICE);

    // Fetch shows the current status, which advances.
    let timeout = Duration::from_secs(2);
    f.mock.wait_for_status(&sid, MessageStatus::Delivered, timeout).await.unwrap();
    let (status, fetched) = f.get(&format!("/Messages/{sid}.json"), ACCOUNT, TOKEN).await;
    assert_eq!((status, fetched["status"].as_str()), (200, Some("delivered")));
    assert!(fetched["date_sent"].is_string());
    let service_sid = service["sid"].as_str().unwrap();
    let delivered = f.mock.wait_for_status(service_sid, MessageStatus::Delivered, timeout).await.unwrap();
    assert_eq!(delivered.from.as_deref(), Some(FROM));
    assert_eq!(delivered.num_segments, 1);

    let missing = "SM00000000000000000000000000000000";
    let (status, error) = f.get(&format!("/Messages/{missing}.json"), ACCOUNT, TOKEN).await;
    assert_eq!((status, error["code"].as_i64()), (404, Some(20404)));
    assert_eq!(
        error["message"],
        format!(
            "The requested resource /2010-04-01/Accounts/{ACCOUNT}/Messages/{missing}.json was not found"
        )
    );

    // List: newest first, filtered, one page.
    f.create(&[("To", TO), ("From", FROM), ("Body", "second")]).await;
    let query = twilio_sms_testkit::encode_form(&[("To", TO), ("PageSize", "1")]);
    let (_, page) = f.get(&format!("/Messages.json?{query}"), ACCOUNT, TOKEN).await;
    assert_eq!((page["page"].as_i64(), page["page_size"].as_i64()), (Some(0), Some(1)));
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["body"], "second");
    let (_, all) = f.get("/Messages.json", ACCOUNT, TOKEN).await;
    let bodies: Vec<&str> =
        all["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["second", "x", "Hello! 👍"]);

    // Incoming numbers, looked up by number.
    let lookup = |number: &'static str| {
        let query = twilio_sms_testkit::encode_form(&[("PhoneNumber", number)]);
        f.get_owned(format!("/IncomingPhoneNumbers.json?{query}"))
    };
    let owned = lookup(FROM).await;
    let numbers = owned["incoming_phone_numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 1);
    assert_eq!(numbers[0]["phone_number"], FROM);
    assert_eq!(numbers[0]["capabilities"]["sms"], true);
    assert!(numbers[0]["sid"].as_str().unwrap().starts_with("PN"));
    let not_sms = lookup(NO_SMS).await;
    assert_eq!(not_sms["incoming_phone_numbers"][0]["capabilities"]["sms"], false);
    let unknown = lookup("+14155550123").await;
    assert_eq!(unknown["incoming_phone_numbers"], json!([]));
}

// ----- faults -----

#[tokio::test]
async fn status_faults_apply_in_order_to_their_endpoint_only() {
    let f = fixture().await;
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: Some(3) });
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: None });
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 500 });
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ProxyHtml { status: 502 });
    f.mock.push_fault_for(Endpoint::FetchAccount, Fault::ServerError { status: 500 });

    // Other endpoints are not affected by the create faults.
    assert_eq!(f.get("/Messages.json", ACCOUNT, TOKEN).await.0, 200);

    let params = send("x");
    let params = pairs(&params);
    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 20429);

    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(!response.headers().contains_key("retry-after"));

    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 20500);

    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 20503);

    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert!(response.text().await.unwrap().contains("<h1>502 Bad Gateway</h1>"));

    // The faulted requests were recorded but created nothing; the next one succeeds.
    assert!(f.mock.messages().is_empty());
    assert_eq!(f.create_with(&f.http, &params).await.unwrap().status(), 201);
    assert_eq!(f.mock.count("POST", "/Messages.json"), 6);

    assert_eq!(f.mock.pending_faults(), 1);
    assert_eq!(f.get(".json", ACCOUNT, TOKEN).await.0, 500);
    assert_eq!(f.get(".json", ACCOUNT, TOKEN).await.0, 200);
    assert_eq!(f.mock.pending_faults(), 0);
}

#[tokio::test]
async fn a_stall_times_the_client_out_after_the_message_was_created() {
    let f = fixture().await;
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::from_secs(2)));
    let params = send("x");
    let error = f.create_with(&client(Duration::from_millis(300)), &pairs(&params)).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // The ambiguous case: the client saw no answer, yet the message exists.
    assert_eq!(f.mock.messages().len(), 1);
}

#[tokio::test]
async fn resets_before_and_after_reading_the_request() {
    let f = fixture().await;
    let params = send("x");
    let params = pairs(&params);

    // Before reading: nothing recorded, nothing created.
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetBeforeRead);
    let error = f.create_with(&f.http, &params).await.unwrap_err();
    assert!(is_reset(&error) && !error.is_connect(), "{error:?}");
    assert_eq!(f.mock.requests().len(), 0);

    // After reading, not processed: recorded, not created.
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetAfterRead { processed: false });
    let error = f.create_with(&f.http, &params).await.unwrap_err();
    assert!(is_reset(&error), "{error:?}");
    assert_eq!(f.mock.count("POST", "/Messages.json"), 1);
    assert!(f.mock.messages().is_empty());

    // After reading, processed: the ambiguous case, the message exists and its lifecycle runs.
    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetAfterRead { processed: true });
    let error = f.create_with(&f.http, &params).await.unwrap_err();
    assert!(is_reset(&error), "{error:?}");
    assert_eq!(f.mock.count("POST", "/Messages.json"), 2);
    let messages = f.mock.messages();
    assert_eq!(messages.len(), 1);
    f.mock.wait_for_status(&messages[0].sid, MessageStatus::Delivered, Duration::from_secs(2)).await.unwrap();

    // Any endpoint can be reset.
    f.mock.push_fault(Fault::ResetBeforeRead);
    let error = f.http.get(f.url(".json")).basic_auth(ACCOUNT, Some(TOKEN)).send().await.unwrap_err();
    assert!(is_reset(&error), "{error:?}");

    // A stopped mock refuses connections: a connect error, safe to retry.
    let base = f.mock.base_url();
    f.mock.shutdown().await;
    let error = f.http.get(format!("{base}/2010-04-01/Accounts/{ACCOUNT}.json")).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn truncated_and_huge_responses() {
    let f = fixture().await;
    let params = send("x");
    let params = pairs(&params);

    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::Truncated);
    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 201);
    let declared = response.content_length().unwrap();
    // The connection closed before `Content-Length` bytes arrived.
    let error = response.bytes().await.unwrap_err();
    assert_eq!(io_kind(&error), Some(std::io::ErrorKind::UnexpectedEof), "{error:?}");
    assert!(declared > 100);
    assert_eq!(f.mock.messages().len(), 1, "a truncated create was processed");

    f.mock.push_fault_for(Endpoint::FetchAccount, Fault::Truncated);
    let response = f.http.get(f.url(".json")).basic_auth(ACCOUNT, Some(TOKEN)).send().await.unwrap();
    let error = response.json::<Value>().await.unwrap_err();
    assert_eq!(io_kind(&error), Some(std::io::ErrorKind::UnexpectedEof), "{error:?}");

    f.mock.push_fault_for(Endpoint::CreateMessage, Fault::HugeBody { bytes: 10 * 1024 * 1024 });
    let response = f.create_with(&f.http, &params).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(10 * 1024 * 1024));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), 10 * 1024 * 1024);
    assert!(serde_json::from_slice::<Value>(&body).is_ok());
    assert_eq!(f.mock.messages().len(), 1, "a huge-body fault creates nothing");
}

// ----- lifecycle -----

#[tokio::test]
async fn status_callbacks_are_signed_and_advance_the_message() {
    let f = fixture().await;
    let receiver = receiver(TOKEN, StatusCode::OK).await;
    let callback = format!("{}/status?channel=abc", receiver.base);
    let (_, message) =
        f.create(&[("To", TO), ("From", FROM), ("Body", "x"), ("StatusCallback", &callback)]).await;
    let sid = message["sid"].as_str().unwrap();

    let records = f.mock.wait_for_callbacks(2, Duration::from_secs(3)).await.unwrap();
    let statuses: Vec<_> = records.iter().map(|r| r.status.clone()).collect();
    assert_eq!(statuses, [MessageStatus::Sent, MessageStatus::Delivered]);
    assert!(records.iter().all(|r| r.response_status == Some(200) && r.attempt == 1 && r.url == callback));
    assert_ne!(records[0].idempotency_token, records[1].idempotency_token);

    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.verified && r.path == "/status"));
    let sent = &got[0];
    assert_eq!(sent.param("MessageSid"), Some(sid));
    assert_eq!(sent.param("SmsSid"), Some(sid));
    assert_eq!(sent.param("MessageStatus"), Some("sent"));
    assert_eq!(sent.param("SmsStatus"), Some("sent"));
    assert_eq!(sent.param("AccountSid"), Some(ACCOUNT));
    assert_eq!((sent.param("From"), sent.param("To")), (Some(FROM), Some(TO)));
    assert_eq!(sent.param("ApiVersion"), Some("2010-04-01"));
    assert_eq!(sent.param("ErrorCode"), None);
    assert_eq!(sent.idempotency_token.as_deref(), Some(records[0].idempotency_token.as_str()));
    assert_eq!(got[1].param("MessageStatus"), Some("delivered"));

    let (_, fetched) = f.get(&format!("/Messages/{sid}.json"), ACCOUNT, TOKEN).await;
    assert_eq!(fetched["status"], "delivered");
}

#[tokio::test]
async fn outcomes_are_scripted_by_recipient_and_by_order() {
    let f = fixture().await;
    let receiver = receiver(TOKEN, StatusCode::OK).await;
    let callback = format!("{}/status", receiver.base);
    f.mock.set_outcome_for(&e164(TO_2), Outcome::Undelivered(30007));
    f.mock.push_outcome(Outcome::Failed(30008));
    f.mock.set_default_outcome(Outcome::SentOnly);

    let create = |to: &'static str| {
        let callback = callback.clone();
        let f = &f;
        async move {
            let (_, m) =
                f.create(&[("To", to), ("From", FROM), ("Body", "x"), ("StatusCallback", &callback)]).await;
            m["sid"].as_str().unwrap().to_owned()
        }
    };
    let undelivered = create(TO_2).await; // by recipient: sent, undelivered 30007
    let failed = create(TO).await; // the scripted next outcome: failed 30008
    let sent_only = create(TO).await; // the default: sent

    // 2 + 1 + 1 callbacks.
    let records = f.mock.wait_for_callbacks(4, Duration::from_secs(3)).await.unwrap();
    let of = |sid: &str| {
        records
            .iter()
            .filter(|r| r.message_sid == sid)
            .map(|r| (r.status.clone(), r.error_code))
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&undelivered), [(MessageStatus::Sent, None), (MessageStatus::Undelivered, Some(30007))]);
    assert_eq!(of(&failed), [(MessageStatus::Failed, Some(30008))]);
    assert_eq!(of(&sent_only), [(MessageStatus::Sent, None)]);

    let got = receiver.got();
    let error_codes: Vec<_> = got.iter().filter_map(|r| r.param("ErrorCode")).collect();
    assert_eq!(error_codes.len(), 2);
    assert!(error_codes.contains(&"30007") && error_codes.contains(&"30008"));
    let (_, fetched) = f.get(&format!("/Messages/{undelivered}.json"), ACCOUNT, TOKEN).await;
    assert_eq!(
        (fetched["status"].as_str(), fetched["error_code"].as_i64()),
        (Some("undelivered"), Some(30007))
    );
    assert_eq!(fetched["error_message"], "Carrier violation");
}

#[tokio::test]
async fn callbacks_can_be_duplicated_reordered_and_refused() {
    let f = fixture().await;
    let receiver = receiver(TOKEN, StatusCode::OK).await;
    let callback = format!("{}/status", receiver.base);
    let params = [("To", TO), ("From", FROM), ("Body", "x"), ("StatusCallback", callback.as_str())];

    // Duplicates: each callback twice, with the same idempotency token.
    f.mock.set_duplicate_callbacks(true);
    f.create(&params).await;
    let records = f.mock.wait_for_callbacks(4, Duration::from_secs(3)).await.unwrap();
    assert_eq!(records.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 2, 1, 2]);
    assert_eq!(records[0].idempotency_token, records[1].idempotency_token);
    assert_eq!(records[2].idempotency_token, records[3].idempotency_token);
    assert_ne!(records[0].idempotency_token, records[2].idempotency_token);
    let got = receiver.got();
    assert_eq!(got[0].idempotency_token, got[1].idempotency_token);

    // Out of order: `delivered` arrives before `sent`, while the stored status is `delivered`.
    f.mock.set_duplicate_callbacks(false);
    f.mock.set_out_of_order_callbacks(true);
    let (_, message) = f.create(&params).await;
    let records = f.mock.wait_for_callbacks(6, Duration::from_secs(3)).await.unwrap();
    assert_eq!(records[4].status, MessageStatus::Delivered);
    assert_eq!(records[5].status, MessageStatus::Sent);
    assert_eq!(f.mock.message(message["sid"].as_str().unwrap()).unwrap().status, MessageStatus::Delivered);

    // The callback server's answer is recorded, here a signature refusal (wrong token) and a 500.
    f.mock.set_out_of_order_callbacks(false);
    let wrong_token = crate::receiver(OTHER_TOKEN, StatusCode::OK).await;
    let failing = crate::receiver(TOKEN, StatusCode::INTERNAL_SERVER_ERROR).await;
    f.mock.set_default_outcome(Outcome::SentOnly);
    let forged_url = format!("{}/status", wrong_token.base);
    f.create(&[("To", TO), ("From", FROM), ("Body", "x"), ("StatusCallback", &forged_url)]).await;
    let failing_url = format!("{}/status", failing.base);
    f.create(&[("To", TO), ("From", FROM), ("Body", "x"), ("StatusCallback", &failing_url)]).await;
    let records = f.mock.wait_for_callbacks(8, Duration::from_secs(3)).await.unwrap();
    assert_eq!(records[6].response_status, Some(403));
    assert_eq!(records[7].response_status, Some(500));
    assert!(!wrong_token.got()[0].verified);

    // An unreachable callback URL: a connection failure, retried once with the same token.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/status", listener.local_addr().unwrap())
    };
    f.create(&[("To", TO), ("From", FROM), ("Body", "x"), ("StatusCallback", &closed)]).await;
    let records = f.mock.wait_for_callbacks(10, Duration::from_secs(3)).await.unwrap();
    assert_eq!((records[8].response_status, records[9].response_status), (None, None));
    assert_eq!((records[8].attempt, records[9].attempt), (1, 2));
    assert_eq!(records[8].idempotency_token, records[9].idempotency_token);
}

// ----- inbound -----

#[tokio::test]
async fn inbound_webhooks_are_signed_replayable_and_forgeable() {
    let f = fixture().await;
    let receiver = receiver(TOKEN, StatusCode::OK).await;
    let url = format!("{}/api/channels/plugin/twilio-sms/webhook/abc", receiver.base);
    let account = AccountSid::parse(ACCOUNT).unwrap();
    let params = MockTwilio::inbound_sms(&account, &e164(TO), &e164(FROM), "Hello there");

    let reply = f.mock.send_inbound(&url, &params).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type.as_deref(), Some("application/xml"));
    assert_eq!(reply.body, EMPTY_TWIML);

    // A replay is the same request, idempotency token included.
    let replay = f.mock.deliver(&reply.request).await.unwrap();
    assert_eq!(replay.status, 200);
    // A forgery is refused by the verifier.
    let forged = f.mock.deliver(&reply.request.forged()).await.unwrap();
    assert_eq!(forged.status, 403);

    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(got[0].verified && got[1].verified && !got[2].verified);
    assert_eq!(got[0].idempotency_token, got[1].idempotency_token);
    assert_eq!(got[0].param("Body"), Some("Hello there"));
    assert_eq!(got[0].param("SmsStatus"), Some("received"));
    assert_eq!(got[0].param("AccountSid"), Some(ACCOUNT));

    // Arbitrary parameters can be signed too, with the token of the account they name.
    let custom = f.mock.send_inbound(&url, &[("AccountSid", ACCOUNT), ("Custom", "a b&c")]).await.unwrap();
    assert_eq!(custom.status, 200);
    assert_eq!(receiver.got()[3].param("Custom"), Some("a b&c"));
    let unknown = f.mock.send_inbound(&url, &[("AccountSid", "ACdddddddddddddddddddddddddddddddd")]).await;
    assert!(matches!(unknown, Err(MockError::UnknownAccount(_))));
    assert!(!format!("{:?}", reply.request).contains("Hello"));
}
