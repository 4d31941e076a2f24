//! The Twilio REST client (feature `client`): reqwest with rustls, one connection pool for every
//! channel, bounded timeouts, and retries only where a retry cannot send an SMS twice.
//!
//! Requests and answers are built and read by the sans-I/O [`outbound`] module; this
//! module only moves them over HTTP.

use core::fmt;
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;

use crate::api_error::parse_retry_after;
use crate::checks::{CheckedAccount, Validation, ValidationStep, WebhookSetup, WebhookSetupStep};
use crate::credentials::Credentials;
use crate::hivekeep::adapter::{SendStep, Sending};
use crate::ids::MessageSid;
use crate::outbound::{self, AccountInfo, Answer, SentMessage, Sms, StatusCallback};
pub use crate::outbound::{BotInfo, RequestError, ValidationError, WebhookConfigured, WebhookSetupError};
use crate::phone::E164;
use crate::retry::{Call, RetryPolicy, Seen};
use crate::url::ApiBase;

/// Limits and endpoints of a [`TwilioClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The API base URL (default `https://api.twilio.com`; a local mock in tests and the demo): https,
    /// or plain http only to this machine, checked when it was parsed.
    pub api_base: ApiBase,
    /// Time to establish a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Time for one attempt, from connecting to the end of the answer (default 15 s).
    pub attempt_timeout: Duration,
    /// Attempts for a request that is safe to retry (default 4).
    pub max_attempts: u32,
    /// Time for the whole call, retries and waits included (default 30 s).
    pub total_deadline: Duration,
    /// The longest answer body read (default [`outbound::MAX_RESPONSE_BYTES`], 1 MiB).
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            api_base: ApiBase::twilio(),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: RetryPolicy::default().attempt_timeout,
            max_attempts: RetryPolicy::default().max_attempts,
            total_deadline: RetryPolicy::default().deadline,
            max_response_bytes: outbound::MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientConfig {
    /// The retry limits of these settings (see [`crate::retry`]).
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self.max_attempts, self.attempt_timeout, self.total_deadline)
    }

    /// The defaults, pointed at another API base URL (see [`ApiBase::parse`]).
    #[must_use]
    pub fn with_api_base(mut self, api_base: ApiBase) -> Self {
        self.api_base = api_base;
        self
    }
}

/// Whether live delivery status will follow a send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusUpdates {
    /// Twilio will post status callbacks to this URL.
    Callback(StatusCallback),
    /// No public URL is configured: no live delivery status will follow. Read it with
    /// [`TwilioClient::fetch_message`].
    NotAvailable,
}

/// A message Twilio accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The message as Twilio created it.
    pub message: SentMessage,
    /// Whether status callbacks will follow.
    pub status_updates: StatusUpdates,
    /// Requests made (more than 1 after a safe retry).
    pub attempts: u32,
}

/// A long text sent as several SMS, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartsReceipt {
    /// One receipt per part, in order.
    pub parts: Vec<SendReceipt>,
}

/// A multi-part send that stopped at a failed part. The parts before it went out (their SIDs are
/// here) and must not be sent again; the failed part and the ones after it were not sent (or, for the
/// failed part, maybe sent: see its error's retry safety).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("part {failed_part} of {total} failed after {sent} part(s) went out: {error}", failed_part = .failed_index + 1, sent = .sent.len())]
#[non_exhaustive]
pub struct PartialSendError {
    /// The parts that went out, in order.
    pub sent: Vec<SendReceipt>,
    /// The index (from 0) of the part that failed.
    pub failed_index: usize,
    /// How many parts the text was split into.
    pub total: usize,
    /// Why it failed.
    pub error: RequestError,
}

/// A Twilio REST client. Cheap to clone; every clone shares one connection pool, so one client serves
/// every channel.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    config: ClientConfig,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One attempt's failure, before the retry decision.
#[derive(Debug)]
enum Failure {
    /// Nothing was sent.
    Connect,
    Timeout,
    Lost,
    TooLarge(u16),
    /// The HTTP client cannot make the request (it would fail the same way again).
    Unbuildable(String),
}

impl Failure {
    /// What the retry policy sees of it (a refusal, see `TwilioClient::refusal`, is never tried again).
    const fn seen(&self) -> Seen {
        match self {
            Self::Connect => Seen::Connect,
            Self::Timeout => Seen::Timeout,
            Self::Lost | Self::TooLarge(_) | Self::Unbuildable(_) => Seen::Lost,
        }
    }
}

/// A received answer.
struct Received {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl TwilioClient {
    /// A client with the default limits, talking to Twilio.
    ///
    /// # Errors
    /// [`RequestError::Build`] when the TLS backend cannot be set up.
    pub fn new() -> Result<Self, RequestError> {
        Self::with_config(ClientConfig::default())
    }

