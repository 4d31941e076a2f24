//! An embedded mock of Twilio's 2010 Messages API, for tests and demos.
//!
//! [`MockTwilio::start`] serves real HTTP/1.1 on `127.0.0.1` (a random port), so a client under test
//! talks to it exactly as it would to `https://api.twilio.com`, only over plain http and without an
//! account:
//!
//! - the endpoints `POST`/`GET …/Messages.json`, `GET …/Messages/{Sid}.json`, `GET …/Accounts/{Sid}.json`
//!   and `GET …/IncomingPhoneNumbers.json`, with Twilio's JSON resources and error bodies;
//! - HTTP Basic authentication with an Auth Token or an API key ([`MockTwilio::add_account`],
//!   [`MockTwilio::add_api_key`]), checked in constant time;
//! - Twilio's validation errors (21211, 21408, 21602, 21603, 21604, 21606, 21610, 21617);
//! - scripted [`Fault`]s for the next requests to an [`Endpoint`]: 429, 5xx, stalls, connection resets
//!   before or after the request was read, truncated and huge responses;
//! - a record of every request ([`MockTwilio::requests`]);
//! - the message lifecycle: signed status callbacks (`sent`, then `delivered` or a scripted
//!   [`Outcome`]), optionally duplicated or out of order ([`MockTwilio::callbacks`]);
//! - signed inbound SMS webhooks sent to any URL ([`MockTwilio::send_inbound`]), replayable and forgeable.
//!
//! Every connection serves one request (`Connection: close`), so a fault always applies to the request it
//! was scripted for. Nothing here prints a secret or a full phone number: the `Debug` of every type masks
//! them, and the mock logs (through `tracing`, target `twilio_sms_testkit::mock`) methods, paths and
//! statuses only.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use twilio_sms_testkit::mock::MockTwilio;
//! use twilio_sms::{AccountSid, E164};
//!
//! let mock = MockTwilio::start().await?;
//! let account = AccountSid::parse("AC0123456789abcdef0123456789abcdef")?;
//! mock.add_account(&account, "an-auth-token-for-tests")?;
//! mock.add_number(&account, &E164::parse("+14155550100")?, true)?;
//!
//! let response = reqwest::Client::new()
//!     .post(format!("{}/2010-04-01/Accounts/{account}/Messages.json", mock.base_url()))
//!     .basic_auth(account.as_str(), Some("an-auth-token-for-tests"))
//!     .form(&[("To", "+14155550101"), ("From", "+14155550100"), ("Body", "Hello")])
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 201);
//! assert_eq!(mock.count("POST", "/Messages.json"), 1);
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod callbacks;
mod server;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use twilio_sms::ids::ApiKeySid;
use twilio_sms::status::MessageStatus;
use twilio_sms::token::{ApiKeySecret, AuthTokenError};
use twilio_sms::{AccountSid, ApiBase, AuthToken, E164};

use crate::SigningKey;

pub use callbacks::{SignedWebhook, WebhookReply};

/// How long the mock waits for the server it calls back (Twilio's own default is 15 s).
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(15);
/// The default pause before each status transition (and its callback).
const DEFAULT_CALLBACK_DELAY: Duration = Duration::from_millis(50);

/// Why the mock could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// Binding or serving the loopback socket failed.
    #[error("mock server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP client the mock calls back with failed (the URL is left out of the message).
    #[error("mock HTTP client: {0}")]
    Http(reqwest::Error),
    /// A token or secret given to the mock is not usable (the error never echoes it).
    #[error("mock credentials: {0}")]
    Credentials(#[from] AuthTokenError),
    /// The account was never added with [`MockTwilio::add_account`], or the webhook parameters name
    /// no known `AccountSid`.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// A `wait_for_…` helper timed out.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl From<reqwest::Error> for MockError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error.without_url())
    }
}

