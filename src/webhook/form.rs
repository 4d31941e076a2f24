//! Strict `application/x-www-form-urlencoded` decoding and the canonical parameter string.
//!
//! Both run before the signature is checked, on bytes anyone can send, so both are plain and bounded:
//! decoding is one pass over the body, and the canonical string is one `O(n log n)` sort of the pairs
//! (see [`canonical`]) whose comparisons are cheap for every shape of input.

use core::cmp::Ordering;
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
    /// The decoded pieces with their separators (`=`, `&`) between them.
    text: String,
    /// Where each pair's name and value are in `text`, in wire order.
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl core::fmt::Debug for Form {
    /// Counts only: parameter values hold message text and phone numbers.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Form").field("pairs", &self.pairs.len()).finish()
    }
}

/// The value of a hexadecimal digit.
fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl Form {
    /// Decodes `body` strictly: split on `&` only, skip empty segments, the first `=` separates name
    /// from value (no `=`: an empty value), `+` is a space, `%XX` a byte, a malformed `%` or invalid
    /// UTF-8 is an error (a malformed `%` anywhere is reported first); blank values and repeats are
    /// kept.
    ///
    /// One pass over the body: runs of plain bytes are copied whole, and each of the four special
    /// bytes is handled where it is found.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, FormError> {
        let mut text = Vec::with_capacity(body.len() + 1);
        // Room for most bodies' pairs (Twilio's are some 25 bytes each).
        let mut pairs = Vec::with_capacity(body.len() / 16 + 1);
        // Where the current segment starts in the text, and its name once its first `=` is seen.
        let (mut segment, mut name): (usize, Option<Range<usize>>) = (0, None);
        let mut rest = body;
        loop {
            let at = rest.iter().position(|&b| matches!(b, b'&' | b'=' | b'+' | b'%')).unwrap_or(rest.len());
            let (plain, special) = rest.split_at_checked(at).unwrap_or((rest, &[]));
            text.extend_from_slice(plain);
            rest = match special {
                [] | [b'&', ..] => {
                    let end = text.len();
                    match name.take() {
                        Some(name) => pairs.push((name.clone(), name.end + 1..end)),
                        // An empty segment (nothing between two `&`) is skipped.
                        None if end > segment => pairs.push((segment..end, end..end)),
                        None => {}
                    }
                    let [_, tail @ ..] = special else { break };
                    text.push(b'&');
                    segment = text.len();
                    tail
                }
                [b'=', tail @ ..] => {
                    // The first `=` ends the name; a later one is part of the value.
                    if name.is_none() {
                        name = Some(segment..text.len());
                    }
                    text.push(b'=');
                    tail
                }
                [b'+', tail @ ..] => {
                    text.push(b' ');
                    tail
                }
                [b'%', high, low, tail @ ..] => match (hex(*high), hex(*low)) {
                    (Some(high), Some(low)) => {
                        text.push(high << 4 | low);
                        tail
                    }
                    _ => return Err(FormError::MalformedEscape),
                },
                _ => return Err(FormError::MalformedEscape),
            };
        }
        // The separators kept in the text are ASCII: the whole is valid UTF-8 exactly when each piece is.
        let text = String::from_utf8(text).map_err(|_| FormError::InvalidUtf8)?;
        Ok(Self { text, pairs })
    }

    /// The piece of the text at `range` (always a whole name or value, on character boundaries).
    fn piece(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// The pairs in wire order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(name, value)| (self.piece(name), self.piece(value)))
    }

    /// The values of the pairs named `name`, in wire order.
    pub(crate) fn values<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.pairs().filter(move |(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The parameter part of the data string Twilio signs (see [`canonical`]).
    pub(crate) fn canonical(&self) -> Vec<u8> {
        let pairs: Vec<(&[u8], &[u8])> = self.pairs().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        canonical(&pairs)
    }
}

/// A name or value as the sort sees it: its first 16 bytes as a number, then the whole piece.
#[derive(Clone, Copy)]
struct Piece<'a> {
    /// The first 16 bytes, zero-padded, big-endian.
    prefix: u128,
    bytes: &'a [u8],
}

