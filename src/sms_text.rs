//! SMS text: the GSM-7 / UCS-2 choice, segment counts as Twilio bills them, the 1600-unit `Body`
//! limit, and splitting long text into several bodies.
//!
//! Facts used (from `twilio-messages-api.md` §4 and `gsm7.json`, 3GPP TS 23.038):
//!
//! - A message is GSM-7 when every character is in the GSM 03.38 basic table (127 characters, 1
//!   septet each) or its extension table (`\f ^ { } \ [ ~ ] | €`, 2 septets each: ESC + code).
//!   Any other character switches the **whole** message to UCS-2, counted in UTF-16 code units
//!   (a character outside the Basic Multilingual Plane, such as most emoji, is a surrogate pair:
//!   2 units). Note that `Ç` (U+00C7) is GSM-7 but `ç` (U+00E7) is not, and that a tab or a
//!   backtick forces UCS-2.
//! - One segment holds 160 septets (GSM-7) or 70 units (UCS-2). A longer message is sent as
//!   concatenated segments of at most 153 septets or 67 units each (a 6-octet header takes the rest).
//! - An escape pair is never split across segments (so a GSM-7 segment may carry only 152
//!   septets), nor is a surrogate pair. Twilio's segment calculator also keeps every grapheme
//!   cluster (an emoji ZWJ sequence, a flag, a letter with combining marks) whole inside one
//!   segment; [`segments`] does the same, except for a cluster longer than a whole segment, which
//!   it can only split between characters.
//! - Twilio accepts a `Body` of at most 1600 characters (error 21617 above that). This module
//!   counts them as UTF-16 code units ([`MAX_BODY_UTF16`]), the stricter reading: an emoji counts 2.
//!
//! Twilio's own `num_segments` is authoritative (it may apply Smart Encoding or a sender-specific
//! rule): treat [`segments`] as the estimate to show before sending, and store Twilio's number.
//!
//! All functions here run in time linear in the length of the text, with a byte-level fast path
//! for ASCII text.

use core::fmt;
use core::ops::Range;

use unicode_segmentation::{GraphemeIndices, UnicodeSegmentation};

/// The longest `Body` Twilio accepts, in UTF-16 code units (Twilio documents "1600 characters";
/// error 21617 above that).
pub const MAX_BODY_UTF16: usize = 1600;

/// GSM-7 septets in a message sent as a single segment.
const GSM7_SINGLE: usize = 160;
/// GSM-7 septets per segment of a concatenated message.
const GSM7_CONCATENATED: usize = 153;
/// UCS-2 code units in a message sent as a single segment.
const UCS2_SINGLE: usize = 70;
/// UCS-2 code units per segment of a concatenated message.
const UCS2_CONCATENATED: usize = 67;

/// How the characters of an SMS are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The GSM 03.38 7-bit default alphabet: 1 septet per basic-table character, 2 per
    /// extension-table character.
    Gsm7,
    /// UCS-2 (in practice UTF-16): 1 code unit per BMP character, 2 per surrogate pair.
    Ucs2,
}

impl Encoding {
    /// The units (septets or UTF-16 code units) that fit in a message sent as one segment: 160 for
    /// GSM-7, 70 for UCS-2.
    #[must_use]
    pub const fn single_segment_units(self) -> u32 {
        match self {
            Self::Gsm7 => GSM7_SINGLE as u32,
            Self::Ucs2 => UCS2_SINGLE as u32,
        }
    }

    /// The units that fit in each segment of a concatenated message: 153 for GSM-7, 67 for UCS-2.
    #[must_use]
    pub const fn concatenated_segment_units(self) -> u32 {
        match self {
            Self::Gsm7 => GSM7_CONCATENATED as u32,
            Self::Ucs2 => UCS2_CONCATENATED as u32,
        }
    }

    /// The name Twilio uses: `"GSM-7"` or `"UCS-2"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gsm7 => "GSM-7",
            Self::Ucs2 => "UCS-2",
        }
    }

    const fn limits(self) -> (usize, usize) {
        match self {
            Self::Gsm7 => (GSM7_SINGLE, GSM7_CONCATENATED),
            Self::Ucs2 => (UCS2_SINGLE, UCS2_CONCATENATED),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cost of an ASCII byte in GSM-7 septets: 1 (basic table), 2 (extension table) or 0 (not
/// GSM-7: the backtick and every control character except LF, CR and FF).
const fn ascii_septets(b: u8) -> u8 {
    match b {
        b'\n' | b'\r' => 1,
        // FF and `[ \ ] ^ { | } ~` are in the extension table.
        0x0C | b'[' | b'\\' | b']' | b'^' | b'{' | b'|' | b'}' | b'~' => 2,
        b'`' => 0,
        0x20..=0x7E => 1,
        _ => 0,
    }
}

/// The cost of `c` in GSM-7 septets: `Some(1)` for a basic-table character, `Some(2)` for an
/// extension-table character (escape + code), `None` when `c` is not in GSM-7 at all (a message
/// containing it is sent as UCS-2).
#[must_use]
pub fn gsm7_septets(c: char) -> Option<u8> {
    if c.is_ascii() {
        return match ascii_septets(c as u8) {
            0 => None,
            n => Some(n),
        };
    }
    match c {
        // The non-ASCII characters of the basic table, in table order.
        '\u{00A3}' // £
        | '\u{00A5}' // ¥
        | '\u{00E8}' // è
        | '\u{00E9}' // é
        | '\u{00F9}' // ù
        | '\u{00EC}' // ì
        | '\u{00F2}' // ò
        | '\u{00C7}' // Ç (capital only: ç U+00E7 is not GSM-7)
        | '\u{00D8}' // Ø
        | '\u{00F8}' // ø
        | '\u{00C5}' // Å
        | '\u{00E5}' // å
        | '\u{0394}' // Δ
        | '\u{03A6}' // Φ
        | '\u{0393}' // Γ
        | '\u{039B}' // Λ
        | '\u{03A9}' // Ω
        | '\u{03A0}' // Π
        | '\u{03A8}' // Ψ
        | '\u{03A3}' // Σ
        | '\u{0398}' // Θ
        | '\u{039E}' // Ξ
        | '\u{00C6}' // Æ
        | '\u{00E6}' // æ
        | '\u{00DF}' // ß
        | '\u{00C9}' // É
        | '\u{00A4}' // ¤
        | '\u{00A1}' // ¡
        | '\u{00C4}' // Ä
        | '\u{00D6}' // Ö
        | '\u{00D1}' // Ñ
        | '\u{00DC}' // Ü
        | '\u{00A7}' // §
        | '\u{00BF}' // ¿
        | '\u{00E4}' // ä
        | '\u{00F6}' // ö
        | '\u{00F1}' // ñ
        | '\u{00FC}' // ü
        | '\u{00E0}' // à
        => Some(1),
        // The one non-ASCII character of the extension table.
        '\u{20AC}' => Some(2), // €
        _ => None,
    }
}

/// The encoding Twilio uses for `text` (without Smart Encoding): [`Encoding::Gsm7`] when every
/// character is in the GSM-7 basic or extension table, [`Encoding::Ucs2`] otherwise. Empty text is
/// GSM-7.
#[must_use]
pub fn encoding(text: &str) -> Encoding {
    let gsm7 = if text.is_ascii() {
        text.bytes().all(|b| ascii_septets(b) != 0)
    } else {
        text.chars().all(|c| gsm7_septets(c).is_some())
    };
    if gsm7 { Encoding::Gsm7 } else { Encoding::Ucs2 }
}

/// The characters of `text` that are not in GSM-7, in order (with repeats): the ones that make it
/// UCS-2. Empty exactly when [`encoding`] is [`Encoding::Gsm7`].
pub fn non_gsm7_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|&c| gsm7_septets(c).is_none())
}

/// The segment count of a text, and what it was computed from. Made by [`segments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SegmentInfo {
    /// The encoding of the whole message.
    pub encoding: Encoding,
    /// The number of segments billed: 0 for empty text, 1 when the text fits in a single segment,
    /// otherwise the number of concatenated segments (escape pairs, surrogate pairs and grapheme
    /// clusters are not split across segments, so this can exceed `ceil(units / per-segment)`).
    pub segments: u32,
    /// The length of the text in the encoding's units: septets for GSM-7 (an extension character
    /// counts 2), UTF-16 code units for UCS-2 (a surrogate pair counts 2). Saturates at
    /// `u32::MAX`.
    pub units: u32,
    /// The capacity of each segment of this message in the same units: 160 or 70 when it fits in
    /// one segment (or is empty), 153 or 67 when it is concatenated.
    pub units_per_segment: u32,
}

