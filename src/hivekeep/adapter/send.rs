//! The send of a reply, sans I/O: its parts in order, each tried again by the retry policy, and the
//! result or the error Hivekeep reads. The one plan of the native channel and of the WebAssembly
//! package: a driver runs each [`SendStep`] (sends the request with its credential, or waits) and hands
//! back what it saw, until [`SendStep::Done`] or [`SendStep::Fail`].
//!
//! Times are the driver's wall clock (`SystemTime`): a clock that goes back counts as no time passed.

use core::fmt;
use std::time::{Duration, SystemTime};

use super::{OutboundMessageResult, ReplyPlan, SendMessageError};
use crate::credentials::Sender;
use crate::hivekeep::delivery::{Locale, PartTag};
use crate::outbound::{self, Answer, RequestError, SentMessage, StatusCallback};
use crate::retry::{Call, RetryPolicy, Seen};
use crate::{AccountSid, ApiBase, ChannelId, E164, PublicUrl};

/// A channel as its sends need it (see [`ReplySend::start`]).
#[derive(Debug, Clone, Copy)]
pub struct SendChannel<'a> {
    /// The channel's id (its webhook path, where Twilio posts each part's status).
    pub id: &'a ChannelId,
    /// Hivekeep's `PUBLIC_URL`: without it no status callback is asked for.
    pub public_url: Option<&'a PublicUrl>,
    /// Where Twilio's REST API is.
    pub api_base: &'a ApiBase,
    /// The account the messages are created in.
    pub account: &'a AccountSid,
    /// The number or Messaging Service they are sent from.
    pub sender: &'a Sender,
}

/// The next step of a reply's send.
///
/// Not `non_exhaustive`: a driver must run every step, so a new one must fail to compile there.
#[derive(Debug)]
pub enum SendStep {
    /// Send this request (with the driver's `Authorization`) within its time, then hand back the answer
    /// or its absence.
    Send(Sending),
    /// Wait, then go on ([`Waiting::over`]).
    Wait(Waiting),
    /// Every part was accepted: Hivekeep's result.
    Done(OutboundMessageResult),
    /// The send stopped: the error, worded for Hivekeep's retry logic (never inviting a resend once a
    /// part may have gone out).
    Fail(SendMessageError),
}

/// What a send knows between steps.
struct Progress {
    plan: ReplyPlan,
    to: E164,
    api_base: ApiBase,
    account: AccountSid,
    sender: Sender,
    callback: Option<StatusCallback>,
    locale: Locale,
    policy: RetryPolicy,
    sent: Vec<SentMessage>,
}

/// A part's request in flight. Its `Debug` shows which part and its time, never the request (its body
/// holds the recipient's number and the text).
pub struct Sending {
    progress: Box<Progress>,
    /// The part's attempts (a message create: tried again only when nothing was created).
    call: Call,
    request: Box<http::Request<String>>,
    timeout: Duration,
}

/// A wait before a part's next attempt.
pub struct Waiting {
    progress: Box<Progress>,
    call: Call,
    wait: Duration,
}

/// The send of one reply, sans I/O: its parts in order, each tried again by the retry policy, and the
/// result or the error Hivekeep reads. A driver runs each [`SendStep`] (sends the request with its
/// credential, or waits) and hands back what it saw, until [`SendStep::Done`] or [`SendStep::Fail`].
/// Times are the driver's wall clock: a clock that goes back counts as no time passed.
#[derive(Debug)]
pub struct ReplySend;