/// How many bytes [`Piece::prefix`] holds.
const PREFIX: usize = 16;

impl<'a> Piece<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let mut prefix = [0u8; PREFIX];
        let n = bytes.len().min(PREFIX);
        if let (Some(dst), Some(src)) = (prefix.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        Self { prefix: u128::from_be_bytes(prefix), bytes }
    }
}

impl Ord for Piece<'_> {
    /// Byte order, mostly by comparing numbers. The prefixes order like the pieces: at their first
    /// difference, either both pieces have a byte, or the shorter one ended (its zero padding sorts
    /// first, as byte order puts a proper prefix first). When the prefixes are equal and both pieces
    /// fit in them, one is the other followed by NUL bytes: the shorter is first. Only longer pieces
    /// with equal prefixes are compared as slices.
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix.cmp(&other.prefix).then_with(|| {
            if self.bytes.len() <= PREFIX && other.bytes.len() <= PREFIX {
                self.bytes.len().cmp(&other.bytes.len())
            } else {
                self.bytes.cmp(other.bytes)
            }
        })
    }
}

impl PartialOrd for Piece<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Piece<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Piece<'_> {}

/// The first 8 bytes of `key`, zero-padded, big-endian: numbers that order like the keys' prefixes.
fn key_word(key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = key.len().min(8);
    if let (Some(dst), Some(src)) = (word.get_mut(..n), key.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(word)
}

/// The parameter part of the data string Twilio signs: keys in byte order, and for each key its distinct
/// values in byte order, written `key value` with no separators.
///
/// Two sorts, each `O(n log n)` comparisons whatever the input's order or repeats. First the pairs are
/// sorted as numbers, their key's first 8 bytes then their index, which orders Twilio's 20-odd keys
/// (they mostly differ there) with cheap comparisons. The 8 bytes order like the keys, so only pairs
/// whose keys share them can still be out of order, and they are next to each other: each such run is
/// sorted again by whole key then value ([`Piece`]'s order, cheap for every shape of input), and its
/// exact repeats, now neighbours, are written once.
pub(crate) fn canonical(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut order: Vec<(u64, usize)> =
        pairs.iter().enumerate().map(|(i, (key, _))| (key_word(key), i)).collect();
    order.sort_unstable();
    let mut out = Vec::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len()).sum());
    let mut write = |(key, value): (&[u8], &[u8])| {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    };
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        let pair = |&(_, i): &(u64, usize)| pairs.get(i).copied().unwrap_or_default();
        if let [one] = run {
            write(pair(one));
            continue;
        }
        let mut sorted: Vec<(Piece<'_>, Piece<'_>)> =
            run.iter().map(pair).map(|(k, v)| (Piece::new(k), Piece::new(v))).collect();
        sorted.sort_unstable();
        sorted.dedup();
        for (key, value) in sorted {
            write((key.bytes, value.bytes));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairs of `body`, through [`decoded`] (so every first stage this processor has is compared).
    fn pairs(body: &str) -> Vec<(String, String)> {
        decoded(body.as_bytes()).unwrap()
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
        // Escapes cut short by the end, or by a separator (`&` and `=` are not hex digits).
        for bad in
            ["a=100%", "a=%ZZ", "a=%4", "%=x", "a=%%41", "%", "%4", "a%2=b", "a=%&3D", "a=%2&b=1", "a=%g0"]
        {
            assert_eq!(decoded(bad.as_bytes()).unwrap_err(), FormError::MalformedEscape, "{bad}");
        }
        // A malformed escape is reported even after invalid UTF-8.
        assert_eq!(Form::decode(b"a=%FF&b=%4").unwrap_err(), FormError::MalformedEscape);
        for bad in ["a=%C3%28", "a=%FF", "a=%C0%AF", "a=%ED%A0%80", "a=%E2%9C", "%C3=%A9", "a=%FE", "a=%FD"] {
            assert_eq!(decoded(bad.as_bytes()).unwrap_err(), FormError::InvalidUtf8, "{bad}");
        }
        // Raw non-UTF-8 bytes on the wire are refused too (including the separators' markers).
        for bad in [&b"a=\xff"[..], b"a=\xfe", b"a=\xfd", b"\xfd", b"a\xfe=b", b"a=\xc3"] {
            assert_eq!(decoded(bad).unwrap_err(), FormError::InvalidUtf8, "{bad:?}");
        }
    }

    #[test]
    fn plus_is_a_space_in_names_and_values() {
        assert_eq!(pairs("a+b=c+d&+=+"), vec![("a b".into(), "c d".into()), (" ".into(), " ".into())]);
        assert_eq!(pairs("%2B=%2b+"), vec![("+".into(), "+ ".into())]);
    }

    #[test]
    fn escapes_and_separators_at_every_offset() {
        // Bodies of up to 200 bytes with an escape (or a separator, or a cut escape) at each position.
        for len in 0..200 {
            for at in 0..len {
                for insert in ["%41", "%c3%a9", "&", "=", "%", "%4", "+"] {
                    let mut body = vec![b'x'; len];
                    body.splice(at..at + 1, insert.bytes());
                    assert_eq!(decoded(&body), reference(&body), "{:?}", String::from_utf8_lossy(&body));
                }
            }
        }
    }

    #[test]
    fn canonical_of_a_large_form_with_many_repeats() {
        let body: Vec<String> = (0..40_000).map(|i| format!("k{}={}", i % 7, i % 5)).collect();
        let form = Form::decode(body.join("&").as_bytes()).unwrap();
        assert_eq!(form.canonical(), reference_canonical(&form));
        assert_eq!(form.canonical(), b"k00k01k02k03k04k10k11k12k13k14k20k21k22k23k24k30k31k32k33k34k40k41k42k43k44k50k51k52k53k54k60k61k62k63k64".to_vec());
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

    /// A straightforward decoder, the specification the fast one is checked against.
    fn reference(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
        let hex = |b: u8| (b as char).to_digit(16);
        for (i, &b) in body.iter().enumerate() {
            if b == b'%'
                && !matches!((body.get(i + 1), body.get(i + 2)), (Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some())
            {
                return Err(FormError::MalformedEscape);
            }
        }
        let unescape = |s: &[u8]| -> Result<String, FormError> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < s.len() {
                match s[i] {
                    b'%' => {
                        out.push((hex(s[i + 1]).unwrap() * 16 + hex(s[i + 2]).unwrap()) as u8);
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
            String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
        };
        let mut pairs = Vec::new();
        for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (name, value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &[][..]),
            };
            pairs.push((unescape(name)?, unescape(value)?));
        }
        Ok(pairs)
    }

    fn decoded(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
        Form::decode(body).map(|form| form.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// The canonical string by its definition: every pair, sorted by key then value as byte strings,
    /// exact repeats dropped, concatenated.
    fn reference_canonical(form: &Form) -> Vec<u8> {
        let mut pairs: Vec<(&[u8], &[u8])> =
            form.pairs().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        pairs.sort();
        pairs.dedup();
        pairs.into_iter().flat_map(|(k, v)| [k, v]).flatten().copied().collect()
    }

    /// A small deterministic generator (xorshift64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    /// Random bodies made of the pieces that matter: separators, escapes (valid, truncated, of UTF-8 and
    /// of invalid bytes), `+`, hex digits and raw bytes, of various lengths.
    fn random_body(rng: &mut Rng) -> Vec<u8> {
        let pieces: Vec<&[u8]> =
            b"& = + % a Z 0 f F %2 %4 %% %C3%A9 %e2%82%ac %F0%9F%98%82 %C0%AF %ED%A0%80 %E2%9C \
            %FF %FE %FD %fd \xfd %26 %3D %25 %2B \xc3\xa9 \xff \xfe \xc3 \x80 \0 ; Body MessageSid %zz"
                .split(|&b| b == b' ')
                .collect();
        let len = match rng.below(4) {
            0 => rng.below(8),
            1 => rng.below(40),
            2 => rng.below(130),
            _ => rng.below(400),
        };
        // Mostly well-formed runs: most pieces come from a subset, so that valid bodies are common.
        let valid_only = rng.below(3) != 0;
        let mut body = Vec::new();
        while body.len() < len {
            let piece = if valid_only {
                [
                    &b"&"[..],
                    b"=",
                    b"+",
                    b"a",
                    b"0",
                    b"%C3%A9",
                    b"%e2%82%ac",
                    b"%F0%9F%98%82",
                    b"%26",
                    b"%3D",
                    b"%2B",
                ][rng.below(11)]
            } else if rng.below(4) == 0 {
                &[rng.next() as u8][..]
            } else {
                pieces[rng.below(pieces.len() as u64)]
            };
            body.extend_from_slice(piece);
        }
        body
    }

    #[test]
    fn decodes_random_bodies_like_the_reference() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut outcomes = [0usize; 3];
        for _ in 0..100_000 {
            let body = random_body(&mut rng);
            let expected = reference(&body);
            outcomes[match &expected {
                Ok(_) => 0,
                Err(FormError::MalformedEscape) => 1,
                Err(_) => 2,
            }] += 1;
            assert_eq!(decoded(&body), expected, "{:?}", String::from_utf8_lossy(&body));
        }
        // Each outcome was exercised often.
        assert!(outcomes.iter().all(|&n| n > 5_000), "{outcomes:?}");
    }

    #[test]
    fn canonical_of_random_forms_matches_the_reference() {
        // Keys that share long prefixes (past the 16 bytes compared first), differ only in length, hold
        // NUL bytes or are empty; few values, so that exact repeats are common.
        const KEYS: &[&str] = &[
            "",
            "a",
            "To",
            "ToCity",
            "ToCountry",
            "Messag",
            "MessageSid",
            "MessagingServiceSid",
            "MessagingBinding.Address",
            "MediaContentType0",
            "MediaContentType1",
            "MediaContentType10",
            "MediaUrl0",
            "MediaUrl1",
            "Digits",
            "%00",
            "a%00",
            "a%00%00",
            "%C3%A9",
            "%C3%A9x",
            // Around the 16 bytes compared as a number: NUL-extended, one byte past, equal prefixes.
            "0123456789abcde",
            "0123456789abcde%00",
            "0123456789abcdef",
            "0123456789abcdef%00",
            "0123456789abcdefA",
            "0123456789abcdefAB",
            "0123456789abcdeg",
        ];
        const VALUES: &[&str] = &[
            "",
            "1",
            "12",
            "2",
            "%00",
            "%00%00",
            "x%00",
            "Body+text",
            "%F0%9F%98%82",
            "0123456789abcdef",
            "0123456789abcdef%00",
            "0123456789abcdefz",
            "0123456789abcdef%00z",
        ];
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for round in 0..20_000 {
            let n = if round % 100 == 0 { 70 + rng.below(40) } else { rng.below(40) };
            let body: Vec<String> = (0..n)
                .map(|_| {
                    format!(
                        "{}={}",
                        KEYS[rng.below(KEYS.len() as u64)],
                        VALUES[rng.below(VALUES.len() as u64)]
                    )
                })
                .collect();
            let body = body.join("&");
            let Ok(form) = Form::decode(body.as_bytes()) else {
                continue;
            };
            assert_eq!(form.canonical(), reference_canonical(&form), "{body}");
        }
    }
}
