//! Strict `application/x-www-form-urlencoded` decoding and the canonical parameter string.
//!
//! Both run before the signature is checked, on bytes anyone can send, so both are bounded: decoding
//! is linear in the body (64-byte blocks without a branch per token, one portable implementation in
//! every build; a block that no escape reaches skips the escape arithmetic), and the canonical string
//! is an `O(n log n)` sort of the pairs (see [`canonical`]) whose comparisons are cheap for every shape
//! of input.

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
    /// More than [`MAX_PARAMETERS`] pairs. Twilio sends a few dozen; refusing a flood of pairs before
    /// they are sorted bounds what an unsigned request can cost.
    #[error("more than {limit} parameters")]
    TooManyParameters {
        /// The limit, [`MAX_PARAMETERS`].
        limit: usize,
    },
}

/// The most pairs a form body (or a GET's query) may have: Twilio's webhooks have a few dozen (an MMS
/// with ten media some 60), and 1,000 is the limit web frameworks commonly set for the same reason
/// (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`).
pub const MAX_PARAMETERS: usize = 1000;

/// Decoded form pairs, in wire order, held in one buffer of valid UTF-8.
#[derive(Clone, Default)]
pub(crate) struct Form {
    /// The decoded pieces between their separators (`=` and `&`, ASCII); validated as UTF-8 as a
    /// whole.
    text: Vec<u8>,
    pairs: Pairs,
}

/// Where each pair's name and value are in the text, in wire order.
type Pairs = Vec<(Range<usize>, Range<usize>)>;

impl core::fmt::Debug for Form {
    /// Counts only: parameter values hold message text and phone numbers.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Form").field("pairs", &self.pairs.len()).finish()
    }
}

/// Input bytes decoded per block.
const BLOCK: usize = 64;

/// A block of the body with the two bytes before it (an escape there consumes the block's first bytes)
/// and the two after it (the digits of an escape in its last bytes); zero outside the body.
type Window = [u8; BLOCK + 4];

/// One block decoded: every input byte decoded as if a token (`%XX`, `+` or a plain byte) started there,
/// and which bytes really start one.
struct Block {
    /// The decoded token starting at each byte, zero for the digits of an escape.
    vals: [u8; BLOCK],
    /// 1 for each byte that starts a token, 0 for the two hex digits of an escape.
    keep: [u8; BLOCK],
    /// 1 for each separator (`&` or `=`).
    separators: [u8; BLOCK],
    /// Non-zero when some `%` is not followed by two hex digits.
    malformed: u8,
}

/// The 64 bytes of `window` from `OFFSET` on.
#[inline(always)]
fn shifted<const OFFSET: usize>(window: &Window) -> &[u8; BLOCK] {
    window.get(OFFSET..OFFSET + BLOCK).and_then(|s| s.try_into().ok()).unwrap_or(&[0; BLOCK])
}

/// All ones when `condition` holds, else zero.
#[inline(always)]
fn mask(condition: bool) -> u8 {
    0u8.wrapping_sub(u8::from(condition))
}

