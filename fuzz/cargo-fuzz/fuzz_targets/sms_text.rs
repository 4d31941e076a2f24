//! The text splitter and segment counter: parts are at most 1600 UTF-16 units, never blank, and in
//! order; counting never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twilio_sms::sms_text::{segments, split};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = segments(&text);
    if let Ok(parts) = split(&text) {
        let mut rest: &str = &text;
        for part in parts {
            assert!(part.as_str().encode_utf16().count() <= 1600);
            assert!(!part.as_str().trim().is_empty());
            let at = rest.find(part.as_str()).expect("parts are slices of the text, in order");
            rest = &rest[at + part.as_str().len()..];
        }
    }
});
