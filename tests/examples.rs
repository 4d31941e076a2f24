//! The user-facing examples work: `demo` runs to the end and tells the expected story,
//! `simulate_inbound` signs exactly what a strict verifier accepts (and its `--tamper` what it refuses),
//! and `webhook_server` serves signed webhooks with the limits its environment sets.
//!
//! Examples cannot be imported, so these tests run their binaries. `cargo test` builds the examples, but
//! `cargo test --test examples` does not, so each test first runs `$CARGO build --example demo --example
//! simulate_inbound --example webhook_server --example send_sms` (same profile; a no-op when they are
//! fresh; cargo has released its lock by the time tests run). Without `$CARGO` (the test binary run by
//! hand) the binaries already built are used. A missing binary fails the test with a clear message.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use twilio_sms::client::TwilioClient;
use twilio_sms::credentials::{Credentials, Sender};
use twilio_sms::hivekeep::adapter::{IncomingMessage, TwilioSmsChannel, WEBHOOK_PATH_PREFIX};
use twilio_sms::{
    AccountSid, AuthToken, BodyLimit, ChannelId, E164, PublicUrl, UnverifiedWebhook, WebhookVerifier,
};
use twilio_sms_testkit::{encode_form, sign};

const TOKEN: &str = "5b7c0a9e3d2f4c1ab8e6d0f9a7c3e1b2";
const DEMO_TIMEOUT: Duration = Duration::from_secs(60);
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// The environment variables that set a proxy for reqwest and curl.
const PROXY_VARIABLES: [&str; 6] =
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];

/// Runs `command` to its end, killing it after `timeout` (a hang fails the test, never blocks it).
fn run(command: &mut Command, timeout: Duration) -> Finished {
    // The children talk to 127.0.0.1 only: a proxy from this test's environment must not get in the way
    // (`simulate_inbound` and `curl` use one for any host). A proxy the caller set on `command` stays.
    let set: Vec<_> = command.get_envs().map(|(name, _)| name.to_owned()).collect();
    for var in PROXY_VARIABLES {
        if !set.iter().any(|name| name == var) {
            command.env_remove(var);
        }
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} did not finish within {} s\n--- stdout\n{}\n--- stderr\n{}",
                timeout.as_secs(),
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// `target/<profile>/examples`, after making sure the examples run here are built and fresh.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        // This test runs as `target/<profile>/deps/examples-<hash>`.
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| format!("cannot find the target directory from {}", exe.display()))?;
        if let Ok(cargo) = std::env::var("CARGO") {
            let mut build = Command::new(cargo);
            build.current_dir(env!("CARGO_MANIFEST_DIR")).args([
                "build",
                "--example",
                "demo",
                "--example",
                "simulate_inbound",
                "--example",
                "webhook_server",
                "--example",
                "send_sms",
            ]);
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some("release") => {
                    build.arg("--release");
                }
                Some(profile) => {
                    build.args(["--profile", profile]);
                }
            }
            let built = run(&mut build, BUILD_TIMEOUT);
            if !built.status.success() {
                return Err(format!("building the examples failed ({}):\n{}", built.status, built.stderr));
            }
        } else {
            eprintln!("CARGO is not set: using the example binaries already built");
        }
        Ok(profile_dir.join("examples"))
    });
    match dir {
        Ok(dir) => dir,
        Err(problem) => panic!("{problem}"),
    }
}

fn example(name: &str) -> Command {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the example binary {} was not found: build it with `cargo build --example {name}` (or run `cargo test`)",
        path.display()
    );
    Command::new(path)
}

