//! SMS text, delivery status, the plugin-kept decisions (de-duplication and status ordering), and
//! phone numbers.

use std::time::Duration;

use serde_json::{Value, json};
use twilio_sms::E164;
use twilio_sms::hivekeep::delivery::{self, Locale};
use twilio_sms::sms_text::{self, SegmentInfo};
use twilio_sms::status::{DeliveryRank, MessageStatus, StatusDecision, decide};
use wasm_bindgen::prelude::wasm_bindgen;

fn info_json(info: SegmentInfo) -> Value {
    json!({
        "encoding": info.encoding.as_str(),
        "segments": info.segments,
        "units": info.units,
        "unitsPerSegment": info.units_per_segment,
    })
}

/// How Twilio encodes and bills `text`: `{encoding: "GSM-7"|"UCS-2", segments, units,
/// unitsPerSegment, nonGsm7}` (`nonGsm7`: the distinct characters that force UCS-2).
#[wasm_bindgen(js_name = segmentInfo)]
#[must_use]
pub fn segment_info(text: &str) -> String {
    let mut info = info_json(sms_text::segments(text));
    let mut seen: Vec<char> = Vec::new();
    for c in sms_text::non_gsm7_chars(text) {
        if !seen.contains(&c) && seen.len() < 32 {
            seen.push(c);
        }
    }
    if let Some(object) = info.as_object_mut() {
        object.insert("nonGsm7".to_owned(), Value::from(seen.into_iter().collect::<String>()));
    }
    info.to_string()
}

/// Splits a text into SMS bodies of at most 1600 UTF-16 units, at the best break (paragraph, line,
/// sentence, word, grapheme): `{parts: [{text, encoding, segments, units, unitsPerSegment}]}`, or
/// `{error}` for a blank text.
#[wasm_bindgen(js_name = splitText)]
#[must_use]
pub fn split_text(text: &str) -> String {
    match sms_text::split(text) {
        Ok(bodies) => {
            let parts: Vec<Value> = bodies
                .iter()
                .map(|body| {
                    let mut part = info_json(body.segments());
                    if let Some(object) = part.as_object_mut() {
                        object.insert("text".to_owned(), Value::from(body.as_str()));
                    }
                    part
                })
                .collect();
            json!({ "parts": parts })
        }
        Err(error) => json!({ "error": error.to_string() }),
    }
    .to_string()
}

/// The delivery rank of a Twilio status (a status supersedes another when its rank is higher, or equal
/// and final): 0 scheduled … 4 sent, 5 delivered, 6 read, 7 for every failure (a part's failure replaces
/// the message's `delivered`); nothing for inbound and unknown statuses, which never supersede anything.
#[wasm_bindgen(js_name = statusRank)]
#[must_use]
pub fn status_rank(status: &str) -> Option<u8> {
    MessageStatus::parse(status).rank().map(DeliveryRank::get)
}

/// The status Hivekeep shows for a Twilio status (`queued`, `sent`, `delivered`, `undelivered`,
/// `failed`, `read` or `unknown`).
#[wasm_bindgen(js_name = hivekeepStatus)]
#[must_use]
pub fn hivekeep_status(status: &str) -> String {
    serde_json::to_value(MessageStatus::parse(status).hivekeep())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The hint shown under a bubble for a (Twilio or Hivekeep) status, in `locale` (`en`, `fr`, `de`,
/// `es`; others fall back to English), e.g. `✗ Delivery failed (30007)`.
#[wasm_bindgen(js_name = statusHint)]
#[must_use]
pub fn status_hint(status: &str, error_code: Option<u32>, locale: Option<String>) -> String {
    let status = MessageStatus::parse(status).hivekeep();
    delivery::status_hint(status, error_code, Locale::parse(locale.as_deref()))
}

/// A duration of `ms` milliseconds (none below zero; the longest there is when too long to hold).
fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX)
}

/// The time since the Unix epoch of a JavaScript time (`Date.now()`).
pub(crate) fn since_epoch(now_ms: f64) -> Duration {
    millis(now_ms)
}

