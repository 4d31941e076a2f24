//! The outbound client against the embedded mock Twilio on loopback: the wire format, every classified
//! error, every scripted fault with the number of requests the mock saw, timeouts, concurrency and
//! multi-part sends.

mod support;

use std::time::{Duration, Instant};

use twilio_sms::api_error::{ErrorKind, RetrySafety};
use twilio_sms::client::{ClientConfig, RequestError, StatusUpdates, TwilioClient, ValidationError};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::ids::ApiKeySid;
use twilio_sms::outbound::{Sms, StatusCallback};
use twilio_sms::sms_text::SmsBody;
use twilio_sms::status::MessageStatus;
use twilio_sms::token::ApiKeySecret;
use twilio_sms::{AccountSid, AuthToken, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::mock::{AccountStatus, ApiKeyKind, Endpoint, Fault, MockTwilio};

const AC: &str = "AC11111111111111111111111111111111";
const TOKEN: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
const FROM: &str = "+14155550100";
const TO: &str = "+14155550142";
const CREATE: &str = "/Messages.json";

struct Setup {
    mock: MockTwilio,
    client: TwilioClient,
    credentials: Credentials,
}

fn number(n: &str) -> E164 {
    E164::parse(n).unwrap()
}

fn sms(text: &str) -> Sms {
    Sms::builder().to(number(TO)).body(SmsBody::new(text).unwrap()).build()
}

fn credentials(token: &str) -> Credentials {
    Credentials::new(
        AccountSid::parse(AC).unwrap(),
        AuthToken::new(token).unwrap(),
        Sender::Number(number(FROM)),
    )
}

async fn setup_with(config: impl FnOnce(&mut ClientConfig)) -> Setup {
    let mock = MockTwilio::start().await.unwrap();
    let sid = AccountSid::parse(AC).unwrap();
    mock.add_account(&sid, TOKEN).unwrap();
    mock.add_number(&sid, &number(FROM), true).unwrap();
    let mut cfg = ClientConfig::default().with_api_base(mock.api_base());
    config(&mut cfg);
    let client = TwilioClient::with_config(cfg).unwrap();
    Setup { mock, client, credentials: credentials(TOKEN) }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

fn creates(mock: &MockTwilio) -> usize {
    mock.count("POST", CREATE)
}

#[tokio::test]
async fn the_wire_format_is_twilios() {
    let s = setup().await;
    let public = PublicUrl::parse("https://agents.example.com/").unwrap();
    let channel = ChannelId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
    let callback = StatusCallback::for_channel(&public, &channel);
    let receipt = s.client.send(&s.credentials, &sms("hello + café"), Some(&callback)).await.unwrap();
    assert_eq!(receipt.attempts, 1);
    assert_eq!(receipt.message.status, MessageStatus::Queued);
    assert_eq!(receipt.status_updates, StatusUpdates::Callback(callback.clone()));

    let requests = s.mock.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{AC}/Messages.json"));
    assert!(r.authenticated, "Basic auth with the Account SID and Auth Token");
    assert_eq!(r.user.as_deref(), Some(AC));
    let params: Vec<(&str, &str)> = r.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        params,
        [
            ("To", TO),
            ("From", FROM),
            ("Body", "hello + café"),
            (
                "StatusCallback",
                "https://agents.example.com/api/channels/plugin/twilio-sms/webhook/3f2504e0-4f89-41d3-9a0c-0305e82c3301"
            ),
        ]
    );
    let created = s.mock.messages();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].sid, receipt.message.sid.as_str());
    assert_eq!(created[0].body, "hello + café");
}

#[tokio::test]
async fn without_a_public_url_the_receipt_says_no_live_status_follows() {
    let s = setup().await;
    let receipt = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap();
    assert_eq!(receipt.status_updates, StatusUpdates::NotAvailable);
    assert!(s.mock.requests()[0].param("StatusCallback").is_none());
}

