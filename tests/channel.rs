//! End to end through the axum router (feature `axum`): the embedded mock Twilio signs inbound SMS and
//! status callbacks and posts them to a real `router::serve` (default limits) on loopback (the channels'
//! public URL is `http://127.0.0.1:PORT`), and the same router is also driven in-process with `oneshot`.
//! Every outcome's exact HTTP answer is checked, with what reached the host's sink.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{
    IncomingMessage, OptOutNotice, OutboundMessageParams, SendMessageError, TwilioSmsChannel,
};
use twilio_sms::hivekeep::delivery::DeliveryStatusUpdate;
use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve, webhook_router};
use twilio_sms::webhook::EMPTY_TWIML;
use twilio_sms::{AccountSid, AuthToken, BodyLimit, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::mock::{MockTwilio, Outcome, SignedWebhook, WebhookReply};
use twilio_sms_testkit::{encode_form, sign};

const AC_A: &str = "AC0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
const TOKEN_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const AC_B: &str = "AC0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
const TOKEN_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
/// Channel A's number (account A).
const NUM_A: &str = "+14155550100";
/// Channel A2's number (account A too: same Auth Token, another channel).
const NUM_A2: &str = "+14155550101";
/// Channel B's number (account B).
const NUM_B: &str = "+14155550200";
/// The person texting the agents.
const CUSTOMER: &str = "+14155550142";
/// Channel A2's body limit (the others have the 64 KiB default).
const SMALL_LIMIT: usize = 4096;
const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Incoming(ChannelId, IncomingMessage),
    Update(ChannelId, DeliveryStatusUpdate),
    OptOut(ChannelId, OptOutNotice),
}

/// The host application: records what the router hands it.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl WebhookSink for Recorder {
    fn on_incoming(&self, channel: ChannelId, message: IncomingMessage) {
        self.events.lock().unwrap().push(Event::Incoming(channel, message));
    }
    fn on_delivery_update(&self, channel: ChannelId, update: DeliveryStatusUpdate) {
        self.events.lock().unwrap().push(Event::Update(channel, update));
    }
    fn on_opt_out(&self, channel: ChannelId, notice: OptOutNotice) {
        self.events.lock().unwrap().push(Event::OptOut(channel, notice));
    }
}

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn incoming(&self) -> Vec<(ChannelId, IncomingMessage)> {
        let events = self.events();
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Incoming(c, m) => Some((c, m)),
                _ => None,
            })
            .collect()
    }

    /// The opt-out keywords received, as `(keyword, sender)`, in order.
    fn opt_outs(&self) -> Vec<(String, String)> {
        let events = self.events();
        let keyword =
            |n: &OptOutNotice| serde_json::to_value(n).unwrap()["keyword"].as_str().unwrap().to_owned();
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::OptOut(_, n) => Some((keyword(&n), n.sender)),
                _ => None,
            })
            .collect()
    }

    /// The updates for the message `sid` (its `platformMessageId`), in order.
    fn updates_for(&self, sid: &str) -> Vec<(ChannelId, DeliveryStatusUpdate)> {
        let events = self.events();
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Update(c, u) if u.platform_message_id == sid => Some((c, u)),
                _ => None,
            })
            .collect()
    }
}

/// An HTTP answer, as compared in every test.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

fn accepted() -> Answer {
    Answer { status: 200, content_type: Some("application/xml".to_owned()), body: EMPTY_TWIML.to_owned() }
}

fn bare(status: u16) -> Answer {
    Answer { status, content_type: None, body: String::new() }
}

impl From<WebhookReply> for Answer {
    fn from(reply: WebhookReply) -> Self {
        Self { status: reply.status, content_type: reply.content_type, body: reply.body }
    }
}

