//! The channel checks, sans I/O: the account answers and is active, and the From number belongs to it
//! and can send SMS (Hivekeep's `validateConfig`, and `getBotInfo` from the account alone); the From
//! number's "A message comes in" webhook pointed at a channel. Each is a sequence of requests (without
//! their credential) whose answers the core reads, each request tried again by the retry policy (each
//! is a read, or an update to the same value: see [`crate::retry`]): the one sequence of the native
//! client and of the WebAssembly package. A driver sends each request with its `Authorization` within
//! its time, or waits, and hands back Twilio's answer or its absence, until `Done`.
//!
//! Each request is tried again by the policy's attempts; the policy's deadline bounds the whole check
//! (every request of it). Times are the driver's clock (`SystemTime`, which a native driver may advance
//! from a monotonic one): a clock that goes back counts as no time passed.

use core::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::api_error::{TwilioApiError, parse_retry_after};
use crate::credentials::Sender;
use crate::outbound::{
    self, AccountInfo, Answer, BotInfo, NumberWebhook, RequestError, ValidationError, WebhookConfigured,
    WebhookSetupError,
};
use crate::retry::{Call, RetryPolicy, Seen};
use crate::{AccountSid, ApiBase, E164};

/// The account a check is about: where its API is, its SID and the channel's sender.
#[derive(Debug, Clone, Copy)]
pub struct CheckedAccount<'a> {
    /// Where Twilio's REST API is.
    pub api_base: &'a ApiBase,
    /// The account.
    pub account: &'a AccountSid,
    /// The number or Messaging Service the channel sends from.
    pub sender: &'a Sender,
}

/// A request of a check: what it asks, its attempts and the time of the one in flight.
struct Attempted {
    request: Box<http::Request<String>>,
    call: Call,
    timeout: Duration,
    target: Target,
}

/// What the checks keep between requests.
#[derive(Clone)]
struct Target {
    api_base: ApiBase,
    account: AccountSid,
    sender: Sender,
    policy: RetryPolicy,
    /// When the check started: the policy's deadline bounds the whole check, every request included.
    started: SystemTime,
}

impl Target {
    fn new(checked: CheckedAccount<'_>, policy: RetryPolicy, now: SystemTime) -> Self {
        Self {
            api_base: checked.api_base.clone(),
            account: checked.account.clone(),
            sender: checked.sender.clone(),
            policy,
            started: now,
        }
    }

    /// The first attempt at `request` at `now`, or why it cannot be made.
    fn attempt(
        self,
        request: Result<http::Request<String>, http::Error>,
        now: SystemTime,
    ) -> Result<Attempted, RequestError> {
        let request = request.map_err(|error| RequestError::Build(error.to_string()))?;
        // Each request has its attempts; the deadline counts from the check's start.
        let mut call = Call::start(self.policy, true, clock(self.started));
        let timeout = call.attempt(clock(now));
        Ok(Attempted { request: Box::new(request), call, timeout, target: self })
    }
}

/// The retry policy's clock: the time since the Unix epoch (none before it).
fn clock(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

/// How an attempt ended, as the retry policy reads it.
enum Ended<'a> {
    /// Twilio answered.
    Answer(StatusCode, &'a HeaderMap, &'a [u8], SystemTime),
    /// Twilio gave no answer.
    None(Seen, SystemTime),
}

impl Attempted {
    /// The wait before the next attempt, or none: the attempt's end is the request's.
    fn retry(&self, ended: &Ended<'_>) -> Result<Option<Duration>, RequestError> {
        match *ended {
            Ended::Answer(status, headers, _, now) => {
                let retry_after = headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, now));
                Ok(self.call.after_answer(clock(now), status.as_u16(), retry_after))
            }
            Ended::None(seen, now) => self.call.after_no_answer(clock(now), seen).map(Some),
        }
    }

    fn again(mut self, now: SystemTime) -> Self {
        self.timeout = self.call.attempt(clock(now));
        self
    }
}

/// Reads an answer with `parse`; an error status is Twilio's error, its `Retry-After` measured from
/// `now` (the parsers' own clock is not read: a WebAssembly host has none the crate can read).
fn read<T>(
    (status, headers, body, now): (StatusCode, &HeaderMap, &[u8], SystemTime),
    parse: impl FnOnce(StatusCode, &HeaderMap, &[u8]) -> Answer<T>,
) -> Result<T, RequestError> {
    if !status.is_success() {
        return Err(RequestError::Api(TwilioApiError::from_response(status, headers, body, now)));
    }
    match parse(status, headers, body) {
        Answer::Ok(value) => Ok(value),
        Answer::Unreadable(unreadable) => Err(RequestError::Unreadable(unreadable)),
        Answer::Error(error) => Err(RequestError::Api(error)),
    }
}