#[tokio::test]
async fn an_api_key_authenticates_rest_calls() {
    let s = setup().await;
    let key = ApiKeySid::parse("SK22222222222222222222222222222222").unwrap();
    s.mock
        .add_api_key(
            &AccountSid::parse(AC).unwrap(),
            &key,
            "apikeysecretapikeysecret12345678",
            ApiKeyKind::Standard,
        )
        .unwrap();
    let with_key = credentials(TOKEN)
        .with_api_key(key.clone(), ApiKeySecret::new("apikeysecretapikeysecret12345678").unwrap());
    s.client.send(&with_key, &sms("hi"), None).await.unwrap();
    assert_eq!(s.mock.requests()[0].user.as_deref(), Some(key.as_str()));
}

fn api_error(e: &RequestError) -> (u16, Option<u32>, ErrorKind, RetrySafety) {
    match e {
        RequestError::Api(api) => (api.http_status(), api.code(), api.kind(), e.retry_safety()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn classified_errors_are_final_and_sent_once() {
    let s = setup().await;
    // Bad credentials.
    let e =
        s.client.send(&credentials("ffffffffffffffffffffffffffffffff"), &sms("hi"), None).await.unwrap_err();
    assert_eq!(api_error(&e), (401, Some(20003), ErrorKind::BadCredentials, RetrySafety::Final));
    let text = e.to_string();
    assert!(text.contains("401") && text.contains("20003"), "{text}");
    // Recipient unsubscribed.
    s.mock.opt_out(&number(TO));
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!(api_error(&e), (400, Some(21610), ErrorKind::RecipientUnsubscribed, RetrySafety::Final));
    // Region not enabled.
    s.mock.block_prefix("+44");
    let uk = Sms::builder().to(number("+447911123456")).body(SmsBody::new("hi").unwrap()).build();
    let e = s.client.send(&s.credentials, &uk, None).await.unwrap_err();
    assert_eq!(api_error(&e), (400, Some(21408), ErrorKind::RegionNotEnabled, RetrySafety::Final));
    // A From number the account does not own.
    let stranger = Credentials::new(
        AccountSid::parse(AC).unwrap(),
        AuthToken::new(TOKEN).unwrap(),
        Sender::Number(number("+14155550199")),
    );
    let e = s.client.send(&stranger, &sms("hi"), None).await.unwrap_err();
    assert_eq!(api_error(&e), (400, Some(21606), ErrorKind::FromNotCapable, RetrySafety::Final));
    // No error message carries a full phone number.
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("4155550199") && !text.contains("4155550142"), "{text}");
    }
    assert_eq!(creates(&s.mock), 4, "final errors are never retried");
}

#[tokio::test]
async fn rate_limits_are_retried_within_bounds() {
    let s = setup().await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: Some(1) });
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: None });
    let started = Instant::now();
    let receipt = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap();
    assert_eq!(receipt.attempts, 3);
    assert_eq!(creates(&s.mock), 3);
    assert_eq!(s.mock.messages().len(), 1, "a 429 creates nothing");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");

    // Always 429: at most max_attempts requests, then a safe-to-retry error.
    for _ in 0..10 {
        s.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: None });
    }
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!(api_error(&e), (429, Some(20429), ErrorKind::RateLimited, RetrySafety::Safe));
    assert_eq!(creates(&s.mock), 3 + 4);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let s = setup_with(|c| c.total_deadline = Duration::from_secs(2)).await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::TooManyRequests { retry_after: Some(30) });
    let started = Instant::now();
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.retry_safety(), RetrySafety::Safe);
    assert_eq!(creates(&s.mock), 1);
}

#[tokio::test]
async fn server_errors_are_ambiguous_and_never_retried() {
    let s = setup().await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 500 });
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(500));
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ProxyHtml { status: 502 });
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!((e.http_status(), e.twilio_code()), (Some(502), None));
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert!(!e.to_string().contains("<html"), "{e}");
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert_eq!(creates(&s.mock), 3, "one request each");
}