/// A stored record, when it is one and still counts: younger than `ttl_ms` (default the core's
/// `store::DEFAULT_TTL`, a day).
pub(crate) fn fresh(previous: Option<&str>, now_ms: f64, ttl_ms: Option<f64>) -> Option<Value> {
    let record: Value = serde_json::from_str(previous?).ok()?;
    let at = record.get("at").and_then(Value::as_f64)?;
    // A record from the future (the clock went back) is as young as can be.
    let ttl = ttl_ms.map_or(twilio_sms::hivekeep::store::DEFAULT_TTL, millis);
    twilio_sms::hivekeep::store::still_counts(millis(now_ms - at), ttl).then_some(record)
}

/// The de-duplication decision for an event's idempotency key, with the state the plugin keeps
/// under that key: `previous` is the stored record (JSON, or nothing). Returns `{first, record}`:
/// `first` is false for a duplicate within `ttlMs`; when `first`, store `record` (`{at}`) under the
/// key. The same rule as the native in-memory store.
#[wasm_bindgen(js_name = firstSighting)]
#[must_use]
pub fn first_sighting(previous: Option<String>, now_ms: f64, ttl_ms: Option<f64>) -> String {
    let record = sighting(previous.as_deref(), now_ms, ttl_ms);
    json!({"first": record.is_some(), "record": record}).to_string()
}

/// The record to store under an event's key when `previous` (the stored one) does not count: this is
/// the event's first sighting. None for a duplicate.
pub(crate) fn sighting(previous: Option<&str>, now_ms: f64, ttl_ms: Option<f64>) -> Option<Value> {
    fresh(previous, now_ms, ttl_ms).is_none().then(|| json!({"at": now_ms}))
}

/// The status-ordering decision for a message by rank alone, with the state the plugin keeps per
/// message: `previous` is the stored record (JSON `{rank, at}`, or nothing). Returns `{applies, record}`:
/// the update applies when the core's `decide` says so (`rank` supersedes the stored rank: higher, or
/// equal and final; or none is stored within `ttlMs`); then store `record` under the message. A late
/// `sent` never overwrites `delivered`. It keeps no status, so it cannot hand a kept failure over again:
/// a channel does that in `Channel.handle`, whose records keep the status and its error too.
#[wasm_bindgen(js_name = advanceStatus)]
#[must_use]
pub fn advance_status(previous: Option<String>, rank: u8, now_ms: f64, ttl_ms: Option<f64>) -> String {
    let applied = fresh(previous.as_deref(), now_ms, ttl_ms)
        .and_then(|record| record.get("rank").and_then(Value::as_u64))
        .and_then(|rank| u8::try_from(rank).ok())
        .and_then(DeliveryRank::new);
    // A number no status has ranks nothing: it never applies.
    let Some(rank) = DeliveryRank::new(rank) else {
        return json!({"applies": false, "record": null}).to_string();
    };
    if decide(applied, Some(rank)) != StatusDecision::Apply {
        return json!({"applies": false, "record": null}).to_string();
    }
    json!({"applies": true, "record": {"rank": rank.get(), "at": now_ms}}).to_string()
}

/// Whether a stored de-duplication or status record (JSON, or nothing) no longer counts: it is older than
/// `ttlMs` or not a record at all, so [`first_sighting`] and [`advance_status`] would ignore it and the
/// plugin may delete it (`sweepStorage`).
#[wasm_bindgen(js_name = isStale)]
#[must_use]
pub fn is_stale(previous: Option<String>, now_ms: f64, ttl_ms: Option<f64>) -> bool {
    fresh(previous.as_deref(), now_ms, ttl_ms).is_none()
}

/// Whether `number` is a valid phone number written in E.164 (`+` and digits), by the phone-number
/// metadata (17-130 µs once warm; see `warmUp`).
#[wasm_bindgen(js_name = isValidPhone)]
#[must_use]
pub fn is_valid_phone(number: &str) -> bool {
    E164::parse(number).is_ok()
}

/// Normalises a number as people type it into E.164, reading national numbers in `region` (`US`,
/// `GB`, ...): `{ok: "+14155550100"}` or `{error}` (the error never repeats the number).
#[wasm_bindgen(js_name = normalizePhone)]
#[must_use]
pub fn normalize_phone(input: &str, region: &str) -> String {
    match E164::normalize(input, region) {
        Ok(number) => json!({"ok": number.as_str()}),
        Err(error) => json!({"error": error.to_string()}),
    }
    .to_string()
}