/// A scripted misbehaviour, applied to one request (see [`MockTwilio::push_fault_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `429 Too Many Requests` with code 20429, and `Retry-After: N` (seconds) when given. The request
    /// is recorded, not processed: Twilio never processes a request it answers with 429.
    TooManyRequests {
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u32>,
    },
    /// A 5xx with Twilio's JSON error body (code 20503 for 503, 20500 otherwise). Recorded, not
    /// processed.
    ServerError {
        /// The HTTP status (500, 502, 503, 504...).
        status: u16,
    },
    /// A 5xx with an HTML page, as a proxy or load balancer answers (`text/html`, no Twilio code).
    /// Recorded, not processed.
    ProxyHtml {
        /// The HTTP status (502, 503, 504...).
        status: u16,
    },
    /// Processes the request normally (a message is created), then waits this long before answering:
    /// longer than the client's timeout, it makes the ambiguous "timed out after sending" case.
    Stall(Duration),
    /// Accepts the connection and resets it (TCP RST) before reading anything. The request is neither
    /// recorded nor processed.
    ResetBeforeRead,
    /// Reads the whole request and records it, processes it when `processed` (for a create, the
    /// message exists and its lifecycle runs), then resets the connection without answering.
    ResetAfterRead {
        /// Whether the request takes effect before the reset.
        processed: bool,
    },
    /// Processes the request, then sends the response head with the full `Content-Length` but only the
    /// first half of the body, and closes the connection.
    Truncated,
    /// Answers `200` with a well-formed JSON body of (about) this many bytes. Recorded, not processed.
    HugeBody {
        /// The body size in bytes.
        bytes: usize,
    },
}

/// Which requests a [`Fault`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// Any request.
    Any,
    /// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
    CreateMessage,
    /// `GET /2010-04-01/Accounts/{AccountSid}/Messages.json`.
    ListMessages,
    /// `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`.
    FetchMessage,
    /// `GET /2010-04-01/Accounts/{Sid}.json`.
    FetchAccount,
    /// `GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json`.
    ListIncomingNumbers,
    /// `POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json`.
    UpdateIncomingNumber,
    /// Any method on a path (without its query) ending with this text.
    PathSuffix(String),
}

impl Endpoint {
    /// Whether a request with this method and path (no query) is one of this endpoint's.
    fn matches(&self, method: &str, path: &str) -> bool {
        use api::Route;
        let route = api::route(path);
        let get = method == "GET";
        match self {
            Self::Any => true,
            Self::CreateMessage => method == "POST" && matches!(route, Some(Route::Messages(_))),
            Self::ListMessages => get && matches!(route, Some(Route::Messages(_))),
            Self::FetchMessage => get && matches!(route, Some(Route::Message(..))),
            Self::FetchAccount => get && matches!(route, Some(Route::Account(_))),
            Self::ListIncomingNumbers => get && matches!(route, Some(Route::Numbers(_))),
            Self::UpdateIncomingNumber => method == "POST" && matches!(route, Some(Route::Number(..))),
            Self::PathSuffix(suffix) => path.ends_with(suffix.as_str()),
        }
    }
}

/// How an accepted message ends, which decides its status callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Outcome {
    /// `sent`, then `delivered` (the default).
    #[default]
    Delivered,
    /// `sent` only: the carrier never sends a delivery receipt.
    SentOnly,
    /// `sent`, then `undelivered` with this `ErrorCode` (30007 "filtered" is typical).
    Undelivered(u32),
    /// `failed` with this `ErrorCode` (30008 "unknown error" is typical): it never reached a carrier.
    Failed(u32),
}

impl Outcome {
    /// The transitions after the create response, each with its `ErrorCode`. A Messaging Service send
    /// starts `accepted` and is `queued` first.
    fn steps(self, via_service: bool) -> Vec<(MessageStatus, Option<u32>)> {
        let mut steps = Vec::with_capacity(3);
        if via_service {
            steps.push((MessageStatus::Queued, None));
        }
        match self {
            Self::Delivered => steps.extend([(MessageStatus::Sent, None), (MessageStatus::Delivered, None)]),
            Self::SentOnly => steps.push((MessageStatus::Sent, None)),
            Self::Undelivered(code) => {
                steps.extend([(MessageStatus::Sent, None), (MessageStatus::Undelivered, Some(code))]);
            }
            Self::Failed(code) => steps.push((MessageStatus::Failed, Some(code))),
        }
        steps
    }
}

/// An account's `status`, as the account resource reports it. The mock only reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccountStatus {
    /// `active` (the default).
    #[default]
    Active,
    /// `suspended`.
    Suspended,
    /// `closed`.
    Closed,
}

impl AccountStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
        }
    }
}