#[tokio::test]
async fn a_stall_past_the_attempt_timeout_is_an_ambiguous_timeout_within_the_deadline() {
    let s = setup_with(|c| c.attempt_timeout = Duration::from_millis(300)).await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::from_secs(5)));
    let started = Instant::now();
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(e, RequestError::Timeout { .. }), "{e:?}");
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(creates(&s.mock), 1);
    assert_eq!(s.mock.messages().len(), 1, "the SMS exists: that is why a timeout is ambiguous");
}

#[tokio::test]
async fn the_total_deadline_bounds_every_call() {
    let s = setup_with(|c| {
        c.attempt_timeout = Duration::from_secs(10);
        c.total_deadline = Duration::from_millis(500);
    })
    .await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::from_secs(5)));
    let started = Instant::now();
    let e = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
}

#[tokio::test]
async fn resets_and_truncations_are_ambiguous_and_sent_once() {
    let s = setup().await;
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetAfterRead { processed: true });
    let e = s.client.send(&s.credentials, &sms("one"), None).await.unwrap_err();
    assert_eq!(e, RequestError::ConnectionLost);
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert_eq!((creates(&s.mock), s.mock.messages().len()), (1, 1), "created, then reset");

    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ResetBeforeRead);
    let e = s.client.send(&s.credentials, &sms("two"), None).await.unwrap_err();
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous, "the client cannot know the request was unread");
    assert_eq!(s.mock.messages().len(), 1);

    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::Truncated);
    let e = s.client.send(&s.credentials, &sms("three"), None).await.unwrap_err();
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert_eq!(s.mock.messages().len(), 2, "a truncated answer still created the SMS");

    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::HugeBody { bytes: 10 * 1024 * 1024 });
    let e = s.client.send(&s.credentials, &sms("four"), None).await.unwrap_err();
    assert!(matches!(e, RequestError::ResponseTooLarge { status: 200, .. }), "{e:?}");
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert_eq!(creates(&s.mock), 3, "the reset-before-read request was never read, the rest once each");
}

#[tokio::test]
async fn a_refused_connection_is_safe_and_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = TwilioClient::with_config(
        ClientConfig::default().with_api_base(format!("http://127.0.0.1:{port}").parse().unwrap()),
    )
    .unwrap();
    let started = Instant::now();
    let e = client.send(&credentials(TOKEN), &sms("hi"), None).await.unwrap_err();
    assert_eq!(e, RequestError::Connect { attempts: 4 });
    assert_eq!(e.retry_safety(), RetrySafety::Safe);
    // 250 + 500 + 1000 ms of backoff between the four attempts.
    assert!(started.elapsed() >= Duration::from_millis(1700), "{:?}", started.elapsed());
}

