//! When a request to Twilio is tried again, sans I/O: the one retry policy of the native client and of
//! the WebAssembly package. A driver makes an attempt, tells [`RetryPolicy::next`] what it saw, and
//! sleeps for the wait it gets, or stops; it holds no rule or number of its own.
//!
//! A request that may create something (a message) is tried again only when Twilio surely created
//! nothing: it answered 429, or no connection was made. A read, or an update that sets the same value
//! again, is also tried again after a 5xx answer, a timeout or a lost connection.

use std::time::Duration;

use crate::outbound::RequestError;

/// What a driver saw of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Seen {
    /// Twilio answered with this HTTP status and, when it sent one, this `Retry-After` (already read,
    /// e.g. with [`parse_retry_after`](crate::api_error::parse_retry_after)).
    Answered {
        /// The HTTP status.
        status: u16,
        /// How long Twilio asked to wait.
        retry_after: Option<Duration>,
    },
    /// No connection was made: nothing was sent.
    Connect,
    /// No complete answer within the attempt's time.
    Timeout,
    /// The connection broke after the request was sent.
    Lost,
}

/// The retry limits: attempts, the time of one attempt, and the time of the whole call (waits
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts at most (4 by default).
    pub max_attempts: u32,
    /// The time of one attempt, from connecting to the end of the answer (15 s by default).
    pub attempt_timeout: Duration,
    /// The time of the whole call, retries and waits included (30 s by default).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, attempt_timeout: Duration::from_secs(15), deadline: Duration::from_secs(30) }
    }
}

/// The wait before attempt `attempt + 1` when Twilio gave none: 250 ms, 500 ms, 1 s, 2 s, then 4 s.
#[must_use]
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.saturating_sub(1).min(4))
}

impl RetryPolicy {
    /// A policy with these limits.
    #[must_use]
    pub const fn new(max_attempts: u32, attempt_timeout: Duration, deadline: Duration) -> Self {
        Self { max_attempts, attempt_timeout, deadline }
    }

    /// The time the next attempt gets, `elapsed` after the call started: the attempt timeout, within
    /// what is left of the deadline.
    #[must_use]
    pub fn attempt_time(&self, elapsed: Duration) -> Duration {
        self.attempt_timeout.min(self.deadline.saturating_sub(elapsed))
    }

    /// After attempt `attempt` (from 1) ended as `seen`, `elapsed` after the call started: the wait
    /// before trying again, or `None` to stop there (the attempt's answer, or its failure, is the
    /// call's). `idempotent`: the request creates nothing (a read, or an update to the same value).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use twilio_sms::retry::{RetryPolicy, Seen};
    /// let policy = RetryPolicy::default();
    /// let rate_limited = Seen::Answered { status: 429, retry_after: Some(Duration::from_secs(2)) };
    /// assert_eq!(policy.next(false, 1, Duration::ZERO, &rate_limited), Some(Duration::from_secs(2)));
    /// // A 500 to a message create may have created it: never sent again.
    /// let server_error = Seen::Answered { status: 500, retry_after: None };
    /// assert_eq!(policy.next(false, 1, Duration::ZERO, &server_error), None);
    /// assert_eq!(policy.next(true, 1, Duration::ZERO, &server_error), Some(Duration::from_millis(250)));
    /// ```
    #[must_use]
    pub fn next(&self, idempotent: bool, attempt: u32, elapsed: Duration, seen: &Seen) -> Option<Duration> {
        let wait = match *seen {
            Seen::Answered { status: 429, retry_after } => retry_after.unwrap_or_else(|| backoff(attempt)),
            Seen::Answered { status: 500..=599, retry_after } if idempotent => {
                retry_after.unwrap_or_else(|| backoff(attempt))
            }
            Seen::Connect => backoff(attempt),
            Seen::Timeout | Seen::Lost if idempotent => backoff(attempt),
            _ => return None,
        };
        let last = attempt >= self.max_attempts.max(1);
        let out_of_time = elapsed.saturating_add(wait) >= self.deadline;
        (!last && !out_of_time).then_some(wait)
    }
}

/// One call's attempts, sans I/O: its [`RetryPolicy`] with the attempts made and when the call
/// started. A driver asks for each attempt's time ([`Self::attempt`]), makes it, then tells what it saw:
/// [`Self::after_answer`] or [`Self::after_no_answer`] give the wait before the next attempt, or end the
/// call. Times are on the driver's clock, from any origin (a clock that goes back counts as no time
/// passed).
#[derive(Debug, Clone, Copy)]
pub struct Call {
    policy: RetryPolicy,
    idempotent: bool,
    started: Duration,
    attempts: u32,
    timeout: Duration,
}

impl Call {
    /// A call started at `now`. `idempotent`: it creates nothing (a read, or an update to the same
    /// value), so it is also tried again after a 5xx, a timeout or a lost connection.
    #[must_use]
    pub const fn start(policy: RetryPolicy, idempotent: bool, now: Duration) -> Self {
        Self { policy, idempotent, started: now, attempts: 0, timeout: Duration::ZERO }
    }

