//! Sends per second and client CPU per send, against the embedded mock Twilio on loopback.
//!
//! `cargo run --release --example bench_send` (`SENDS`, default 5000; `CONCURRENCY`, default 64) prints
//! one JSON object on stdout. The mock runs on its own thread and runtime; the client runs on the main
//! thread's single-threaded runtime, so the main thread's CPU time (from `/proc/thread-self/stat`) is
//! the client's own cost: building the request, Basic auth, HTTP/1.1 over a pooled connection, and
//! reading the 201 answer into a `SentMessage`.

use std::time::{Duration, Instant};

use serde_json::json;
use twilio_sms::client::{ClientConfig, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::outbound::Sms;
use twilio_sms::sms_text::SmsBody;
use twilio_sms::{AccountSid, AuthToken, E164};
use twilio_sms_testkit::mock::MockTwilio;

const AC: &str = "AC11111111111111111111111111111111";
const TOKEN: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";

/// This thread's CPU time (user + system), from `/proc/thread-self/stat` (clock ticks of 10 ms).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the `)` that closes the command name: state is field 3; utime and stime are 14, 15.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let sends = env_usize("SENDS", 5000);
    let concurrency = env_usize("CONCURRENCY", 64).max(1);

    // The mock on its own thread and runtime.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mock = MockTwilio::start().await.expect("mock");
            let sid = AccountSid::parse(AC).expect("sid");
            mock.add_account(&sid, TOKEN).expect("account");
            mock.add_number(&sid, &E164::parse("+14155550100").expect("number"), true).expect("number");
            tx.send(mock.api_base()).expect("send url");
            std::future::pending::<()>().await;
        });
    });
    let base = rx.recv().expect("mock started");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let out = runtime.block_on(async {
        let client = TwilioClient::with_config(ClientConfig::default().with_api_base(base)).expect("client");
        let credentials = std::rc::Rc::new(Credentials::new(
            AccountSid::parse(AC).expect("sid"),
            AuthToken::new(TOKEN).expect("token"),
            Sender::Number(E164::parse("+14155550100").expect("number")),
        ));
        let sms = Sms::builder()
            .to(E164::parse("+14155550142").expect("number"))
            .body(
                SmsBody::new("Your table for two is booked for 8 pm. Reply STOP to opt out.").expect("body"),
            )
            .build();
        // Warm-up: open the pooled connections.
        for _ in 0..concurrency {
            client.send(&credentials, &sms, None).await.expect("warm-up send");
        }
        let cpu_start = thread_cpu();
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(sends);
        let mut failures = 0usize;
        let mut next = 0usize;
        let mut in_flight = tokio::task::JoinSet::new();
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                while next < sends || !in_flight.is_empty() {
                    while next < sends && in_flight.len() < concurrency {
                        let (client, sms, creds) = (client.clone(), sms.clone(), credentials.clone());
                        in_flight.spawn_local(async move {
                            let t = Instant::now();
                            let ok = client.send(&creds, &sms, None).await.is_ok();
                            (t.elapsed(), ok)
                        });
                        next += 1;
                    }
                    if let Some(Ok((latency, ok))) = in_flight.join_next().await {
                        latencies.push(latency);
                        failures += usize::from(!ok);
                    }
                }
            })
            .await;
        let wall = started.elapsed();
        let cpu = thread_cpu().saturating_sub(cpu_start);
        latencies.sort();
        let pct = |p: f64| {
            latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default()
        };
        json!({
            "sends": sends,
            "concurrency": concurrency,
            "failures": failures,
            "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
            "sends_per_s": (sends as f64 / wall.as_secs_f64()).round(),
            "client_cpu_us_per_send": (cpu.as_secs_f64() * 1e6 / sends as f64).round(),
            "latency_ms_p50": (pct(0.5).as_secs_f64() * 1e5).round() / 100.0,
            "latency_ms_p99": (pct(0.99).as_secs_f64() * 1e5).round() / 100.0,
        })
    });
    println!("{out}");
}