/// Decodes one block with no branches and no table lookups, so that the compiler vectorizes it (the same
/// arithmetic on 16 bytes at a time): percent-encoded UTF-8 alternates between escapes and plain bytes
/// too irregularly for a branch per token to predict well.
///
/// Since a hex digit is never `%`, `&` or `=`, in a well-formed body a byte is an escape's digit exactly
/// when one of the two bytes before it is `%`, and the separators are never digits.
///
/// The loop is written for the vectorizer: selects are masks (an `if` or `match` may become a branch,
/// and then nothing is vectorized), and the flags are accumulated as `u8::from(bool)` in locals.
#[inline(always)]
fn decode_block(window: &Window) -> Block {
    let (mut vals, mut keep, mut separators) = ([0u8; BLOCK], [0u8; BLOCK], [0u8; BLOCK]);
    let mut malformed = 0u8;
    let is_hex = |b: u8| (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 6);
    // A hex digit's value: its low nibble, plus 9 for a letter (`A` is 0x41, `a` 0x61).
    let nibble = |b: u8| (b & 0x0F) + (mask(b & 0x40 != 0) & 9);
    let before = shifted::<0>(window).iter().zip(shifted::<1>(window));
    let digits = shifted::<3>(window).iter().zip(shifted::<4>(window));
    let bytes = shifted::<2>(window).iter().zip(before).zip(digits);
    let outputs = vals.iter_mut().zip(keep.iter_mut()).zip(separators.iter_mut());
    for (((val, kept), separator), ((&byte, (&b2, &b1)), (&hi, &lo))) in outputs.zip(bytes) {
        let escape = byte == b'%';
        let digit = b1 == b'%';
        // Each byte checks only the next one, when that is an escape's digit (this byte or the one
        // before it is `%`): an escape's second digit is the next byte's first, so every digit of every
        // escape is checked (across blocks too) with one test per byte.
        malformed |= u8::from((escape | digit) & !is_hex(hi));
        *separator = u8::from((byte == b'&') | (byte == b'='));
        let escape = mask(escape);
        let decoded = (nibble(hi) << 4 | nibble(lo) & 0x0F) & escape | byte & !escape;
        let plus = mask(byte == b'+') & (b'+' ^ b' ');
        let drop = mask(digit | (b2 == b'%'));
        // Zero where dropped, as `compress` requires.
        *val = (decoded ^ plus) & !drop;
        *kept = 1 & !drop;
    }
    Block { vals, keep, separators, malformed }
}

/// Decodes one block with no `%` in it or in the two bytes before it, as [`decode_block`] would (every
/// byte is kept, no escape is malformed), with only what remains of it: `+` is a space, `&` and `=` are
/// separators.
#[inline(always)]
fn plain_block(window: &Window) -> Block {
    let (mut vals, mut separators) = ([0u8; BLOCK], [0u8; BLOCK]);
    for ((val, separator), &byte) in vals.iter_mut().zip(separators.iter_mut()).zip(shifted::<2>(window)) {
        *separator = u8::from((byte == b'&') | (byte == b'='));
        *val = byte ^ mask(byte == b'+') & (b'+' ^ b' ');
    }
    Block { vals, keep: [1; BLOCK], separators, malformed: 0 }
}

/// For each 8-bit mask of the bytes of a word to keep: the bytes that move 1, 2 and 4 places toward byte 0
/// in the three steps of a log-step compress (Hacker's Delight, 7-4, by bytes), then the number of bytes
/// kept. A kept byte moves by the number of dropped bytes before it, one bit of that number per step.
#[allow(clippy::indexing_slicing, reason = "const evaluation: an out-of-bounds index fails the build")]
const COMPRESS: [[u64; 4]; 256] = {
    let mut table = [[0u64; 4]; 256];
    let mut mask = 0;
    while mask < 256 {
        let mut dropped = 0;
        let mut i = 0;
        while i < 8 {
            if mask >> i & 1 == 0 {
                dropped += 1;
            } else {
                let mut at = i;
                let mut step = 0;
                while step < 3 {
                    if dropped >> step & 1 != 0 {
                        table[mask][step] |= 0xFF << (8 * at);
                        at -= 1 << step;
                    }
                    step += 1;
                }
            }
            i += 1;
        }
        table[mask][3] = 8 - dropped;
        mask += 1;
    }
    table
};

/// The kept bytes of `word` (little-endian; the dropped ones are zero) moved together toward byte 0.
#[inline(always)]
fn compress(word: u64, [by1, by2, by4, _]: [u64; 4]) -> u64 {
    let moved = word & by1;
    let x = word ^ moved | moved >> 8;
    let moved = x & by2;
    let x = x ^ moved | moved >> 16;
    let moved = x & by4;
    x ^ moved | moved >> 32
}