/// Counts the segments of `text` the way Twilio bills them (see the [module documentation](self)).
///
/// Empty text has 0 segments: Twilio refuses an empty `Body` (error 21602), so it is never billed.
#[must_use]
pub fn segments(text: &str) -> SegmentInfo {
    if text.is_ascii() {
        let mut packer = Packer::new(Encoding::Gsm7);
        for b in text.bytes() {
            match ascii_septets(b) {
                // Every ASCII grapheme is one unit in UCS-2 (CR LF is counted as two characters).
                0 => return uniform_ucs2(text.len()),
                n => packer.push(usize::from(n)),
            }
        }
        return packer.finish();
    }
    let mut packer = Packer::new(Encoding::Gsm7);
    for c in text.chars() {
        match gsm7_septets(c) {
            Some(n) => packer.push(usize::from(n)),
            None => return ucs2_segments(text),
        }
    }
    packer.finish()
}

/// The UCS-2 count of text whose grapheme clusters are all 1 unit long (ASCII text).
fn uniform_ucs2(units: usize) -> SegmentInfo {
    let (segments, per) = if units == 0 {
        (0, UCS2_SINGLE)
    } else if units <= UCS2_SINGLE {
        (1, UCS2_SINGLE)
    } else {
        (units.div_ceil(UCS2_CONCATENATED), UCS2_CONCATENATED)
    };
    info(Encoding::Ucs2, segments, units, per)
}

/// The UCS-2 count: grapheme clusters are kept whole in a segment, like Twilio's calculator does
/// (CR LF counts as two characters, as there); a cluster longer than a segment is packed
/// character by character, never splitting a surrogate pair.
fn ucs2_segments(text: &str) -> SegmentInfo {
    let units = utf16_len(text);
    if units <= UCS2_SINGLE {
        return info(Encoding::Ucs2, usize::from(units > 0), units, UCS2_SINGLE);
    }
    let mut packer = Packer::new(Encoding::Ucs2);
    for g in text.graphemes(true) {
        let w = utf16_len(g);
        if g == "\r\n" {
            packer.push(1);
            packer.push(1);
        } else if w <= UCS2_CONCATENATED {
            packer.push(w);
        } else {
            for c in g.chars() {
                packer.push(c.len_utf16());
            }
        }
    }
    packer.finish()
}

/// Greedy packing of indivisible items into concatenated segments.
struct Packer {
    encoding: Encoding,
    capacity: usize,
    total: usize,
    segments: usize,
    current: usize,
}

impl Packer {
    const fn new(encoding: Encoding) -> Self {
        let (_, capacity) = encoding.limits();
        Self { encoding, capacity, total: 0, segments: 0, current: 0 }
    }

    /// Adds an item of `units` units; it starts a new segment when it does not fit in the current one.
    fn push(&mut self, units: usize) {
        self.total += units;
        if self.segments == 0 || self.current + units > self.capacity {
            self.segments += 1;
            self.current = 0;
        }
        self.current += units;
    }

    fn finish(self) -> SegmentInfo {
        let (single, concatenated) = self.encoding.limits();
        let (segments, per) = if self.total == 0 {
            (0, single)
        } else if self.total <= single {
            (1, single)
        } else {
            (self.segments, concatenated)
        };
        info(self.encoding, segments, self.total, per)
    }
}

fn info(encoding: Encoding, segments: usize, units: usize, per: usize) -> SegmentInfo {
    let sat = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    SegmentInfo { encoding, segments: sat(segments), units: sat(units), units_per_segment: sat(per) }
}

/// The length of `s` in UTF-16 code units, from its UTF-8 bytes: every byte that starts a
/// character counts 1, and a 4-byte character (a surrogate pair in UTF-16) counts 1 more.
fn utf16_len(s: &str) -> usize {
    s.bytes().map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0)).sum()
}

/// Why a text cannot be an SMS body, or cannot be split into bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The text is empty or only white space (Twilio refuses an empty `Body`: error 21602).
    #[error("the SMS body is empty or only white space")]
    Empty,
    /// The text is longer than [`MAX_BODY_UTF16`] UTF-16 code units (Twilio error 21617).
    #[error("the SMS body is {units} UTF-16 code units long; Twilio accepts at most 1600")]
    TooLong {
        /// The length of the text in UTF-16 code units.
        units: usize,
    },
    /// [`split`] met a single grapheme cluster longer than a whole body, which it does not cut.
    #[error(
        "a single grapheme cluster of {units} UTF-16 code units (at byte {offset}) does not fit in \
         one SMS body"
    )]
    GraphemeTooLong {
        /// The byte offset of the cluster in the text.
        offset: usize,
        /// Its length in UTF-16 code units.
        units: usize,
    },
}