#[test]
fn demo_runs_the_whole_channel_and_exits_0() {
    let started = Instant::now();
    // A proxy in the environment is not used for the mock Twilio on loopback: a dead one here.
    let mut demo = example("demo");
    for proxy in PROXY_VARIABLES {
        demo.env(proxy, "http://127.0.0.1:9");
    }
    let done = run(demo.env("RUST_LOG", "info"), DEMO_TIMEOUT);
    let (out, err) = (&done.stdout, &done.stderr);
    assert!(done.status.success(), "demo exited with {}\n--- stdout\n{out}\n--- stderr\n{err}", done.status);
    eprintln!("demo ran in {:?}", started.elapsed());

    // (c) the long reply went out as two SMS, known by the first part's SID.
    assert!(out.contains("\"contextLine\": \"Sent by SMS in 2 parts\""), "{out}");
    // (d) live hints: part 2 undelivered is the message's failure; the short reply is delivered.
    assert!(out.contains("undelivered 30007"), "{out}");
    assert!(out.contains("\"contextLine\":\"✗ Delivery failed (30007)\""), "{out}");
    assert!(out.contains("bubble: \"Sent\" → \"✗ Delivery failed (30007)\""), "{out}");
    assert!(out.contains("\"contextLine\":\"✓ Delivered\""), "{out}");
    // (e) the inbound SMS became an IncomingMessage.
    assert!(out.contains("IncomingMessage"), "{out}");
    assert!(out.contains("\"platformMessageId\": \"SM"), "{out}");
    assert!(out.contains("\"platformUserId\": \"+14155550142\""), "{out}");
    // (f) forged → 403, replayed → 200 but ignored, misrouted → 403.
    assert!(out.contains("forged: step 5's body, a bad X-Twilio-Signature  → webhook answered 403"), "{out}");
    assert!(out.contains("→ webhook answered 200 but ignored (duplicate"), "{out}");
    assert!(out.contains("misrouted: validly signed, To is another number  → webhook answered 403"), "{out}");
    // Every webhook answer is shown: 6 status callbacks and 4 inbound webhooks.
    assert_eq!(out.matches("webhook answered ").count(), 10, "{out}");
    assert!(out.contains("everything as expected"), "{out}");

    // Logs are on stderr, with the refusals' reasons but no phone number.
    assert!(err.contains("signature: mismatch"), "{err}");
    assert!(err.contains("binding: inbound To is not the channel's number"), "{err}");
    for number in ["+14155550100", "+14155550142", "+14155550199", "14155550"] {
        assert!(!err.contains(number), "a phone number is in the logs: {err}");
    }
    assert!(!out.contains("WARN") && !out.contains("INFO"), "logs leaked to stdout: {out}");
}

/// A server that verifies every request strictly, as the channel does, and records what it saw.
struct Verifying {
    public_url: PublicUrl,
    verifier: WebhookVerifier,
    accepted: Mutex<Vec<Vec<(String, String)>>>,
    refused: Mutex<Vec<String>>,
}

async fn verify(State(server): State<Arc<Verifying>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BodyLimit::DEFAULT.get()).await.unwrap();
    let webhook = UnverifiedWebhook::from_http(
        &server.public_url,
        http::Request::from_parts(parts, body),
        BodyLimit::DEFAULT,
    )
    .and_then(|webhook| server.verifier.verify(webhook));
    match webhook {
        Ok(webhook) => {
            let params = webhook.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            server.accepted.lock().unwrap().push(params);
            twilio_sms::webhook::accepted_response().map(Body::from).into_response()
        }
        Err(error) => {
            server.refused.lock().unwrap().push(error.to_string());
            error.response().map(Body::from).into_response()
        }
    }
}