/// A server on loopback that answers every request with `307` to the same path on `target`.
async fn redirector(target: String) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("/");
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}{path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn a_redirect_is_never_followed_with_the_credentials() {
    // Where the redirect leads: a Twilio that would accept the send, the reads and the credentials.
    let s = setup().await;
    let base = redirector(s.mock.base_url()).await;
    let client =
        TwilioClient::with_config(ClientConfig::default().with_api_base(base.parse().unwrap())).unwrap();
    let e = client.send(&s.credentials, &sms("hi"), None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(307), "{e:?}");
    assert_eq!(e.retry_safety(), RetrySafety::Ambiguous);
    assert!(client.validate_config(&s.credentials).await.is_err());
    assert!(client.bot_info(&s.credentials).await.is_err());
    assert!(s.mock.requests().is_empty(), "the redirect's target was reached: {:?}", s.mock.requests());
    assert!(s.mock.messages().is_empty());
}

#[test]
fn the_api_base_is_checked_before_a_client_exists() {
    use twilio_sms::ApiBase;
    use twilio_sms::url::UrlError;
    assert_eq!(ClientConfig::default().api_base, ApiBase::twilio());
    assert_eq!("http://api.example.com".parse::<ApiBase>(), Err(UrlError::InsecureApiBase));
    assert_eq!("https://AC1:secret@api.twilio.com".parse::<ApiBase>(), Err(UrlError::Userinfo));
    let local = ClientConfig::default().with_api_base("http://127.0.0.1:4010".parse().unwrap());
    assert!(local.api_base.is_loopback());
    assert_eq!(TwilioClient::with_config(local).unwrap().config().api_base.as_str(), "http://127.0.0.1:4010");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sends_share_one_client() {
    let s = setup().await;
    let sends = (0..200).map(|i| {
        let client = s.client.clone();
        let credentials = &s.credentials;
        async move { client.send(credentials, &sms(&format!("message {i}")), None).await }
    });
    let receipts = futures_join_all(sends).await;
    let mut sids: Vec<String> = receipts.into_iter().map(|r| r.unwrap().message.sid.to_string()).collect();
    sids.sort();
    sids.dedup();
    assert_eq!(sids.len(), 200);
    assert_eq!(creates(&s.mock), 200);
}

/// Runs futures concurrently on the current task (a tiny `join_all`).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_long_text_goes_out_as_parts_in_order() {
    let s = setup().await;
    let paragraph =
        |n: usize| format!("Paragraph {n}. {}", "All work and no play makes a dull agent. ".repeat(25));
    let text = (0..4).map(paragraph).collect::<Vec<_>>().join("\n\n");
    assert!(text.encode_utf16().count() > 3200);
    let receipt = s.client.send_text(&s.credentials, &number(TO), &text, |_| None).await.unwrap();
    let sent: Vec<String> = s.mock.messages().into_iter().map(|m| m.body).collect();
    assert_eq!(receipt.parts.len(), sent.len());
    assert!(sent.len() >= 3);
    assert!(sent.iter().all(|b| b.encode_utf16().count() <= 1600));
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squash(&sent.join(" ")), squash(&text), "in order, nothing lost");
    for (i, part) in receipt.parts.iter().enumerate() {
        assert_eq!(s.mock.messages()[i].sid, part.message.sid.as_str());
    }
}

#[tokio::test]
async fn a_failed_part_says_which_parts_went_out() {
    let s = setup().await;
    let text = format!("{}\n\n{}\n\n{}", "a ".repeat(700), "b ".repeat(700), "c ".repeat(700));
    // Part 1 goes through (a 1 ms stall is a normal answer), part 2 meets a 503.
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::Stall(Duration::from_millis(1)));
    s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ServerError { status: 503 });
    let e = s.client.send_text(&s.credentials, &number(TO), &text, |_| None).await.unwrap_err();
    assert_eq!((e.failed_index, e.sent.len(), e.total), (1, 1, 3));
    assert_eq!(e.sent[0].message.sid.as_str(), s.mock.messages()[0].sid);
    assert_eq!(e.error.retry_safety(), RetrySafety::Ambiguous);
    assert_eq!(creates(&s.mock), 2, "part 3 was never attempted, part 2 never retried");
    assert!(e.to_string().starts_with("part 2 of 3 failed after 1 part(s) went out"), "{e}");
}

#[tokio::test]
async fn validate_config_and_bot_info() {
    let s = setup().await;
    let account = s.client.validate_config(&s.credentials).await.unwrap();
    assert_eq!(account.status.as_deref(), Some("active"));
    let info = s.client.bot_info(&s.credentials).await.unwrap();
    assert_eq!(info.username.as_deref(), Some(FROM));

    let e = s.client.validate_config(&credentials("ffffffffffffffffffffffffffffffff")).await.unwrap_err();
    assert!(matches!(&e, ValidationError::Request(r) if r.twilio_code() == Some(20003)), "{e:?}");
    let stranger = Credentials::new(
        AccountSid::parse(AC).unwrap(),
        AuthToken::new(TOKEN).unwrap(),
        Sender::Number(number("+14155550199")),
    );
    assert_eq!(s.client.validate_config(&stranger).await.unwrap_err(), ValidationError::NumberNotOwned);
    s.mock.add_number(&AccountSid::parse(AC).unwrap(), &number("+14155550199"), false).unwrap();
    assert_eq!(s.client.validate_config(&stranger).await.unwrap_err(), ValidationError::NumberNotSmsCapable);
    s.mock.set_account_status(&AccountSid::parse(AC).unwrap(), AccountStatus::Suspended).unwrap();
    assert!(matches!(
        s.client.validate_config(&s.credentials).await.unwrap_err(),
        ValidationError::AccountNotActive { .. }
    ));
}