/// Bytes 0 or 1 gathered into a mask: a multiplication moves byte i to bit 56 + i (its partial products
/// never overlap).
#[inline(always)]
fn gather(flags: [u8; 8]) -> u64 {
    u64::from_le_bytes(flags).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Splits the decoded text into pairs at its separators, in order, as decoding finds them.
struct Splitter {
    pairs: Pairs,
    /// Where the current segment starts.
    start: usize,
    /// Where its first `=` is, if it has one yet.
    eq: Option<usize>,
}

impl Splitter {
    fn new(body: &[u8]) -> Self {
        // Room for most bodies' pairs without growing (Twilio's average 25-30 bytes).
        Self { pairs: Vec::with_capacity((body.len() / 16 + 1).min(MAX_PARAMETERS + 1)), start: 0, eq: None }
    }

    /// Splits at the separators of one step of decoding: `input` is its part of the body, a bit of
    /// `separators` is set for each separator in it and a bit of `kept` for each byte that starts a token
    /// (a separator's place in the text is the number of those before it), and `text` is where its first
    /// token is in the text.
    #[inline(always)]
    fn step(&mut self, input: &[u8], mut separators: u64, kept: u64, text: usize) {
        if self.pairs.len() > MAX_PARAMETERS {
            // The form is refused: the rest of the body is only decoded (for a malformed escape).
            return;
        }
        // Most steps drop no byte (no escape): then a separator's place is its offset (`count_ones` is
        // a dozen instructions on the baseline x86-64, which has no `popcnt`).
        let dropped = !kept;
        while separators != 0 {
            let i = separators.trailing_zeros();
            let before = if dropped == 0 { 0 } else { (dropped & !(u64::MAX << i)).count_ones() as usize };
            let at = text + i as usize - before;
            if input.get(i as usize) == Some(&b'&') {
                self.end(at);
            } else {
                self.eq = self.eq.or(Some(at));
            }
            separators &= separators - 1;
        }
    }

    /// Ends the current segment at `end` (a `&` or the end of the text); an empty one is skipped.
    fn end(&mut self, end: usize) {
        // Past `MAX_PARAMETERS` pairs the form is refused: one more is kept to say so, and no more are,
        // so that the pairs of a huge body of tiny pairs take no memory on the way to the refusal.
        if end > self.start && self.pairs.len() <= MAX_PARAMETERS {
            let pair = match self.eq {
                Some(eq) => (self.start..eq, eq + 1..end),
                None => (self.start..end, end..end),
            };
            self.pairs.push(pair);
        }
        self.start = end + 1;
        self.eq = None;
    }
}

/// The `N - 4` bytes of `body` from `start` with the two before and the two after them: straight from
/// the body, or (for the first and last steps of decoding) copied into `edge` with zeros outside it.
#[inline(always)]
fn window<'a, const N: usize>(body: &'a [u8], start: usize, edge: &'a mut [u8; N]) -> &'a [u8; N] {
    let inner = start.checked_sub(2).and_then(|from| body.get(from..from + N));
    if let Some(window) = inner.and_then(|w| <&[u8; N]>::try_from(w).ok()) {
        return window;
    }
    let from = start.saturating_sub(2);
    let to = body.len().min(start + N - 2);
    let at = from + 2 - start;
    if let (Some(src), Some(dst)) = (body.get(from..to), edge.get_mut(at..at + to.saturating_sub(from))) {
        dst.copy_from_slice(src);
    }
    edge
}

/// `body` decoded and compacted 64 bytes at a time (see `decode_block`); and its
/// pairs.
fn decode_blocks(body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    let blocks = body.len().div_ceil(BLOCK);
    let mut text = Vec::with_capacity(blocks * BLOCK);
    let mut split = Splitter::new(body);
    let mut malformed = 0u8;
    for start in (0..blocks).map(|b| b * BLOCK) {
        let mut edge = [0u8; BLOCK + 4];
        let window = window(body, start, &mut edge);
        let bits = |flags: &[u8; BLOCK]| {
            flags.as_chunks::<8>().0.iter().enumerate().fold(0, |mask, (w, f)| mask | gather(*f) << (8 * w))
        };
        let input = body.get(start..).unwrap_or_default();
        // The two bytes after the block are an escape's digits only when a `%` is in the block.
        let reach = window.get(..BLOCK + 2).unwrap_or_default();
        if reach.iter().fold(0, |any, &byte| any | u8::from(byte == b'%')) == 0 {
            // No escape starts in this block or reaches into it: every byte is kept where it is.
            let block = plain_block(window);
            split.step(input, bits(&block.separators), u64::MAX, text.len());
            text.extend_from_slice(&block.vals);
            continue;
        }
        let block = decode_block(window);
        malformed |= block.malformed;
        let kept = bits(&block.keep);
        split.step(input, bits(&block.separators), kept, text.len());
        for (vals, keep) in block.vals.as_chunks::<8>().0.iter().zip(block.keep.as_chunks::<8>().0) {
            let steps = COMPRESS.get(gather(*keep) as usize).copied().unwrap_or_default();
            let word = compress(u64::from_le_bytes(*vals), steps);
            // Whole words are stored; the next one overwrites what is past the kept bytes.
            let end = text.len() + steps[3] as usize;
            text.extend_from_slice(&word.to_le_bytes());
            text.truncate(end);
        }
    }
    if malformed != 0 {
        return Err(FormError::MalformedEscape);
    }
    let end = text.len();
    Ok(finish(text, end, blocks * BLOCK - body.len(), split))
}

/// The end of a first stage that decoded `padding` zeros after the body (one byte each) and wrote up to
/// `end` in `text`: those bytes cut, and the last pair split off.
fn finish(mut text: Vec<u8>, end: usize, padding: usize, mut split: Splitter) -> (Vec<u8>, Pairs) {
    let len = end.saturating_sub(padding);
    text.truncate(len);
    split.end(len);
    (text, split.pairs)
}

impl Form {
    /// Decodes `body` strictly: split on `&` only, skip empty segments, the first `=` separates name
    /// from value (no `=`: an empty value), `+` is a space, `%XX` a byte, a malformed `%` or invalid
    /// UTF-8 is an error, and so are more than [`MAX_PARAMETERS`] pairs (a malformed `%` is reported
    /// first, invalid UTF-8 last); blank values and repeats are kept.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, FormError> {
        // Two stages. First, blocks of the body are decoded without a branch per token (see
        // `decode_block`, and `plain_block` for a block without escapes) and compacted, and the pairs
        // split at the separators' places in the text. Then the whole text is validated as UTF-8 (ASCII
        // is): the separators are ASCII, so no multi-byte sequence straddles one and every piece is valid
        // when the whole is.
        let (text, pairs) = decode_blocks(body)?;
        if pairs.len() > MAX_PARAMETERS {
            return Err(FormError::TooManyParameters { limit: MAX_PARAMETERS });
        }
        if !text.is_ascii() {
            simdutf8::basic::from_utf8(&text).map_err(|_| FormError::InvalidUtf8)?;
        }
        Ok(Self { text, pairs })
    }

    /// The pairs in wire order, as bytes.
    fn byte_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs
            .iter()
            .map(|(k, v)| (self.text.get(k.clone()).unwrap_or(&[]), self.text.get(v.clone()).unwrap_or(&[])))
    }

    /// The values of the pairs named `name`, in wire order: names are compared as bytes, and only the
    /// values returned are converted to `str`.
    pub(crate) fn values<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        // Every piece was validated with the whole buffer, so this conversion cannot fail.
        let text = |b| simdutf8::basic::from_utf8(b).unwrap_or("");
        self.byte_pairs().filter(move |(k, _)| *k == name.as_bytes()).map(move |(_, v)| text(v))
    }

    /// The pairs in wire order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        // Every piece was validated with the whole buffer, so these conversions cannot fail.
        let text = |b| simdutf8::basic::from_utf8(b).unwrap_or("");
        self.byte_pairs().map(move |(k, v)| (text(k), text(v)))
    }

    /// The parameter part of the data string Twilio signs (see [`canonical`]).
    pub(crate) fn canonical(&self) -> Vec<u8> {
        canonical(&self.text, &self.pairs)
    }
}