/// Starts a verifying server on 127.0.0.1; the runtime must outlive the test's requests.
fn verifying_server() -> (tokio::runtime::Runtime, String, Arc<Verifying>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::new(Verifying {
        public_url: PublicUrl::parse(&base).unwrap(),
        verifier: WebhookVerifier::new(&AuthToken::new(TOKEN).unwrap()),
        accepted: Mutex::new(Vec::new()),
        refused: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new().fallback(verify).with_state(Arc::clone(&server));
    runtime.spawn(async move { axum::serve(listener, app).await });
    (runtime, base, server)
}

/// Parameters that catch the usual mistakes: `+` decoded as a space, `=` in a value, blank values,
/// repeated keys out of byte order, characters to escape, non-ASCII text.
fn tricky_params() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+14155550142"),
        ("To", "+14155550100"),
        ("Body", "1+1=2 & café, 100% sure*"),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("Tag", "zeta"),
        ("Tag", "alpha"),
        ("NumMedia", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn simulate(url: &str, params: &[(String, String)], extra: &[&str]) -> Finished {
    let mut command = example("simulate_inbound");
    command.env("TWILIO_AUTH_TOKEN", TOKEN).env("RUST_LOG", "warn").args(["--url", url]);
    for (k, v) in params {
        command.args(["--param", &format!("{k}={v}")]);
    }
    command.args(extra);
    let done = run(&mut command, TOOL_TIMEOUT);
    assert!(!done.stdout.contains(TOKEN) && !done.stderr.contains(TOKEN), "the token was printed");
    done
}

fn expected_signature(url: &str, params: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sign(TOKEN, url, &pairs).to_string()
}

#[test]
fn simulate_inbound_sends_what_a_strict_verifier_accepts_and_tamper_gets_403() {
    let (_runtime, base, server) = verifying_server();
    // A full URL: port, path and a query, all signed.
    let url = format!(
        "{base}/api/channels/plugin/twilio-sms/webhook/11111111-1111-4111-8111-111111111111?part=1&of=2"
    );
    let params = tricky_params();

    let sent = simulate(&url, &params, &["--send"]);
    assert!(sent.status.success(), "{}\n{}", sent.stdout, sent.stderr);
    assert!(sent.stdout.contains(&format!("X-Twilio-Signature: {}\n", expected_signature(&url, &params))));
    assert!(sent.stdout.contains("HTTP 200 OK"), "{}\n{:?}", sent.stdout, server.refused.lock().unwrap());
    assert!(sent.stdout.contains("<Response></Response>"), "{}", sent.stdout);
    // Exactly the given parameters, in order: `+` literal, repeats and blank values kept, none added.
    assert_eq!(*server.accepted.lock().unwrap(), std::slice::from_ref(&params));

    let tampered = simulate(&url, &params, &["--send", "--tamper"]);
    assert!(tampered.status.success(), "{}\n{}", tampered.stdout, tampered.stderr);
    assert!(tampered.stdout.contains("HTTP 403 Forbidden"), "{}", tampered.stdout);
    assert_eq!(*server.refused.lock().unwrap(), ["signature: mismatch"]);
    assert_eq!(server.accepted.lock().unwrap().len(), 1, "the tampered request was accepted");

    // No parameters at all: the URL alone is signed.
    let bare = simulate(&url, &[], &["--send"]);
    assert!(bare.stdout.contains("HTTP 200 OK"), "{}\n{}", bare.stdout, bare.stderr);
    assert_eq!(server.accepted.lock().unwrap().last().map(Vec::len), Some(0));
}

/// A channel served on 127.0.0.1, as Hivekeep's dispatcher serves it, recording what reaches the agent.
struct ChannelServer {
    channel: TwilioSmsChannel,
    incoming: Mutex<Vec<IncomingMessage>>,
}

async fn channel_webhook(
    State(server): State<Arc<ChannelServer>>,
    UrlPath(channel_id): UrlPath<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BodyLimit::DEFAULT.get()).await.unwrap();
    let result =
        server.channel.handle_inbound_webhook(&channel_id, http::Request::from_parts(parts, body)).await;
    server.incoming.lock().unwrap().extend(result.incoming);
    result.response.map(Body::from).into_response()
}

#[test]
fn the_readme_recipe_reaches_a_real_channel() {
    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const SID: &str = "SM00000000000000000000000000000001";
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let credentials = Credentials::new(
        AccountSid::parse(ACCOUNT).unwrap(),
        AuthToken::new(TOKEN).unwrap(),
        Sender::Number(E164::parse("+14155550100").unwrap()),
    );
    let channel = TwilioSmsChannel::new(
        ChannelId::new_random(),
        credentials,
        Some(PublicUrl::parse(&base).unwrap()),
        TwilioClient::new().unwrap(),
    );
    let url = channel.webhook_url().unwrap();
    let server = Arc::new(ChannelServer { channel, incoming: Mutex::new(Vec::new()) });
    let app = axum::Router::new()
        .route(&format!("{WEBHOOK_PATH_PREFIX}{{id}}"), axum::routing::post(channel_webhook))
        .with_state(Arc::clone(&server));
    runtime.spawn(async move { axum::serve(listener, app).await });

    // The parameters of README.md's "Testing the webhook locally", with this channel's account.
    let params = |to: &str, sid: &str| -> Vec<(String, String)> {
        [
            ("AccountSid", ACCOUNT),
            ("ApiVersion", "2010-04-01"),
            ("Body", "hello"),
            ("From", "+14155550142"),
            ("To", to),
            ("NumMedia", "0"),
            ("MessageSid", sid),
            ("SmsSid", sid),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    let answer = |params: &[(String, String)], extra: &[&str]| {
        let done = simulate(&url, params, extra);
        assert!(done.status.success(), "{}\n{}", done.stdout, done.stderr);
        done.stdout.lines().find(|l| l.starts_with("HTTP ")).unwrap_or("no answer").to_owned()
    };
    let readme = params("+14155550100", SID);
    assert_eq!(answer(&readme, &["--send"]), "HTTP 200 OK");
    assert_eq!(server.incoming.lock().unwrap().len(), 1);
    assert_eq!(server.incoming.lock().unwrap()[0].content, "hello");
    // The same MessageSid again: a duplicate, acknowledged and ignored.
    assert_eq!(answer(&readme, &["--send"]), "HTTP 200 OK");
    assert_eq!(
        answer(&params("+14155550100", "SM00000000000000000000000000000002"), &["--send", "--tamper"]),
        "HTTP 403 Forbidden"
    );
    assert_eq!(
        answer(&params("+14155550199", "SM00000000000000000000000000000003"), &["--send"]),
        "HTTP 403 Forbidden"
    );
    assert_eq!(server.incoming.lock().unwrap().len(), 1, "only the first request reached the agent");
}

/// The words of a command line as a POSIX shell splits them.
fn shell_words(line: &str) -> Vec<String> {
    let script = format!("curl() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}; {line}");
    let done = run(Command::new("sh").args(["-c", &script]), TOOL_TIMEOUT);
    assert!(done.status.success(), "sh failed: {}", done.stderr);
    done.stdout.split('\0').filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

#[test]
fn the_curl_command_is_quoted_for_the_shell_and_works() {
    let params = tricky_params();
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    // A URL full of shell and curl metacharacters: every word comes back intact.
    let url = "https://example.com:8443/hook/it's?x=$HOME&y=`id`&z=[1]{2}&w=\"q\" *";
    let printed = simulate(url, &params, &[]);
    assert!(printed.status.success(), "{}", printed.stderr);
    let signature = expected_signature(url, &params);
    let curl = printed.stdout.lines().find(|l| l.starts_with("curl ")).expect("a curl line");
    let header = format!("X-Twilio-Signature: {signature}");
    let body = encode_form(&pairs);
    assert_eq!(
        shell_words(curl),
        [
            "-i",
            "--globoff",
            "-X",
            "POST",
            url,
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "-H",
            &header,
            "--data-raw",
            &body
        ]
    );

    // And pasted into a shell, curl gets a 200 from a strict verifier.
    if run(Command::new("sh").args(["-c", "command -v curl"]), TOOL_TIMEOUT).status.success() {
        let (_runtime, base, server) = verifying_server();
        let url = format!("{base}/api/channels/plugin/twilio-sms/webhook/x?who=it's&cost=$5");
        let printed = simulate(&url, &params, &[]);
        let curl = printed.stdout.lines().find(|l| l.starts_with("curl ")).expect("a curl line");
        let done =
            run(Command::new("sh").args(["-c", &format!("{curl} --silent --max-time 10")]), TOOL_TIMEOUT);
        assert!(done.stdout.starts_with("HTTP/1.1 200"), "{}\n{}", done.stdout, done.stderr);
        assert_eq!(*server.accepted.lock().unwrap(), [params]);
    } else {
        eprintln!("curl is not installed: the command was checked as shell words only");
    }
}

#[test]
fn simulate_inbound_refuses_bad_arguments_with_exit_2() {
    let url = "https://example.com/hook";
    let cases: [(&[&str], bool, &str); 6] = [
        (&["--url", url, "--param", "Body=hi"], false, "TWILIO_AUTH_TOKEN"),
        (&["--param", "Body=hi"], true, "--url is required"),
        (&["--url", url, "--param", "NoEquals"], true, "has no '='"),
        (&["--url", url, "--frobnicate"], true, "unknown argument"),
        (&["--url", "not a url"], true, "not a full URL"),
        (&["--url", url, "--tamper"], true, "--tamper"),
    ];
    for (args, with_token, message) in cases {
        let mut command = example("simulate_inbound");
        command.env_remove("TWILIO_AUTH_TOKEN").args(args);
        if with_token {
            command.env("TWILIO_AUTH_TOKEN", TOKEN);
        }
        let done = run(&mut command, TOOL_TIMEOUT);
        assert_eq!(done.status.code(), Some(2), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains(message), "{args:?}: {}", done.stderr);
        assert!(done.stdout.is_empty(), "{args:?}: {}", done.stdout);
    }
    // A blank token is refused the same way, and never echoed.
    let done = run(
        example("simulate_inbound").env("TWILIO_AUTH_TOKEN", " padded ").args(["--url", url]),
        TOOL_TIMEOUT,
    );
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(!done.stderr.contains("padded"), "{}", done.stderr);
}

const SERVER_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const SERVER_NUMBER: &str = "+14155550100";
const SERVER_CHANNEL: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
/// The base URL the server's channel is configured with. The signature covers it, not the address the
/// request is sent to, so the server can listen on any port.
const SERVER_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// How long the server may take to start listening.
const SERVER_START: Duration = Duration::from_secs(30);
/// What a close or an answer may take past its timeout on a loaded machine.
const MARGIN: Duration = Duration::from_secs(10);

/// The environment `webhook_server` needs, listening on a free loopback port.
fn webhook_server() -> Command {
    let mut command = example("webhook_server");
    for var in PROXY_VARIABLES {
        command.env_remove(var);
    }
    command
        .env_remove("READ_TIMEOUT_SECS")
        .env_remove("MAX_CONNECTIONS")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("PUBLIC_URL", SERVER_PUBLIC_URL)
        .env("CHANNEL_ID", SERVER_CHANNEL)
        .env("TWILIO_ACCOUNT_SID", SERVER_ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_FROM_NUMBER", SERVER_NUMBER)
        .env("TWILIO_API_BASE", "http://127.0.0.1:9")
        .env("RUST_LOG", "info");
    command
}

/// A running `webhook_server`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command` and waits for its `listening` log line (which gives the address).
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let addr = line.contains("listening").then(|| {
                    line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).map(str::to_owned)
                });
                lines.lock().unwrap().push(line);
                if let Some(addr) = addr {
                    let _ = listening.send(addr);
                }
            }
        });
        let mut server = Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stdout, stderr };
        match address.recv_timeout(SERVER_START) {
            Ok(Some(addr)) => server.addr = addr.parse().unwrap(),
            _ => panic!(
                "webhook_server did not start listening:\n{}",
                server.stderr.lock().unwrap().join("\n")
            ),
        }
        server
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect_timeout(&self.addr, MARGIN).unwrap()
    }

    /// A signed inbound SMS (a fresh `MessageSid`), as Twilio would post it: the whole request.
    fn signed(&self, text: &str) -> Vec<u8> {
        let params = twilio_sms_testkit::mock::MockTwilio::inbound_sms(
            &AccountSid::parse(SERVER_ACCOUNT).unwrap(),
            &E164::parse("+14155550142").unwrap(),
            &E164::parse(SERVER_NUMBER).unwrap(),
            text,
        );
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let path = format!("{WEBHOOK_PATH_PREFIX}{SERVER_CHANNEL}");
        let signature = sign(TOKEN, &format!("{SERVER_PUBLIC_URL}{path}"), &pairs);
        let body = encode_form(&pairs);
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nX-Twilio-Signature: {signature}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .into_bytes()
    }

    /// The `{"incoming": …}` lines written so far.
    fn incoming(&self) -> usize {
        self.stdout.lock().unwrap().iter().filter(|l| l.starts_with("{\"incoming\":")).count()
    }

    /// Waits (at most `MARGIN`) until `n` inbound SMS were written on stdout.
    fn wait_for_incoming(&self, n: usize) {
        let deadline = Instant::now() + MARGIN;
        while self.incoming() < n {
            assert!(Instant::now() < deadline, "stdout: {:?}", self.stdout.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The status line of the first answer on `stream`, or `None` when none came within `wait`.
fn status_line(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    while !received.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&received);
    text.lines().next().map(str::to_owned)
}

/// Reads until the server closes `stream`, and fails when it is still open after `wait`.
fn assert_closed_within(stream: &mut TcpStream, wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the connection was still open after {wait:?}");
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("the connection was still open after {wait:?}")
            }
            Err(_) => return,
        }
    }
}

