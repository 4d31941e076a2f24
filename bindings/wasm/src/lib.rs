//! # twilio-sms-wasm
//!
//! The sans-I/O core of `twilio-sms` as a WebAssembly package for Hivekeep's TypeScript plugin, built
//! with `wasm-bindgen` (see `bindings/wasm/build.sh`). The plugin does the I/O (the HTTP body, `fetch`,
//! `ctx.storage`, the vault); this crate does everything that decides, HMAC-SHA1 included:
//!
//! - [`Channel`]: a channel's webhook verification and classification (the same code as the native
//!   channel: `WebhookVerifier::verify`, the MAC computed in wasm under the tokens the plugin read from
//!   the vault), and its outbound sends ([`SendPlan`]);
//! - [`Verifier`]: verification of a webhook at an exact URL (or a public URL and a request target),
//!   without a channel (conformance, tools);
//! - SMS text: [`split_text`], [`segment_info`];
//! - delivery status: [`status_rank`], [`hivekeep_status`], [`status_hint`], and the ordering and
//!   de-duplication decisions [`advance_status`] and [`first_sighting`], whose state the plugin keeps
//!   (and deletes once [`is_stale`]);
//! - the retry policy of the plugin's `fetch` calls: inside the steps of a [`SendPlan`] and a
//!   [`CheckPlan`] (the native client's);
//! - phone numbers: [`is_valid_phone`], [`normalize_phone`], and [`warm_up`], which pays the
//!   metadata's first-use cost at activation.
//!
//! Values cross the boundary as strings, numbers, byte arrays and JSON text; the package's
//! `index.js` turns them into objects. No output carries a secret or a full phone number except the
//! message data itself (`IncomingMessage`), which the host needs.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
// No input can panic the package: no unwrap, expect, panic or unchecked indexing outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod retry;
mod send;
mod setup;
mod text;
mod webhook;

pub use retry::default_attempt_ms;
pub use send::{SendPlan, parse_send_answer};
pub use setup::{CheckPlan, auth_token_error, public_url_problem};
pub use text::{
    advance_status, first_sighting, hivekeep_status, is_stale, is_valid_phone, normalize_phone, segment_info,
    split_text, status_hint, status_rank,
};
pub use webhook::{Channel, Handled, Verifier};

use wasm_bindgen::prelude::wasm_bindgen;

/// The longest answer body from Twilio the core reads (`outbound::MAX_RESPONSE_BYTES`, as the native
/// client): the host reads at most one byte more and hands it over.
#[wasm_bindgen(js_name = maxResponseBytes)]
#[must_use]
pub fn max_response_bytes() -> usize {
    twilio_sms::outbound::MAX_RESPONSE_BYTES
}

/// How long a de-duplication or status record counts by default, in milliseconds (a day).
#[wasm_bindgen(js_name = defaultTtlMs)]
#[must_use]
pub fn default_ttl_ms() -> f64 {
    twilio_sms::hivekeep::store::DEFAULT_TTL.as_secs_f64() * 1000.0
}

/// How often a channel sweeps its stale records, in milliseconds (an hour).
#[wasm_bindgen(js_name = sweepIntervalMs)]
#[must_use]
pub fn sweep_interval_ms() -> f64 {
    twilio_sms::hivekeep::store::SWEEP_INTERVAL.as_secs_f64() * 1000.0
}

/// The most keys one sweep reads.
#[wasm_bindgen(js_name = sweepMaxKeys)]
#[must_use]
pub fn sweep_max_keys() -> usize {
    twilio_sms::hivekeep::store::SWEEP_MAX_KEYS
}

/// The default body limit of a webhook, in bytes (64 KiB).
#[wasm_bindgen(js_name = defaultBodyLimit)]
#[must_use]
pub fn default_body_limit() -> usize {
    twilio_sms::BodyLimit::DEFAULT.get()
}

/// The package version (the crate's).
#[wasm_bindgen]
#[must_use]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The channel config schema for `plugin.json` (JSON).
#[wasm_bindgen(js_name = configSchema)]
#[must_use]
pub fn config_schema() -> String {
    twilio_sms::hivekeep::adapter::config_schema().to_string()
}

/// Pays every first-use cost once: the `phonenumber` metadata and its patterns (about 0.4 s in Node),
/// a strict form decode and canonicalisation, an HMAC, a text split. Call it when the plugin
/// activates, so that no webhook or send pays it. Returns whether every step gave the expected
/// answer.
#[wasm_bindgen(js_name = warmUp)]
#[must_use]
pub fn warm_up() -> bool {
    let phone = twilio_sms::E164::parse("+14155550100").is_ok()
        && twilio_sms::E164::normalize("(415) 555-0100", "US").is_ok();
    let verify = webhook::warm_up();
    let text = twilio_sms::sms_text::split("warm-up").is_ok();
    phone && verify && text
}
