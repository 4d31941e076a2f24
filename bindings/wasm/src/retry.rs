//! The retry policy of the native client (`twilio_sms::retry`), as the package's plans take it: the
//! plugin makes each attempt and sleeps; the core decides whether and when to try again.

use std::time::Duration;

use twilio_sms::retry::RetryPolicy;
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