struct Harness {
    mock: MockTwilio,
    addr: SocketAddr,
    router: Router,
    registry: Arc<ChannelRegistry>,
    sink: Arc<Recorder>,
    a: Arc<TwilioSmsChannel>,
    a2: Arc<TwilioSmsChannel>,
    b: Arc<TwilioSmsChannel>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn number(n: &str) -> E164 {
    E164::parse(n).unwrap()
}

fn sid(s: &str) -> AccountSid {
    AccountSid::parse(s).unwrap()
}

fn channel(
    client: &TwilioClient,
    public: &PublicUrl,
    account: &str,
    token: &str,
    from: &str,
) -> TwilioSmsChannel {
    let credentials =
        Credentials::new(sid(account), AuthToken::new(token).unwrap(), Sender::Number(number(from)));
    TwilioSmsChannel::new(ChannelId::new_random(), credentials, Some(public.clone()), client.clone())
}

async fn harness() -> Harness {
    let mock = MockTwilio::start().await.unwrap();
    mock.add_account(&sid(AC_A), TOKEN_A).unwrap();
    mock.add_account(&sid(AC_B), TOKEN_B).unwrap();
    mock.add_number(&sid(AC_A), &number(NUM_A), true).unwrap();
    mock.add_number(&sid(AC_A), &number(NUM_A2), true).unwrap();
    mock.add_number(&sid(AC_B), &number(NUM_B), true).unwrap();
    mock.set_callback_delay(Duration::from_millis(10));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public = PublicUrl::parse(&format!("http://{addr}")).unwrap();
    let client = TwilioClient::with_config(ClientConfig::default().with_api_base(mock.api_base())).unwrap();
    let a = Arc::new(channel(&client, &public, AC_A, TOKEN_A, NUM_A));
    let a2 = Arc::new(
        channel(&client, &public, AC_A, TOKEN_A, NUM_A2).with_body_limit(BodyLimit::bytes(SMALL_LIMIT)),
    );
    let b = Arc::new(channel(&client, &public, AC_B, TOKEN_B, NUM_B));
    let registry: Arc<ChannelRegistry> =
        Arc::new([Arc::clone(&a), Arc::clone(&a2), Arc::clone(&b)].into_iter().collect());
    let sink = Arc::new(Recorder::default());
    let router = webhook_router(Arc::clone(&registry), Arc::clone(&sink));
    let server = tokio::spawn({
        let router = router.clone();
        async move { serve(listener, router, ServeLimits::default()).await }
    });
    Harness { mock, addr, router, registry, sink, a, a2, b, server }
}

fn url(channel: &TwilioSmsChannel) -> String {
    channel.webhook_url().unwrap()
}

fn path_of(url: &str) -> &str {
    &url[url.find("/api/").unwrap()..]
}

/// An inbound SMS from the customer to `to`, as Twilio posts it for account `account`.
fn inbound(account: &str, to: &str, body: &str) -> Vec<(String, String)> {
    MockTwilio::inbound_sms(&sid(account), &number(CUSTOMER), &number(to), body)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap()
}

/// A status callback for `message` as Twilio posts it.
fn status_params(account: &str, message: &str, status: &str, from: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MessageSid", message.to_owned()),
        ("MessageStatus", status.to_owned()),
        ("SmsSid", message.to_owned()),
        ("SmsStatus", status.to_owned()),
        ("AccountSid", account.to_owned()),
        ("From", from.to_owned()),
        ("To", CUSTOMER.to_owned()),
        ("ApiVersion", "2010-04-01".to_owned()),
    ]
}

/// `webhook` re-signed with `token`, whatever account its parameters name.
fn resigned(webhook: &SignedWebhook, params: &[(String, String)], token: &str) -> SignedWebhook {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut webhook = webhook.clone();
    webhook.signature = sign(token, &webhook.url, &pairs).to_string();
    webhook
}

/// The request Twilio would send for `webhook`, as the server receives it.
fn request_for(webhook: &SignedWebhook) -> http::Request<Body> {
    http::Request::post(path_of(&webhook.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", webhook.body.len())
        .header("x-twilio-signature", &webhook.signature)
        .header("i-twilio-idempotency-token", &webhook.idempotency_token)
        .body(Body::from(webhook.body.clone()))
        .unwrap()
}

async fn oneshot(router: &Router, request: http::Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
}

impl Harness {
    async fn deliver(&self, webhook: &SignedWebhook) -> Answer {
        self.mock.deliver(webhook).await.unwrap().into()
    }

    async fn oneshot(&self, webhook: &SignedWebhook) -> Answer {
        oneshot(&self.router, request_for(webhook)).await
    }

    /// Sends a raw HTTP/1.1 request head (and `body`) over a new connection and reads the answer's
    /// status line, headers and body (by its `Content-Length`).
    async fn raw(&self, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        // The server may answer and close before taking everything: that is the point.
        let _ = stream.write_all(body).await;
        let read = async {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned)
                        })
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if buf.len() >= end + 4 + length {
                        let status = head[9..12].parse().unwrap();
                        return (status, head, buf[end + 4..end + 4 + length].to_vec());
                    }
                }
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed before a full answer: {:?}", String::from_utf8_lossy(&buf));
                buf.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(WAIT, read).await.expect("no answer")
    }
}

fn sms_json(message: &IncomingMessage) -> serde_json::Value {
    serde_json::to_value(message).unwrap()
}

/// An inbound MMS hands its media to the agent as attachments Hivekeep downloads: the media SID, the
/// content type and Twilio's URL, in order, and never a credential.
#[tokio::test]
async fn an_inbound_mms_carries_its_media_as_attachments() {
    let h = harness().await;
    let mut params = inbound(AC_A, NUM_A, "");
    let message = param(&params, "MessageSid").to_owned();
    let media = |n: u32| {
        format!(
            "https://api.twilio.com/2010-04-01/Accounts/{AC_A}/Messages/{message}/Media/ME{n}{}",
            "0".repeat(31)
        )
    };
    params.retain(|(k, _)| k != "NumMedia");
    for (k, v) in [
        ("NumMedia", "3".to_owned()),
        ("MediaUrl0", media(1)),
        ("MediaContentType0", "image/jpeg".to_owned()),
        ("MediaUrl1", format!("{}?x=1/2", media(2))),
        ("MediaContentType1", "video/mp4".to_owned()),
        // Not https: left out.
        ("MediaUrl2", "http://api.twilio.com/x/Media/ME3".to_owned()),
        ("MediaContentType2", "image/png".to_owned()),
    ] {
        params.push((k.to_owned(), v));
    }
    let reply = h.mock.send_inbound(&url(&h.a), &params).await.unwrap();
    assert_eq!(Answer::from(reply), accepted());
    let incoming = h.sink.incoming();
    let json = sms_json(&incoming[0].1);
    assert_eq!(json["content"], "");
    assert_eq!(json["metadata"]["twilio"]["numMedia"], 3);
    assert_eq!(
        json["attachments"],
        serde_json::json!([
            {"platformFileId": format!("ME1{}", "0".repeat(31)), "mimeType": "image/jpeg", "url": media(1)},
            {"platformFileId": format!("ME2{}", "0".repeat(31)), "mimeType": "video/mp4", "url": format!("{}?x=1/2", media(2))},
        ])
    );
    assert!(!json.to_string().contains(TOKEN_A));

    // No more than ten media, whatever NumMedia says (it is signed, but an MMS carries ten at most).
    let mut many = inbound(AC_A, NUM_A, "many");
    many.retain(|(k, _)| k != "NumMedia");
    many.push(("NumMedia".to_owned(), "12".to_owned()));
    many.extend((0..12).map(|n| (format!("MediaUrl{n}"), media(n))));
    assert_eq!(Answer::from(h.mock.send_inbound(&url(&h.a), &many).await.unwrap()), accepted());
    let incoming = h.sink.incoming();
    assert_eq!(sms_json(&incoming[1].1)["attachments"].as_array().unwrap().len(), 10);
}