/// A check's step before its outcome: a request in flight, or a wait before its next attempt. `R` is
/// the check's request ([`ValidationRequest`] or [`WebhookSetupRequest`]).
#[derive(Debug)]
pub struct Waiting<R> {
    request: R,
    wait: Duration,
}

impl<R> Waiting<R> {
    /// How long to wait.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.wait
    }
}

/// What the account check found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validation {
    /// The account when it is active (and, when checked, the From number is its and can send SMS),
    /// else what is wrong.
    pub account: Result<AccountInfo, ValidationError>,
    /// The account's name and the sender, whenever the account could be read (active or not).
    pub bot_info: Result<BotInfo, RequestError>,
}

/// The next step of an account check.
///
/// Not `non_exhaustive`: a driver must run every step.
#[derive(Debug)]
pub enum ValidationStep {
    /// Send this read within its time, then hand back the answer or its absence.
    Request(Box<ValidationRequest>),
    /// Wait, then go on ([`Waiting::over`]).
    Wait(Box<Waiting<ValidationRequest>>),
    /// What the check found.
    Done(Validation),
}

/// A read of an account check in flight. Its `Debug` names the read, never its path (a number's read
/// carries the number).
pub struct ValidationRequest {
    attempted: Attempted,
    number_too: bool,
    /// The account read so far (the number is read second).
    read: Option<(AccountInfo, BotInfo)>,
}

impl fmt::Debug for ValidationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let read = if self.read.is_some() { "number" } else { "account" };
        f.debug_struct("ValidationRequest")
            .field("read", &read)
            .field("attempt", &self.attempted.call.attempts())
            .finish_non_exhaustive()
    }
}

impl Validation {
    /// Starts checking `checked` at `now`, each read tried again by `policy`: its account, then (with
    /// `number_too`, for `validateConfig`) the From number, when the channel has one.
    #[must_use]
    pub fn start(
        checked: CheckedAccount<'_>,
        number_too: bool,
        policy: RetryPolicy,
        now: SystemTime,
    ) -> ValidationStep {
        let target = Target::new(checked, policy, now);
        let path = outbound::account_path(&target.account);
        let request = outbound::get_request_without_auth(&target.api_base, &path);
        match target.attempt(request, now) {
            Ok(attempted) => {
                ValidationStep::Request(Box::new(ValidationRequest { attempted, number_too, read: None }))
            }
            Err(error) => Self::failed(error, None),
        }
    }

    fn failed(error: RequestError, read: Option<BotInfo>) -> ValidationStep {
        let bot_info = read.ok_or_else(|| error.clone());
        ValidationStep::Done(Self { account: Err(ValidationError::Request(error)), bot_info })
    }
}

impl ValidationRequest {
    /// The read, without its `Authorization`.
    #[must_use]
    pub fn request(&self) -> &http::Request<String> {
        &self.attempted.request
    }

    /// The time this attempt gets.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.attempted.timeout
    }

    /// Twilio answered at `now`: a wait before trying again (a 429 or a 5xx), the next read, or what the
    /// check found.
    #[must_use]
    pub fn answered(
        self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> ValidationStep {
        self.ended(&Ended::Answer(status, headers, body, now))
    }

    /// No answer came at `now` (`seen`: no connection, no answer in time, or a connection lost): a
    /// wait before trying again, or the check fails.
    #[must_use]
    pub fn failed(self, now: SystemTime, seen: Seen) -> ValidationStep {
        self.ended(&Ended::None(seen, now))
    }

    /// The driver could not make the attempt or read its answer (its answer was too large, its secret
    /// could not be read): the check fails with `error`, never tried again.
    #[must_use]
    pub fn refused(self, error: RequestError) -> ValidationStep {
        Validation::failed(error, self.read.map(|(_, bot_info)| bot_info))
    }

    fn ended(self, ended: &Ended<'_>) -> ValidationStep {
        let answer = match (self.attempted.retry(ended), ended) {
            (Ok(Some(wait)), _) => return ValidationStep::Wait(Box::new(Waiting { request: self, wait })),
            (Err(error), _) => return self.refused(error),
            (Ok(None), Ended::None(..)) => return self.refused(RequestError::ConnectionLost),
            (Ok(None), Ended::Answer(status, headers, body, now)) => (*status, *headers, *body, *now),
        };
        let Self { attempted, number_too, read: before } = self;
        let target = attempted.target;
        let Some((account, bot_info)) = before else {
            let account = match read(answer, outbound::parse_account) {
                Ok(account) => account,
                Err(error) => return Validation::failed(error, None),
            };
            let bot_info = BotInfo::new(&account, &target.sender);
            let account = match outbound::check_account(account) {
                Ok(account) => account,
                Err(error) => {
                    return ValidationStep::Done(Validation { account: Err(error), bot_info: Ok(bot_info) });
                }
            };
            let Some(number) = target.sender.number().filter(|_| number_too) else {
                return ValidationStep::Done(Validation { account: Ok(account), bot_info: Ok(bot_info) });
            };
            let path = outbound::number_path(&target.account, number);
            let request = outbound::get_request_without_auth(&target.api_base, &path);
            return match target.attempt(request, answer.3) {
                Ok(attempted) => {
                    let read = Some((account, bot_info));
                    ValidationStep::Request(Box::new(Self { attempted, number_too, read }))
                }
                Err(error) => Validation::failed(error, Some(bot_info)),
            };
        };
        let owned = match target.sender.number() {
            Some(number) => read(answer, |s, h, b| outbound::parse_number_ownership(s, h, b, number))
                .map_err(ValidationError::Request)
                .and_then(outbound::NumberOwnership::check),
            None => Ok(()),
        };
        ValidationStep::Done(Validation { account: owned.map(|()| account), bot_info: Ok(bot_info) })
    }
}