impl ReplySend {
    /// Starts sending `plan` to `to` from `channel` at `now`: the first part's request. Each part asks
    /// for status callbacks at the channel's webhook when it has a public URL (a part of several says
    /// which, and names the first part's SID: see [`PartTag`]), and each is tried again by `policy`
    /// (only when Twilio surely created nothing).
    #[must_use]
    pub fn start(
        plan: ReplyPlan,
        to: E164,
        channel: SendChannel<'_>,
        locale: Locale,
        policy: RetryPolicy,
        now: SystemTime,
    ) -> SendStep {
        let progress = Progress {
            plan,
            to,
            api_base: channel.api_base.clone(),
            account: channel.account.clone(),
            sender: channel.sender.clone(),
            callback: channel.public_url.map(|url| StatusCallback::for_channel(url, channel.id)),
            locale,
            policy,
            sent: Vec::new(),
        };
        Box::new(progress).next_part(now)
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("parts", &self.plan.parts())
            .field("sent", &self.sent.len())
            .field("live", &self.callback.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Sending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sending")
            .field("part", &self.part())
            .field("attempt", &self.call.attempts())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiting")
            .field("progress", &self.progress)
            .field("attempt", &self.call.attempts())
            .field("wait", &self.wait)
            .finish()
    }
}

/// The retry policy's clock: the time since the Unix epoch (none before it).
fn clock(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

impl Progress {
    /// The next part's first attempt, or the result once every part went.
    fn next_part(self: Box<Self>, now: SystemTime) -> SendStep {
        if self.sent.len() >= self.plan.parts() {
            let live = self.callback.is_some();
            return SendStep::Done(OutboundMessageResult::from_plan(
                &self.plan,
                &self.sent,
                live,
                self.locale,
            ));
        }
        let call = Call::start(self.policy, false, clock(now));
        self.attempt(call, now)
    }

    /// An attempt at the current part.
    fn attempt(self: Box<Self>, mut call: Call, now: SystemTime) -> SendStep {
        let index = self.sent.len();
        let Some(sms) = self.plan.sms(index, &self.to) else {
            return self.fail(RequestError::Build("no such part".to_owned()));
        };
        let callback = self.part_callback(index);
        let built = outbound::send_request_without_auth(
            &self.api_base,
            &self.account,
            &self.sender,
            &sms,
            callback.as_ref(),
        );
        let request = match built {
            Ok(request) => request,
            Err(error) => return self.fail(RequestError::Build(error.to_string())),
        };
        let timeout = call.attempt(clock(now));
        SendStep::Send(Sending { progress: self, call, request: Box::new(request), timeout })
    }

    /// The status callback of part `index` (from 0).
    fn part_callback(&self, index: usize) -> Option<StatusCallback> {
        let base = self.callback.clone()?;
        let of = count(self.plan.parts());
        if of <= 1 {
            return Some(base);
        }
        let pairs = PartTag::query(count(index + 1), of, self.sent.first().map(|m| &m.sid));
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Some(base.with_query(&borrowed))
    }

    fn fail(&self, error: RequestError) -> SendStep {
        let total = self.plan.parts();
        let index = self.sent.len();
        tracing::warn!(target: "twilio_sms::channel", part = index + 1, of = total, reason = %error, "send failed");
        let sent = self.sent.iter().map(|m| m.sid.to_string()).collect();
        SendStep::Fail(SendMessageError::for_part(error, sent, index, total))
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Sending {
    /// The request, without its `Authorization` (the driver adds `Basic` with the secret).
    #[must_use]
    pub fn request(&self) -> &http::Request<String> {
        &self.request
    }

    /// The time this attempt gets, from connecting to the end of the answer.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Which part this is (from 1) of how many.
    #[must_use]
    pub fn part(&self) -> (usize, usize) {
        (self.progress.sent.len() + 1, self.progress.plan.parts())
    }

    /// Whether a part was sent before this one (a failure now is a partial send).
    #[must_use]
    pub fn after_sent_parts(&self) -> bool {
        !self.progress.sent.is_empty()
    }

    /// Twilio answered at `now`: the next part (or the result) when it accepted the message, a wait
    /// when it rate-limited it (honouring `Retry-After`), else the failure.
    #[must_use]
    pub fn answered(
        self,
        now: SystemTime,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> SendStep {
        let Self { mut progress, call, .. } = self;
        match outbound::parse_message_at(status, headers, body, now) {
            Answer::Ok(message) => {
                progress.sent.push(message);
                progress.next_part(now)
            }
            // Twilio accepted something it did not describe: never sent again.
            Answer::Unreadable(unreadable) => progress.fail(RequestError::Unreadable(unreadable)),
            Answer::Error(error) => match call.after_answer(clock(now), status.as_u16(), error.retry_after())
            {
                Some(wait) => SendStep::Wait(Waiting { progress, call, wait }),
                None => progress.fail(RequestError::Api(error)),
            },
        }
    }

    /// No answer came at `now`: no connection was made ([`Seen::Connect`]: nothing was sent, so it is
    /// tried again), none within the time ([`Seen::Timeout`]) or the connection broke after sending
    /// ([`Seen::Lost`]); the message may exist then, so it is never sent again.
    #[must_use]
    pub fn failed(self, now: SystemTime, seen: Seen) -> SendStep {
        let Self { progress, call, .. } = self;
        match call.after_no_answer(clock(now), seen) {
            Ok(wait) => SendStep::Wait(Waiting { progress, call, wait }),
            Err(error) => progress.fail(error),
        }
    }

    /// The driver could not make the attempt or read its answer (its answer was too large, its secret
    /// could not be read): this error ends the send, never tried again.
    #[must_use]
    pub fn refused(self, error: RequestError) -> SendStep {
        self.progress.fail(error)
    }
}

impl Waiting {
    /// How long to wait.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.wait
    }

    /// The wait is over at `now`: the part's next attempt.
    #[must_use]
    pub fn over(self, now: SystemTime) -> SendStep {
        self.progress.attempt(self.call, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str =
        r#"{"sid":"SM11111111111111111111111111111111","status":"queued","num_segments":"1"}"#;

    fn start(content: &str, policy: RetryPolicy, now: SystemTime) -> SendStep {
        let id = ChannelId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
        let public_url = PublicUrl::parse("https://agents.example.com").unwrap();
        let account = AccountSid::parse("AC0123456789abcdef0123456789abcdef").unwrap();
        let sender = Sender::Number(E164::parse("+14155550100").unwrap());
        let channel = SendChannel {
            id: &id,
            public_url: Some(&public_url),
            api_base: &ApiBase::default(),
            account: &account,
            sender: &sender,
        };
        let plan = ReplyPlan::new(content, &[], Locale::En).unwrap();
        let to = E164::parse("+14155550142").unwrap();
        ReplySend::start(plan, to, channel, Locale::En, policy, now)
    }

    fn sending(step: SendStep) -> Sending {
        match step {
            SendStep::Send(sending) => sending,
            other => panic!("not a send: {other:?}"),
        }
    }

    #[test]
    fn a_rate_limited_part_waits_then_goes_and_the_reply_is_done() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let first = sending(start("Hello", RetryPolicy::default(), t0));
        assert_eq!(first.part(), (1, 1));
        assert!(first.request().headers().get(http::header::AUTHORIZATION).is_none(), "the driver adds it");
        assert_eq!(first.timeout(), Duration::from_secs(15));
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("2"));
        let limited = br#"{"code":20429,"message":"Too Many Requests","status":429}"#;
        let SendStep::Wait(waiting) =
            first.answered(t0, http::StatusCode::TOO_MANY_REQUESTS, &headers, limited)
        else {
            panic!("a 429 waits")
        };
        assert_eq!(waiting.duration(), Duration::from_secs(2));
        // The clock went back: no time passed, the attempt gets its whole time.
        let again = sending(waiting.over(t0 - Duration::from_secs(60)));
        assert_eq!(again.timeout(), Duration::from_secs(15));
        let done = again.answered(t0, http::StatusCode::CREATED, &http::HeaderMap::new(), CREATED.as_bytes());
        let SendStep::Done(result) = done else { panic!("accepted: done") };
        assert_eq!(result.platform_message_id, "SM11111111111111111111111111111111");
    }

    #[test]
    fn no_answer_is_tried_again_only_when_nothing_was_sent() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let policy = RetryPolicy::new(2, Duration::from_millis(14_500), Duration::from_secs(30));
        let SendStep::Wait(waiting) = sending(start("Hi", policy, t0)).failed(t0, Seen::Connect) else {
            panic!("no connection: tried again")
        };
        let SendStep::Fail(error) = sending(waiting.over(t0)).failed(t0, Seen::Connect) else {
            panic!("two attempts at most")
        };
        assert_eq!(error.cause(), Some(&RequestError::Connect { attempts: 2 }));
        let SendStep::Fail(error) = sending(start("Hi", policy, t0)).failed(t0, Seen::Timeout) else {
            panic!("a timeout is never sent again")
        };
        assert_eq!(error.cause(), Some(&RequestError::Timeout { seconds: 15 }), "14.5 s, rounded up");
        assert_eq!(error.retry_safety(), crate::api_error::RetrySafety::Ambiguous);
    }
}