/// How many bytes a piece's prefix holds (see [`prefix`]).
const PREFIX: usize = 16;

/// The first [`PREFIX`] bytes of the piece of `text` at `piece`, zero-padded, as a big-endian number.
/// Such numbers order like the pieces' first bytes: at their first difference either both pieces have a
/// byte, or the shorter one ended and its zero padding sorts first, as byte order puts a proper prefix
/// first.
fn prefix(text: &[u8], piece: &Range<usize>) -> u128 {
    // A piece is followed in the text by the rest of the form, so most have 16 bytes from their start:
    // one load, then the bytes past the piece's end cleared.
    let rest = text.get(piece.start..).unwrap_or_default();
    let loaded = match rest.first_chunk::<PREFIX>() {
        Some(bytes) => *bytes,
        None => {
            let mut bytes = [0u8; PREFIX];
            bytes.iter_mut().zip(rest).for_each(|(to, from)| *to = *from);
            bytes
        }
    };
    u128::from_be_bytes(loaded) & LEADING.get(piece.len()).copied().unwrap_or(u128::MAX)
}

/// `LEADING[n]` keeps the first `n` bytes of a big-endian `u128`.
#[allow(clippy::indexing_slicing, reason = "const evaluation: an out-of-bounds index fails the build")]
const LEADING: [u128; PREFIX] = {
    let mut masks = [0; PREFIX];
    let mut n = 1;
    while n < PREFIX {
        masks[n] = !(u128::MAX >> (8 * n));
        n += 1;
    }
    masks
};