/// The kind of an API key, which decides whether it may read the account resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyKind {
    /// A Standard key: everything but `/Accounts` and `/Keys`.
    Standard,
    /// A Main key: full access, like the Auth Token.
    Main,
}

/// A request the mock received, as recorded (see [`MockTwilio::requests`]).
///
/// Its `Debug` prints the parameter names only: values hold phone numbers and message text.
#[derive(Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query, as sent.
    pub query: Option<String>,
    /// The decoded form parameters of the body, in wire order (repeated keys kept; empty when the body
    /// is not a valid form).
    pub params: Vec<(String, String)>,
    /// Whether the Basic credentials were valid (for any account; the path may still name another).
    pub authenticated: bool,
    /// The Basic user presented (an Account SID or an API key SID), valid or not. Never the secret.
    pub user: Option<String>,
    /// When the request was received.
    pub at: SystemTime,
}

impl RecordedRequest {
    /// The first value of the form parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl core::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("has_query", &self.query.is_some())
            .field("params", &names)
            .field("authenticated", &self.authenticated)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A message the mock holds, with its current status (see [`MockTwilio::messages`]).
///
/// Its `Debug` masks the phone numbers and leaves the body out.
#[derive(Clone)]
#[non_exhaustive]
pub struct MockMessage {
    /// The Message SID (`SM…`).
    pub sid: String,
    /// The account that sent it.
    pub account_sid: AccountSid,
    /// The recipient, as sent.
    pub to: String,
    /// The sender: the `From` sent, or the number picked for a Messaging Service once `queued`.
    pub from: Option<String>,
    /// The Messaging Service SID, when one was given.
    pub messaging_service_sid: Option<String>,
    /// The text.
    pub body: String,
    /// The current status.
    pub status: MessageStatus,
    /// The `ErrorCode` of a failed or undelivered message.
    pub error_code: Option<u32>,
    /// The `StatusCallback` URL, when one was given.
    pub status_callback: Option<String>,
    /// The number of segments (0 while a Messaging Service send is `accepted`).
    pub num_segments: u32,
    /// The number of `MediaUrl` parameters.
    pub num_media: u32,
    /// When it was created.
    pub date_created: SystemTime,
    /// When it was last updated.
    pub date_updated: SystemTime,
    /// When it was `sent`.
    pub date_sent: Option<SystemTime>,
}

impl core::fmt::Debug for MockMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MockMessage")
            .field("sid", &self.sid)
            .field("to", &text::redact(&self.to))
            .field("from", &self.from.as_deref().map(text::redact))
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One status callback delivery attempt (see [`MockTwilio::callbacks`]).
///
/// Its `Debug` prints the parameter names only.
#[derive(Clone)]
#[non_exhaustive]
pub struct CallbackRecord {
    /// The message it reports on.
    pub message_sid: String,
    /// The `MessageStatus` it carries.
    pub status: MessageStatus,
    /// Its `ErrorCode`, for `failed` and `undelivered`.
    pub error_code: Option<u32>,
    /// The `StatusCallback` URL it was sent to.
    pub url: String,
    /// The form parameters sent, in wire order.
    pub params: Vec<(String, String)>,
    /// The `X-Twilio-Signature` header sent.
    pub signature: String,
    /// The `I-Twilio-Idempotency-Token` header sent: the same for every attempt of one callback.
    pub idempotency_token: String,
    /// 1 for the first delivery of this callback, 2 for its duplicate or retry.
    pub attempt: u32,
    /// The HTTP status the callback URL answered, or `None` when the request failed.
    pub response_status: Option<u16>,
    /// When the attempt finished.
    pub at: SystemTime,
}

impl core::fmt::Debug for CallbackRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("CallbackRecord")
            .field("message_sid", &self.message_sid)
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("url", &self.url)
            .field("params", &names)
            .field("idempotency_token", &self.idempotency_token)
            .field("attempt", &self.attempt)
            .field("response_status", &self.response_status)
            .finish_non_exhaustive()
    }
}

/// A number an account owns.
struct OwnedNumber {
    sid: String,
    number: String,
    sms: bool,
    /// Its "A message comes in" webhook (empty until set).
    sms_url: String,
}

struct Account {
    /// The Auth Token: it signs the account's webhooks, authenticates it, and is returned in the
    /// `auth_token` field of the account resource.
    key: SigningKey,
    status: AccountStatus,
    numbers: Vec<OwnedNumber>,
    created: SystemTime,
}