/// A valid SMS `Body`: not empty or only white space, and at most [`MAX_BODY_UTF16`] UTF-16 code
/// units long. The text is kept exactly as given (it is not trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmsBody(Box<str>);

impl SmsBody {
    /// Checks `text` and keeps it unchanged.
    ///
    /// # Errors
    /// [`BodyError::Empty`] when `text` is empty or only white space (`char::is_whitespace`);
    /// [`BodyError::TooLong`] when it is longer than [`MAX_BODY_UTF16`] UTF-16 code units.
    pub fn new(text: impl Into<String>) -> Result<Self, BodyError> {
        let text = text.into();
        check_body(&text)?;
        Ok(Self(text.into_boxed_str()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segment count of this body (see [`segments`]).
    #[must_use]
    pub fn segments(&self) -> SegmentInfo {
        segments(&self.0)
    }

    /// The length in UTF-16 code units (at most [`MAX_BODY_UTF16`]).
    #[must_use]
    pub fn utf16_len(&self) -> usize {
        utf16_len(&self.0)
    }

    /// The text, as an owned string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

fn check_body(text: &str) -> Result<(), BodyError> {
    if text.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    // A UTF-16 code unit needs at least one UTF-8 byte, so short texts need no count.
    if text.len() > MAX_BODY_UTF16 {
        let units = utf16_len(text);
        if units > MAX_BODY_UTF16 {
            return Err(BodyError::TooLong { units });
        }
    }
    Ok(())
}

impl AsRef<str> for SmsBody {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SmsBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for SmsBody {
    type Error = BodyError;
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl TryFrom<String> for SmsBody {
    type Error = BodyError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl core::str::FromStr for SmsBody {
    type Err = BodyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl From<SmsBody> for String {
    fn from(body: SmsBody) -> Self {
        body.into_string()
    }
}

/// Splits `text` into SMS bodies of at most [`MAX_BODY_UTF16`] UTF-16 code units each.
///
/// Text that fits in one body is returned as a single part, unchanged (leading and trailing white
/// space included). Longer text is cut, part by part, at the best split point that keeps the part
/// within the limit. Split points, from most to least preferred:
///
/// 1. a paragraph break: white space containing a blank line (two or more line breaks, CR LF
///    counting as one) or a paragraph separator (U+2029);
/// 2. a line break: white space containing one line break (LF, CR, CR LF, VT, FF, NEL, U+2028);
/// 3. a sentence end: white space after `.`, `!`, `?`, `…` and similar terminators (optionally
///    followed by closing quotes or brackets such as `"`, `)` or `»`); and, without white space,
///    right after an ideographic or full-width terminator (`。`, `！`, `？`, `｡`, `．`) and any
///    closing brackets that follow it, as written in Chinese and Japanese;
/// 4. a word boundary: any other run of white space;
/// 5. as a last resort, a grapheme-cluster boundary (never inside a character, an emoji ZWJ
///    sequence, a flag or a letter with its combining marks).
///
/// A split point of kinds 1 to 4 is preferred only if it leaves the part at least half full (800
/// units), so that an early paragraph break does not produce a tiny message when a later
/// sentence end would do; when no such point exists, the most preferred kind that fits is used
/// anyway (its last occurrence), and kind 5 only when the part has no white space and no sentence
/// end at all. Among points of the same kind the last one that fits wins.
///
/// # The separator rule
///
/// `text` == `gap₀ + part₁ + gap₁ + part₂ + … + partₙ + gapₙ`, where the parts are the returned
/// bodies, in order, each an unchanged slice of `text`, and every gap is white space
/// (`char::is_whitespace`, which includes tabs, line breaks and no-break spaces) made of whole
/// grapheme clusters. The gaps are what is dropped, and nothing else is dropped, added or changed:
///
/// - one part (the text fits): `gap₀` and `gap₁` are empty, the part is `text` itself;
/// - several parts: every part starts and ends with a grapheme cluster that is not white space, so
///   `gap₀` and `gapₙ` are the leading and trailing white space of `text`, and each inner gap is
///   the whole run of white space at a split point. An inner gap is empty only where the cut is at
///   a grapheme boundary or right after an ideographic terminator.
///
/// Every part boundary is a grapheme-cluster boundary of `text`, no part is empty or only white
/// space, and every part is at most [`MAX_BODY_UTF16`] UTF-16 code units long. To show the parts
/// as one text again, join them with the gaps (or with a line break, which loses only the exact
/// white space).
///
/// # Errors
/// [`BodyError::Empty`] when `text` is empty or only white space; [`BodyError::GraphemeTooLong`]
/// when a single grapheme cluster is longer than a whole body (only pathological text, such as
/// hundreds of combining marks on one letter, does that).
pub fn split(text: &str) -> Result<Vec<SmsBody>, BodyError> {
    split_ranges(text, MAX_BODY_UTF16)?
        .into_iter()
        .map(|range| SmsBody::new(text.get(range).unwrap_or_default()))
        .collect()
}

/// The kinds of split point, most preferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Paragraph,
    Line,
    Sentence,
    Word,
    Grapheme,
}

/// A possible split point: the part ends at `end`, the next one starts at `next` (the white space
/// in between is dropped), and the part is `fill` UTF-16 units long.
#[derive(Debug, Clone, Copy)]
struct Cut {
    end: usize,
    next: usize,
    fill: usize,
    kind: Kind,
}

/// Whether the text seen so far ends a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SentenceEnd {
    /// No.
    No,
    /// Yes if white space follows (`.`, `!`, `?` …).
    BeforeSpace,
    /// Yes, even without white space (`。`, `！`, `？` …).
    Always,
}

impl SentenceEnd {
    /// The state after a grapheme cluster that is not white space and starts with `c`.
    fn after(self, c: char) -> Self {
        if is_ideographic_terminator(c) {
            Self::Always
        } else if is_terminator(c) {
            Self::BeforeSpace
        } else if is_closer(c) {
            self
        } else {
            Self::No
        }
    }
}

fn is_terminator(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | '\u{2026}' // …
            | '\u{203C}' // ‼
            | '\u{203D}' // ‽
            | '\u{2047}' // ⁇
            | '\u{2048}' // ⁈
            | '\u{2049}' // ⁉
            | '\u{037E}' // ; Greek question mark
            | '\u{061F}' // ؟ Arabic question mark
            | '\u{06D4}' // ۔ Arabic full stop
            | '\u{0964}' // । Devanagari danda
            | '\u{0965}' // ॥ Devanagari double danda
    )
}

fn is_ideographic_terminator(c: char) -> bool {
    matches!(
        c,
        '\u{3002}' // 。
            | '\u{FF01}' // ！
            | '\u{FF1F}' // ？
            | '\u{FF0E}' // ．
            | '\u{FF61}' // ｡
    )
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        ')' | ']'
            | '}'
            | '"'
            | '\''
            | '\u{00BB}' // »
            | '\u{203A}' // ›
            | '\u{2019}' // ’
            | '\u{201D}' // ”
            | '\u{300D}' // 」
            | '\u{300F}' // 』
            | '\u{3009}' // 〉
            | '\u{300B}' // 》
            | '\u{3011}' // 】
            | '\u{3015}' // 〕
            | '\u{FF09}' // ）
            | '\u{FF3D}' // ］
            | '\u{FF5D}' // ｝
            | '\u{FF02}' // ＂
            | '\u{FF07}' // ＇
    )
}

/// A run of white-space grapheme clusters met while scanning.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    fill: usize,
    line_breaks: u8,
    paragraph: bool,
}

impl Run {
    fn note(&mut self, grapheme: &str) {
        if grapheme == "\r\n" {
            self.line_breaks = self.line_breaks.saturating_add(1);
            return;
        }
        for c in grapheme.chars() {
            match c {
                '\u{2029}' => self.paragraph = true,
                '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' => {
                    self.line_breaks = self.line_breaks.saturating_add(1);
                }
                _ => {}
            }
        }
    }

    fn kind(&self, sentence: SentenceEnd) -> Kind {
        if self.paragraph || self.line_breaks >= 2 {
            Kind::Paragraph
        } else if self.line_breaks == 1 {
            Kind::Line
        } else if sentence != SentenceEnd::No {
            Kind::Sentence
        } else {
            Kind::Word
        }
    }
}

fn is_blank(grapheme: &str) -> bool {
    grapheme.chars().all(char::is_whitespace)
}

/// The grapheme clusters of `text` from byte `pos` (a cluster boundary), with their byte offsets
/// in `text`. ASCII text is stepped byte by byte (its only multi-byte cluster is CR LF).
enum Graphemes<'a> {
    Ascii { text: &'a str, pos: usize },
    Unicode { base: usize, inner: GraphemeIndices<'a> },
}

impl<'a> Graphemes<'a> {
    fn new(text: &'a str, pos: usize, ascii: bool) -> Self {
        if ascii {
            Self::Ascii { text, pos }
        } else {
            let rest = text.get(pos..).unwrap_or_default();
            Self::Unicode { base: pos, inner: rest.grapheme_indices(true) }
        }
    }
}

impl<'a> Iterator for Graphemes<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Ascii { text, pos } => {
                let start = *pos;
                let bytes = text.as_bytes();
                let first = *bytes.get(start)?;
                let crlf = first == b'\r' && bytes.get(start + 1) == Some(&b'\n');
                let end = start + if crlf { 2 } else { 1 };
                *pos = end;
                Some((start, text.get(start..end)?))
            }
            Self::Unicode { base, inner } => inner.next().map(|(i, g)| (*base + i, g)),
        }
    }
}