#[tokio::test]
async fn messages_can_be_fetched_and_listed_to_reconcile() {
    let s = setup().await;
    s.mock.set_callback_delay(Duration::from_millis(1));
    let receipt = s.client.send(&s.credentials, &sms("hi"), None).await.unwrap();
    let fetched = s.client.fetch_message(&s.credentials, &receipt.message.sid).await.unwrap();
    assert_eq!(fetched.sid, receipt.message.sid);
    let recent = s.client.recent_messages_to(&s.credentials, &number(TO), 20).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].sid, receipt.message.sid);
    let unknown = twilio_sms::MessageSid::parse("SM99999999999999999999999999999999").unwrap();
    let e = s.client.fetch_message(&s.credentials, &unknown).await.unwrap_err();
    assert_eq!(api_error(&e).1, Some(20404));
}

#[test]
fn no_secret_or_number_reaches_the_logs() {
    let buf = support::logs::Captured::default();
    let errors = buf.run(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let s = setup().await;
            let mut errors = Vec::new();
            s.client.send(&s.credentials, &sms("secret plans"), None).await.unwrap();
            s.client.validate_config(&s.credentials).await.unwrap();
            s.client.bot_info(&s.credentials).await.unwrap();
            errors.push(format!(
                "{:?}",
                s.client.send(&credentials("ffffffffffffffffffffffffffffffff"), &sms("x"), None).await
            ));
            s.mock.opt_out(&number(TO));
            let e = s.client.send(&s.credentials, &sms("x"), None).await.unwrap_err();
            errors.push(format!("{e} {e:?}"));
            s.mock.push_fault_for(Endpoint::CreateMessage, Fault::ProxyHtml { status: 502 });
            let e = s.client.send(&s.credentials, &sms("x"), None).await.unwrap_err();
            errors.push(format!("{e} {e:?}"));
            errors.push(format!("{:?} {:?}", s.credentials, s.client));
            errors
        })
    });
    let logs = buf.text();
    // What the client logged was captured (a lost call site would make the checks below vacuous).
    for event in ["SMS accepted", "Twilio answered", "status=201", "status=401", "status=400", "status=502"] {
        assert!(logs.contains(event), "{event} is not in the logs:\n{logs}");
    }
    let everything = format!("{logs}\n{}", errors.join("\n"));
    // The Basic credential of AC…:TOKEN, base64-encoded, and its pieces.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AC}:{TOKEN}"));
    for secret in [TOKEN, &basic, "Basic ", "4155550100", "4155550142", "secret plans"] {
        assert!(!everything.contains(secret), "{secret} leaked:\n{everything}");
    }
}

/// The raw request on the wire, read by a bare TCP listener: headers the mock does not record.
#[tokio::test]
async fn the_request_head_carries_the_user_agent_and_basic_auth() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            head.extend_from_slice(&buf[..n]);
        }
        let body =
            br#"{"sid":"SM33333333333333333333333333333333","status":"queued","brand_new_field":{"x":1}}"#;
        let answer = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    });
    let client =
        TwilioClient::with_config(ClientConfig::default().with_api_base(base.parse().unwrap())).unwrap();
    let receipt = client.send(&credentials(TOKEN), &sms("hi"), None).await.unwrap();
    assert_eq!(receipt.message.sid.as_str(), "SM33333333333333333333333333333333");
    let head = server.await.unwrap();
    assert!(
        head.starts_with(&format!("post /2010-04-01/accounts/{}/messages.json http/1.1", AC.to_lowercase())),
        "{head}"
    );
    assert!(head.contains(&format!("user-agent: twilio-sms/{}", env!("CARGO_PKG_VERSION"))), "{head}");
    assert!(head.contains("content-type: application/x-www-form-urlencoded"), "{head}");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{AC}:{TOKEN}")).to_lowercase();
    assert!(head.contains(&format!("authorization: basic {basic}")), "{head}");
}
