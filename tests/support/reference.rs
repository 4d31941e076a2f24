//! Independent, deliberately simple reimplementations of the rules (from the spec, not from the crate's
//! code), used as oracles: form decoding, the canonical data string, the HMAC-SHA1 signature. The one
//! reference of the property tests (`tests/properties.rs`) and of the fuzz loop (`fuzz/`).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use twilio_sms::webhook::FormError;

pub type Pairs = Vec<(String, String)>;

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one piece (`+` is a space); `None` for a malformed escape.
fn unescape(piece: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(piece.len());
    let mut i = 0;
    while i < piece.len() {
        match piece[i] {
            b'%' => {
                let hi = hex_value(*piece.get(i + 1)?)?;
                let lo = hex_value(*piece.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Strict `application/x-www-form-urlencoded`: split on `&`, skip empty segments, the first `=` splits,
/// `+` is a space, `%XX` a byte; any malformed escape is `MalformedEscape` (whatever else is wrong),
/// then any piece that is not UTF-8 is `InvalidUtf8`.
pub fn decode_form(body: &[u8]) -> Result<Pairs, FormError> {
    let mut raw = Vec::new();
    let mut malformed = false;
    for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &[][..]),
        };
        match (unescape(name), unescape(value)) {
            (Some(n), Some(v)) => raw.push((n, v)),
            _ => malformed = true,
        }
    }
    if malformed {
        return Err(FormError::MalformedEscape);
    }
    if raw.len() > twilio_sms::webhook::MAX_PARAMETERS {
        return Err(FormError::TooManyParameters { limit: twilio_sms::webhook::MAX_PARAMETERS });
    }
    raw.into_iter()
        .map(|(n, v)| match (String::from_utf8(n), String::from_utf8(v)) {
            (Ok(n), Ok(v)) => Ok((n, v)),
            _ => Err(FormError::InvalidUtf8),
        })
        .collect()
}

/// Keys in byte order, each key's distinct values in byte order, `key value` concatenated.
pub fn canonical(pairs: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<(&[u8], &[u8])> = pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
    sorted.sort();
    sorted.dedup();
    sorted.iter().flat_map(|(k, v)| k.iter().chain(v.iter()).copied()).collect()
}

/// The `X-Twilio-Signature` of `url` and (for a form POST) `params`.
pub fn signature(token: &str, url: &str, params: Option<&[(String, String)]>) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    if let Some(params) = params {
        mac.update(&canonical(params));
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether a header value is a well-formed signature: 28 characters of canonical padded base64 of 20
/// bytes (decoding then re-encoding gives the same text).
pub fn well_formed_signature(value: &[u8]) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    match engine.decode(value) {
        Ok(bytes) => bytes.len() == 20 && engine.encode(&bytes).as_bytes() == value,
        Err(_) => false,
    }
}

pub fn sha256_hex(body: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// Form-encodes pairs in one of several styles Twilio or a proxy could use (they all decode alike).
pub fn encode(pairs: &[(String, String)], style: usize) -> String {
    let piece = |s: &str, out: &mut String| {
        for b in s.bytes() {
            let plain = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*' | b'_');
            match style % 4 {
                // java.net.URLEncoder, as Twilio.
                0 if plain => out.push(char::from(b)),
                0 if b == b' ' => out.push('+'),
                // Everything escaped, lower-case hex.
                1 => out.push_str(&format!("%{b:02x}")),
                // Spaces as %20, upper-case hex.
                2 if plain => out.push(char::from(b)),
                // Raw non-ASCII bytes left as they are (valid UTF-8 on the wire).
                3 if plain || b >= 0x80 => out.push(char::from(b)),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    };
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        piece(k, &mut out);
        out.push('=');
        piece(v, &mut out);
    }
    if style % 4 == 3 {
        // Raw bytes were pushed one char per byte: rebuild the real UTF-8 bytes.
        let bytes: Vec<u8> = out.chars().map(|c| c as u32 as u8).collect();
        return String::from_utf8(bytes).unwrap_or_default();
    }
    out
}

/// The runs of 9 or more digits (a full phone number's digits) of `text`.
pub fn phone_digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= 9 {
                runs.push(run.clone());
            }
            run.clear();
        }
    }
    runs
}

/// A printable form of bytes for findings: the text when it is UTF-8, else hex.
pub fn show(bytes: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::json!({ "text": text }),
        Err(_) => serde_json::json!({ "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

pub fn unshow(value: &serde_json::Value) -> Option<Vec<u8>> {
    if let Some(text) = value.get("text").and_then(serde_json::Value::as_str) {
        return Some(text.as_bytes().to_vec());
    }
    let hex = value.get("hex")?.as_str()?;
    (0..hex.len() / 2).map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_decoder_follows_the_rules() {
        let d = |s: &str| decode_form(s.as_bytes());
        assert_eq!(d("a=1&&b&=x&c=a=b").unwrap().len(), 4);
        assert_eq!(d("a=%4"), Err(FormError::MalformedEscape));
        assert_eq!(d("a=%FF&b=%4"), Err(FormError::MalformedEscape));
        assert_eq!(d("a=%FF"), Err(FormError::InvalidUtf8));
        let pairs: Pairs = vec![("k é".into(), "v+&=%".into())];
        for style in 0..4 {
            assert_eq!(d(&encode(&pairs, style)).unwrap(), pairs, "style {style}");
        }
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                Some(&[
                    ("CallSid".into(), "CA1234567890ABCDE".into()),
                    ("Caller".into(), "+12349013030".into()),
                    ("Digits".into(), "1234".into()),
                    ("From".into(), "+12349013030".into()),
                    ("To".into(), "+18005551212".into()),
                ])
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