    /// Starts an attempt at `now`: the time it gets (the attempt timeout, within what is left of the
    /// deadline).
    pub fn attempt(&mut self, now: Duration) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        self.timeout = self.policy.attempt_time(now.saturating_sub(self.started));
        self.timeout
    }

    /// The attempts made so far.
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Twilio answered the attempt with `status` (and `retry_after`, already read) at `now`: the wait
    /// before trying again, or `None`: this answer is the call's.
    #[must_use]
    pub fn after_answer(
        &self,
        now: Duration,
        status: u16,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.next(now, &Seen::Answered { status, retry_after })
    }

    /// The attempt got no answer at `now` (`seen`: [`Seen::Connect`], [`Seen::Timeout`] or
    /// [`Seen::Lost`]): the wait before trying again, or the call's error.
    ///
    /// # Errors
    /// The call ends: [`RequestError::Connect`] with the attempts made, [`RequestError::Timeout`] with
    /// the attempt's time in whole seconds (rounded up), or [`RequestError::ConnectionLost`].
    pub fn after_no_answer(&self, now: Duration, seen: Seen) -> Result<Duration, RequestError> {
        if let Some(wait) = self.next(now, &seen) {
            return Ok(wait);
        }
        Err(match seen {
            Seen::Connect => RequestError::Connect { attempts: self.attempts.max(1) },
            Seen::Timeout => {
                let seconds = self.timeout.as_millis().div_ceil(1000);
                RequestError::Timeout { seconds: u64::try_from(seconds).unwrap_or(u64::MAX) }
            }
            Seen::Lost | Seen::Answered { .. } => RequestError::ConnectionLost,
        })
    }

    fn next(&self, now: Duration, seen: &Seen) -> Option<Duration> {
        self.policy.next(self.idempotent, self.attempts.max(1), now.saturating_sub(self.started), seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_counts_its_attempts_and_names_how_it_ended() {
        let policy = RetryPolicy::new(2, Duration::from_millis(14_500), Duration::from_secs(30));
        let t0 = Duration::from_secs(1_000);
        let mut call = Call::start(policy, false, t0);
        assert_eq!(call.attempt(t0), Duration::from_millis(14_500));
        assert_eq!(call.after_no_answer(t0, Seen::Connect), Ok(Duration::from_millis(250)));
        assert_eq!(call.after_answer(t0, 429, Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
        assert_eq!(call.after_answer(t0, 500, None), None, "a create is not sent again after a 5xx");
        assert_eq!(
            call.after_no_answer(t0, Seen::Timeout),
            Err(RequestError::Timeout { seconds: 15 }),
            "14.5 s, rounded up"
        );
        // A clock that went back: no time passed, the attempt gets its whole time.
        assert_eq!(call.attempt(t0 - Duration::from_secs(5)), Duration::from_millis(14_500));
        assert_eq!(call.after_no_answer(t0, Seen::Connect), Err(RequestError::Connect { attempts: 2 }));
        let read = Call::start(policy, true, t0);
        assert_eq!(read.after_no_answer(t0, Seen::Lost), Ok(Duration::from_millis(250)), "a read is");
    }

    const fn answered(status: u16) -> Seen {
        Seen::Answered { status, retry_after: None }
    }

    #[test]
    fn only_what_surely_created_nothing_is_sent_again() {
        let policy = RetryPolicy::default();
        let zero = Duration::ZERO;
        for (seen, create, read) in [
            (answered(429), true, true),
            (Seen::Connect, true, true),
            (answered(500), false, true),
            (answered(503), false, true),
            (Seen::Timeout, false, true),
            (Seen::Lost, false, true),
            (answered(200), false, false),
            (answered(201), false, false),
            (answered(400), false, false),
            (answered(401), false, false),
            (answered(404), false, false),
        ] {
            assert_eq!(policy.next(false, 1, zero, &seen).is_some(), create, "create after {seen:?}");
            assert_eq!(policy.next(true, 1, zero, &seen).is_some(), read, "read after {seen:?}");
        }
    }

    #[test]
    fn waits_follow_retry_after_or_the_backoff_within_the_limits() {
        let policy = RetryPolicy::default();
        let later = Seen::Answered { status: 429, retry_after: Some(Duration::from_secs(3)) };
        assert_eq!(policy.next(false, 1, Duration::ZERO, &later), Some(Duration::from_secs(3)));
        let waits: Vec<Option<Duration>> =
            (1..=4).map(|n| policy.next(true, n, Duration::ZERO, &Seen::Connect)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(waits, [ms(250), ms(500), ms(1000), None], "four attempts at most");
        assert_eq!(backoff(9), Duration::from_secs(4));
        // A wait that would end past the deadline stops the call.
        let late = Seen::Answered { status: 429, retry_after: Some(Duration::from_secs(31)) };
        assert_eq!(policy.next(false, 1, Duration::ZERO, &late), None);
        assert_eq!(policy.next(false, 1, Duration::from_millis(29_800), &Seen::Connect), None);
        // Each attempt gets its time, within what is left.
        assert_eq!(policy.attempt_time(Duration::ZERO), Duration::from_secs(15));
        assert_eq!(policy.attempt_time(Duration::from_secs(25)), Duration::from_secs(5));
        assert_eq!(policy.attempt_time(Duration::from_secs(40)), Duration::ZERO);
        let once = RetryPolicy::new(0, Duration::from_secs(1), Duration::from_secs(10));
        assert_eq!(
            once.next(true, 1, Duration::ZERO, &Seen::Connect),
            None,
            "at least one attempt, here one"
        );
    }
}