impl Waiting<ValidationRequest> {
    /// The wait is over at `now`: the read's next attempt.
    #[must_use]
    pub fn over(self, now: SystemTime) -> ValidationStep {
        let Self { mut request, .. } = self;
        request.attempted = request.attempted.again(now);
        ValidationStep::Request(Box::new(request))
    }
}

/// The next step of pointing the From number's webhook at a channel.
///
/// Not `non_exhaustive`: a driver must run every step.
#[derive(Debug)]
pub enum WebhookSetupStep {
    /// Send this request (a read, then an update to the same value each time) within its time, then
    /// hand back the answer or its absence.
    Request(Box<WebhookSetupRequest>),
    /// Wait, then go on ([`Waiting::over`]).
    Wait(Box<Waiting<WebhookSetupRequest>>),
    /// The webhook points at the channel, or why not.
    Done(Result<WebhookConfigured, WebhookSetupError>),
}

/// A request of the webhook setup in flight. Its `Debug` names the request, never its path or body (they
/// carry the number and the channel's URL).
pub struct WebhookSetupRequest {
    attempted: Attempted,
    number: E164,
    channel_url: String,
    /// Whether this is the update (the number's webhook was read first).
    updating: bool,
}

impl fmt::Debug for WebhookSetupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = if self.updating { "update" } else { "read" };
        f.debug_struct("WebhookSetupRequest")
            .field("request", &request)
            .field("attempt", &self.attempted.call.attempts())
            .finish_non_exhaustive()
    }
}

/// Pointing the From number's "A message comes in" webhook at a channel (see
/// [`NumberWebhook::setup`]): only when it points nowhere of its owner's; another URL is never
/// overwritten.
#[derive(Debug)]
pub struct WebhookSetup;

impl WebhookSetup {
    /// Starts pointing the From number of `checked` at `channel_url` (the channel's webhook URL) at
    /// `now`, each request tried again by `policy`: the read of the number's webhook.
    #[must_use]
    pub fn start(
        checked: CheckedAccount<'_>,
        channel_url: &str,
        policy: RetryPolicy,
        now: SystemTime,
    ) -> WebhookSetupStep {
        let target = Target::new(checked, policy, now);
        let Some(number) = target.sender.number().cloned() else {
            return WebhookSetupStep::Done(Err(WebhookSetupError::NoNumber));
        };
        let path = outbound::number_path(&target.account, &number);
        let request = outbound::get_request_without_auth(&target.api_base, &path);
        match target.attempt(request, now) {
            Ok(attempted) => WebhookSetupStep::Request(Box::new(WebhookSetupRequest {
                attempted,
                number,
                channel_url: channel_url.to_owned(),
                updating: false,
            })),
            Err(error) => request_failed(error),
        }
    }
}

fn request_failed(error: RequestError) -> WebhookSetupStep {
    WebhookSetupStep::Done(Err(WebhookSetupError::Validation(ValidationError::Request(error))))
}

impl WebhookSetupRequest {
    /// The request, without its `Authorization`.
    #[must_use]
    pub fn request(&self) -> &http::Request<String> {
        &self.attempted.request
    }