/// A name or value as the second sort of [`canonical`] sees it: its [`prefix`], then the whole piece.
#[derive(Clone, Copy)]
struct Piece<'a> {
    prefix: u128,
    bytes: &'a [u8],
}

/// The piece of nothing.
const EMPTY: Piece<'static> = Piece { prefix: 0, bytes: &[] };

impl<'a> Piece<'a> {
    fn at(text: &'a [u8], piece: &Range<usize>) -> Self {
        Self { prefix: prefix(text, piece), bytes: text.get(piece.clone()).unwrap_or_default() }
    }
}

impl Ord for Piece<'_> {
    /// Byte order, mostly by comparing numbers. When the prefixes are equal and both pieces fit in them,
    /// one is the other followed by NUL bytes: the shorter is first. Only longer pieces with equal
    /// prefixes are compared as slices.
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

/// The low bits of a pair's place in the first sort of [`canonical`], which hold its index.
const INDEX_BITS: u32 = 16;

/// The key bytes a place holds; a key of more bytes than that is long.
const PLACED: usize = 13;

/// A key's part of its place (see [`canonical`]): its first [`PLACED`] bytes, zero-padded, then its
/// length up to `PLACED + 1`, above the index bits. These numbers order like the keys; two keys with the
/// same are equal, or both long and sharing their first [`PLACED`] bytes.
fn key_place(text: &[u8], key: &Range<usize>) -> u128 {
    let leading = LEADING.get(PLACED).copied().unwrap_or_default();
    let length = key.len().min(PLACED + 1) as u128;
    prefix(text, key) & leading | length << INDEX_BITS
}

