//! Sends one SMS through the Messages API, and nothing else (no pre-flight calls).
//!
//! ```text
//! TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… TWILIO_FROM_NUMBER=+1… \
//!   cargo run --example send_sms -- --to +14155550100 --body "hello"
//! ```
//!
//! Optional: `TWILIO_API_BASE` (another API base URL, such as the embedded mock), `PUBLIC_URL` and
//! `CHANNEL_ID` (then Twilio posts delivery status to the channel's webhook).
//!
//! On success the Message SID goes to stdout and the exit code is 0. On failure the typed error (HTTP
//! status, Twilio code, retry safety) goes to stderr and the exit code is 1 (2 for bad arguments or
//! configuration).

use std::process::ExitCode;

use twilio_sms::client::{ClientConfig, StatusUpdates, TwilioClient};
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::outbound::{Sms, StatusCallback};
use twilio_sms::sms_text::SmsBody;
use twilio_sms::{AccountSid, ApiBase, AuthToken, ChannelId, E164, PublicUrl};

fn usage(problem: &str) -> ExitCode {
    eprintln!("send_sms: {problem}");
    eprintln!("usage: send_sms --to +14155550100 --body \"hello\"");
    eprintln!(
        "environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER; optional TWILIO_API_BASE, PUBLIC_URL, CHANNEL_ID"
    );
    ExitCode::from(2)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

struct Args {
    to: E164,
    body: SmsBody,
}

fn parse_args() -> Result<Args, String> {
    let mut to = None;
    let mut body = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--to" => to = args.next(),
            "--body" => body = args.next(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let to = to.ok_or("--to is required")?;
    let to = E164::parse(&to).map_err(|e| format!("--to: {e}"))?;
    let body = SmsBody::new(body.ok_or("--body is required")?).map_err(|e| format!("--body: {e}"))?;
    Ok(Args { to, body })
}

fn credentials() -> Result<Credentials, String> {
    let sid = env("TWILIO_ACCOUNT_SID").ok_or("TWILIO_ACCOUNT_SID is not set")?;
    let sid = AccountSid::parse(&sid).map_err(|e| format!("TWILIO_ACCOUNT_SID: {e}"))?;
    let token = AuthToken::new(env("TWILIO_AUTH_TOKEN").ok_or("TWILIO_AUTH_TOKEN is not set")?)
        .map_err(|e| format!("TWILIO_AUTH_TOKEN: {e}"))?;
    let from = env("TWILIO_FROM_NUMBER").ok_or("TWILIO_FROM_NUMBER is not set")?;
    let from = E164::parse(&from).map_err(|e| format!("TWILIO_FROM_NUMBER: {e}"))?;
    Ok(Credentials::new(sid, token, Sender::Number(from)))
}

fn status_callback() -> Result<Option<StatusCallback>, String> {
    match (env("PUBLIC_URL"), env("CHANNEL_ID")) {
        (Some(url), Some(id)) => {
            let url = PublicUrl::parse(&url).map_err(|e| format!("PUBLIC_URL: {e}"))?;
            let id = ChannelId::parse(&id).map_err(|e| format!("CHANNEL_ID: {e}"))?;
            Ok(Some(StatusCallback::for_channel(&url, &id)))
        }
        (None, None) => Ok(None),
        _ => Err("set both PUBLIC_URL and CHANNEL_ID, or neither".to_owned()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let (args, credentials, callback) = match (parse_args(), credentials(), status_callback()) {
        (Ok(a), Ok(c), Ok(s)) => (a, c, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return usage(&e),
    };
    let mut config = ClientConfig::default();
    if let Some(base) = env("TWILIO_API_BASE") {
        match ApiBase::parse(&base) {
            Ok(base) => config = config.with_api_base(base),
            Err(e) => return usage(&format!("TWILIO_API_BASE: {e}")),
        }
    }
    let client = match TwilioClient::with_config(config) {
        Ok(client) => client,
        Err(e) => return usage(&e.to_string()),
    };
    let sms = Sms::builder().to(args.to).body(args.body).build();
    match client.send(&credentials, &sms, callback.as_ref()).await {
        Ok(receipt) => {
            println!("{}", receipt.message.sid);
            if receipt.status_updates == StatusUpdates::NotAvailable {
                eprintln!("note: no PUBLIC_URL/CHANNEL_ID, so no live delivery status will follow");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("send failed: {e}");
            eprintln!(
                "  http status: {}, twilio code: {}, retry: {:?}",
                e.http_status().map_or("none".to_owned(), |s| s.to_string()),
                e.twilio_code().map_or("none".to_owned(), |c| c.to_string()),
                e.retry_safety()
            );
            ExitCode::FAILURE
        }
    }
}
