//! The whole channel on loopback, with the embedded mock Twilio and no account: `cargo run --example demo`.
//!
//! 1. starts the mock Twilio and a webhook server (the crate's `router`) for one channel, whose
//!    `PUBLIC_URL` is `http://127.0.0.1:PORT`;
//! 2. the agent sends a reply long enough to be split in two SMS: the `OutboundMessageResult`;
//! 3. the mock posts signed status callbacks (part 1 delivered, part 2 undelivered with 30007) and the
//!    bubble's hint changes live: every webhook answer and every applied `deliveryUpdate`;
//! 4. a short reply, delivered: `✓ Delivered`;
//! 5. the mock sends a signed inbound SMS: the `IncomingMessage`;
//! 6. a forged inbound (`403`), the exact request replayed (`200`, ignored), and a signed inbound to
//!    another number (`403`).
//!
//! Results (the narrative) go to stdout, logs to stderr (`RUST_LOG` to change the level). The demo checks
//! what it shows: any surprise is reported and the exit code is 1. Every wait is bounded.

use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{IncomingMessage, OutboundMessageParams, TwilioSmsChannel};
use twilio_sms::hivekeep::delivery::{DeliveryStatusUpdate, PartTag};
use twilio_sms::router::{ChannelRegistry, ServeLimits, WebhookSink, serve, webhook_router};
use twilio_sms::webhook::IDEMPOTENCY_HEADER;
use twilio_sms::{AccountSid, AuthToken, ChannelId, E164, PublicUrl};
use twilio_sms_testkit::mock::{CallbackRecord, MockTwilio, Outcome};

/// The fictional numbers of the demo (555-01xx numbers are reserved for fiction).
const CHANNEL_NUMBER: &str = "+14155550100";
const USER_NUMBER: &str = "+14155550142";
const OTHER_NUMBER: &str = "+14155550199";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

/// The bound of every single wait.
const WAIT: Duration = Duration::from_secs(5);
/// The bound of the whole demo.
const DEADLINE: Duration = Duration::from_secs(30);

/// The agent's long answer: about 2,400 characters, so two SMS (at most 1,600 UTF-16 units each).
const LONG_REPLY: &str = "Happy to help you plan the weekend in Lisbon! Here is a plan that keeps the walking reasonable and leaves room for long lunches.

Friday evening: check in, then walk down to the riverside at Cais do Sodre for the sunset. The Time Out Market is right there if you want to try a bit of everything without committing to one restaurant. Book nothing tonight; just wander through Bairro Alto afterwards and pick whichever tasca has a free table.

Saturday morning: take tram 28 early, before 9, when it is still quiet, and ride it up to Graca. The viewpoint at Senhora do Monte has the best panorama of the city and almost no crowds at that hour. Walk down through Alfama, get lost on purpose, and stop for a coffee and a pastel de nata wherever the smell of baking leads you. Around noon, visit the castle if the queue is short; otherwise the cathedral next door is a lovely quick stop.

Saturday afternoon: head west to Belem. The monastery is worth the visit, and the original pasteis de Belem bakery is a ten-minute walk away (the line moves fast, and the sit-down rooms at the back are much calmer). If you still have energy, the riverside path towards the Monument to the Discoveries is flat and easy, and perfect at golden hour.

Sunday: a day trip to Sintra. Take the train from Rossio station; it takes about forty minutes. Go to Pena Palace first thing, then walk down through the forest paths to the Moorish Castle. Bring a light jacket: Sintra is often cooler and mistier than the city. Have lunch in the old town and try the travesseiros at Piriquita before heading back.

A few practical tips. Comfortable shoes matter more than anything else here: the hills are steep and the cobblestones get slippery. A rechargeable transport card covers trams, buses, the metro and the Sintra train, which saves a lot of time at ticket machines. Most restaurants put bread, olives and cheese on the table when you sit down; they are not free, so just send back whatever you do not want. Dinner starts late, around eight or nine, so a mid-afternoon snack is a good idea.

If the weather turns, the tile museum and the Gulbenkian collection are both wonderful rainy-day alternatives, and neither is usually crowded.

Would you like me to book a table for Saturday night, or to send the train times for Sunday morning? I can also text you a short checklist the evening before you leave.";

const SHORT_REPLY: &str = "Done: your table for two is booked for Saturday at 8:30 pm. Enjoy Lisbon!";

/// What the webhook server saw for one request, sent to the narrative as it happens.
struct Event {
    /// The raw query of the request (a part tag for a multi-part status callback).
    query: Option<String>,
    /// Twilio's idempotency token header (not a secret: it names the delivery).
    token: Option<String>,
    /// The HTTP status answered.
    status: u16,
    incoming: Option<IncomingMessage>,
    update: Option<DeliveryStatusUpdate>,
}