/// The parameter part of the data string Twilio signs, for the pairs of `text` at `pairs`: keys in byte
/// order, and for each key its distinct values in byte order, written `key value` with no separators.
///
/// Two sorts, each `O(n log n)` comparisons whatever the input's order or repeats. First the pairs are
/// sorted by their place, one number: their [`key_place`] above their index (in the low [`INDEX_BITS`]; a
/// decoded form has at most [`MAX_PARAMETERS`] pairs), which orders Twilio's keys with one integer
/// comparison each (they differ in their first 13 bytes, but for the numbered keys of an MMS with several
/// media, `MediaContentType0`, `MediaContentType1`, …). Pairs with the same key place are next to each
/// other: each such run is sorted again ([`Piece`]'s order, cheap for every shape of input), by value
/// alone when its keys are short (then they are one key), else by whole key then value, and its exact
/// repeats, now neighbours, are written once. With more pairs than the index bits can number (never
/// those of a decoded form), a place is the index alone: every pair is in one run.
fn canonical(text: &[u8], pairs: &[(Range<usize>, Range<usize>)]) -> Vec<u8> {
    const _: () = assert!(MAX_PARAMETERS <= 1 << INDEX_BITS && PLACED < PREFIX);
    let index_bits: u128 = (1 << INDEX_BITS) - 1;
    let key_bits = if pairs.len() <= 1 << INDEX_BITS { !index_bits } else { 0 };
    let places = pairs.iter().enumerate().map(|(i, (key, _))| key_place(text, key) & key_bits | i as u128);
    let mut order: Vec<u128> = places.collect();
    order.sort_unstable();
    let piece = |range: &Range<usize>| text.get(range.clone()).unwrap_or_default();
    let mut out = Vec::with_capacity(text.len());
    let mut sorted = Vec::new();
    for run in order.chunk_by(|a, b| a & key_bits == b & key_bits) {
        let pair = |place: &u128| pairs.get(usize::try_from(place & !key_bits).unwrap_or(usize::MAX));
        let Some((key, value)) = run.first().and_then(pair) else { continue };
        if let [_] = run {
            out.extend_from_slice(piece(key));
            out.extend_from_slice(piece(value));
            continue;
        }
        // Short keys with the same place are one key, `key`: only their values are compared.
        let one_key = key_bits != 0 && key.len() <= PLACED;
        let entry = |place| {
            let (k, v) = pair(place).cloned().unwrap_or_default();
            (if one_key { EMPTY } else { Piece::at(text, &k) }, Piece::at(text, &v))
        };
        sorted.clear();
        sorted.extend(run.iter().map(entry));
        sorted.sort_unstable();
        // Exact repeats are neighbours now: each is written once.
        let mut last = None;
        for this in &sorted {
            if last != Some(this) {
                out.extend_from_slice(if one_key { piece(key) } else { this.0.bytes });
                out.extend_from_slice(this.1.bytes);
            }
            last = Some(this);
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
    fn escapes_at_every_offset_across_block_boundaries() {
        // Bodies of up to three blocks with an escape (or a separator) at each position: the lookahead
        // across blocks and the first and last (partial) blocks.
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
        let body: Vec<String> = (0..MAX_PARAMETERS).map(|i| format!("k{}={}", i % 7, i % 5)).collect();
        let form = Form::decode(body.join("&").as_bytes()).unwrap();
        assert_eq!(form.canonical(), reference_canonical(&form));
        assert_eq!(form.canonical(), b"k00k01k02k03k04k10k11k12k13k14k20k21k22k23k24k30k31k32k33k34k40k41k42k43k44k50k51k52k53k54k60k61k62k63k64".to_vec());
    }

    #[test]
    fn more_than_the_most_parameters_are_refused() {
        let pairs = |n: usize| (0..n).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
        assert_eq!(Form::decode(pairs(MAX_PARAMETERS).as_bytes()).unwrap().pairs().count(), MAX_PARAMETERS);
        let limit = MAX_PARAMETERS;
        assert_eq!(
            Form::decode(pairs(limit + 1).as_bytes()).unwrap_err(),
            FormError::TooManyParameters { limit }
        );
        // Empty segments are not pairs; valueless names are.
        assert!(Form::decode("&".repeat(5 * limit).as_bytes()).unwrap().pairs().next().is_none());
        assert_eq!(
            Form::decode("a&".repeat(limit + 1).as_bytes()).unwrap_err(),
            FormError::TooManyParameters { limit }
        );
        // However many pairs past the limit, the same refusal (and a malformed escape after them first).
        assert_eq!(
            Form::decode("a&".repeat(50 * limit).as_bytes()).unwrap_err(),
            FormError::TooManyParameters { limit }
        );
        // A malformed escape is still reported first.
        let body = format!("{}&x=%4", pairs(limit + 1));
        assert_eq!(Form::decode(body.as_bytes()).unwrap_err(), FormError::MalformedEscape);
    }

    #[test]
    fn canonical_of_more_pairs_than_the_index_bits_number() {
        // Not from a decoded form (it has at most `MAX_PARAMETERS` pairs), but still right: one run.
        let texts: Vec<(String, String)> = (0..(1 << INDEX_BITS) + 3)
            .rev()
            .map(|i| (format!("k{}", i % 300), format!("{}", i % 7)))
            .collect();
        let mut text = Vec::new();
        let mut piece = |s: &str| {
            text.extend_from_slice(s.as_bytes());
            text.len() - s.len()..text.len()
        };
        let pairs: Vec<_> = texts.iter().map(|(k, v)| (piece(k), piece(v))).collect();
        let reference = |pairs: &[(String, String)]| {
            let mut sorted = pairs.to_vec();
            sorted.sort();
            sorted.dedup();
            sorted.into_iter().flat_map(|(k, v)| [k, v]).collect::<String>().into_bytes()
        };
        assert_eq!(canonical(&text, &pairs), reference(&texts));
        let within = 1 << INDEX_BITS;
        assert_eq!(canonical(&text, &pairs[..within]), reference(&texts[..within]));
    }

    #[test]
    fn canonical_of_random_pieces_matches_the_reference() {
        // Pieces of a text of few distinct bytes (NUL and 0xFF among them), of 0 to 20 bytes (around the
        // 13 of a key's place and the 16 of a prefix), overlapping, and often ending where the text ends.
        let mut rng = Rng(0x0DDB_A11C_AFE5_EED5);
        for _ in 0..30_000 {
            let text: Vec<u8> = (0..rng.below(60)).map(|_| b"\0ab\xff"[rng.below(4)]).collect();
            let piece = |rng: &mut Rng| {
                let len = rng.below(21).min(text.len());
                let start = if rng.below(3) == 0 {
                    text.len() - len
                } else {
                    rng.below((text.len() - len + 1) as u64)
                };
                start..start + len
            };
            let pairs: Vec<_> = (0..rng.below(30)).map(|_| (piece(&mut rng), piece(&mut rng))).collect();
            let mut expected: Vec<(&[u8], &[u8])> =
                pairs.iter().map(|(k, v)| (&text[k.clone()], &text[v.clone()])).collect();
            expected.sort();
            expected.dedup();
            let expected: Vec<u8> =
                expected.into_iter().flat_map(|(k, v)| [k, v]).flatten().copied().collect();
            assert_eq!(canonical(&text, &pairs), expected, "{text:?} {pairs:?}");
        }
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
    /// of invalid bytes), `+`, hex digits and raw bytes, of lengths that cross block boundaries.
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
        // Mostly well-formed runs: most pieces come from a subset, so that valid bodies are common; some
        // bodies have no `%` (so that their blocks are plain ones).
        let valid_only = rng.below(3) != 0;
        let plain = rng.below(4) == 0;
        let mut body = Vec::new();
        while body.len() < len {
            let piece = if plain {
                [&b"&"[..], b"=", b"+", b"a", b"Body", b"\xc3\xa9", b"\xff", b"\0"][rng.below(8)]
            } else if valid_only {
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
    fn a_block_without_percent_decodes_as_the_general_block_does() {
        // Every byte but `%` up to the two after the block (which may be anything), in random windows (the
        // separators, `+` and non-ASCII bytes among them).
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for _ in 0..20_000 {
            let mut window = [0u8; BLOCK + 4];
            for (i, byte) in window.iter_mut().enumerate() {
                *byte = match rng.below(4) {
                    _ if i >= BLOCK + 2 && rng.below(2) == 0 => b'%',
                    0 => b"&=+"[rng.below(3)],
                    _ => loop {
                        let b = rng.next() as u8;
                        if b != b'%' {
                            break b;
                        }
                    },
                };
            }
            let (plain, general) = (plain_block(&window), decode_block(&window));
            assert_eq!(plain.vals, general.vals, "{window:?}");
            assert_eq!(plain.keep, general.keep);
            assert_eq!(plain.separators, general.separators);
            assert_eq!((plain.malformed, general.malformed), (0, 0));
        }
    }

    #[test]
    fn compress_table_keeps_the_masked_bytes_in_order() {
        let word = u64::from_le_bytes(*b"abcdefgh");
        for (mask, &steps) in COMPRESS.iter().enumerate() {
            let kept: Vec<u8> = (0..8).filter(|i| mask >> i & 1 == 1).map(|i| b"abcdefgh"[i]).collect();
            let mut expected = [0u8; 8];
            expected[..kept.len()].copy_from_slice(&kept);
            let dropped_zeroed =
                (0..8).filter(|i| mask >> i & 1 == 1).fold(0, |w, i| w | word & 0xFF << (8 * i));
            assert_eq!(compress(dropped_zeroed, steps).to_le_bytes(), expected, "{mask:08b}");
            assert_eq!(steps[3], kept.len() as u64);
        }
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
            // Around the 13 bytes of a key's place: NUL-extended, one byte past, equal prefixes.
            "0123456789ab",
            "0123456789ab%00",
            "0123456789abc",
            "0123456789abc%00",
            "0123456789abcA",
            "0123456789abc%00A",
            "0123456789abd",
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