/// Twilio's opt-out keywords: a `STOP` is acknowledged but not handed to the agent (Twilio has
/// unsubscribed the sender, so any answer would fail with 21610); `START` and `HELP` are, marked.
#[tokio::test]
async fn a_stop_is_acknowledged_but_not_handed_to_the_agent() {
    let h = harness().await;
    let send = |params: Vec<(String, String)>| {
        let url = url(&h.a);
        let mock = &h.mock;
        async move { Answer::from(mock.send_inbound(&url, &params).await.unwrap()) }
    };
    for body in ["STOP", " unsubscribe "] {
        assert_eq!(send(inbound(AC_A, NUM_A, body)).await, accepted());
    }
    // Advanced Opt-Out names it, whatever the sender's words.
    let mut named = inbound(AC_A, NUM_A, "Please stop texting me");
    named.push(("OptOutType".to_owned(), "STOP".to_owned()));
    assert_eq!(send(named).await, accepted());
    assert!(h.sink.incoming().is_empty(), "{:?}", h.sink.events());

    for body in ["start", "HELP", "stop sending me the weekly report"] {
        assert_eq!(send(inbound(AC_A, NUM_A, body)).await, accepted());
    }
    let marks: Vec<serde_json::Value> =
        h.sink.incoming().iter().map(|(_, m)| sms_json(m)["metadata"]["twilio"]["optOut"].clone()).collect();
    assert_eq!(marks, [serde_json::json!("start"), serde_json::json!("help"), serde_json::Value::Null]);
    // The host learns every keyword and its sender, the STOPs included.
    let keywords: Vec<(String, String)> = ["stop", "stop", "stop", "start", "help"]
        .iter()
        .map(|k| ((*k).to_owned(), CUSTOMER.to_owned()))
        .collect();
    assert_eq!(h.sink.opt_outs(), keywords);
}

#[tokio::test]
async fn a_signed_inbound_sms_reaches_the_agent_once_even_when_twilio_retries() {
    let h = harness().await;
    let params = inbound(AC_A, NUM_A, "Hello agent + café ✓");
    let message_sid = param(&params, "MessageSid").to_owned();

    // Over a real socket, as Twilio posts it.
    let reply = h.mock.send_inbound(&url(&h.a), &params).await.unwrap();
    let webhook = reply.request.clone();
    assert_eq!(Answer::from(reply), accepted());
    let incoming = h.sink.incoming();
    assert_eq!(incoming.len(), 1);
    let (channel, message) = &incoming[0];
    assert_eq!(channel, h.a.id());
    assert_eq!(
        sms_json(message),
        serde_json::json!({
            "platformUserId": CUSTOMER,
            "platformMessageId": message_sid,
            "platformChatId": CUSTOMER,
            "platformDisplayName": CUSTOMER,
            "content": "Hello agent + café ✓",
            "metadata": {"twilio": {"accountSid": AC_A, "toNumber": NUM_A, "numMedia": 0, "numSegments": 1}},
        })
    );

    // Twilio's retry: the same bytes, the same idempotency token.
    assert_eq!(h.deliver(&webhook).await, accepted());
    assert_eq!(h.oneshot(&webhook).await, accepted());
    // A replay with a fresh idempotency token (the header is not signed): still the same MessageSid.
    let mut replay = webhook.clone();
    replay.idempotency_token = "11111111-2222-4333-8444-555555555555".to_owned();
    assert_eq!(h.deliver(&replay).await, accepted());
    assert_eq!(h.oneshot(&replay).await, accepted());
    assert_eq!(h.sink.incoming().len(), 1, "delivered once: {:?}", h.sink.events());

    // The raw answer on the wire: 200, application/xml, the exact length of the empty TwiML.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nX-Twilio-Signature: {}\r\nConnection: close\r\n\r\n",
        path_of(&webhook.url),
        h.addr,
        webhook.body.len(),
        webhook.signature
    );
    let (status, head, body) = h.raw(&head, webhook.body.as_bytes()).await;
    assert_eq!(status, 200);
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/xml\r\n"), "{head}");
    assert!(lower.contains(&format!("content-length: {}\r\n", EMPTY_TWIML.len())), "{head}");
    assert_eq!(body, EMPTY_TWIML.as_bytes());
    assert_eq!(h.sink.events().len(), 1, "nothing but the one message");
}

