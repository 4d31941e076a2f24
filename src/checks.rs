//! The channel checks, sans I/O: the account answers and is active, and the From number belongs to it
//! and can send SMS (Hivekeep's `validateConfig`, and `getBotInfo` from the account alone); the From
//! number's "A message comes in" webhook pointed at a channel. Each is a sequence of requests (without
//! their credential) whose answers the core reads: the one sequence of the native client and of the
//! WebAssembly package. A driver sends each request with its `Authorization` (each is a read, or an
//! update to the same value: tried again as reads are, see [`crate::retry`]) and hands back Twilio's
//! answer or the request's error, until `Done`.

use core::fmt;
use std::time::SystemTime;

use http::{HeaderMap, StatusCode};

use crate::api_error::TwilioApiError;
use crate::credentials::Sender;
use crate::outbound::{
    self, AccountInfo, Answer, BotInfo, NumberWebhook, RequestError, ValidationError, WebhookConfigured,
    WebhookSetupError,
};
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

/// What the checks keep between requests.
#[derive(Clone)]
struct Target {
    api_base: ApiBase,
    account: AccountSid,
    sender: Sender,
}

impl From<CheckedAccount<'_>> for Target {
    fn from(checked: CheckedAccount<'_>) -> Self {
        Self {
            api_base: checked.api_base.clone(),
            account: checked.account.clone(),
            sender: checked.sender.clone(),
        }
    }
}

/// Reads an answer with `parse`; an error status is Twilio's error, its `Retry-After` measured from
/// `now` (the parsers' own clock is not read: a WebAssembly host has none the crate can read).
fn read<T>(
    answer: (StatusCode, &HeaderMap, &[u8]),
    now: SystemTime,
    parse: impl FnOnce(StatusCode, &HeaderMap, &[u8]) -> Answer<T>,
) -> Result<T, RequestError> {
    let (status, headers, body) = answer;
    if !status.is_success() {
        return Err(RequestError::Api(TwilioApiError::from_response(status, headers, body, now)));
    }
    match parse(status, headers, body) {
        Answer::Ok(value) => Ok(value),
        Answer::Unreadable(unreadable) => Err(RequestError::Unreadable(unreadable)),
        Answer::Error(error) => Err(RequestError::Api(error)),
    }
}

fn built(request: Result<http::Request<String>, http::Error>) -> Result<http::Request<String>, RequestError> {
    request.map_err(|error| RequestError::Build(error.to_string()))
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
    /// Send this read, then hand back the answer.
    Request(Box<ValidationRequest>),
    /// What the check found.
    Done(Validation),
}

/// A read of an account check in flight. Its `Debug` names the read, never its path (a number's read
/// carries the number).
pub struct ValidationRequest {
    request: http::Request<String>,
    target: Target,
    number_too: bool,
    /// The account read so far (the number is read second).
    read: Option<(AccountInfo, BotInfo)>,
}

