//! Simulates a Twilio webhook from the shell: signs a form POST with an Auth Token exactly as Twilio
//! signs it, and prints the `X-Twilio-Signature` and a ready `curl` command (or sends it).
//!
//! ```text
//! TWILIO_AUTH_TOKEN=… cargo run --example simulate_inbound -- \
//!   --url 'https://your-public-url/api/channels/plugin/twilio-sms/webhook/CHANNEL_ID' \
//!   --param AccountSid=AC… --param From=+15559998888 --param To=+15550001111 \
//!   --param Body=hello --param MessageSid=SM… [--send] [--tamper]
//! ```
//!
//! - `--url URL`: the full URL Twilio would call (scheme, host, port, path, query), signed byte for byte
//!   as given.
//! - `--param NAME=VALUE` (repeatable): split at the first `=`; the value is taken literally (`+` stays
//!   `+`, `%41` stays `%41`). Exactly these parameters are signed and sent, in this order: none is
//!   added, none is checked, repeated names and blank values are kept. The body is form-encoded as
//!   Twilio encodes it (`twilio_sms_testkit::encode_form`).
//! - `--send`: posts the request (10 s timeout) and prints the answer's status and body.
//! - `--tamper`: changes the body after signing (an `x` appended to the first parameter's value), so the
//!   server must answer `403`.
//!
//! Results go to stdout, notes and logs to stderr. Exit codes: 0 printed (or sent and answered, whatever
//! the status), 1 the request failed (no answer), 2 bad arguments or no usable `TWILIO_AUTH_TOKEN`.

use std::process::ExitCode;
use std::time::Duration;

use twilio_sms::AuthToken;
use twilio_sms_testkit::{SigningKey, encode_form};

const USAGE: &str =
    "usage: TWILIO_AUTH_TOKEN=… simulate_inbound --url URL [--param NAME=VALUE]... [--send] [--tamper]";
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Args {
    url: String,
    params: Vec<(String, String)>,
    send: bool,
    tamper: bool,
}

enum Parsed {
    Run(Args),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut url = None;
    let mut params = Vec::new();
    let mut send = false;
    let mut tamper = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--flag value` and `--flag=value` are both accepted.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--url" => {
                if url.replace(value("--url")?).is_some() {
                    return Err("--url is given twice".to_owned());
                }
            }
            "--param" => {
                let param = value("--param")?;
                let (name, value) = param
                    .split_once('=')
                    .ok_or_else(|| format!("--param {param:?} has no '=' (write NAME=VALUE)"))?;
                params.push((name.to_owned(), value.to_owned()));
            }
            "--send" | "--tamper" if inline.is_some() => return Err(format!("{flag} takes no value")),
            "--send" => send = true,
            "--tamper" => tamper = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| format!("--url {url:?} is not a full URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("--url must be an http:// or https:// URL, not {}:", parsed.scheme()));
    }
    if url.contains('#') {
        return Err("--url has a fragment (#...): Twilio never sends one".to_owned());
    }
    if tamper && params.is_empty() {
        return Err("--tamper changes the first --param: give at least one".to_owned());
    }
    Ok(Parsed::Run(Args { url, params, send, tamper }))
}

/// Quotes `s` for a POSIX shell: inside single quotes, with each `'` written as `'\''`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn curl_command(url: &str, signature: &str, body: &str) -> String {
    // `--globoff`: curl would otherwise read `[...]` and `{...}` in the URL as its own patterns.
    format!(
        "curl -i --globoff -X POST {} -H {} -H {} --data-raw {}",
        shell_quote(url),
        shell_quote("Content-Type: application/x-www-form-urlencoded"),
        shell_quote(&format!("X-Twilio-Signature: {signature}")),
        shell_quote(body)
    )
}

/// An error and its causes, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn send(url: &str, signature: &str, body: String) -> Result<(u16, String, String), String> {
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let response = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the request failed: {}", chain(&e.without_url())))?;
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("").to_owned();
    let body =
        response.text().await.map_err(|e| format!("reading the answer failed: {}", e.without_url()))?;
    Ok((status.as_u16(), reason, body))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("simulate_inbound: {problem}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let key = match std::env::var("TWILIO_AUTH_TOKEN") {
        Err(_) => {
            eprintln!("simulate_inbound: TWILIO_AUTH_TOKEN is not set (the channel's Twilio Auth Token)");
            return ExitCode::from(2);
        }
        // Checked as the channel checks it, then held by the signer.
        Ok(text) => match AuthToken::new(text.as_str()) {
            Ok(_) => SigningKey::new(text),
            Err(e) => {
                eprintln!("simulate_inbound: TWILIO_AUTH_TOKEN: {e}");
                return ExitCode::from(2);
            }
        },
    };

    let pairs: Vec<(&str, &str)> = args.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let signature = key.sign(&args.url, &pairs).to_string();
    let mut body = encode_form(&pairs);
    if args.tamper {
        let mut changed = pairs.clone();
        let tampered = format!("{}x", changed.first().map_or("", |(_, v)| *v));
        if let Some(first) = changed.first_mut() {
            first.1 = &tampered;
        }
        body = encode_form(&changed);
        eprintln!(
            "note: --tamper: the body was changed after signing ({:?} got an extra 'x'); expect 403",
            pairs.first().map_or("", |(k, _)| *k)
        );
    }
    if let Ok(normalized) = reqwest::Url::parse(&args.url)
        && normalized.as_str() != args.url
    {
        eprintln!(
            "note: the signature covers the URL exactly as given, but --send (and some clients) request \
             {normalized}; the server verifies the URL it receives, so this one may not match"
        );
    }

    println!("X-Twilio-Signature: {signature}");
    println!("{}", curl_command(&args.url, &signature, &body));

    if !args.send {
        return ExitCode::SUCCESS;
    }
    match send(&args.url, &signature, body).await {
        Ok((status, reason, answer)) => {
            println!("HTTP {status} {reason}");
            if !answer.is_empty() {
                println!("{answer}");
            }
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("simulate_inbound: {problem}");
            ExitCode::FAILURE
        }
    }
}