    /// A client with these limits and API base URL.
    ///
    /// # Errors
    /// [`RequestError::Build`] when the TLS backend cannot be set up.
    ///
    /// A proxy set in the environment (`HTTPS_PROXY`, `ALL_PROXY`, ...) is used, except when the API
    /// base is on this machine (`localhost`, `127.0.0.0/8`, `[::1]`: a mock Twilio), which a proxy elsewhere
    /// cannot reach.
    pub fn with_config(config: ClientConfig) -> Result<Self, RequestError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if config.api_base.is_loopback() {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| RequestError::Build(e.to_string()))?;
        Ok(Self { http, config })
    }

    /// The limits in force.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends an SMS from the channel's sender. With a `status_callback` Twilio posts delivery status
    /// to it; without one the receipt says plainly that no live status will follow.
    ///
    /// Retries only what cannot create a second SMS: a refused connection and HTTP 429 (honouring
    /// `Retry-After`), with bounded backoff inside the total deadline. A timeout, a reset while waiting
    /// and a 5xx are never retried: the SMS may exist.
    ///
    /// # Errors
    /// A [`RequestError`] with its [`retry_safety`](RequestError::retry_safety).
    pub async fn send(
        &self,
        credentials: &Credentials,
        sms: &Sms,
        status_callback: Option<&StatusCallback>,
    ) -> Result<SendReceipt, RequestError> {
        let build = || outbound::send_request(&self.config.api_base, credentials, sms, status_callback);
        let (received, attempts) = self.execute(build, false).await?;
        let message = match outbound::parse_message(received.status, &received.headers, &received.body) {
            Answer::Ok(message) => message,
            Answer::Unreadable(e) => return Err(RequestError::Unreadable(e)),
            Answer::Error(e) => return Err(RequestError::Api(e)),
        };
        tracing::debug!(target: "twilio_sms::client", sid = %message.sid, status = %message.status, attempts, "SMS accepted");
        let status_updates = match status_callback {
            Some(callback) => StatusUpdates::Callback(callback.clone()),
            None => {
                tracing::info!(target: "twilio_sms::client", sid = %message.sid, "no public URL: no live delivery status will follow");
                StatusUpdates::NotAvailable
            }
        };
        Ok(SendReceipt { message, status_updates, attempts })
    }

    /// Sends a text of any length: split into SMS bodies of at most 1600 characters at paragraph,
    /// line, sentence or word boundaries ([`split`](crate::sms_text::split)), sent one after the other
    /// in order, stopping at the first failure.
    ///
    /// # Errors
    /// [`PartialSendError`] says which parts went out (with their SIDs), which failed and why; a text
    /// that cannot be sent at all (blank) fails at part 1 with nothing sent.
    pub async fn send_text(
        &self,
        credentials: &Credentials,
        to: &E164,
        text: &str,
        status_callback: impl Fn(usize) -> Option<StatusCallback>,
    ) -> Result<PartsReceipt, PartialSendError> {
        let bodies = crate::sms_text::split(text).map_err(|e| PartialSendError {
            sent: Vec::new(),
            failed_index: 0,
            total: 0,
            error: RequestError::Build(e.to_string()),
        })?;
        let total = bodies.len();
        let mut parts = Vec::with_capacity(total);
        for (index, body) in bodies.into_iter().enumerate() {
            let sms = Sms::builder().to(to.clone()).body(body).build();
            match self.send(credentials, &sms, status_callback(index).as_ref()).await {
                Ok(receipt) => parts.push(receipt),
                Err(error) => {
                    return Err(PartialSendError { sent: parts, failed_index: index, total, error });
                }
            }
        }
        Ok(PartsReceipt { parts })
    }