struct ApiKey {
    account: AccountSid,
    secret: SecretString,
    kind: ApiKeyKind,
}

/// Everything the mock knows, behind one lock that is never held across an `await`.
struct State {
    accounts: BTreeMap<AccountSid, Account>,
    keys: HashMap<String, ApiKey>,
    opted_out: HashSet<String>,
    blocked_prefixes: Vec<String>,
    faults: VecDeque<(Endpoint, Fault)>,
    default_outcome: Outcome,
    next_outcomes: VecDeque<Outcome>,
    outcomes_by_to: HashMap<String, Outcome>,
    callback_delay: Duration,
    duplicate_callbacks: bool,
    out_of_order_callbacks: bool,
    requests: Vec<RecordedRequest>,
    messages: Vec<MockMessage>,
    callbacks: Vec<CallbackRecord>,
}

impl State {
    fn new() -> Self {
        Self {
            accounts: BTreeMap::new(),
            keys: HashMap::new(),
            opted_out: HashSet::new(),
            blocked_prefixes: Vec::new(),
            faults: VecDeque::new(),
            default_outcome: Outcome::Delivered,
            next_outcomes: VecDeque::new(),
            outcomes_by_to: HashMap::new(),
            callback_delay: DEFAULT_CALLBACK_DELAY,
            duplicate_callbacks: false,
            out_of_order_callbacks: false,
            requests: Vec::new(),
            messages: Vec::new(),
            callbacks: Vec::new(),
        }
    }

    /// Removes and returns the first queued fault for this request.
    fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|(endpoint, _)| endpoint.matches(method, path))?;
        self.faults.remove(index).map(|(_, fault)| fault)
    }

    /// The outcome of a new message to `to`: by number, else the next scripted one, else the default.
    fn next_outcome(&mut self, to: &str) -> Outcome {
        if let Some(outcome) = self.outcomes_by_to.get(to) {
            return *outcome;
        }
        self.next_outcomes.pop_front().unwrap_or(self.default_outcome)
    }

    fn account_mut(&mut self, sid: &AccountSid) -> Result<&mut Account, MockError> {
        self.accounts.get_mut(sid).ok_or_else(|| MockError::UnknownAccount(sid.to_string()))
    }
}

/// What the server tasks and the handle share.
struct Shared {
    state: Mutex<State>,
    tasks: Mutex<JoinSet<()>>,
    /// Woken on every recorded request, message change and callback.
    changed: Notify,
    http: reqwest::Client,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a background task until it ends or the mock stops.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    fn notify(&self) {
        self.changed.notify_waiters();
    }
}

/// The mock Twilio server. Start it with [`MockTwilio::start`]; it stops on [`MockTwilio::shutdown`] or
/// when dropped.
///
/// Its `Debug` prints the address only.
pub struct MockTwilio {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for MockTwilio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MockTwilio").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for MockTwilio {
    fn drop(&mut self) {
        self.shared.tasks.lock().unwrap_or_else(PoisonError::into_inner).abort_all();
    }
}