#[tokio::test]
async fn a_get_webhook_is_verified_over_its_query() {
    let h = harness().await;
    let params = inbound(AC_A, NUM_A, "sent as a GET");
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let full = format!("{}?{}", url(&h.a), encode_form(&pairs));
    let signature = sign(TOKEN_A, &full, &[]).to_string();
    let get = |signature: &str| {
        http::Request::get(path_of(&full))
            .header("x-twilio-signature", signature)
            .body(Body::empty())
            .unwrap()
    };
    // Tampered query: refused.
    let tampered = full.replace("sent+as+a+GET", "sent+as+a+LIE");
    let request = http::Request::get(path_of(&tampered))
        .header("x-twilio-signature", &signature)
        .body(Body::empty())
        .unwrap();
    assert_eq!(oneshot(&h.router, request).await, bare(403));
    assert!(h.sink.events().is_empty());

    assert_eq!(oneshot(&h.router, get(&signature)).await, accepted());
    let response =
        reqwest::Client::new().get(&full).header("x-twilio-signature", &signature).send().await.unwrap();
    assert_eq!(response.status(), 200, "the retry over a real socket is acknowledged");
    let incoming = h.sink.incoming();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].1.content, "sent as a GET");
}

#[tokio::test]
async fn a_forged_or_tampered_inbound_is_a_bare_403_and_reaches_no_one() {
    let h = harness().await;
    let params = inbound(AC_A, NUM_A, "Pay 10 dollars");
    let genuine = h.mock.sign_webhook(&url(&h.a), &params).unwrap();

    // Forged: a well-formed signature no token made.
    assert_eq!(h.deliver(&genuine.forged()).await, bare(403));
    assert_eq!(h.oneshot(&genuine.forged()).await, bare(403));
    // No signature at all, or a malformed one.
    let mut unsigned = request_for(&genuine);
    unsigned.headers_mut().remove("x-twilio-signature");
    assert_eq!(oneshot(&h.router, unsigned).await, bare(403));
    let mut malformed = genuine.clone();
    malformed.signature = "not-a-signature".to_owned();
    assert_eq!(h.oneshot(&malformed).await, bare(403));
    // Tampered body: the text, the sender, an added parameter.
    for tampered_body in [
        genuine.body.replace("Pay+10+dollars", "Pay+99+dollars"),
        genuine.body.replace("%2B14155550142", "%2B14155550143"),
        format!("{}&Extra=1", genuine.body),
    ] {
        assert_ne!(tampered_body, genuine.body);
        let mut tampered = genuine.clone();
        tampered.body = tampered_body;
        assert_eq!(h.deliver(&tampered).await, bare(403));
        assert_eq!(h.oneshot(&tampered).await, bare(403));
    }
    // A tampered URL: a query added to the signed one.
    let mut moved = genuine.clone();
    moved.url.push_str("?x=1");
    assert_eq!(h.deliver(&moved).await, bare(403));
    // The raw 403 on the wire: no content type, an empty body.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nX-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nConnection: close\r\n\r\n",
        path_of(&genuine.url),
        h.addr,
        genuine.body.len()
    );
    let (status, head, body) = h.raw(&head, genuine.body.as_bytes()).await;
    assert_eq!(status, 403);
    assert!(!head.to_ascii_lowercase().contains("content-type"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-length: 0\r\n"), "{head}");
    assert!(body.is_empty());
    assert!(h.sink.events().is_empty(), "nothing delivered: {:?}", h.sink.events());

    // None of the refusals consumed the message: the genuine request still goes through, once.
    assert_eq!(h.deliver(&genuine).await, accepted());
    assert_eq!(h.sink.incoming().len(), 1);
}

#[tokio::test]
async fn webhooks_are_bound_to_their_channel_account_and_number() {
    let h = harness().await;
    let a_url = url(&h.a);

    // Cross-channel: signed for channel A's URL, sent to channel A2's path (same account and token).
    let for_a = h.mock.sign_webhook(&a_url, &inbound(AC_A, NUM_A, "for A")).unwrap();
    let mut to_a2 = for_a.clone();
    to_a2.url = url(&h.a2);
    assert_eq!(h.deliver(&to_a2).await, bare(403));
    assert_eq!(h.oneshot(&to_a2).await, bare(403));
    // ... and to channel B's path (another account).
    let mut to_b = for_a.clone();
    to_b.url = url(&h.b);
    assert_eq!(h.deliver(&to_b).await, bare(403));

    // Another account's signature: account B's token, sent to channel A.
    let params = inbound(AC_B, NUM_A, "signed by B");
    let by_b = h.mock.sign_webhook(&a_url, &params).unwrap();
    assert_eq!(h.deliver(&by_b).await, bare(403));
    // Cross-account: AccountSid of account B, signed with channel A's token.
    let cross = resigned(&by_b, &params, TOKEN_A);
    assert_eq!(h.deliver(&cross).await, bare(403));
    assert_eq!(h.oneshot(&cross).await, bare(403));

    // An inbound whose To is another number of the same account.
    let to_other = h.mock.sign_webhook(&a_url, &inbound(AC_A, NUM_A2, "for A2")).unwrap();
    assert_eq!(h.deliver(&to_other).await, bare(403));

    // A status callback whose From is not the channel's number.
    let message = "SM99999999999999999999999999999999";
    let foreign = h.mock.sign_webhook(&a_url, &status_params(AC_A, message, "delivered", NUM_A2)).unwrap();
    assert_eq!(h.deliver(&foreign).await, bare(403));
    // A status callback of another account, signed with channel A's token.
    let params: Vec<(String, String)> = status_params(AC_B, message, "delivered", NUM_A)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let other = h.mock.sign_webhook(&a_url, &params).unwrap();
    assert_eq!(h.deliver(&resigned(&other, &params, TOKEN_A)).await, bare(403));
    assert!(h.sink.events().is_empty(), "nothing delivered: {:?}", h.sink.events());

    // Each request is accepted at its own channel.
    assert_eq!(h.deliver(&for_a).await, accepted());
    let right = h.mock.sign_webhook(&url(&h.b), &inbound(AC_B, NUM_B, "for B")).unwrap();
    assert_eq!(h.deliver(&right).await, accepted());
    let good = h.mock.sign_webhook(&a_url, &status_params(AC_A, message, "delivered", NUM_A)).unwrap();
    assert_eq!(h.deliver(&good).await, accepted());
    let events = h.sink.events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(&events[0], Event::Incoming(c, m) if c == h.a.id() && m.content == "for A"));
    assert!(matches!(&events[1], Event::Incoming(c, m) if c == h.b.id() && m.content == "for B"));
    assert!(matches!(&events[2], Event::Update(c, u) if c == h.a.id() && u.platform_message_id == message));
}