/// What the router handed to the host while one request was served.
#[derive(Default)]
struct Handed {
    incoming: Option<IncomingMessage>,
    update: Option<DeliveryStatusUpdate>,
}

tokio::task_local! {
    /// The request being served (the router calls the sink on the request's task).
    static HANDED: RefCell<Handed>;
}

/// The host's side of the router: Hivekeep would enqueue the message for the agent and apply the update
/// to the bubble; the demo notes them for the request being served.
struct Host;

impl WebhookSink for Host {
    fn on_incoming(&self, _channel: ChannelId, message: IncomingMessage) {
        let _ = HANDED.try_with(|handed| handed.borrow_mut().incoming = Some(message));
    }

    fn on_delivery_update(&self, _channel: ChannelId, update: DeliveryStatusUpdate) {
        let _ = HANDED.try_with(|handed| handed.borrow_mut().update = Some(update));
    }
}

/// A layer around the crate's router that reports every answer, with what the host was handed.
async fn observe(
    State(events): State<mpsc::UnboundedSender<Event>>,
    request: Request,
    next: Next,
) -> Response {
    let query = request.uri().query().map(str::to_owned);
    let token = request.headers().get(IDEMPOTENCY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (response, handed) = HANDED
        .scope(RefCell::new(Handed::default()), async move {
            let response = next.run(request).await;
            (response, HANDED.with(RefCell::take))
        })
        .await;
    let status = response.status().as_u16();
    tracing::info!(target: "demo::webhook", status, incoming = handed.incoming.is_some(), update = handed.update.is_some(), "webhook answered");
    let _ = events.send(Event { query, token, status, incoming: handed.incoming, update: handed.update });
    response
}

/// The narrative's state, and what went differently from the script.
struct Story {
    events: mpsc::UnboundedReceiver<Event>,
    surprises: Vec<String>,
}

impl Story {
    fn expect(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            println!("   !! unexpected: {what}");
            self.surprises.push(what);
        }
    }

    async fn next_event(&mut self) -> Result<Event, String> {
        match tokio::time::timeout(WAIT, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err("the webhook server stopped".to_owned()),
            Err(_) => Err(format!("no webhook reached the server within {} s", WAIT.as_secs())),
        }
    }
}

