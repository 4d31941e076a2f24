//! Signing helpers for tests and tools (feature `test-util`): they produce what Twilio sends.
//!
//! Nothing here weakens verification; it lets a test or a local tool sign a request the way Twilio
//! does, with a token it holds.

use hmac::Mac as _;
use sha2::Digest as _;

use crate::token::AuthToken;
use crate::webhook::{Signature, form};

/// The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url` (for a GET, or a
/// JSON body signed through `bodySHA256`, pass no params).
#[must_use]
pub fn sign(token: &AuthToken, url: &str, params: &[(&str, &str)]) -> Signature {
    let mut mac = token.hmac_sha1();
    mac.update(url.as_bytes());
    let pairs: Vec<(&[u8], &[u8])> = params.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
    mac.update(&form::canonical(&pairs));
    let mut tag = [0u8; 20];
    tag.copy_from_slice(&mac.finalize().into_bytes());
    Signature::from_tag(tag)
}

/// The lowercase hex SHA-256 of a body, as Twilio puts it in the `bodySHA256` query parameter.
#[must_use]
pub fn body_sha256_hex(body: &[u8]) -> String {
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes parameters the way Twilio does (`java.net.URLEncoder`): a space becomes `+`, only
/// `A-Z a-z 0-9 . - * _` stay as they are, every other byte becomes `%XX` in upper-case hex.
#[must_use]
pub fn encode_form(params: &[(&str, &str)]) -> String {
    fn push(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push(&mut out, k);
        out.push('=');
        push(&mut out, v);
    }
    out
}
