//! The retry policy of the native client (`twilio_sms::retry`) for the package's `fetch` loops: the
//! plugin makes each attempt and sleeps; the core decides whether and when to try again.

use std::time::{Duration, SystemTime};

use twilio_sms::api_error::parse_retry_after;
use twilio_sms::retry::{RetryPolicy, Seen};
use wasm_bindgen::prelude::wasm_bindgen;

/// `ms` milliseconds: nothing for NaN or not above 0, the longest duration for a huge or infinite one.
fn duration(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

/// The longest wait or attempt time the host's timers take (`setTimeout`, `AbortSignal.timeout`).
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// `duration` in ms, within what the host's timers take.
pub(crate) fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).min(MAX_TIMER_MS)
}

/// The time of one attempt by default, in ms (the native client's: 15 s).
#[wasm_bindgen(js_name = defaultAttemptMs)]
#[must_use]
pub fn default_attempt_ms() -> f64 {
    ms(RetryPolicy::default().attempt_timeout)
}

/// The native client's limits (4 attempts, 15 s an attempt, 30 s in all) unless given (a time of
/// `Infinity` has no bound).
pub(crate) fn policy(
    max_attempts: Option<u32>,
    attempt_timeout_ms: Option<f64>,
    deadline_ms: Option<f64>,
) -> RetryPolicy {
    let defaults = RetryPolicy::default();
    RetryPolicy::new(
        max_attempts.filter(|n| *n >= 1).unwrap_or(defaults.max_attempts),
        attempt_timeout_ms.map_or(defaults.attempt_timeout, duration),
        deadline_ms.map_or(defaults.deadline, duration),
    )
}

/// One call's retries: its limits, whether it creates nothing (`idempotent`), and when it started.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Retry {
    policy: RetryPolicy,
    idempotent: bool,
    started_ms: f64,
}

#[wasm_bindgen]
impl Retry {
    /// A call started at `now_ms` (the host's clock, ms since the epoch): the native client's limits
    /// (4 attempts, 15 s an attempt, 30 s in all) unless given (a time of `Infinity` has no bound; the
    /// host's `maxAttempts` is checked before, see `index.js`). `idempotent`: a read, or an update to
    /// the same value (also tried again after a 5xx, a timeout or a lost connection); a message create
    /// is tried again only after a 429 or when no connection was made.
    #[wasm_bindgen(constructor)]
    #[must_use]
    pub fn new(
        idempotent: bool,
        max_attempts: Option<u32>,
        attempt_timeout_ms: Option<f64>,
        deadline_ms: Option<f64>,
        now_ms: f64,
    ) -> Self {
        Self { policy: policy(max_attempts, attempt_timeout_ms, deadline_ms), idempotent, started_ms: now_ms }
    }

    /// The time the next attempt gets at `now_ms`, in ms (at least 1).
    #[wasm_bindgen(js_name = attemptMs)]
    #[must_use]
    pub fn attempt_ms(&self, now_ms: f64) -> f64 {
        ms(self.policy.attempt_time(duration(now_ms - self.started_ms))).max(1.0)
    }

    /// After attempt `attempt` (from 1) ended at `now_ms`: the wait in ms before the next, or nothing
    /// to stop there. `status` when Twilio answered (with its `Retry-After` header, if any), else
    /// `failure`: `connect` (no connection was made), `timeout`, or anything else (the connection broke
    /// after sending).
    #[must_use]
    pub fn next(
        &self,
        attempt: u32,
        now_ms: f64,
        status: Option<u16>,
        retry_after: Option<String>,
        failure: Option<String>,
    ) -> Option<f64> {
        let seen = match (status, failure.as_deref()) {
            (Some(status), _) => {
                let now = SystemTime::UNIX_EPOCH + duration(now_ms);
                Seen::Answered { status, retry_after: retry_after.and_then(|v| parse_retry_after(&v, now)) }
            }
            (None, Some("connect")) => Seen::Connect,
            (None, Some("timeout")) => Seen::Timeout,
            (None, _) => Seen::Lost,
        };
        let elapsed = duration(now_ms - self.started_ms);
        self.policy.next(self.idempotent, attempt, elapsed, &seen).map(ms)
    }
}