/// The mock's record of the callback with this idempotency token (it is written once the mock has read
/// the answer, just after the server sent its event).
async fn callback_record(mock: &MockTwilio, token: Option<&str>) -> Option<CallbackRecord> {
    let token = token?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(record) = mock.callbacks().into_iter().find(|r| r.idempotency_token == token) {
            return Some(record);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn compact(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<not serializable: {e}>"))
}

fn pretty(value: &impl serde::Serialize, indent: &str) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<not serializable: {e}>"));
    text.lines().map(|line| format!("{indent}{line}")).collect::<Vec<_>>().join("\n")
}

/// Prints `count` status callbacks as the webhook answers them, with the bubble's hint as it changes.
async fn follow_callbacks(
    story: &mut Story,
    mock: &MockTwilio,
    count: usize,
    bubble: &mut String,
) -> Result<Vec<DeliveryStatusUpdate>, String> {
    let mut applied = Vec::new();
    for _ in 0..count {
        let event = story.next_event().await?;
        let record = callback_record(mock, event.token.as_deref()).await;
        let part = PartTag::from_query(event.query.as_deref())
            .map_or_else(|| "single SMS".to_owned(), |tag| format!("part {}/{}", tag.part, tag.of));
        let what = record.as_ref().map_or_else(
            || "?".to_owned(),
            |r| match r.error_code {
                Some(code) => format!("{} {} {code}", r.message_sid, r.status.as_str()),
                None => format!("{} {}", r.message_sid, r.status.as_str()),
            },
        );
        println!("   callback {part:<10} {what:<52} → webhook answered {}", event.status);
        story.expect(event.status == 200, format!("a signed status callback answered {}", event.status));
        match event.update {
            Some(update) => {
                println!("      deliveryUpdate {}", compact(&update));
                if let Some(line) = &update.context_line {
                    println!("      bubble: {bubble:?} → {line:?}");
                    line.clone_into(bubble);
                }
                applied.push(update);
            }
            None => println!("      no deliveryUpdate: not newer than what the bubble shows ({bubble:?})"),
        }
    }
    Ok(applied)
}

async fn run(story: &mut Story) -> Result<(), String> {
    let account = AccountSid::parse(ACCOUNT).map_err(|e| e.to_string())?;
    let channel_number = E164::parse(CHANNEL_NUMBER).map_err(|e| e.to_string())?;
    let user = E164::parse(USER_NUMBER).map_err(|e| e.to_string())?;
    let other = E164::parse(OTHER_NUMBER).map_err(|e| e.to_string())?;
    // A fresh Auth Token for this run; it is never printed.
    let token_text = uuid::Uuid::new_v4().simple().to_string();

    println!("twilio-sms demo: one Hivekeep channel, the embedded mock Twilio, everything on 127.0.0.1");
    println!("(no Twilio account, no network; numbers are fictional 555-01xx numbers)");
    println!();

    // 1. The mock Twilio, the webhook server and the channel.
    let mock = MockTwilio::start().await.map_err(|e| format!("mock Twilio: {e}"))?;
    mock.add_account(&account, &token_text).map_err(|e| e.to_string())?;
    mock.add_number(&account, &channel_number, true).map_err(|e| e.to_string())?;
    mock.set_callback_delay(Duration::from_millis(20));

    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| format!("webhook server: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let public_url = PublicUrl::parse(&format!("http://127.0.0.1:{port}")).map_err(|e| e.to_string())?;
    let client = TwilioClient::with_config(ClientConfig::default().with_api_base(mock.api_base()))
        .map_err(|e| e.to_string())?;
    let token = AuthToken::new(token_text).map_err(|e| e.to_string())?;
    let credentials = Credentials::new(account.clone(), token, Sender::Number(channel_number.clone()));
    let channel =
        TwilioSmsChannel::new(ChannelId::new_random(), credentials, Some(public_url.clone()), client);
    let channel = Arc::new(channel);
    let webhook_url = channel.webhook_url().ok_or("the channel has no webhook URL")?;
    let channel_id = channel.id().to_string();

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    story.events = events_rx;
    // The crate's router serves the channel's webhook endpoint, as Hivekeep's dispatcher would.
    let registry = Arc::new(ChannelRegistry::new());
    registry.insert(Arc::clone(&channel));
    let router = webhook_router(registry, Host).layer(middleware::from_fn_with_state(events_tx, observe));
    // Served with the crate's read timeouts and connection bound (`axum::serve` has neither).
    let server = tokio::spawn(serve(listener, router, ServeLimits::default()));

    println!("1. Set-up");
    println!(
        "   mock Twilio   {}  (account {account}, channel number {})",
        mock.base_url(),
        channel_number.redacted()
    );
    println!("   PUBLIC_URL    {public_url}  (this demo's webhook server)");
    println!("   channel id    {channel_id}");
    println!("   webhook URL   {webhook_url}");
    println!(
        "   scripted      the next SMS delivered, the one after undelivered (30007), later ones delivered"
    );
    // Outcomes apply to the messages in the order they are created.
    mock.push_outcome(Outcome::Delivered);
    mock.push_outcome(Outcome::Undelivered(30007));
    println!();

    let people = People { account: &account, user: &user, channel_number: &channel_number, other: &other };
    let result = steps(story, &mock, &channel, &webhook_url, &people).await;
    server.abort();
    mock.shutdown().await;
    result
}

struct People<'a> {
    account: &'a AccountSid,
    user: &'a E164,
    channel_number: &'a E164,
    other: &'a E164,
}

async fn steps(
    story: &mut Story,
    mock: &MockTwilio,
    channel: &TwilioSmsChannel,
    webhook_url: &str,
    people: &People<'_>,
) -> Result<(), String> {
    // 2. A long reply: two SMS.
    let chars = LONG_REPLY.chars().count();
    println!("2. The agent replies with {chars} characters: send_message splits it");
    let sent = channel
        .send_message(&OutboundMessageParams::text(people.user.as_str(), LONG_REPLY))
        .await
        .map_err(|e| format!("send_message: {e}"))?;
    println!("   OutboundMessageResult:");
    println!("{}", pretty(&sent, "   "));
    let parts = sent.delivery_meta["twilio"]["parts"].as_array().map_or(0, Vec::len);
    story.expect(parts == 2, format!("the long reply went out as {parts} SMS, not 2"));
    println!();

    // 3. Its status callbacks: sent and a final status for each part.
    println!("3. Live delivery status: the mock posts signed callbacks to the webhook");
    let mut bubble = sent.context_line.clone();
    println!("   bubble: {bubble:?}");
    let applied = follow_callbacks(story, mock, 2 * parts, &mut bubble).await?;
    story.expect(
        applied.iter().all(|u| u.platform_message_id == sent.platform_message_id),
        "an update was not reported under the first part's SID",
    );
    story.expect(bubble == "✗ Delivery failed (30007)", format!("the bubble ended as {bubble:?}"));
    println!("   → part 1 delivered but part 2 undelivered: the message shows the failure, with its code");
    println!();

    // 4. A short reply: one SMS, delivered.
    println!("4. A short reply: one SMS, delivered");
    let short = channel
        .send_message(&OutboundMessageParams::text(people.user.as_str(), SHORT_REPLY))
        .await
        .map_err(|e| format!("send_message: {e}"))?;
    println!("   OutboundMessageResult: {}", compact(&short));
    let mut bubble = short.context_line.clone();
    println!("   bubble: {bubble:?}");
    follow_callbacks(story, mock, 2, &mut bubble).await?;
    story.expect(bubble == "✓ Delivered", format!("the short reply's bubble ended as {bubble:?}"));
    println!();

    // 5. An inbound SMS, signed by the mock with the account's Auth Token.
    println!("5. The user texts the channel's number: the mock posts a signed inbound SMS");
    let params = MockTwilio::inbound_sms(
        people.account,
        people.user,
        people.channel_number,
        "Saturday works! Could you also send the train times for Sunday?",
    );
    let reply = mock.send_inbound(webhook_url, &params).await.map_err(|e| format!("inbound: {e}"))?;
    let event = story.next_event().await?;
    println!(
        "   webhook answered {} ({}) {}",
        reply.status,
        reply.content_type.as_deref().unwrap_or("no content type"),
        reply.body
    );
    story.expect(reply.status == 200, format!("a signed inbound SMS answered {}", reply.status));
    match &event.incoming {
        Some(incoming) => {
            println!("   IncomingMessage (handed to the agent):");
            println!("{}", pretty(incoming, "   "));
        }
        None => story.expect(false, "a signed inbound SMS produced no IncomingMessage"),
    }
    println!();

    // 6. What must not reach the agent.
    println!("6. What must not reach the agent");
    let forged = mock.deliver(&reply.request.forged()).await.map_err(|e| format!("forged: {e}"))?;
    let event = story.next_event().await?;
    println!(
        "   {:<48} → webhook answered {} {}",
        "forged: step 5's body, a bad X-Twilio-Signature",
        forged.status,
        if event.incoming.is_some() { "and produced an IncomingMessage!" } else { "(no IncomingMessage)" }
    );
    story.expect(forged.status == 403 && event.incoming.is_none(), "the forged inbound was not refused");

    let replay = mock.deliver(&reply.request).await.map_err(|e| format!("replay: {e}"))?;
    let event = story.next_event().await?;
    println!(
        "   {:<48} → webhook answered {} {}",
        "replayed: step 5's exact request, re-delivered",
        replay.status,
        if event.incoming.is_some() {
            "and produced a second IncomingMessage!"
        } else {
            "but ignored (duplicate: no second IncomingMessage)"
        }
    );
    story.expect(replay.status == 200 && event.incoming.is_none(), "the replayed inbound was not ignored");

    let elsewhere = MockTwilio::inbound_sms(people.account, people.user, people.other, "hello?");
    let misrouted = mock.send_inbound(webhook_url, &elsewhere).await.map_err(|e| format!("inbound: {e}"))?;
    let event = story.next_event().await?;
    println!(
        "   {:<48} → webhook answered {} {}",
        "misrouted: validly signed, To is another number",
        misrouted.status,
        if event.incoming.is_some() { "and produced an IncomingMessage!" } else { "(no IncomingMessage)" }
    );
    story
        .expect(misrouted.status == 403 && event.incoming.is_none(), "the misrouted inbound was not refused");
    println!("   (each refusal's reason is in the log on stderr, without the token or a phone number)");
    println!();

    let requests = mock.count("POST", "/Messages.json");
    let callbacks = mock.callbacks().len();
    println!(
        "Done: {requests} SMS sent to the mock, {callbacks} signed status callbacks, 4 inbound webhooks; {}",
        if story.surprises.is_empty() { "everything as expected." } else { "with surprises (see above)." }
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let (_tx, events) = mpsc::unbounded_channel();
    let mut story = Story { events, surprises: Vec::new() };
    let outcome = tokio::time::timeout(DEADLINE, run(&mut story)).await;
    match outcome {
        Ok(Ok(())) if story.surprises.is_empty() => ExitCode::SUCCESS,
        Ok(Ok(())) => {
            eprintln!("demo: {} unexpected result(s): {}", story.surprises.len(), story.surprises.join("; "));
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("demo failed: not finished within {} s", DEADLINE.as_secs());
            ExitCode::FAILURE
        }
    }
}
