//! The Twilio error-body parser: any status, content type and body; it must never panic and never keep
//! a full `+` phone number that the body carried.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twilio_sms::api_error::parse_error_response;

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(3));
    let status = 400 + u16::from(head.first().copied().unwrap_or(0)) % 200;
    let content_type = match head.get(1).copied().unwrap_or(0) % 4 {
        0 => Some("application/json"),
        1 => Some("application/problem+json"),
        2 => Some("text/html"),
        _ => None,
    };
    let error = parse_error_response(status, content_type, body);
    let _ = (error.to_string(), format!("{error:?}"), error.retry_safety());
});