impl MockTwilio {
    /// Starts the server on `127.0.0.1` with a random port, inside the current Tokio runtime. It has no
    /// account yet: add one with [`add_account`](Self::add_account).
    ///
    /// # Errors
    /// [`MockError::Io`] when the socket cannot be bound, [`MockError::Http`] when the HTTP client for
    /// callbacks cannot be built.
    pub async fn start() -> Result<Self, MockError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder().no_proxy().timeout(CALLBACK_TIMEOUT).build()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            tasks: Mutex::new(JoinSet::new()),
            changed: Notify::new(),
            http,
        });
        shared.spawn(server::accept_loop(Arc::clone(&shared), listener));
        tracing::debug!(target: "twilio_sms_testkit::mock", %addr, "mock Twilio listening");
        Ok(Self { addr, shared })
    }

    /// The base URL to give a client instead of `https://api.twilio.com`, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// [`base_url`](Self::base_url) as the [`ApiBase`] the library's client takes (plain http to
    /// loopback, which an API base allows).
    #[must_use]
    #[expect(clippy::expect_used, reason = "an API base allows plain http to 127.0.0.1")]
    pub fn api_base(&self) -> ApiBase {
        ApiBase::parse(&self.base_url()).expect("an API base allows plain http to loopback")
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: the listener closes, and open connections and pending callbacks are dropped.
    pub async fn shutdown(self) {
        let mut tasks = {
            let mut guard = self.shared.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            core::mem::take(&mut *guard)
        };
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        tracing::debug!(target: "twilio_sms_testkit::mock", addr = %self.addr, "mock Twilio stopped");
    }

    // ----- accounts, keys and numbers -----

    /// Adds an account with its Auth Token: `AccountSid:AuthToken` authenticates, and status callbacks
    /// and inbound webhooks of this account are signed with the token. For an account already added, this
    /// rotates the token (its numbers, keys and status stay).
    ///
    /// The token is given as text because the account resource returns it in `auth_token`, as Twilio
    /// does (so a test can prove a client never logs that response).
    ///
    /// # Errors
    /// [`MockError::Credentials`] for an empty token or one with surrounding white space.
    pub fn add_account(&self, sid: &AccountSid, auth_token: &str) -> Result<(), MockError> {
        // What the library refuses as an Auth Token (empty, padded, a control character) is refused here.
        AuthToken::new(auth_token)?;
        let key = SigningKey::new(auth_token);
        let mut state = self.shared.state();
        if let Some(account) = state.accounts.get_mut(sid) {
            account.key = key;
        } else {
            let account = Account {
                key,
                status: AccountStatus::Active,
                numbers: Vec::new(),
                created: SystemTime::now(),
            };
            state.accounts.insert(sid.clone(), account);
        }
        Ok(())
    }

    /// Sets the `status` the account resource reports.
    ///
    /// # Errors
    /// [`MockError::UnknownAccount`] when the account was not added.
    pub fn set_account_status(&self, sid: &AccountSid, status: AccountStatus) -> Result<(), MockError> {
        self.shared.state().account_mut(sid)?.status = status;
        Ok(())
    }

    /// Registers an API key of `account`: `SK…:secret` then authenticates as that account. A
    /// [`ApiKeyKind::Standard`] key cannot read the account resource (401, code 20003).
    ///
    /// # Errors
    /// [`MockError::Credentials`] for a secret [`ApiKeySecret::new`] refuses, [`MockError::UnknownAccount`]
    /// when the account was not added.
    pub fn add_api_key(
        &self,
        account: &AccountSid,
        key_sid: &ApiKeySid,
        secret: &str,
        kind: ApiKeyKind,
    ) -> Result<(), MockError> {
        ApiKeySecret::new(secret)?;
        let secret = SecretString::from(secret);
        let mut state = self.shared.state();
        state.account_mut(account)?;
        state.keys.insert(key_sid.to_string(), ApiKey { account: account.clone(), secret, kind });
        Ok(())
    }

    /// Gives `account` a phone number (a fresh `PN…` SID). Only an SMS-capable owned number is a valid
    /// `From` (else error 21606); a Messaging Service send picks the first SMS-capable one.
    ///
    /// # Errors
    /// [`MockError::UnknownAccount`] when the account was not added.
    pub fn add_number(
        &self,
        account: &AccountSid,
        number: &E164,
        sms_capable: bool,
    ) -> Result<(), MockError> {
        let owned = OwnedNumber {
            sid: text::new_sid("PN"),
            number: number.as_str().to_owned(),
            sms: sms_capable,
            sms_url: String::new(),
        };
        self.shared.state().account_mut(account)?.numbers.push(owned);
        Ok(())
    }

    /// Sets the "A message comes in" webhook of a number `account` owns (as its owner would in the
    /// Console); `POST …/IncomingPhoneNumbers/{Sid}.json` with `SmsUrl` sets it too.
    ///
    /// # Errors
    /// [`MockError::UnknownAccount`] when the account was not added.
    pub fn set_sms_url(&self, account: &AccountSid, number: &E164, url: &str) -> Result<(), MockError> {
        let mut state = self.shared.state();
        for owned in state.account_mut(account)?.numbers.iter_mut().filter(|n| n.number == number.as_str()) {
            url.clone_into(&mut owned.sms_url);
        }
        Ok(())
    }

    /// The "A message comes in" webhook of a number `account` owns (`None` when it owns no such number).
    #[must_use]
    pub fn sms_url(&self, account: &AccountSid, number: &E164) -> Option<String> {
        let state = self.shared.state();
        let account = state.accounts.get(account)?;
        account.numbers.iter().find(|n| n.number == number.as_str()).map(|n| n.sms_url.clone())
    }

    /// Puts a recipient on the opt-out list (they texted STOP): sending to it fails with 21610.
    pub fn opt_out(&self, number: &E164) {
        self.shared.state().opted_out.insert(number.as_str().to_owned());
    }

    /// Blocks recipients whose number starts with `prefix` (e.g. `"+44"`), as geographic permissions do:
    /// sending to them fails with 21408.
    pub fn block_prefix(&self, prefix: &str) {
        self.shared.state().blocked_prefixes.push(prefix.to_owned());
    }

    // ----- faults -----

    /// Queues a fault for the next request to any endpoint. Same as
    /// `push_fault_for(Endpoint::Any, fault)`.
    pub fn push_fault(&self, fault: Fault) {
        self.push_fault_for(Endpoint::Any, fault);
    }

    /// Queues a fault for the next request to `endpoint`. Faults apply one per request, in the order they
    /// were queued; push the same fault `n` times to fail the next `n` requests.
    pub fn push_fault_for(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.state().faults.push_back((endpoint, fault));
    }

    /// How many queued faults have not been applied yet.
    #[must_use]
    pub fn pending_faults(&self) -> usize {
        self.shared.state().faults.len()
    }

    // ----- lifecycle -----

    /// Sets the outcome of messages that have no scripted one (initially [`Outcome::Delivered`]).
    pub fn set_default_outcome(&self, outcome: Outcome) {
        self.shared.state().default_outcome = outcome;
    }

    /// Scripts the outcome of the next message created (one per call, in order), unless its recipient
    /// has one set with [`set_outcome_for`](Self::set_outcome_for).
    pub fn push_outcome(&self, outcome: Outcome) {
        self.shared.state().next_outcomes.push_back(outcome);
    }

    /// Scripts the outcome of every message sent to `to`.
    pub fn set_outcome_for(&self, to: &E164, outcome: Outcome) {
        self.shared.state().outcomes_by_to.insert(to.as_str().to_owned(), outcome);
    }

    /// Sets the pause before each status transition and its callback (initially 50 ms).
    pub fn set_callback_delay(&self, delay: Duration) {
        self.shared.state().callback_delay = delay;
    }

    /// When on, every status callback is delivered twice with the same `I-Twilio-Idempotency-Token`, as a
    /// Twilio retry would.
    pub fn set_duplicate_callbacks(&self, on: bool) {
        self.shared.state().duplicate_callbacks = on;
    }

    /// When on, the status callbacks of a message are delivered in reverse order (`delivered` before
    /// `sent`), after all its transitions; the stored status still advances in order.
    pub fn set_out_of_order_callbacks(&self, on: bool) {
        self.shared.state().out_of_order_callbacks = on;
    }

    // ----- records -----

    /// Every request received so far, in order (those reset before being read excepted).
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// How many requests had this method and a path (without query) ending with `path_suffix`, e.g.
    /// `count("POST", "/Messages.json")`.
    #[must_use]
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        let state = self.shared.state();
        state.requests.iter().filter(|r| r.method == method && r.path.ends_with(path_suffix)).count()
    }

    /// Every message created so far, oldest first, with its current status.
    #[must_use]
    pub fn messages(&self) -> Vec<MockMessage> {
        self.shared.state().messages.clone()
    }

    /// The message with this SID.
    #[must_use]
    pub fn message(&self, sid: &str) -> Option<MockMessage> {
        self.shared.state().messages.iter().find(|m| m.sid == sid).cloned()
    }

    /// Every status callback attempt so far, in the order they finished.
    #[must_use]
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.shared.state().callbacks.clone()
    }

    /// Waits until at least `n` status callback attempts have finished, and returns them all.
    ///
    /// # Errors
    /// [`MockError::Timeout`] when fewer than `n` finished within `timeout`.
    pub async fn wait_for_callbacks(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<CallbackRecord>, MockError> {
        self.wait_until(timeout, "status callbacks", |state| {
            (state.callbacks.len() >= n).then(|| state.callbacks.clone())
        })
        .await
    }

    /// Waits until the message `sid` has `status`, and returns it.
    ///
    /// # Errors
    /// [`MockError::Timeout`] when it does not within `timeout`.
    pub async fn wait_for_status(
        &self,
        sid: &str,
        status: MessageStatus,
        timeout: Duration,
    ) -> Result<MockMessage, MockError> {
        self.wait_until(timeout, "a message status", |state| {
            state.messages.iter().find(|m| m.sid == sid && m.status == status).cloned()
        })
        .await
    }

    /// Waits until at least `n` requests have been recorded.
    ///
    /// # Errors
    /// [`MockError::Timeout`] when fewer than `n` arrived within `timeout`.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Result<(), MockError> {
        self.wait_until(timeout, "requests", |state| (state.requests.len() >= n).then_some(())).await
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &'static str,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, MockError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = core::pin::pin!(self.shared.changed.notified());
            notified.as_mut().enable();
            let found = check(&self.shared.state());
            if let Some(value) = found {
                return Ok(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(MockError::Timeout(what));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_method_and_route() {
        let messages = "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json";
        let message = "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMx.json";
        assert!(Endpoint::CreateMessage.matches("POST", messages));
        assert!(!Endpoint::CreateMessage.matches("GET", messages));
        assert!(Endpoint::ListMessages.matches("GET", messages));
        assert!(Endpoint::FetchMessage.matches("GET", message));
        assert!(!Endpoint::FetchMessage.matches("GET", messages));
        assert!(Endpoint::Any.matches("DELETE", "/anything"));
        assert!(Endpoint::PathSuffix("/SMx.json".to_owned()).matches("GET", message));
    }

    #[test]
    fn faults_are_taken_in_order_for_their_endpoint() {
        let mut state = State::new();
        let create = "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json";
        state.faults.push_back((Endpoint::FetchAccount, Fault::ResetBeforeRead));
        state.faults.push_back((Endpoint::CreateMessage, Fault::ServerError { status: 500 }));
        state.faults.push_back((Endpoint::CreateMessage, Fault::Truncated));
        assert_eq!(state.take_fault("POST", create), Some(Fault::ServerError { status: 500 }));
        assert_eq!(state.take_fault("GET", create), None);
        assert_eq!(state.take_fault("POST", create), Some(Fault::Truncated));
        assert_eq!(state.take_fault("POST", create), None);
        assert_eq!(state.faults.len(), 1);
    }

    #[test]
    fn outcomes_are_picked_by_recipient_then_order_then_default() {
        let mut state = State::new();
        state.outcomes_by_to.insert("+14155550101".to_owned(), Outcome::Failed(30008));
        state.next_outcomes.push_back(Outcome::SentOnly);
        assert_eq!(state.next_outcome("+14155550101"), Outcome::Failed(30008));
        assert_eq!(state.next_outcome("+14155550102"), Outcome::SentOnly);
        assert_eq!(state.next_outcome("+14155550102"), Outcome::Delivered);
    }

    #[test]
    fn lifecycles_follow_twilio_transitions() {
        use MessageStatus::{Delivered, Failed, Queued, Sent, Undelivered};
        assert_eq!(Outcome::Delivered.steps(false), [(Sent, None), (Delivered, None)]);
        assert_eq!(Outcome::Delivered.steps(true), [(Queued, None), (Sent, None), (Delivered, None)]);
        assert_eq!(Outcome::Undelivered(30007).steps(false), [(Sent, None), (Undelivered, Some(30007))]);
        assert_eq!(Outcome::Failed(30008).steps(false), [(Failed, Some(30008))]);
        assert_eq!(Outcome::SentOnly.steps(false), [(Sent, None)]);
    }

    #[tokio::test]
    async fn debug_shows_no_secret_and_drop_stops_the_server() {
        let mock = MockTwilio::start().await.unwrap();
        let account = AccountSid::parse("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        mock.add_account(&account, "secret-token-value").unwrap();
        assert!(!format!("{mock:?}").contains("secret-token-value"));
        assert!(matches!(mock.add_account(&account, " padded"), Err(MockError::Credentials(_))));
        let unknown = AccountSid::parse("ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap();
        let number = E164::parse("+14155550100").unwrap();
        assert!(matches!(mock.add_number(&unknown, &number, true), Err(MockError::UnknownAccount(_))));

        let addr = mock.addr();
        drop(mock);
        // The aborted accept loop is dropped at the runtime's next turn, closing the listener.
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(refused, "the listener outlived the mock");
    }
}