/// How a scan from the start of a part ended.
enum Scan {
    /// The rest of the text fits: the last part ends at this byte offset.
    End(usize),
    /// The grapheme cluster at this point, of `units` UTF-16 units, does not fit any more.
    Overflow { units: usize },
}

/// Scans from `pos` (the start of a cluster that is not white space) until the part would exceed
/// `max` units, and records every possible split point in `cuts`, in order.
fn scan(text: &str, pos: usize, max: usize, ascii: bool, cuts: &mut Vec<Cut>) -> Scan {
    cuts.clear();
    let mut fill = 0;
    let mut run: Option<Run> = None;
    let mut sentence = SentenceEnd::No;
    for (offset, grapheme) in Graphemes::new(text, pos, ascii) {
        let units = utf16_len(grapheme);
        if is_blank(grapheme) {
            run.get_or_insert(Run { start: offset, fill, line_breaks: 0, paragraph: false }).note(grapheme);
            fill += units;
            continue;
        }
        let first = grapheme.chars().next().unwrap_or_default();
        if let Some(run) = run.take() {
            cuts.push(Cut { end: run.start, next: offset, fill: run.fill, kind: run.kind(sentence) });
            // A closing bracket after white space does not close the sentence before it.
            sentence = SentenceEnd::No;
        } else if offset > pos {
            let kind = if sentence == SentenceEnd::Always && !is_closer(first) {
                Kind::Sentence
            } else {
                Kind::Grapheme
            };
            cuts.push(Cut { end: offset, next: offset, fill, kind });
        }
        if fill + units > max {
            return Scan::Overflow { units };
        }
        fill += units;
        sentence = sentence.after(first);
    }
    Scan::End(run.map_or(text.len(), |run| run.start))
}

/// The split point to use among `cuts` (see [`split`]).
fn choose(cuts: &[Cut], min_fill: usize) -> Option<Cut> {
    let best = |min: usize| {
        cuts.iter()
            .filter(|cut| cut.kind <= Kind::Word && cut.fill >= min)
            .min_by_key(|cut| (cut.kind, core::cmp::Reverse(cut.end)))
            .copied()
    };
    best(min_fill).or_else(|| best(0)).or_else(|| cuts.last().copied())
}

