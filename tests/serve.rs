//! `router::serve` against real clients on loopback: a request head that never ends, a body that stops
//! or trickles, an idle kept-alive connection, connections past the bound, and ordinary signed traffic.
//!
//! Every wait is bounded. A test asserts that a connection closed within the read timeout plus a
//! generous margin, never that something was fast; the one "not answered yet" check uses a read timeout
//! far longer than the check, so that only a missing bound can answer in time.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use twilio_sms::client::TwilioClient;
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{IncomingMessage, TwilioSmsChannel};
use twilio_sms::hivekeep::delivery::DeliveryStatusUpdate;
use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve_with_shutdown, webhook_router};
use twilio_sms::{AccountSid, AuthToken, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::mock::MockTwilio;
use twilio_sms_testkit::{encode_form, sign};

const ACCOUNT: &str = "AC0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
const TOKEN: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const NUMBER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550142";
/// The read timeout of most tests.
const TIMEOUT: Duration = Duration::from_secs(1);
/// What a close may take past its timeout on a loaded machine (builds run beside the tests).
const MARGIN: Duration = Duration::from_secs(10);
/// The longest any single answer may take.
const ANSWER: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Recorder {
    incoming: Mutex<Vec<IncomingMessage>>,
}

impl WebhookSink for Recorder {
    fn on_incoming(&self, _channel: ChannelId, message: IncomingMessage) {
        self.incoming.lock().unwrap().push(message);
    }
    fn on_delivery_update(&self, _channel: ChannelId, _update: DeliveryStatusUpdate) {}
}

struct Server {
    addr: SocketAddr,
    webhook_url: String,
    sink: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(limits: ServeLimits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let credentials = Credentials::new(
        AccountSid::parse(ACCOUNT).unwrap(),
        AuthToken::new(TOKEN).unwrap(),
        Sender::Number(E164::parse(NUMBER).unwrap()),
    );
    let public = PublicUrl::parse(&format!("http://{addr}")).unwrap();
    let channel = TwilioSmsChannel::new(
        ChannelId::new_random(),
        credentials,
        Some(public),
        TwilioClient::new().unwrap(),
    );
    let webhook_url = channel.webhook_url().unwrap();
    let registry = Arc::new(ChannelRegistry::new());
    registry.insert(Arc::new(channel));
    let sink = Arc::new(Recorder::default());
    let app = webhook_router(registry, Arc::clone(&sink));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_with_shutdown(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    Server { addr, webhook_url, sink, stop: Some(stop), task }
}

fn limits(timeout: Duration, max_connections: usize) -> ServeLimits {
    ServeLimits::default()
        .with_read_timeout(timeout)
        .with_max_connections(NonZeroUsize::new(max_connections).unwrap())
}

impl Server {
    fn path(&self) -> &str {
        &self.webhook_url[self.webhook_url.find("/api/").unwrap()..]
    }

    /// A signed inbound SMS (a fresh `MessageSid`) as Twilio sends it: the request head, and the body.
    fn signed(&self, text: &str) -> (String, Vec<u8>) {
        let params = MockTwilio::inbound_sms(
            &AccountSid::parse(ACCOUNT).unwrap(),
            &E164::parse(CUSTOMER).unwrap(),
            &E164::parse(NUMBER).unwrap(),
            text,
        );
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let signature = sign(TOKEN, &self.webhook_url, &pairs);
        let body = encode_form(&pairs).into_bytes();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nX-Twilio-Signature: {signature}\r\n\r\n",
            self.path(),
            self.addr,
            body.len()
        );
        (head, body)
    }

    async fn connect(&self) -> TcpStream {
        tokio::time::timeout(ANSWER, TcpStream::connect(self.addr)).await.expect("connect timed out").unwrap()
    }

    fn received(&self) -> usize {
        self.sink.incoming.lock().unwrap().len()
    }
}

/// One answer's status line and body, read within `wait` (`None` when none came by then).
async fn answer(stream: &mut TcpStream, wait: Duration) -> Option<(String, String)> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buf.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                    return Some((head.lines().next().unwrap_or_default().to_owned(), body));
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// Reads until the server closes the connection (end of stream or reset), within `wait`: what it
/// sent, and how long the close took. Panics when it is still open.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    if tokio::time::timeout(wait, read).await.is_err() {
        panic!(
            "the connection was still open after {wait:?}; the server sent {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_disconnected_after_the_read_timeout() {
    let server = start(limits(TIMEOUT, 16)).await;
    let mut stalled = server.connect().await;
    let connected = Instant::now();
    stalled
        .write_all(
            format!("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Ty", server.path(), server.addr).as_bytes(),
        )
        .await
        .unwrap();
    let (sent, _) = closed_within(&mut stalled, TIMEOUT + MARGIN).await;
    assert!(connected.elapsed() >= TIMEOUT / 2, "closed before the timeout: {:?}", connected.elapsed());
    assert!(!sent.contains(" 200 "), "{sent}");

    // A client that sends nothing at all is disconnected the same way.
    let mut silent = server.connect().await;
    closed_within(&mut silent, TIMEOUT + MARGIN).await;

    // And the server still serves.
    let mut client = server.connect().await;
    let (head, body) = server.signed("still here");
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    let (status, _) = answer(&mut client, ANSWER).await.expect("an answer");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(server.received(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_halfway_gets_408_and_the_connection_closes() {
    let server = start(limits(TIMEOUT, 16)).await;
    let mut client = server.connect().await;
    let (head, body) = server.signed("half of this body never comes");
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body[..body.len() / 2]).await.unwrap();
    let (sent, _) = closed_within(&mut client, TIMEOUT + MARGIN).await;
    assert!(sent.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{sent}");
    assert!(sent.to_ascii_lowercase().contains("connection: close"), "{sent}");
    assert_eq!(server.received(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_past_the_deadline_is_cut_although_bytes_keep_coming() {
    let server = start(limits(TIMEOUT, 16)).await;
    let client = server.connect().await;
    let (head, body) = server.signed("a body sent one byte at a time");
    let (mut reader, mut writer) = client.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    // One byte every 100 ms: the whole body would take far longer than the timeout, yet no single
    // pause is long (an idle timer restarted at every byte would never expire).
    let trickle = tokio::spawn(async move {
        for byte in body {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let read = async {
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break String::from_utf8_lossy(&received).into_owned(),
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let sent = tokio::time::timeout(TIMEOUT + MARGIN, read).await.expect("the connection was still open");
    trickle.abort();
    assert!(sent.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{sent}");
    assert_eq!(server.received(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_read_timeout() {
    let server = start(limits(TIMEOUT, 16)).await;
    let mut client = server.connect().await;
    // Two requests on one connection: keep-alive works.
    for text in ["first", "second"] {
        let (head, body) = server.signed(text);
        client.write_all(head.as_bytes()).await.unwrap();
        client.write_all(&body).await.unwrap();
        let (status, body) = answer(&mut client, ANSWER).await.expect("an answer");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(body.contains("<Response></Response>"), "{body}");
    }
    // Then nothing: the server closes it.
    let (sent, _) = closed_within(&mut client, TIMEOUT + MARGIN).await;
    assert_eq!(sent, "");
    assert_eq!(server.received(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_bound_wait_until_one_closes() {
    // A read timeout far longer than the test: only the bound can hold the third client back.
    let server = start(limits(Duration::from_secs(120), 2)).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = server.connect().await;
        stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        stalled.push(stream);
    }
    // The third connects (the kernel queues it) and sends a whole request, but is not served.
    let mut third = server.connect().await;
    let (head, body) = server.signed("after the wait");
    third.write_all(head.as_bytes()).await.unwrap();
    third.write_all(&body).await.unwrap();
    assert_eq!(answer(&mut third, Duration::from_secs(1)).await, None, "served past the bound");
    assert_eq!(server.received(), 0);

    // One stalled client leaves: the third is accepted and served.
    drop(stalled.pop());
    let (status, _) = answer(&mut third, ANSWER).await.expect("served once a connection closed");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(server.received(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_held_by_a_stalled_client_is_freed_by_the_read_timeout() {
    let server = start(limits(TIMEOUT, 1)).await;
    let mut stalled = server.connect().await;
    stalled.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
    let mut next = server.connect().await;
    let (head, body) = server.signed("queued behind a stalled client");
    next.write_all(head.as_bytes()).await.unwrap();
    next.write_all(&body).await.unwrap();
    let (status, _) = answer(&mut next, TIMEOUT + MARGIN).await.expect("served after the timeout");
    assert_eq!(status, "HTTP/1.1 200 OK");
    closed_within(&mut stalled, MARGIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once_are_all_served_within_a_small_bound() {
    let server = Arc::new(start(limits(Duration::from_secs(10), 4)).await);
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let mut client = server.connect().await;
                let (head, body) = server.signed(&format!("message {i}"));
                client.write_all(head.as_bytes()).await.unwrap();
                client.write_all(&body).await.unwrap();
                let answer = answer(&mut client, Duration::from_secs(30)).await;
                // Leave at once, as Twilio does when it has its answer.
                drop(client);
                answer
            })
        })
        .collect();
    for client in clients {
        let (status, _) = client.await.unwrap().expect("an answer");
        assert_eq!(status, "HTTP/1.1 200 OK");
    }
    assert_eq!(server.received(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_returns() {
    let mut server = start(limits(TIMEOUT, 16)).await;
    let mut idle = server.connect().await;
    let (head, body) = server.signed("before the shutdown");
    idle.write_all(head.as_bytes()).await.unwrap();
    idle.write_all(&body).await.unwrap();
    assert_eq!(answer(&mut idle, ANSWER).await.expect("an answer").0, "HTTP/1.1 200 OK");
    let mut stalled = server.connect().await;
    stalled.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();

    server.stop.take().unwrap().send(()).unwrap();
    closed_within(&mut idle, MARGIN).await;
    closed_within(&mut stalled, TIMEOUT + MARGIN).await;
    tokio::time::timeout(TIMEOUT + MARGIN, &mut server.task).await.expect("serve did not return").unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err(), "still listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_answers_is_disconnected() {
    let server = start(limits(TIMEOUT, 16)).await;
    let client = server.connect().await;
    // Requests sent back to back and answers never read: once the socket buffers are full, the server's
    // writes make no progress, and it drops the connection, which fails the client's writes.
    let (_reader, mut writer) = client.into_split();
    let requests = format!("GET /nothing HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).repeat(100);
    let flood = async {
        let mut sent = 0usize;
        loop {
            match writer.write_all(requests.as_bytes()).await {
                Ok(()) => sent += 100,
                Err(error) => return (sent, error),
            }
        }
    };
    // Filling the buffers takes seconds (about 150,000 requests on loopback), then the timeout runs.
    let (sent, error) = tokio::time::timeout(Duration::from_secs(90), flood)
        .await
        .expect("the server kept a client that reads nothing");
    eprintln!("disconnected after {sent} requests: {error}");
}