#[test]
fn webhook_server_disconnects_stalled_clients_after_read_timeout_secs() {
    let server = Server::start(webhook_server().env("READ_TIMEOUT_SECS", "1"));
    let log = server.stderr.lock().unwrap().join("\n");
    assert!(log.contains("read_timeout_secs=1 max_connections=512"), "{log}");

    // A request head that never ends.
    let mut stalled = server.connect();
    stalled.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert_closed_within(&mut stalled, Duration::from_secs(1) + MARGIN);

    // A body that stops halfway: 408, then closed; nothing reaches stdout.
    let request = server.signed("half a body");
    let mut halfway = server.connect();
    halfway.write_all(&request[..request.len() - 20]).unwrap();
    assert_eq!(
        status_line(&mut halfway, Duration::from_secs(1) + MARGIN).as_deref(),
        Some("HTTP/1.1 408 Request Timeout")
    );
    assert_closed_within(&mut halfway, MARGIN);

    // A whole signed request is served, then the idle connection is closed.
    let mut client = server.connect();
    client.write_all(&server.signed("hello")).unwrap();
    assert_eq!(status_line(&mut client, MARGIN).as_deref(), Some("HTTP/1.1 200 OK"));
    server.wait_for_incoming(1);
    assert_closed_within(&mut client, Duration::from_secs(1) + MARGIN);
    assert_eq!(server.incoming(), 1, "{:?}", server.stdout.lock().unwrap());
}