    /// The time this attempt gets.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.attempted.timeout
    }

    /// Twilio answered at `now`: a wait before trying again (a 429 or a 5xx), the update to make, or the
    /// outcome.
    #[must_use]
    pub fn answered(
        self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> WebhookSetupStep {
        self.ended(&Ended::Answer(status, headers, body, now))
    }

    /// No answer came at `now` (`seen`: no connection, no answer in time, or a connection lost): a
    /// wait before trying again, or the setup fails.
    #[must_use]
    pub fn failed(self, now: SystemTime, seen: Seen) -> WebhookSetupStep {
        self.ended(&Ended::None(seen, now))
    }

    /// The driver could not make the attempt or read its answer: the setup fails with `error`, never
    /// tried again.
    #[must_use]
    pub fn refused(self, error: RequestError) -> WebhookSetupStep {
        request_failed(error)
    }

    fn ended(self, ended: &Ended<'_>) -> WebhookSetupStep {
        let answer = match (self.attempted.retry(ended), ended) {
            (Ok(Some(wait)), _) => return WebhookSetupStep::Wait(Box::new(Waiting { request: self, wait })),
            (Err(error), _) => return request_failed(error),
            (Ok(None), Ended::None(..)) => return request_failed(RequestError::ConnectionLost),
            (Ok(None), Ended::Answer(status, headers, body, now)) => (*status, *headers, *body, *now),
        };
        if self.updating {
            let url = self.channel_url.as_str();
            return match read(answer, |s, h, b| outbound::parse_webhook_update(s, h, b, url)) {
                Ok(true) => WebhookSetupStep::Done(Ok(WebhookConfigured::Set)),
                Ok(false) => WebhookSetupStep::Done(Err(WebhookSetupError::NotApplied)),
                Err(error) => request_failed(error),
            };
        }
        let number = &self.number;
        let webhook: NumberWebhook =
            match read(answer, |s, h, b| outbound::parse_number_webhook(s, h, b, number)) {
                Ok(Some(webhook)) => webhook,
                Ok(None) => {
                    return WebhookSetupStep::Done(Err(WebhookSetupError::Validation(
                        ValidationError::NumberNotOwned,
                    )));
                }
                Err(error) => return request_failed(error),
            };
        match webhook.setup(&self.channel_url).needs_update() {
            Ok(false) => WebhookSetupStep::Done(Ok(WebhookConfigured::AlreadySet)),
            Err(error) => WebhookSetupStep::Done(Err(error)),
            Ok(true) => {
                let target = self.attempted.target.clone();
                let update = webhook.update_request(&target.api_base, &target.account, &self.channel_url);
                match target.attempt(update, answer.3) {
                    Ok(attempted) => {
                        WebhookSetupStep::Request(Box::new(Self { attempted, updating: true, ..self }))
                    }
                    Err(error) => request_failed(error),
                }
            }
        }
    }
}

impl Waiting<WebhookSetupRequest> {
    /// The wait is over at `now`: the request's next attempt.
    #[must_use]
    pub fn over(self, now: SystemTime) -> WebhookSetupStep {
        let Self { mut request, .. } = self;
        request.attempted = request.attempted.again(now);
        WebhookSetupStep::Request(Box::new(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_bounds_the_whole_check_and_each_request_counts_its_attempts() {
        let (api_base, account) =
            (ApiBase::default(), AccountSid::parse("AC0123456789abcdef0123456789abcdef").unwrap());
        let sender = Sender::Number(E164::parse("+14155550100").unwrap());
        let checked = CheckedAccount { api_base: &api_base, account: &account, sender: &sender };
        let policy = RetryPolicy::new(4, Duration::from_secs(15), Duration::from_secs(30));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ValidationStep::Request(account_read) = Validation::start(checked, true, policy, t0) else {
            panic!("the account is read first")
        };
        assert_eq!(account_read.timeout(), Duration::from_secs(15));
        let active = br#"{"sid":"AC0123456789abcdef0123456789abcdef","friendly_name":"A","status":"active"}"#;
        let after = t0 + Duration::from_secs(20);
        let ValidationStep::Request(number_read) =
            account_read.answered(StatusCode::OK, &HeaderMap::new(), active, after)
        else {
            panic!("then the number")
        };
        assert_eq!(number_read.timeout(), Duration::from_secs(10), "what is left of the check's 30 s");
        let ValidationStep::Wait(waiting) = number_read.failed(after, Seen::Connect) else {
            panic!("a read is tried again")
        };
        let ValidationStep::Request(again) = waiting.over(after) else { panic!("the read again") };
        // A wait that would end past the check's deadline ends it.
        let late = t0 + Duration::from_secs(29_900) / 1000;
        let ValidationStep::Done(found) = again.failed(late, Seen::Connect) else { panic!("out of time") };
        assert_eq!(
            found.account.unwrap_err(),
            ValidationError::Request(RequestError::Connect { attempts: 2 })
        );
        assert!(found.bot_info.is_ok(), "the account was read");
    }
}