/// The byte ranges of the parts of `text`, each at most `max` UTF-16 units (see [`split`]).
fn split_ranges(text: &str, max: usize) -> Result<Vec<Range<usize>>, BodyError> {
    if text.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    let units = utf16_len(text);
    if units <= max {
        return Ok(core::iter::once(0..text.len()).collect());
    }
    let ascii = text.is_ascii();
    let min_fill = max / 2;
    let mut parts = Vec::with_capacity(units / max.max(1) + 1);
    let mut cuts = Vec::new();
    let mut pos = Graphemes::new(text, 0, ascii)
        .find(|(_, grapheme)| !is_blank(grapheme))
        .map_or(text.len(), |(offset, _)| offset);
    while pos < text.len() {
        match scan(text, pos, max, ascii, &mut cuts) {
            Scan::End(end) => {
                parts.push(pos..end);
                break;
            }
            Scan::Overflow { units } => {
                let cut = choose(&cuts, min_fill).ok_or(BodyError::GraphemeTooLong { offset: pos, units })?;
                parts.push(pos..cut.end);
                pos = cut.next;
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// `basic_chars` and `extension_chars` of gsm7.json, verbatim (escaped).
    const JSON_BASIC: &str = "@\u{00A3}$\u{00A5}\u{00E8}\u{00E9}\u{00F9}\u{00EC}\u{00F2}\u{00C7}\u{000A}\u{00D8}\u{00F8}\u{000D}\u{00C5}\u{00E5}\u{0394}_\u{03A6}\u{0393}\u{039B}\u{03A9}\u{03A0}\u{03A8}\u{03A3}\u{0398}\u{039E}\u{00C6}\u{00E6}\u{00DF}\u{00C9} !\"#\u{00A4}%&'()*+,-./0123456789:;<=>?\u{00A1}ABCDEFGHIJKLMNOPQRSTUVWXYZ\u{00C4}\u{00D6}\u{00D1}\u{00DC}\u{00A7}\u{00BF}abcdefghijklmnopqrstuvwxyz\u{00E4}\u{00F6}\u{00F1}\u{00FC}\u{00E0}";
    const JSON_EXTENSION: &str = "\u{000C}^{}\\[~]|\u{20AC}";

    const FAMILY: &str = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"; // 👨‍👩‍👧‍👦

    fn rep(s: &str, n: usize) -> String {
        s.repeat(n)
    }

    fn seg(text: &str) -> (Encoding, u32, u32, u32) {
        let i = segments(text);
        (i.encoding, i.segments, i.units, i.units_per_segment)
    }

    // ---- the GSM-7 table -------------------------------------------------------------------

    #[test]
    fn table_matches_gsm7_json_exactly() {
        assert_eq!(JSON_BASIC.chars().count(), 127);
        assert_eq!(JSON_EXTENSION.chars().count(), 10);
        let basic: HashSet<char> = JSON_BASIC.chars().collect();
        let ext: HashSet<char> = JSON_EXTENSION.chars().collect();
        assert_eq!(basic.len(), 127);
        assert!(basic.is_disjoint(&ext));
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let expected = if basic.contains(&c) {
                Some(1)
            } else if ext.contains(&c) {
                Some(2)
            } else {
                None
            };
            assert_eq!(gsm7_septets(c), expected, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn capital_c_cedilla_is_gsm7_small_is_not() {
        assert_eq!(gsm7_septets('Ç'), Some(1));
        assert_eq!(gsm7_septets('ç'), None);
        assert_eq!(encoding("Ça va"), Encoding::Gsm7);
        assert_eq!(encoding("ça va"), Encoding::Ucs2);
        assert_eq!(non_gsm7_chars("ça va ç").collect::<String>(), "çç");
    }

    #[test]
    fn ascii_outliers() {
        assert_eq!(encoding("a`b"), Encoding::Ucs2);
        assert_eq!(encoding("a\tb"), Encoding::Ucs2);
        assert_eq!(encoding("a\r\nb\x0C"), Encoding::Gsm7);
        assert_eq!(encoding("$@_"), Encoding::Gsm7);
        assert_eq!(encoding(""), Encoding::Gsm7);
    }

    // ---- segments ----------------------------------------------------------------------------

    #[test]
    fn empty_text_has_no_segment() {
        assert_eq!(seg(""), (Encoding::Gsm7, 0, 0, 160));
    }

    #[test]
    fn gsm7_plain_limits() {
        assert_eq!(seg("a"), (Encoding::Gsm7, 1, 1, 160));
        assert_eq!(seg(&rep("a", 160)), (Encoding::Gsm7, 1, 160, 160));
        assert_eq!(seg(&rep("a", 161)), (Encoding::Gsm7, 2, 161, 153));
        assert_eq!(seg(&rep("a", 306)), (Encoding::Gsm7, 2, 306, 153));
        assert_eq!(seg(&rep("a", 307)), (Encoding::Gsm7, 3, 307, 153));
        assert_eq!(seg(&rep("a", 1600)), (Encoding::Gsm7, 11, 1600, 153));
        // Non-ASCII basic characters cost one septet too.
        assert_eq!(seg(&rep("é", 160)), (Encoding::Gsm7, 1, 160, 160));
        assert_eq!(seg(&rep("Ç", 161)), (Encoding::Gsm7, 2, 161, 153));
        // CR LF is two septets.
        assert_eq!(seg("a\r\nb"), (Encoding::Gsm7, 1, 4, 160));
    }

    #[test]
    fn gsm7_extension_chars_cost_two_septets() {
        for ext in ["€", "{", "}", "[", "]", "~", "|", "^", "\\", "\x0C"] {
            assert_eq!(seg(ext), (Encoding::Gsm7, 1, 2, 160), "{ext:?}");
            // 2 + 158 = 160 septets: one segment; 2 + 159 = 161: two.
            let one = format!("{ext}{}", rep("a", 158));
            assert_eq!(seg(&one), (Encoding::Gsm7, 1, 160, 160), "{ext:?}");
            let two = format!("{ext}{}", rep("a", 159));
            assert_eq!(seg(&two), (Encoding::Gsm7, 2, 161, 153), "{ext:?}");
        }
        assert_eq!(seg(&rep("€", 80)), (Encoding::Gsm7, 1, 160, 160));
        assert_eq!(seg(&rep("{", 81)), (Encoding::Gsm7, 2, 162, 153));
    }

    #[test]
    fn gsm7_escape_pair_is_not_split_across_segments() {
        // 152 + 2 + 152 = 306 septets = 2 × 153, but the escape pair cannot straddle the first
        // boundary: [152] [€ + 151] [1].
        let text = format!("{}€{}", rep("a", 152), rep("a", 152));
        assert_eq!(seg(&text), (Encoding::Gsm7, 3, 306, 153));
        // One less and it fits in two: [152] [€ + 151].
        let text = format!("{}€{}", rep("a", 152), rep("a", 151));
        assert_eq!(seg(&text), (Encoding::Gsm7, 2, 305, 153));
        // Escape pair right after 151 septets fits in the first segment: [151 + €] [153].
        let text = format!("{}€{}", rep("a", 151), rep("a", 153));
        assert_eq!(seg(&text), (Encoding::Gsm7, 2, 306, 153));
        // ASCII extension characters take the same path.
        let text = format!("{}{{{}", rep("a", 152), rep("a", 152));
        assert_eq!(seg(&text), (Encoding::Gsm7, 3, 306, 153));
    }

    #[test]
    fn ucs2_limits() {
        // One non-GSM character makes the whole message UCS-2.
        assert_eq!(seg(&format!("{}ç", rep("a", 100))), (Encoding::Ucs2, 2, 101, 67));
        assert_eq!(seg(&rep("ç", 70)), (Encoding::Ucs2, 1, 70, 70));
        assert_eq!(seg(&rep("ç", 71)), (Encoding::Ucs2, 2, 71, 67));
        assert_eq!(seg(&rep("ç", 134)), (Encoding::Ucs2, 2, 134, 67));
        assert_eq!(seg(&rep("ç", 135)), (Encoding::Ucs2, 3, 135, 67));
        // Twilio calculator examples: 😜 + 68 digits = 70 units, + 69 = 71.
        let digits = "2345678901234567890123456789012345678901234567890123456789012345678901";
        assert_eq!(seg(&format!("😜{}", &digits[..68])), (Encoding::Ucs2, 1, 70, 70));
        assert_eq!(seg(&format!("😜{}", &digits[..69])), (Encoding::Ucs2, 2, 71, 67));
        // GSM characters (even extension ones) are one unit each in UCS-2 (calculator issue #18).
        assert_eq!(seg(&format!("😀{}", rep("]", 68))), (Encoding::Ucs2, 1, 70, 70));
        assert_eq!(seg(&format!("😀{}", rep("]", 69))), (Encoding::Ucs2, 2, 71, 67));
        // ASCII that is not GSM-7 (a tab) is UCS-2, one unit per character.
        assert_eq!(seg(&rep("\t", 70)), (Encoding::Ucs2, 1, 70, 70));
        assert_eq!(seg(&rep("`", 135)), (Encoding::Ucs2, 3, 135, 67));
    }

    #[test]
    fn ucs2_astral_chars_count_two_and_are_not_split() {
        assert_eq!(seg("😀"), (Encoding::Ucs2, 1, 2, 70));
        assert_eq!(seg(&rep("😀", 35)), (Encoding::Ucs2, 1, 70, 70));
        // 36 emoji = 72 units: 33 per segment (the 34th would make 68 > 67).
        assert_eq!(seg(&rep("😀", 36)), (Encoding::Ucs2, 2, 72, 67));
        // 67 emoji = 134 units = 2 × 67, yet three segments: 33 + 33 + 1.
        assert_eq!(seg(&rep("😀", 67)), (Encoding::Ucs2, 3, 134, 67));
        // A surrogate pair at the boundary moves whole: [66 ç] [😀 + 65 ç] [1 ç].
        let text = format!("{}😀{}", rep("ç", 66), rep("ç", 66));
        assert_eq!(seg(&text), (Encoding::Ucs2, 3, 134, 67));
    }

    #[test]
    fn ucs2_grapheme_clusters_are_kept_whole() {
        assert_eq!(utf16_len(FAMILY), 11);
        assert_eq!(seg(FAMILY), (Encoding::Ucs2, 1, 11, 70));
        // 62 + 11 + 61 = 134 units. Splitting only between characters would give 2 segments;
        // the family stays whole: [62] [family + 56] [5].
        let text = format!("{}{FAMILY}{}", rep("ç", 62), rep("ç", 61));
        assert_eq!(seg(&text), (Encoding::Ucs2, 3, 134, 67));
        // Flags (2 regional indicators = 4 units), calculator examples: 4 + 66 = 70, 4 + 67 = 71.
        assert_eq!(seg(&format!("🇮🇹{}", rep("2", 66))), (Encoding::Ucs2, 1, 70, 70));
        assert_eq!(seg(&format!("🇮🇹{}", rep("2", 67))), (Encoding::Ucs2, 2, 71, 67));
        // A cluster longer than a segment is packed by character.
        let zalgo = format!("e{}", rep("\u{301}", 99));
        assert_eq!(seg(&zalgo), (Encoding::Ucs2, 2, 100, 67));
    }

    #[test]
    fn body_counts_segments() {
        let body = SmsBody::new(rep("a", 161)).unwrap();
        assert_eq!(body.segments().segments, 2);
        assert_eq!(body.utf16_len(), 161);
    }

    // ---- SmsBody -----------------------------------------------------------------------------

    #[test]
    fn body_limits() {
        assert!(SmsBody::new(rep("a", 1600)).is_ok());
        assert_eq!(SmsBody::new(rep("a", 1601)), Err(BodyError::TooLong { units: 1601 }));
        assert!(SmsBody::new(rep("ç", 1600)).is_ok());
        assert_eq!(SmsBody::new(rep("ç", 1601)), Err(BodyError::TooLong { units: 1601 }));
        // Astral characters count 2: 800 emoji = 1600 units.
        assert!(SmsBody::new(rep("😀", 800)).is_ok());
        assert_eq!(SmsBody::new(format!("{}a", rep("😀", 800))), Err(BodyError::TooLong { units: 1601 }));
        assert_eq!(SmsBody::new(format!("{}😀", rep("a", 1599))), Err(BodyError::TooLong { units: 1601 }));
        assert!(SmsBody::new(format!("{}😀", rep("a", 1598))).is_ok());
        // 1600 characters of which some are astral are too long.
        let text = format!("{}{}", rep("😀", 10), rep("a", 1590));
        assert_eq!(text.chars().count(), 1600);
        assert_eq!(SmsBody::new(text), Err(BodyError::TooLong { units: 1610 }));
    }

    #[test]
    fn body_rejects_blank_and_keeps_text_exactly() {
        assert_eq!(SmsBody::new(""), Err(BodyError::Empty));
        assert_eq!(SmsBody::new(" \t\r\n\u{3000}\u{2029}"), Err(BodyError::Empty));
        let body = SmsBody::new("  hi \n").unwrap();
        assert_eq!(body.as_str(), "  hi \n");
        assert_eq!(body.to_string(), "  hi \n");
        assert_eq!(String::from(body.clone()), "  hi \n");
        assert_eq!("x".parse::<SmsBody>().unwrap().as_ref(), "x");
        assert_eq!(SmsBody::try_from("   "), Err(BodyError::Empty));
        assert_eq!(SmsBody::try_from(String::from("y")).unwrap().into_string(), "y");
    }

    #[test]
    fn error_messages() {
        assert_eq!(BodyError::Empty.to_string(), "the SMS body is empty or only white space");
        assert_eq!(
            BodyError::TooLong { units: 1601 }.to_string(),
            "the SMS body is 1601 UTF-16 code units long; Twilio accepts at most 1600"
        );
    }

    // ---- split -------------------------------------------------------------------------------

    fn parts(text: &str) -> Vec<String> {
        split(text).unwrap().into_iter().map(SmsBody::into_string).collect()
    }

    /// `n` characters of prose: words of 4 letters and a space, no punctuation.
    fn words(n: usize) -> String {
        "abcd ".chars().cycle().take(n).collect::<String>().trim_end().to_owned() + "x"
    }

    #[test]
    fn text_that_fits_is_one_unchanged_part() {
        assert_eq!(parts("  hello  "), ["  hello  "]);
        let full = format!(" {} ", rep("a", 1598));
        assert_eq!(parts(&full), [full]);
        assert_eq!(split(""), Err(BodyError::Empty));
        assert_eq!(split(&rep(" \n", 5000)), Err(BodyError::Empty));
    }

    #[test]
    fn surrounding_white_space_alone_is_trimmed() {
        let text = format!("{}{}{}", rep(" ", 1000), rep("a", 1000), rep("\n", 1000));
        assert_eq!(parts(&text), [rep("a", 1000)]);
    }

    #[test]
    fn prefers_paragraph_breaks() {
        // A paragraph break at 1000, line breaks and sentence ends later in the window.
        let p1 = format!("{}. Then.\n{}", words(900), words(90));
        let p2 = format!("{}.\n{}. {}", words(300), words(300), words(700));
        let text = format!("{p1}\n\n{p2}");
        assert_eq!(parts(&text), [p1.clone(), p2.clone()]);
        // CR LF blank lines and a line with only spaces count as paragraph breaks too.
        for sep in ["\r\n\r\n", "\n   \n", "\u{2029}"] {
            let text = format!("{p1}{sep}{p2}");
            assert_eq!(parts(&text)[0], p1, "{sep:?}");
        }
    }

    #[test]
    fn an_early_paragraph_break_gives_way_to_a_late_line_break() {
        // The paragraph break leaves only 100 units (< 800): the line break at 1500 wins.
        let head = words(100);
        let body = format!("{}\n{}", words(1397), words(900));
        let text = format!("{head}\n\n{body}");
        let got = parts(&text);
        assert_eq!(got[0], format!("{head}\n\n{}", words(1397)));
        assert_eq!(got[1], words(900));
    }

    #[test]
    fn then_line_breaks() {
        let a = format!("{}. {}", words(500), words(500)); // sentence end inside
        let b = format!("{}. {}", words(300), words(1000)); // sentence end after the line break
        let text = format!("{a}\n{b}");
        let got = parts(&text);
        assert_eq!(got[0], a);
        assert_eq!(got[1], b);
    }

    #[test]
    fn then_sentence_ends() {
        let s1 = format!("{}.", words(700));
        let s2 = format!("{}!", words(400));
        let s3 = format!("{}?\"", words(400)); // a closing quote after the terminator
        let rest = words(900);
        let text = format!("{s1} {s2} {s3} {rest}");
        let got = parts(&text);
        assert_eq!(got[0], format!("{s1} {s2} {s3}"));
        assert_eq!(got[1], rest);
        assert!(utf16_len(&got[0]) <= MAX_BODY_UTF16);
    }

    #[test]
    fn a_closer_after_white_space_does_not_end_a_sentence() {
        let text = format!("{}. ) {} {}", words(900), words(300), words(800));
        let got = parts(&text);
        assert_eq!(got[0], format!("{}.", words(900)));
        assert!(got[1].starts_with(") "));
    }

    #[test]
    fn ideographic_sentence_ends_need_no_space() {
        let sentence = "这是一个很长的句子，用来测试短信的分割。"; // 20 characters
        let text = rep(sentence, 100); // 2000 units, no white space at all
        let got = parts(&text);
        assert_eq!(got.concat(), text);
        assert!(got.iter().all(|p| p.ends_with('。')));
        assert_eq!(got[0], rep(sentence, 80));
        // A closing bracket stays with its sentence.
        let quoted = "「这是一个很长的句子，用来测试。」"; // 17 characters
        let text = rep(quoted, 120);
        let got = parts(&text);
        assert_eq!(got.concat(), text);
        assert!(got.iter().all(|p| p.ends_with("。」")));
    }

    #[test]
    fn then_word_boundaries() {
        let text = words(5000);
        let got = parts(&text);
        assert!(got.len() >= 4);
        assert_eq!(got.join(" "), text);
        for p in &got {
            assert!(utf16_len(p) <= MAX_BODY_UTF16);
            // Never inside a word: every part starts and ends at a word edge.
            assert!(!p.starts_with(' ') && !p.ends_with(' '));
            assert!(p.ends_with('d') || p.ends_with('x'), "{:?}", &p[p.len() - 5..]);
        }
        // 1596 units of words, then a long word: cut at the last space that fits.
        assert!(got[0].len() > 1590);
    }

    #[test]
    fn a_single_space_beats_a_grapheme_cut_even_when_early() {
        // "hi" then a 3000-character word: the only white space is at 2 (< 800), but a word
        // boundary still beats cutting the word.
        let text = format!("hi {}", rep("x", 3000));
        assert_eq!(parts(&text), ["hi", &rep("x", 1600), &rep("x", 1400)]);
    }

    #[test]
    fn last_resort_is_grapheme_boundaries() {
        let text = rep("x", 5000);
        let got = parts(&text);
        assert_eq!(got, [rep("x", 1600), rep("x", 1600), rep("x", 1600), rep("x", 200)]);
        // Mixed clusters without white space: every cut is a cluster boundary.
        let unit = format!("ab{FAMILY}c🇮🇹e\u{301}\u{302}👍🏽");
        let text: String = rep(&unit, 5000 / unit.chars().count() + 1);
        let got = parts(&text);
        assert_eq!(got.concat(), text);
        let bounds: HashSet<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
        let mut at = 0;
        for p in &got {
            assert!(bounds.contains(&at));
            assert!(utf16_len(p) <= MAX_BODY_UTF16);
            at += p.len();
        }
    }

    #[test]
    fn family_emoji_near_the_limit_is_never_split() {
        for before in 1585..=1600 {
            let text = format!("{}{FAMILY}{}", rep("a", before), rep("a", 100));
            let got = parts(&text);
            assert_eq!(got.concat(), text);
            let fits = before + 11 <= MAX_BODY_UTF16;
            let first_len = if fits { MAX_BODY_UTF16 } else { before };
            assert_eq!(utf16_len(&got[0]), first_len, "before = {before}");
            assert!(got.iter().any(|p| p.contains(FAMILY)));
        }
        // Flags and combining marks likewise.
        let text = format!("{}🇮🇹{}", rep("a", 1598), rep("a", 10));
        assert_eq!(parts(&text)[0], rep("a", 1598));
        let text = format!("{}e\u{301}{}", rep("a", 1599), rep("a", 10));
        assert_eq!(parts(&text)[0], rep("a", 1599));
    }

    #[test]
    fn a_space_carrying_a_combining_mark_is_not_a_gap() {
        // " \u{301}" is one cluster that is not white space: it is never trimmed apart.
        let text = format!("{} \u{301}{}", rep("a", 1000), rep("b", 1000));
        let got = parts(&text);
        assert_eq!(got.concat(), text);
        assert!(got.iter().all(|p| !p.starts_with('\u{301}')));
    }

    #[test]
    fn huge_white_space_gaps_are_dropped() {
        let text = format!("{}{}{}", rep("a", 1000), rep(" ", 100_000), rep("b", 1000));
        assert_eq!(parts(&text), [rep("a", 1000), rep("b", 1000)]);
    }

    #[test]
    fn an_oversized_cluster_is_an_error() {
        let zalgo = format!("e{}", rep("\u{301}", 1700));
        let text = format!("hello {zalgo} world");
        assert_eq!(split(&text), Err(BodyError::GraphemeTooLong { offset: 6, units: 1701 }));
    }

    #[test]
    fn large_inputs_are_fast() {
        // Linear time: these would take minutes if any step were quadratic.
        let big = 400_000;
        for text in [
            rep("x", big),
            words(big),
            format!("a.{}1", rep(" ", big)),
            rep("🇮", big / 4),
            format!("a{}", rep("\u{301}", 1000)) + &rep("b ", big / 2),
            rep(&format!("{FAMILY} "), big / 12),
            rep("。", big),
        ] {
            let _ = segments(&text);
            let _ = split(&text);
        }
    }

    // ---- properties --------------------------------------------------------------------------

    /// A reference count, written independently from the JSON strings.
    fn naive_segments(text: &str) -> (Encoding, u32, u32) {
        let gsm = text.chars().all(|c| JSON_BASIC.contains(c) || JSON_EXTENSION.contains(c));
        let (items, single, multi): (Vec<usize>, usize, usize) = if gsm {
            let items = text.chars().map(|c| if JSON_EXTENSION.contains(c) { 2 } else { 1 }).collect();
            (items, 160, 153)
        } else {
            let mut items = Vec::new();
            for g in text.graphemes(true) {
                let w: usize = g.encode_utf16().count();
                if g == "\r\n" {
                    items.extend([1, 1]);
                } else if w > 67 {
                    items.extend(g.chars().map(char::len_utf16));
                } else {
                    items.push(w);
                }
            }
            (items, 70, 67)
        };
        let units: usize = items.iter().sum();
        let segments = if units == 0 {
            0
        } else if units <= single {
            1
        } else {
            let mut segs: Vec<usize> = vec![0];
            for w in items {
                if segs.last().unwrap() + w > multi {
                    segs.push(0);
                }
                *segs.last_mut().unwrap() += w;
            }
            segs.len()
        };
        let encoding = if gsm { Encoding::Gsm7 } else { Encoding::Ucs2 };
        (encoding, segments as u32, units as u32)
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9]{1,8}",
            3 => Just(" ".to_owned()),
            1 => prop::sample::select(vec![
                "\n", "\r\n", "\r", "\n\n", "\t", "\u{2028}", "\u{2029}", "\u{3000}", "\u{85}",
                ". ", "! ", "? ", ".\" ", "…", ".", "。", "」", "！", "(", ")",
                "😀", FAMILY, "🇮🇹", "🇮", "👍🏽", "e\u{301}", " \u{301}", "\u{301}", "\u{200D}",
                "\u{600}", "€", "{", "ç", "Ç", "`", "\u{FE0F}", "क्षि",
            ]).prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ]
    }

    fn text(max_pieces: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..max_pieces).prop_map(|v| v.concat())
    }

    fn check_split(text: &str, max: usize) {
        let blank = text.trim().is_empty();
        match split_ranges(text, max) {
            Err(BodyError::Empty) => assert!(blank),
            Err(BodyError::GraphemeTooLong { offset, units }) => {
                assert!(!blank);
                assert!(units > max);
                let (_, g) = text.grapheme_indices(true).find(|&(i, _)| i == offset).unwrap();
                assert_eq!(utf16_len(g), units);
            }
            Err(e) => panic!("unexpected {e:?}"),
            Ok(ranges) => {
                assert!(!blank);
                assert!(!ranges.is_empty());
                if utf16_len(text) <= max {
                    assert_eq!(ranges.len(), 1);
                    assert_eq!(ranges[0], 0..text.len());
                }
                let bounds: HashSet<usize> =
                    text.grapheme_indices(true).map(|(i, _)| i).chain([text.len()]).collect();
                let mut prev = 0;
                for r in &ranges {
                    assert!(r.start >= prev && r.start < r.end, "{ranges:?}");
                    assert!(bounds.contains(&r.start) && bounds.contains(&r.end), "{ranges:?}");
                    assert!(text[prev..r.start].chars().all(char::is_whitespace));
                    let part = &text[r.clone()];
                    assert!(!part.trim().is_empty());
                    assert!(utf16_len(part) <= max);
                    if ranges.len() > 1 {
                        let first = part.graphemes(true).next().unwrap();
                        let last = part.graphemes(true).next_back().unwrap();
                        assert!(!is_blank(first) && !is_blank(last), "{part:?}");
                    }
                    prev = r.end;
                }
                assert!(text[prev..].chars().all(char::is_whitespace));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_utf16_len(s in any::<String>()) {
            prop_assert_eq!(utf16_len(&s), s.encode_utf16().count());
        }

        #[test]
        fn prop_split_small_limits(s in text(80), max in 1_usize..40) {
            check_split(&s, max);
        }

        #[test]
        fn prop_split_arbitrary_strings(s in any::<String>(), max in 1_usize..20) {
            check_split(&s, max);
        }

        #[test]
        fn prop_split_real_limit(s in text(1500)) {
            check_split(&s, MAX_BODY_UTF16);
            if let Ok(bodies) = split(&s) {
                let ranges = split_ranges(&s, MAX_BODY_UTF16).unwrap();
                prop_assert_eq!(bodies.len(), ranges.len());
                for (b, r) in bodies.iter().zip(ranges) {
                    prop_assert_eq!(b.as_str(), &s[r]);
                }
            }
        }

        #[test]
        fn prop_segments_match_reference(s in prop_oneof![text(200), any::<String>()]) {
            let info = segments(&s);
            prop_assert_eq!((info.encoding, info.segments, info.units), naive_segments(&s));
            prop_assert_eq!(info.encoding, encoding(&s));
            prop_assert_eq!(non_gsm7_chars(&s).next().is_none(), info.encoding == Encoding::Gsm7);
            if info.encoding == Encoding::Ucs2 {
                prop_assert_eq!(info.units as usize, s.encode_utf16().count());
            }
        }

        #[test]
        fn prop_segments_monotone(a in text(150), b in text(30)) {
            let whole = format!("{a}{b}");
            let (sa, sw) = (segments(&a), segments(&whole));
            prop_assert!(sa.segments <= sw.segments, "{:?} {:?}", sa, sw);
            prop_assert!(sa.units <= sw.units || sa.encoding != sw.encoding);
            if sa.encoding == Encoding::Ucs2 {
                prop_assert_eq!(sw.encoding, Encoding::Ucs2);
            }
        }
    }
}