#[tokio::test]
async fn unknown_channels_and_methods_are_refused_before_anything_is_read() {
    let h = harness().await;
    let signed = h.mock.sign_webhook(&url(&h.a), &inbound(AC_A, NUM_A, "hi")).unwrap();
    let prefix = "/api/channels/plugin/twilio-sms/webhook/";
    let paths = [
        format!("{prefix}{}", ChannelId::new_random()), // a valid id no channel has
        format!("{prefix}not-a-uuid"),                  // not a UUID
        format!("{prefix}3f2504e0-4f89-11d3-9a0c-0305e82c3301"), // a version-1 UUID
        format!("{prefix}{}/extra", h.a.id()),          // a longer path
        format!("{prefix}{}", h.a.id()).replace("twilio-sms", "twilio-mms"),
    ];
    for path in &paths {
        let mut request = request_for(&signed);
        *request.uri_mut() = path.parse().unwrap();
        assert_eq!(oneshot(&h.router, request).await, bare(404), "{path}");
    }
    let mut unknown = signed.clone();
    unknown.url = format!("http://{}{}", h.addr, paths[0]);
    assert_eq!(h.deliver(&unknown).await, bare(404));

    // A channel removed from the registry is unknown from then on.
    let removed = h.registry.remove(h.b.id()).unwrap();
    let for_b = h.mock.sign_webhook(&url(&removed), &inbound(AC_B, NUM_B, "hi")).unwrap();
    assert_eq!(h.deliver(&for_b).await, bare(404));
    h.registry.insert(removed);
    assert_eq!(h.deliver(&for_b).await, accepted());

    // Methods other than POST and GET.
    let put = http::Request::put(path_of(&signed.url)).body(Body::empty()).unwrap();
    let response = h.router.clone().oneshot(put).await.unwrap();
    assert_eq!(response.headers()["allow"], "POST,GET,HEAD");
    let put = http::Request::put(path_of(&signed.url)).body(Body::empty()).unwrap();
    assert_eq!(oneshot(&h.router, put).await, bare(405));
    let head = http::Request::head(path_of(&signed.url)).body(Body::empty()).unwrap();
    assert_eq!(oneshot(&h.router, head).await, bare(403), "HEAD is a GET without a signature");
    assert_eq!(h.sink.events().len(), 1);
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_413_before_buffering() {
    let h = harness().await;
    let a_path = path_of(&url(&h.a)).to_owned();
    let a2_path = path_of(&url(&h.a2)).to_owned();
    let limit = BodyLimit::DEFAULT.get();
    assert_eq!(h.a.body_limit().get(), limit);
    assert_eq!(h.a2.body_limit().get(), SMALL_LIMIT);

    // In process: a Content-Length over the channel's limit, then a body without one.
    let big = |path: &str, len: usize, declare: bool| {
        let mut request = http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        if declare {
            request = request.header("content-length", len);
        }
        request.body(Body::from(vec![b'a'; len])).unwrap()
    };
    assert_eq!(oneshot(&h.router, big(&a_path, limit + 1, true)).await, bare(413));
    assert_eq!(oneshot(&h.router, big(&a_path, limit + 1, false)).await, bare(413));
    assert_eq!(oneshot(&h.router, big(&a2_path, SMALL_LIMIT + 1, true)).await, bare(413));
    // At the limit exactly, the body is read (and refused for its signature).
    assert_eq!(oneshot(&h.router, big(&a2_path, SMALL_LIMIT, true)).await, bare(403));

    // Over a socket: a head declaring 10 MB, and no body sent at all. The 413 comes anyway.
    let head = format!(
        "POST {a_path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\n",
        h.addr
    );
    let (status, head, body) = h.raw(&head, b"").await;
    assert_eq!(status, 413, "{head}");
    assert!(body.is_empty() && !head.to_ascii_lowercase().contains("content-type"), "{head}");

    // Over a socket: chunked, no Content-Length, 1 KiB chunks until one byte past the limit.
    let mut chunked = Vec::new();
    for _ in 0..limit / 1024 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'a'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    // The last chunk announces more than it sends: the byte past the limit is the last one sent.
    chunked.extend_from_slice(b"400\r\na");
    let head = format!(
        "POST {a_path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nX-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        h.addr
    );
    let (status, head, body) = h.raw(&head, &chunked).await;
    assert_eq!(status, 413, "{head}");
    assert!(body.is_empty());

    // The server still serves, and a chunked body within the limit is read whole.
    let signed = h.mock.sign_webhook(&url(&h.a), &inbound(AC_A, NUM_A, "still here")).unwrap();
    assert_eq!(h.deliver(&signed).await, accepted());
    let resent = h.mock.sign_webhook(&url(&h.a), &inbound(AC_A, NUM_A, "chunked")).unwrap();
    let (first, second) = resent.body.split_at(resent.body.len() / 2);
    let chunked = format!("{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n", first.len(), second.len());
    let head = format!(
        "POST {a_path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nX-Twilio-Signature: {}\r\nConnection: close\r\n\r\n",
        h.addr, resent.signature
    );
    let (status, _, body) = h.raw(&head, chunked.as_bytes()).await;
    assert_eq!((status, body.as_slice()), (200, EMPTY_TWIML.as_bytes()));
    let contents: Vec<String> = h.sink.incoming().into_iter().map(|(_, m)| m.content).collect();
    assert_eq!(contents, ["still here", "chunked"]);
}

#[tokio::test]
async fn out_of_order_and_duplicate_callbacks_leave_the_newest_status_once() {
    let h = harness().await;
    h.mock.set_out_of_order_callbacks(true);
    h.mock.set_duplicate_callbacks(true);
    let sent = h.a.send_message(&OutboundMessageParams::text(CUSTOMER, "Your code is 1234")).await.unwrap();
    let message = sent.platform_message_id.clone();
    // delivered, delivered again, sent, sent again.
    let callbacks = h.mock.wait_for_callbacks(4, WAIT).await.unwrap();
    let seen: Vec<(&str, u32, Option<u16>)> =
        callbacks.iter().map(|c| (c.status.as_str(), c.attempt, c.response_status)).collect();
    assert_eq!(
        seen,
        [
            ("delivered", 1, Some(200)),
            ("delivered", 2, Some(200)),
            ("sent", 1, Some(200)),
            ("sent", 2, Some(200))
        ]
    );
    // The retries are dropped; the late `sent` hands the kept `delivered` over again (never `sent`).
    let updates = h.sink.updates_for(&message);
    assert_eq!(updates.len(), 2, "{updates:?}");
    for (channel, update) in &updates {
        assert_eq!(channel, h.a.id());
        assert_eq!(
            serde_json::to_value(update).unwrap(),
            serde_json::json!({"platformMessageId": message, "status": "delivered", "contextLine": "✓ Delivered"})
        );
    }

    // Hand-signed: delivered, then a late sent, then delivered again with a fresh idempotency token.
    let other = "SM12121212121212121212121212121212";
    let url_a = url(&h.a);
    let callback =
        |status: &str| h.mock.sign_webhook(&url_a, &status_params(AC_A, other, status, NUM_A)).unwrap();
    assert_eq!(h.deliver(&callback("delivered")).await, accepted());
    assert_eq!(h.deliver(&callback("sent")).await, accepted());
    assert_eq!(h.oneshot(&callback("delivered")).await, accepted());
    assert_eq!(h.oneshot(&callback("queued")).await, accepted());
    let statuses = |sid: &str| -> Vec<serde_json::Value> {
        h.sink
            .updates_for(sid)
            .iter()
            .map(|(_, u)| serde_json::to_value(u).unwrap()["status"].clone())
            .collect()
    };
    assert_eq!(statuses(other), ["delivered"; 3], "never sent or queued after delivered");
    // A read receipt is newer still.
    assert_eq!(h.deliver(&callback("read")).await, accepted());
    assert_eq!(statuses(other).last().unwrap(), "read");
    assert!(h.sink.incoming().is_empty());
}

/// A recipient written as people write it (spaces, brackets, or a national number of the channel's
/// country) is sent to in E.164; something that is not a number is refused before anything is sent.
#[tokio::test]
async fn a_recipient_is_read_as_people_write_it() {
    let h = harness().await;
    for written in [" +1 (415) 555-0142 ", "415.555.0142"] {
        h.a.send_message(&OutboundMessageParams::text(written, "Hi")).await.unwrap();
    }
    let sent: Vec<String> = h.mock.messages().iter().map(|m| m.to.clone()).collect();
    assert_eq!(sent, [CUSTOMER, CUSTOMER]);
    for refused in ["call me", "+1 555 123 4567", ""] {
        let error = h.a.send_message(&OutboundMessageParams::text(refused, "Hi")).await.unwrap_err();
        assert_eq!(error, SendMessageError::InvalidRecipient, "{refused:?}");
    }
    assert_eq!(h.mock.messages().len(), 2);
}

/// The last part's `delivered` can come in before an earlier part's failure (each part has its own
/// delivery receipt): the failure still replaces `delivered`, and a late `delivered` or `read` hands the
/// failure over again rather than bringing `delivered` back.
#[tokio::test]
async fn a_part_failure_replaces_delivered_whichever_callback_comes_first() {
    let h = harness().await;
    let (first, second) = ("SM31313131313131313131313131313131", "SM32323232323232323232323232323232");
    let url_a = url(&h.a);
    let part = |sid: &str, status: &str, query: String, extra: &[(&'static str, &str)]| {
        let mut params = status_params(AC_A, sid, status, NUM_A);
        params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        h.mock.sign_webhook(&format!("{url_a}?{query}"), &params).unwrap()
    };
    let tag2 = format!("part=2&of=2&first={first}");
    assert_eq!(h.deliver(&part(second, "delivered", tag2.clone(), &[])).await, accepted());
    let failed = part(first, "undelivered", "part=1&of=2".to_owned(), &[("ErrorCode", "30007")]);
    assert_eq!(h.deliver(&failed).await, accepted());
    assert_eq!(h.deliver(&part(second, "read", tag2, &[])).await, accepted());
    let updates: Vec<serde_json::Value> = h.sink.updates_for(first).iter().map(|(_, u)| json(u)).collect();
    let failure = serde_json::json!({
        "platformMessageId": first,
        "status": "undelivered",
        "errorCode": "30007",
        "contextLine": "✗ Delivery failed (30007)",
    });
    assert_eq!(
        updates,
        [
            serde_json::json!({"platformMessageId": first, "status": "delivered", "contextLine": "✓ Delivered"}),
            failure.clone(),
            failure,
        ]
    );
}

/// Every part to a landline fails alike, and part 1's failure may come while part 2 is still being
/// sent, before Hivekeep has linked the message (it then drops the update): part 2's failure is reported
/// too, so one reaches Hivekeep. A late `sent` hands the failure over again.
#[tokio::test]
async fn each_parts_failure_is_reported_in_case_hivekeep_missed_the_first() {
    let h = harness().await;
    let (first, second) = ("SM41414141414141414141414141414141", "SM42424242424242424242424242424242");
    let url_a = url(&h.a);
    let part = |sid: &str, status: &str, query: String| {
        let mut params = status_params(AC_A, sid, status, NUM_A);
        params.push(("ErrorCode", "30006".to_owned()));
        h.mock.sign_webhook(&format!("{url_a}?{query}"), &params).unwrap()
    };
    assert_eq!(h.deliver(&part(first, "undelivered", "part=1&of=2".to_owned())).await, accepted());
    let tag2 = format!("part=2&of=2&first={first}");
    assert_eq!(h.deliver(&part(second, "undelivered", tag2.clone())).await, accepted());
    assert_eq!(h.deliver(&part(second, "sent", tag2)).await, accepted());
    let statuses: Vec<serde_json::Value> =
        h.sink.updates_for(first).iter().map(|(_, u)| json(u)["status"].clone()).collect();
    assert_eq!(statuses, ["undelivered", "undelivered", "undelivered"]);
}

/// Sends a two-part reply whose parts end with `first` and `second`, waits for their four callbacks,
/// and returns the message id and the updates it got.
async fn two_parts(h: &Harness, first: Outcome, second: Outcome) -> (String, Vec<DeliveryStatusUpdate>) {
    h.mock.push_outcome(first);
    h.mock.push_outcome(second);
    let content = "Here is the long answer you asked for. ".repeat(50);
    assert!(content.len() > 1600);
    let sent = h.a.send_message(&OutboundMessageParams::text(CUSTOMER, content)).await.unwrap();
    assert_eq!(sent.context_line, "Sent by SMS in 2 parts");
    let parts = sent.delivery_meta["twilio"]["parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 2);
    let message = sent.platform_message_id.clone();
    assert_eq!(parts[0]["sid"], message.as_str());
    let second_sid = parts[1]["sid"].as_str().unwrap().to_owned();

    let callbacks = h.mock.wait_for_callbacks(4, WAIT).await.unwrap();
    assert!(callbacks.iter().all(|c| c.response_status == Some(200)), "{callbacks:?}");
    let part2 = callbacks.iter().find(|c| c.message_sid == second_sid).unwrap();
    assert!(part2.url.ends_with(&format!("?part=2&of=2&first={message}")), "{}", part2.url);
    assert!(h.sink.updates_for(&second_sid).is_empty(), "parts are reported under the first part's SID");
    let updates = h.sink.updates_for(&message);
    assert!(updates.iter().all(|(c, _)| c == h.a.id()));
    (message, updates.into_iter().map(|(_, u)| u).collect())
}

fn json(update: &DeliveryStatusUpdate) -> serde_json::Value {
    serde_json::to_value(update).unwrap()
}

#[tokio::test]
async fn a_multi_part_reply_whose_second_part_is_undelivered_fails_once_on_the_first_sid() {
    let h = harness().await;
    let (message, updates) = two_parts(&h, Outcome::Delivered, Outcome::Undelivered(30007)).await;
    let failures: Vec<&DeliveryStatusUpdate> =
        updates.iter().filter(|u| json(u)["status"] == "undelivered").collect();
    assert_eq!(failures.len(), 1, "{updates:?}");
    assert_eq!(
        json(updates.last().unwrap()),
        serde_json::json!({
            "platformMessageId": message,
            "status": "undelivered",
            "errorCode": "30007",
            "contextLine": "✗ Delivery failed (30007)",
        })
    );
    assert!(updates.iter().all(|u| json(u)["status"] != "delivered"), "{updates:?}");
}

#[tokio::test]
async fn a_multi_part_reply_is_delivered_once_all_parts_are() {
    let h = harness().await;
    let (message, updates) = two_parts(&h, Outcome::Delivered, Outcome::Delivered).await;
    let delivered: Vec<&DeliveryStatusUpdate> =
        updates.iter().filter(|u| json(u)["status"] == "delivered").collect();
    assert_eq!(delivered.len(), 1, "{updates:?}");
    assert_eq!(
        json(updates.last().unwrap()),
        serde_json::json!({"platformMessageId": message, "status": "delivered", "contextLine": "✓ Delivered"})
    );
    assert!(updates.iter().all(|u| matches!(json(u)["status"].as_str(), Some("sent" | "delivered"))));
}

#[tokio::test]
async fn a_reply_with_attachments_sends_public_https_ones_as_media_and_names_the_rest() {
    let h = harness().await;
    let params: OutboundMessageParams = serde_json::from_value(serde_json::json!({
        "chatId": CUSTOMER,
        "content": "Here is the chart.",
        "attachments": [
            {"source": "https://cdn.example.com/charts/q3.png?sig=s3cret", "mimeType": "image/png"},
            {"source": "/srv/hivekeep/data/workspaces/a/report.pdf?token=s3cret", "mimeType": "application/pdf", "fileName": "report.pdf"},
        ],
    }))
    .unwrap();
    let sent = h.a.send_message(&params).await.unwrap();
    let messages = h.mock.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "Here is the chart.\n\n[Attachment not sent: report.pdf]");
    assert_eq!(messages[0].num_media, 1);
    let create = h.mock.requests().into_iter().find(|r| r.method == "POST").unwrap();
    let media: Vec<&str> =
        create.params.iter().filter(|(k, _)| k == "MediaUrl").map(|(_, v)| v.as_str()).collect();
    assert_eq!(media, ["https://cdn.example.com/charts/q3.png?sig=s3cret"]);
    assert_eq!(
        sent.context_line,
        "Sent by SMS · attachment not sent: report.pdf (a file on the server, not a public URL)"
    );
    assert_eq!(sent.delivery_meta["twilio"]["media"], 1);
    assert_eq!(sent.delivery_meta["twilio"]["attachmentsNotSent"][0]["name"], "report.pdf");
    assert!(!sent.context_line.contains("s3cret"));

    // Attachments alone: the media with its name as the text.
    let only: OutboundMessageParams = serde_json::from_value(serde_json::json!({
        "chatId": CUSTOMER, "content": "",
        "attachments": [{"source": "https://cdn.example.com/q3.png", "mimeType": "image/png", "fileName": "Q3.png"}],
    }))
    .unwrap();
    h.a.send_message(&only).await.unwrap();
    let last = h.mock.messages().pop().unwrap();
    assert_eq!((last.body.as_str(), last.num_media), ("Q3.png", 1));
}

#[tokio::test]
async fn the_numbers_webhook_is_pointed_at_the_channel_only_when_it_points_nowhere_of_its_owners() {
    use twilio_sms::client::{WebhookConfigured, WebhookSetupError};
    let h = harness().await;
    let (account, from) = (sid(AC_A), number(NUM_A));
    // The harness's channels have a loopback public URL, which Twilio could not call: nothing is written.
    assert_eq!(h.a.configure_webhook().await, Err(WebhookSetupError::ChannelNotPublic));
    assert_eq!(h.mock.sms_url(&account, &from).as_deref(), Some(""));

    let client = TwilioClient::with_config(ClientConfig::default().with_api_base(h.mock.api_base())).unwrap();
    let public = PublicUrl::parse("https://agents.example.com").unwrap();
    let ch = channel(&client, &public, AC_A, TOKEN_A, NUM_A);
    assert_eq!(ch.configure_webhook().await, Ok(WebhookConfigured::Set));
    assert_eq!(h.mock.sms_url(&account, &from), ch.webhook_url());
    assert_eq!(ch.configure_webhook().await, Ok(WebhookConfigured::AlreadySet));

    // Twilio's demo reply counts as unset, and so does this channel's webhook at an old base.
    h.mock.set_sms_url(&account, &from, "https://demo.twilio.com/welcome/sms/reply").unwrap();
    assert_eq!(ch.configure_webhook().await, Ok(WebhookConfigured::Set));
    let moved = format!("https://old.example.com/api/channels/plugin/twilio-sms/webhook/{}", ch.id());
    h.mock.set_sms_url(&account, &from, &moved).unwrap();
    assert_eq!(ch.configure_webhook().await, Ok(WebhookConfigured::Set));
    // Another URL is never overwritten; only its host is named.
    let other = "https://user:pw@crm.example.com/twilio/sms/+14155550142?key=s3cret";
    h.mock.set_sms_url(&account, &from, other).unwrap();
    let error = ch.configure_webhook().await.unwrap_err();
    assert_eq!(error, WebhookSetupError::PointsElsewhere("crm.example.com".to_owned()));
    let text = error.to_string();
    assert!(
        text.contains("on crm.example.com") && !text.contains("s3cret") && !text.contains("4155550142"),
        "{text}"
    );
    assert_eq!(h.mock.sms_url(&account, &from).as_deref(), Some(other));
    let updates = h.mock.requests().into_iter().filter(|r| r.method == "POST").count();
    assert_eq!(updates, 3, "three updates: from empty, from the demo reply, from the old base");
}
