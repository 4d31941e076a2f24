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

/// Decoded form pairs, in wire order, held in one buffer of valid UTF-8.
#[derive(Clone, Default)]
pub(crate) struct Form {
    /// The decoded pieces, each followed by an ASCII separator, validated as UTF-8 as a whole.
    text: Vec<u8>,
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl core::fmt::Debug for Form {
    /// Counts only: parameter values hold message text and phone numbers.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Form").field("pairs", &self.pairs.len()).finish()
    }
}

/// Hexadecimal digit values, `0xFF` for every other byte: a table lookup, since branching on random
/// hex digits mispredicts (percent-encoded UTF-8 is mostly escapes).
#[allow(clippy::indexing_slicing, reason = "const evaluation: an out-of-bounds index fails the build")]
const HEX: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

impl Form {
    /// Decodes `body` strictly: split on `&` only, skip empty segments, the first `=` separates name
    /// from value (no `=`: an empty value), `+` is a space, `%XX` a byte, a malformed `%` or invalid
    /// UTF-8 is an error; blank values and repeats are kept.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, FormError> {
        // Each piece is followed by a separator byte (0, ASCII): a multi-byte sequence cannot straddle
        // it, so when the whole buffer is valid UTF-8 so is every piece (one validation pass for all).
        // A segment `name=value&` decodes to at most `name␀value␀` and `name&` to `name␀`, so the
        // body's length plus one byte always suffices.
        //
        // One pass, written for speed: `%XX`, `+` and plain bytes go through the same branch-free step
        // (percent-encoded UTF-8 alternates between them unpredictably), a malformed escape only sets a
        // flag checked at the end, and only the rare `&` and `=` take a branch.
        let mut text = vec![0u8; body.len() + 1];
        let mut at = 0;
        let mut pairs = Vec::with_capacity(32);
        let mut name_start = 0;
        // Where the value starts, once the segment's first `=` has been read.
        let mut value_start: Option<usize> = None;
        let mut malformed = 0u8;
        macro_rules! end_segment {
            () => {
                // A segment that read nothing at all (not even `=`) is skipped.
                if value_start.is_some() || at > name_start {
                    let (name_end, value) = match value_start {
                        Some(v) => (v - 1, v..at),
                        None => (at, at..at),
                    };
                    pairs.push((name_start..name_end, value));
                    at += 1;
                }
                name_start = at;
                value_start = None;
            };
        }
        let mut rest = body;
        while let [byte, tail @ ..] = rest {
            let byte = *byte;
            if byte == b'&' {
                end_segment!();
                rest = tail;
                continue;
            }
            if byte == b'=' && value_start.is_none() {
                at += 1;
                value_start = Some(at);
                rest = tail;
                continue;
            }
            let hex = |b: &u8| HEX.get(usize::from(*b)).copied().unwrap_or(0xFF);
            let (hi, lo) = match tail {
                [hi, lo, ..] => (hex(hi), hex(lo)),
                [hi] => (hex(hi), 0xFF),
                [] => (0xFF, 0xFF),
            };
            // Masks instead of branches: all ones when the byte is `%` (or `+`).
            let escape = byte == b'%';
            let escape_mask = 0u8.wrapping_sub(u8::from(escape));
            let plus_mask = 0u8.wrapping_sub(u8::from(byte == b'+'));
            let value =
                (hi << 4 | (lo & 0x0F)) & escape_mask | b' ' & plus_mask | byte & !(escape_mask | plus_mask);
            malformed |= (hi | lo) & 0xF0 & escape_mask;
            if let Some(slot) = text.get_mut(at) {
                *slot = value;
            }
            at += 1;
            rest = tail.get(2 * usize::from(escape)..).unwrap_or(&[]);
        }
        end_segment!();
        // The macro resets the segment state for a next segment; after the last one it is unused.
        let _ = (name_start, value_start);
        if malformed != 0 {
            return Err(FormError::MalformedEscape);
        }
        text.truncate(at);
        simdutf8::basic::from_utf8(&text).map_err(|_| FormError::InvalidUtf8)?;
        Ok(Self { text, pairs })
    }

    /// The pairs in wire order, as bytes.
    fn byte_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs
            .iter()
            .map(|(k, v)| (self.text.get(k.clone()).unwrap_or(&[]), self.text.get(v.clone()).unwrap_or(&[])))
    }

    /// The pairs in wire order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        // Every piece was validated with the whole buffer, so these conversions cannot fail.
        let text = |b| simdutf8::basic::from_utf8(b).unwrap_or("");
        self.byte_pairs().map(move |(k, v)| (text(k), text(v)))
    }

    /// The parameter part of the data string Twilio signs (see [`canonical`]).
    pub(crate) fn canonical(&self) -> Vec<u8> {
        canonical(self.byte_pairs())
    }
}

/// The first 16 bytes of a key, big-endian: comparing these orders most keys without a `memcmp`.
fn key_prefix(key: &[u8]) -> u128 {
    let mut prefix = [0u8; 16];
    let n = key.len().min(16);
    if let (Some(dst), Some(src)) = (prefix.get_mut(..n), key.get(..n)) {
        dst.copy_from_slice(src);
    }
    u128::from_be_bytes(prefix)
}

/// The parameter part of the data string Twilio signs: keys in byte order, and for each key its distinct
/// values in byte order, written `key value` with no separators.
pub(crate) fn canonical<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut sorted: Vec<(u128, &[u8], &[u8])> = pairs.map(|(k, v)| (key_prefix(k), k, v)).collect();
    // The prefix orders like the key (zero padding sorts a shorter key first, as byte order does);
    // only equal prefixes fall back to the whole key, then the value.
    sorted.sort_unstable();
    sorted.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    let len = sorted.iter().map(|(_, k, v)| k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (_, k, v) in sorted {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &str) -> Vec<(String, String)> {
        Form::decode(body.as_bytes()).unwrap().pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
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
        // Many valueless segments, a bare `=`, empty names and values.
        assert_eq!(
            pairs("a&b&c&=&=x&y=&%41"),
            vec![
                ("a".into(), "".into()),
                ("b".into(), "".into()),
                ("c".into(), "".into()),
                ("".into(), "".into()),
                ("".into(), "x".into()),
                ("y".into(), "".into()),
                ("A".into(), "".into()),
            ]
        );
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