#[test]
fn webhook_server_holds_new_connections_at_max_connections() {
    // A read timeout longer than the test: only the bound can hold the second client back.
    let server = Server::start(webhook_server().env("READ_TIMEOUT_SECS", "120").env("MAX_CONNECTIONS", "1"));
    let mut stalled = server.connect();
    stalled.write_all(b"POST / HTTP/1.1\r\n").unwrap();
    let mut second = server.connect();
    second.write_all(&server.signed("queued")).unwrap();
    assert_eq!(status_line(&mut second, Duration::from_secs(1)), None, "served past MAX_CONNECTIONS");
    drop(stalled);
    assert_eq!(status_line(&mut second, MARGIN).as_deref(), Some("HTTP/1.1 200 OK"));
    server.wait_for_incoming(1);
}

#[test]
fn webhook_server_refuses_bad_limits_with_exit_2() {
    let cases = [
        ("READ_TIMEOUT_SECS", "0"),
        ("READ_TIMEOUT_SECS", "3601"),
        ("READ_TIMEOUT_SECS", "1.5"),
        ("READ_TIMEOUT_SECS", "-1"),
        ("READ_TIMEOUT_SECS", "ten"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "-4"),
        ("MAX_CONNECTIONS", "many"),
    ];
    for (name, value) in cases {
        let done = run(webhook_server().env(name, value), TOOL_TIMEOUT);
        assert_eq!(done.status.code(), Some(2), "{name}={value}: {}", done.stderr);
        assert!(
            done.stderr.contains(&format!("webhook_server: {name}: expected")),
            "{name}={value}: {}",
            done.stderr
        );
        assert!(done.stdout.is_empty(), "{name}={value}: {}", done.stdout);
    }
}

#[test]
fn send_sms_refuses_an_api_base_that_would_carry_credentials_in_the_clear_with_exit_2() {
    for base in ["http://twilio-api.invalid", "https://AC1:secret@twilio-api.invalid"] {
        let mut command = example("send_sms");
        command
            .env("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("TWILIO_FROM_NUMBER", "+14155550100")
            .env("TWILIO_API_BASE", base)
            .env_remove("PUBLIC_URL")
            .env_remove("CHANNEL_ID")
            .args(["--to", "+14155550142", "--body", "hello"]);
        // Were the base used, the request would go to a dead local proxy, never out.
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            command.env(proxy, "http://127.0.0.1:9");
        }
        let done = run(&mut command, TOOL_TIMEOUT);
        assert_eq!(done.status.code(), Some(2), "{base}: {}", done.stderr);
        assert!(done.stderr.contains("TWILIO_API_BASE: the API base must"), "{base}: {}", done.stderr);
        assert!(!done.stderr.contains("secret"), "{}", done.stderr);
        assert!(done.stdout.is_empty(), "{base}: {}", done.stdout);
    }
}