impl Validation {
    /// Starts checking `checked`: its account, then (with `number_too`, for `validateConfig`) the From
    /// number, when the channel has one.
    #[must_use]
    pub fn start(checked: CheckedAccount<'_>, number_too: bool) -> ValidationStep {
        let target = Target::from(checked);
        let path = outbound::account_path(&target.account);
        match built(outbound::get_request_without_auth(&target.api_base, &path)) {
            Ok(request) => ValidationStep::Request(Box::new(ValidationRequest {
                request,
                target,
                number_too,
                read: None,
            })),
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
        &self.request
    }

    /// Twilio answered at `now`: the next read, or what the check found.
    #[must_use]
    pub fn answered(
        self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> ValidationStep {
        let Self { target, number_too, read: before, .. } = self;
        let answer = (status, headers, body);
        let Some((account, bot_info)) = before else {
            let account = match read(answer, now, outbound::parse_account) {
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
            return match built(outbound::get_request_without_auth(&target.api_base, &path)) {
                Ok(request) => {
                    let read = Some((account, bot_info));
                    ValidationStep::Request(Box::new(Self { request, target, number_too, read }))
                }
                Err(error) => Validation::failed(error, Some(bot_info)),
            };
        };
        let owned = match target.sender.number() {
            Some(number) => read(answer, now, |s, h, b| outbound::parse_number_ownership(s, h, b, number))
                .map_err(ValidationError::Request)
                .and_then(outbound::NumberOwnership::check),
            None => Ok(()),
        };
        ValidationStep::Done(Validation { account: owned.map(|()| account), bot_info: Ok(bot_info) })
    }

    /// The read got no answer (after the driver's retries): the check fails with `error`.
    #[must_use]
    pub fn failed(self, error: RequestError) -> ValidationStep {
        Validation::failed(error, self.read.map(|(_, bot_info)| bot_info))
    }
}

/// The next step of pointing the From number's webhook at a channel.
///
/// Not `non_exhaustive`: a driver must run every step.
#[derive(Debug)]
pub enum WebhookSetupStep {
    /// Send this request (a read, then an update to the same value each time), then hand back the
    /// answer.
    Request(Box<WebhookSetupRequest>),
    /// The webhook points at the channel, or why not.
    Done(Result<WebhookConfigured, WebhookSetupError>),
}

/// A request of the webhook setup in flight. Its `Debug` names the request, never its path or body (they
/// carry the number and the channel's URL).
pub struct WebhookSetupRequest {
    request: http::Request<String>,
    target: Target,
    number: E164,
    channel_url: String,
    /// Whether this is the update (the number's webhook was read first).
    updating: bool,
}

/// Pointing the From number's "A message comes in" webhook at a channel (see
/// [`NumberWebhook::setup`]): only when it points nowhere of its owner's; another URL is never
/// overwritten.
#[derive(Debug)]
pub struct WebhookSetup;

impl WebhookSetup {
    /// Starts pointing the From number of `checked` at `channel_url` (the channel's webhook URL): the
    /// read of the number's webhook.
    #[must_use]
    pub fn start(checked: CheckedAccount<'_>, channel_url: &str) -> WebhookSetupStep {
        let target = Target::from(checked);
        let Some(number) = target.sender.number().cloned() else {
            return WebhookSetupStep::Done(Err(WebhookSetupError::NoNumber));
        };
        let path = outbound::number_path(&target.account, &number);
        match built(outbound::get_request_without_auth(&target.api_base, &path)) {
            Ok(request) => WebhookSetupStep::Request(Box::new(WebhookSetupRequest {
                request,
                target,
                number,
                channel_url: channel_url.to_owned(),
                updating: false,
            })),
            Err(error) => request_failed(error),
        }
    }
}

impl fmt::Debug for ValidationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let read = if self.read.is_some() { "number" } else { "account" };
        f.debug_struct("ValidationRequest").field("read", &read).finish_non_exhaustive()
    }
}

impl fmt::Debug for WebhookSetupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = if self.updating { "update" } else { "read" };
        f.debug_struct("WebhookSetupRequest").field("request", &request).finish_non_exhaustive()
    }
}

fn request_failed(error: RequestError) -> WebhookSetupStep {
    WebhookSetupStep::Done(Err(WebhookSetupError::Validation(ValidationError::Request(error))))
}

impl WebhookSetupRequest {
    /// The request, without its `Authorization`.
    #[must_use]
    pub fn request(&self) -> &http::Request<String> {
        &self.request
    }

    /// Twilio answered at `now`: the update to make, or the outcome.
    #[must_use]
    pub fn answered(
        self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> WebhookSetupStep {
        let answer = (status, headers, body);
        if self.updating {
            let url = self.channel_url.as_str();
            return match read(answer, now, |s, h, b| outbound::parse_webhook_update(s, h, b, url)) {
                Ok(true) => WebhookSetupStep::Done(Ok(WebhookConfigured::Set)),
                Ok(false) => WebhookSetupStep::Done(Err(WebhookSetupError::NotApplied)),
                Err(error) => request_failed(error),
            };
        }
        let number = &self.number;
        let webhook: NumberWebhook =
            match read(answer, now, |s, h, b| outbound::parse_number_webhook(s, h, b, number)) {
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
                let update =
                    webhook.update_request(&self.target.api_base, &self.target.account, &self.channel_url);
                match built(update) {
                    Ok(request) => {
                        WebhookSetupStep::Request(Box::new(Self { request, updating: true, ..self }))
                    }
                    Err(error) => request_failed(error),
                }
            }
        }
    }

    /// The request got no answer (after the driver's retries): the setup fails with `error`.
    #[must_use]
    pub fn failed(self, error: RequestError) -> WebhookSetupStep {
        request_failed(error)
    }
}
