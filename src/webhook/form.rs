//! Strict `application/x-www-form-urlencoded` decoding and the canonical parameter string.

use core::ops::Range;

/// Why a form body (or a query string read as one) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-escape")]
    MalformedEscape,
    /// The decoded bytes of a name or value are not valid UTF-8 (overlong forms and surrogates
    /// included).
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

/// Decoded form pairs, in wire order, held in one string.
#[derive(Clone, Default)]
pub(crate) struct Form {
    text: String,
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends the decoded form of `raw` (`+` is a space, `%XX` a byte) to `out`.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), FormError> {
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::MalformedEscape),
                }
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Ok(())
}

impl Form {
    /// Decodes `body` strictly: split on `&` only, skip empty segments, the first `=` separates name
    /// from value (no `=`: an empty value), `+` is a space, `%XX` a byte, a malformed `%` or invalid
    /// UTF-8 is an error; blank values and repeats are kept.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, FormError> {
        let mut buf = Vec::with_capacity(body.len() + body.len() / 8);
        let mut pairs = Vec::with_capacity(body.iter().filter(|&&b| b == b'&').count() + 1);
        for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (name, value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (segment.get(..eq).unwrap_or(&[]), segment.get(eq + 1..).unwrap_or(&[])),
                None => (segment, &[][..]),
            };
            // An ASCII separator between pieces: a multi-byte sequence cannot straddle it, so when the
            // whole buffer is valid UTF-8, so is every piece (one validation pass for all of them).
            let k0 = buf.len();
            decode_into(name, &mut buf)?;
            let k1 = buf.len();
            buf.push(b'&');
            let v0 = buf.len();
            decode_into(value, &mut buf)?;
            let v1 = buf.len();
            buf.push(b'&');
            pairs.push((k0..k1, v0..v1));
        }
        let text = String::from_utf8(buf).map_err(|_| FormError::InvalidUtf8)?;
        Ok(Self { text, pairs })
    }

    /// The pairs in wire order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| {
            (self.text.get(k.clone()).unwrap_or(""), self.text.get(v.clone()).unwrap_or(""))
        })
    }

    /// The parameter part of the data string Twilio signs (see [`canonical`]).
    pub(crate) fn canonical(&self) -> Vec<u8> {
        canonical(self.pairs())
    }
}

/// The parameter part of the data string Twilio signs: keys in byte order, and for each key its distinct
/// values in byte order, written `key value` with no separators.
pub(crate) fn canonical<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut sorted: Vec<(&[u8], &[u8])> = pairs.map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let len = sorted.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (k, v) in sorted {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &str) -> Vec<(String, String)> {
        Form::decode(body.as_bytes())
            .unwrap()
            .pairs()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn decodes_like_twilio_encodes() {
        assert_eq!(
            pairs("Body=At%C3%A9+%C3%A0s+23%3A59&From=%2B14155550100&ToCity=&Flag&&x=a=b"),
            vec![
                ("Body".into(), "Até às 23:59".into()),
                ("From".into(), "+14155550100".into()),
                ("ToCity".into(), "".into()),
                ("Flag".into(), "".into()),
                ("x".into(), "a=b".into()),
            ]
        );
        assert_eq!(pairs("a=%c3%a9%20x"), vec![("a".into(), "é x".into())]);
        assert_eq!(pairs("a%3Db=c;d"), vec![("a=b".into(), "c;d".into())]);
        assert!(pairs("").is_empty());
        assert!(pairs("&&").is_empty());
    }

    #[test]
    fn malformed_escapes_and_bad_utf8_are_errors() {
        for bad in ["a=100%", "a=%ZZ", "a=%4", "%=x", "a=%%41"] {
            assert_eq!(Form::decode(bad.as_bytes()).unwrap_err(), FormError::MalformedEscape, "{bad}");
        }
        for bad in ["a=%C3%28", "a=%FF", "a=%C0%AF", "a=%ED%A0%80", "a=%E2%9C", "%C3=%A9"] {
            assert_eq!(Form::decode(bad.as_bytes()).unwrap_err(), FormError::InvalidUtf8, "{bad}");
        }
        // Raw non-UTF-8 bytes on the wire are refused too.
        assert_eq!(Form::decode(b"a=\xff").unwrap_err(), FormError::InvalidUtf8);
    }

    #[test]
    fn canonical_sorts_keys_then_values_and_drops_exact_duplicates() {
        let form = Form::decode(b"Sid=1&Digits=5678&Digits=1234&Digits=1234&Empty=&B=2").unwrap();
        assert_eq!(form.canonical(), b"B2Digits1234Digits5678EmptySid1".to_vec());
        // Sort by key, never by key+value (twilio-go#139).
        let form = Form::decode(b"ReasonConferenceEnded=test&Reason=Participant").unwrap();
        assert_eq!(form.canonical(), b"ReasonParticipantReasonConferenceEndedtest".to_vec());
        // Byte order is case-sensitive.
        let form = Form::decode(b"callSid=c&CallSid=b&CALLSID=a").unwrap();
        assert_eq!(form.canonical(), b"CALLSIDaCallSidbcallSidc".to_vec());
    }
}