    /// Fetches a message by SID, to read its status or reconcile an ambiguous send.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn fetch_message(
        &self,
        credentials: &Credentials,
        sid: &MessageSid,
    ) -> Result<SentMessage, RequestError> {
        let path = format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", credentials.account_sid());
        let received = self.get(credentials, &path).await?;
        into_result(outbound::parse_message(received.status, &received.headers, &received.body))
    }

    /// The most recent messages to `to` (newest first, at most `limit`, capped at 1000), to find out
    /// whether an ambiguous send went out.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn recent_messages_to(
        &self,
        credentials: &Credentials,
        to: &E164,
        limit: u32,
    ) -> Result<Vec<SentMessage>, RequestError> {
        let query = serde_urlencoded::to_string([
            ("To", to.as_str()),
            ("PageSize", &limit.clamp(1, 1000).to_string()),
        ])
        .unwrap_or_default();
        let path = format!("/2010-04-01/Accounts/{}/Messages.json?{query}", credentials.account_sid());
        let received = self.get(credentials, &path).await?;
        into_result(outbound::parse_message_list(received.status, &received.headers, &received.body))
    }

    /// Checks a channel's credentials: the account answers and is active, and the From number (when
    /// there is one) belongs to it and can send SMS. The account resource carries the Auth Token: its
    /// body is never logged or kept.
    ///
    /// # Errors
    /// A [`ValidationError`] naming what is wrong; bad credentials are
    /// `Request(Api(..))` with HTTP 401 and code 20003.
    pub async fn validate_config(&self, credentials: &Credentials) -> Result<AccountInfo, ValidationError> {
        self.validation(credentials, true).await.account
    }

    /// Points the From number's "A message comes in" webhook at `channel_url` when it points nowhere of
    /// its owner's (empty, or Twilio's demo reply); never overwrites another URL.
    ///
    /// # Errors
    /// A [`WebhookSetupError`]: another URL is there (named), no From number, a number the account does
    /// not own, a failed request.
    pub async fn configure_webhook(
        &self,
        credentials: &Credentials,
        channel_url: &str,
    ) -> Result<WebhookConfigured, WebhookSetupError> {
        // The core's steps; this driver sends each request, or waits.
        let (policy, clock) = (self.config.retry_policy(), StepClock::start());
        let mut step = WebhookSetup::start(self.checked(credentials), channel_url, policy, clock.now());
        loop {
            step = match step {
                WebhookSetupStep::Request(pending) => {
                    match self.attempt_planned(credentials, pending.request(), pending.timeout()).await {
                        Ok(r) => pending.answered(r.status, &r.headers, &r.body, clock.now()),
                        Err(failure) => match self.refusal(&failure) {
                            Some(error) => pending.refused(error),
                            None => pending.failed(clock.now(), failure.seen()),
                        },
                    }
                }
                WebhookSetupStep::Wait(waiting) => {
                    tokio::time::sleep(waiting.duration()).await;
                    waiting.over(clock.now())
                }
                WebhookSetupStep::Done(done) => return done,
            };
        }
    }

    /// The account's friendly name and the channel's sender, for Hivekeep's `getBotInfo`.
    ///
    /// # Errors
    /// A [`RequestError`].
    pub async fn bot_info(&self, credentials: &Credentials) -> Result<BotInfo, RequestError> {
        self.validation(credentials, false).await.bot_info
    }

    /// The core's account check ([`Validation`]), run: the account, then with `number_too` the From
    /// number.
    async fn validation(&self, credentials: &Credentials, number_too: bool) -> Validation {
        let (policy, clock) = (self.config.retry_policy(), StepClock::start());
        let mut step = Validation::start(self.checked(credentials), number_too, policy, clock.now());
        loop {
            step = match step {
                ValidationStep::Request(pending) => {
                    match self.attempt_planned(credentials, pending.request(), pending.timeout()).await {
                        Ok(r) => pending.answered(r.status, &r.headers, &r.body, clock.now()),
                        Err(failure) => match self.refusal(&failure) {
                            Some(error) => pending.refused(error),
                            None => pending.failed(clock.now(), failure.seen()),
                        },
                    }
                }
                ValidationStep::Wait(waiting) => {
                    tokio::time::sleep(waiting.duration()).await;
                    waiting.over(clock.now())
                }
                ValidationStep::Done(validation) => return validation,
            };
        }
    }

    fn checked<'a>(&'a self, credentials: &'a Credentials) -> CheckedAccount<'a> {
        CheckedAccount {
            api_base: &self.config.api_base,
            account: credentials.account_sid(),
            sender: credentials.sender(),
        }
    }

    /// A read: retried on any transient failure, since it creates nothing.
    async fn get(&self, credentials: &Credentials, path: &str) -> Result<Received, RequestError> {
        let build = || outbound::get_request(&self.config.api_base, credentials, path);
        self.execute(build, true).await.map(|(received, _)| received)
    }

    /// Runs a request with the retry policy ([`RetryPolicy::next`]): `idempotent` requests are retried
    /// on any transient failure, others only when nothing can have been created (429, no connection).
    /// The answer it stops at is returned as it is (the caller reads it, a 429 or 5xx as an error).
    async fn execute(
        &self,
        build: impl Fn() -> Result<http::Request<String>, http::Error>,
        idempotent: bool,
    ) -> Result<(Received, u32), RequestError> {
        // The call's clock: the time since it started.
        let started = Instant::now();
        let mut call = Call::start(self.config.retry_policy(), idempotent, Duration::ZERO);
        loop {
            let timeout = call.attempt(started.elapsed());
            let request = build().map_err(|e| RequestError::Build(e.to_string()))?;
            let (method, path) = (request.method().clone(), request.uri().path().to_owned());
            let attempts = call.attempts();
            let (seen, wait) = match self.attempt(request, timeout).await {
                Ok(received) => {
                    let retry_after = received
                        .headers
                        .get(http::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| parse_retry_after(value, SystemTime::now()));
                    let status = received.status.as_u16();
                    let Some(wait) = call.after_answer(started.elapsed(), status, retry_after) else {
                        tracing::debug!(target: "twilio_sms::client", %method, path, status, attempts, "Twilio answered");
                        return Ok((received, attempts));
                    };
                    (format!("answered {status}"), wait)
                }
                Err(failure) => match self.refusal(&failure) {
                    Some(error) => return Err(error),
                    None => {
                        (format!("{failure:?}"), call.after_no_answer(started.elapsed(), failure.seen())?)
                    }
                },
            };
            tracing::debug!(target: "twilio_sms::client", %method, path, attempts, seen, wait_ms = wait.as_millis(), "Twilio request to be tried again");
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs one attempt at a reply's part ([`crate::hivekeep::adapter::ReplySend`]): its request with the
    /// credential, within its time; the plan reads the answer, or its absence, and gives the next step.
    pub(crate) async fn attempt_part(
        &self,
        credentials: &Credentials,
        sending: Sending,
        clock: StepClock,
    ) -> SendStep {
        let ended = self.attempt_planned(credentials, sending.request(), sending.timeout()).await;
        let now = clock.now();
        match ended {
            Ok(received) => sending.answered(now, received.status, &received.headers, &received.body),
            Err(failure) => match self.refusal(&failure) {
                Some(error) => sending.refused(error),
                None => sending.failed(now, failure.seen()),
            },
        }
    }

    /// One attempt at a request the core planned, with the credential, within `timeout`.
    async fn attempt_planned(
        &self,
        credentials: &Credentials,
        planned: &http::Request<String>,
        timeout: Duration,
    ) -> Result<Received, Failure> {
        self.attempt(authorized(planned, credentials), timeout).await
    }

    /// The error of a failure that is never tried again (an answer longer than the client reads, a
    /// request the HTTP client cannot make), or none.
    fn refusal(&self, failure: &Failure) -> Option<RequestError> {
        match failure {
            Failure::TooLarge(status) => Some(RequestError::ResponseTooLarge {
                status: *status,
                limit: self.config.max_response_bytes,
            }),
            Failure::Unbuildable(reason) => Some(RequestError::Build(reason.clone())),
            Failure::Connect | Failure::Timeout | Failure::Lost => None,
        }
    }

    async fn attempt(&self, request: http::Request<String>, timeout: Duration) -> Result<Received, Failure> {
        let request = reqwest::Request::try_from(request).map_err(|e| Failure::Unbuildable(e.to_string()))?;
        let limit = self.config.max_response_bytes;
        let work = async {
            let mut response = self.http.execute(request).await.map_err(|e| classify(&e))?;
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(Failure::TooLarge(status.as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
                if body.len() + chunk.len() > limit {
                    return Err(Failure::TooLarge(status.as_u16()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Received { status, headers, body })
        };
        tokio::time::timeout(timeout, work).await.unwrap_or(Err(Failure::Timeout))
    }
}

/// The time the core's steps are given: the wall clock when the call started, advanced by a monotonic
/// clock, so that a change of the system's clock moves no deadline (`Retry-After` dates are read
/// against it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepClock {
    wall: SystemTime,
    start: Instant,
}

impl StepClock {
    pub(crate) fn start() -> Self {
        Self { wall: SystemTime::now(), start: Instant::now() }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.wall + self.start.elapsed()
    }
}

/// A request the core planned, with the credential's `Authorization`.
fn authorized(planned: &http::Request<String>, credentials: &Credentials) -> http::Request<String> {
    let mut request = http::Request::new(planned.body().clone());
    *request.method_mut() = planned.method().clone();
    *request.uri_mut() = planned.uri().clone();
    *request.headers_mut() = planned.headers().clone();
    request.headers_mut().insert(http::header::AUTHORIZATION, credentials.authorization());
    request
}

fn into_result<T>(answer: Answer<T>) -> Result<T, RequestError> {
    match answer {
        Answer::Ok(value) => Ok(value),
        Answer::Unreadable(e) => Err(RequestError::Unreadable(e)),
        Answer::Error(e) => Err(RequestError::Api(e)),
    }
}

/// A reqwest failure: a connect failure sent nothing; anything else may have sent the request.
fn classify(error: &reqwest::Error) -> Failure {
    if error.is_connect() {
        Failure::Connect
    } else if error.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Lost
    }
}
