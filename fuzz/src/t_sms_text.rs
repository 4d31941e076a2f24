//! Target `sms_text`: the text splitter (`sms_text::split`) and the segment counter (`sms_text::segments`)
//! on generated texts made of the pieces that matter (words, every kind of white space and line break,
//! sentence ends, CJK terminators, closing brackets, emoji sequences, flags, combining marks, GSM-7
//! extension characters, control characters), seeded with the corpus' message bodies.
//!
//! Invariants: the separator rule (the parts are slices of the text, in order, and only white space is
//! dropped between them), every part non-blank and at most 1600 UTF-16 units, every cut on a grapheme
//! boundary, one unchanged part for text that fits, the documented errors exactly when they apply; and
//! `segments` equal to an independent count.

use serde_json::{Value, json};
use twilio_sms::sms_text::{self, BodyError, Encoding, MAX_BODY_UTF16};
use unicode_segmentation::UnicodeSegmentation;

use crate::rng::Rng;
use crate::seeds::Seeds;

pub struct Input {
    pub text: String,
}

const PIECES: &[&str] = &[
    "hello",
    "world",
    "Your",
    "table",
    "is",
    "booked",
    "Ça",
    "va",
    "façon",
    "Straße",
    "Ωμέγα",
    "€5",
    "{x}",
    "[a]",
    "~|^\\",
    "`tick`",
    "漢字かな",
    "测试",
    "😀",
    "👍🏽",
    "👨\u{200d}👩\u{200d}👧\u{200d}👦",
    "🇫🇷",
    "🇺🇸🇬🇧",
    "e\u{301}",
    "a\u{308}\u{301}",
    "\u{0}",
    "\u{7}",
    "x\u{200b}y",
    "\u{feff}",
    "ﬃ",
    "1600",
];
const SPACES: &[&str] = &[
    " ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n", "\u{a0}", "\u{2028}",
    "\u{2029}", "\u{3000}", "\u{85}", "\u{b}", "\u{c}", "\u{2009}",
];
const ENDS: &[&str] = &[".", "!", "?", "…", "?»", ".\"", ".)", "。", "！」", "？", "｡", "．", "‽", "।"];

pub fn generate(rng: &mut Rng, seeds: &Seeds) -> Input {
    let target = match rng.below(6) {
        0 => rng.below(200),
        1 => rng.range(1500, 1700),
        2 => rng.range(3000, 3400),
        3 => rng.range(100, 6000),
        4 => rng.range(1590, 1610),
        _ => rng.range(1, 2000),
    };
    let mut text = String::new();
    if rng.chance(1, 8) {
        text.push_str(*rng.pick(SPACES));
    }
    let no_space = rng.chance(1, 10);
    let combining_storm = rng.chance(1, 40);
    while text.len() < target {
        match rng.below(12) {
            0 if !seeds.values.is_empty() => text.push_str(rng.pick(&seeds.values).as_str()),
            1 => text.push_str(*rng.pick(ENDS)),
            2 => text.push(rng.any_char()),
            3 if combining_storm => {
                text.push('a');
                for _ in 0..rng.range(100, 2000) {
                    text.push('\u{301}');
                }
            }
            4 => {
                for _ in 0..rng.range(10, 400) {
                    text.push(*rng.pick(&['x', 'é', '漢', '😀']));
                }
            }
            _ => text.push_str(*rng.pick(PIECES)),
        }
        if !no_space {
            text.push_str(*rng.pick(SPACES));
        }
    }
    if rng.chance(1, 4) {
        for _ in 0..rng.range(1, 5) {
            text.push_str(*rng.pick(SPACES));
        }
    }
    if rng.chance(1, 20) {
        text = text.chars().filter(|c| !c.is_whitespace()).collect();
    }
    if rng.chance(1, 30) {
        text = (*rng.pick(SPACES)).repeat(rng.below(3000));
    }
    Input { text }
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Twilio's segment count, recomputed: GSM-7 septets (extension characters 2, kept whole) in 160 / 153,
/// else UTF-16 units of grapheme clusters kept whole (CR LF counts as two characters; a cluster longer
/// than a segment is packed by characters) in 70 / 67.
fn reference_segments(text: &str) -> (Encoding, u32, u32, u32) {
    let gsm = text.chars().map(sms_text::gsm7_septets).collect::<Option<Vec<u8>>>();
    let (encoding, items, single, per): (Encoding, Vec<usize>, usize, usize) = match gsm {
        Some(septets) => (Encoding::Gsm7, septets.into_iter().map(usize::from).collect(), 160, 153),
        None => {
            let mut items = Vec::new();
            for g in text.graphemes(true) {
                let w = utf16(g);
                if g == "\r\n" {
                    items.extend([1, 1]);
                } else if w <= 67 {
                    items.push(w);
                } else {
                    items.extend(g.chars().map(char::len_utf16));
                }
            }
            (Encoding::Ucs2, items, 70, 67)
        }
    };
    let units: usize = items.iter().sum();
    let (segments, capacity) = if units == 0 {
        (0, single)
    } else if units <= single {
        (1, single)
    } else {
        let (mut segments, mut current) = (0, 0);
        for w in items {
            if segments == 0 || current + w > per {
                segments += 1;
                current = 0;
            }
            current += w;
        }
        (segments, per)
    };
    (encoding, segments as u32, units as u32, capacity as u32)
}

pub fn check(input: &Input) -> Result<(), String> {
    let text = input.text.as_str();
    let info = sms_text::segments(text);
    let want = reference_segments(text);
    if (info.encoding, info.segments, info.units, info.units_per_segment) != want {
        return Err(format!("segments {info:?}, expected {want:?}"));
    }
    if (info.encoding == Encoding::Gsm7) != sms_text::non_gsm7_chars(text).next().is_none()
        || info.encoding != sms_text::encoding(text)
    {
        return Err("encoding, non_gsm7_chars and segments disagree".into());
    }

    let boundaries: std::collections::HashSet<usize> =
        text.grapheme_indices(true).map(|(i, _)| i).chain(std::iter::once(text.len())).collect();
    let longest = text.graphemes(true).map(utf16).max().unwrap_or(0);
    match sms_text::split(text) {
        Err(BodyError::Empty) if is_blank(text) => Ok(()),
        Err(BodyError::GraphemeTooLong { offset, units })
            if units > MAX_BODY_UTF16 && longest > MAX_BODY_UTF16 && boundaries.contains(&offset) =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "split refused the text: {e:?} (blank: {}, longest cluster {longest})",
            is_blank(text)
        )),
        Ok(_) if is_blank(text) => Err("a blank text was split".into()),
        Ok(_) if longest > MAX_BODY_UTF16 => Err("a cluster longer than a body was accepted".into()),
        Ok(parts) => {
            if utf16(text) <= MAX_BODY_UTF16 {
                return match parts.as_slice() {
                    [one] if one.as_str() == text => Ok(()),
                    _ => Err(format!("a text that fits became {} parts", parts.len())),
                };
            }
            let mut pos = 0;
            for (i, part) in parts.iter().enumerate() {
                let part = part.as_str();
                if is_blank(part) || utf16(part) > MAX_BODY_UTF16 || part.is_empty() {
                    return Err(format!("part {i} is blank or too long ({} units)", utf16(part)));
                }
                // Documented: every part starts and ends with a grapheme cluster that is not white space
                // (a cluster such as U+3000 U+200D starts with a space character, but is not blank).
                let first_blank = part.graphemes(true).next().is_some_and(is_blank);
                let last_blank = part.graphemes(true).next_back().is_some_and(is_blank);
                if first_blank || last_blank {
                    return Err(format!("part {i} starts or ends with a white-space cluster"));
                }
                let Some(found) = text[pos..].find(part).map(|f| pos + f) else {
                    return Err(format!("part {i} is not a slice of the text after the previous one"));
                };
                if !is_blank(&text[pos..found]) {
                    return Err(format!("part {i}: something else than white space was dropped before it"));
                }
                let end = found + part.len();
                if !boundaries.contains(&found) || !boundaries.contains(&end) {
                    return Err(format!("part {i} is cut inside a grapheme cluster ({found}..{end})"));
                }
                pos = end;
            }
            if !is_blank(&text[pos..]) {
                return Err("text after the last part was dropped".into());
            }
            Ok(())
        }
    }
}

pub fn to_json(input: &Input) -> Value {
    json!({ "text": input.text })
}

pub fn from_json(v: &Value) -> Option<Input> {
    Some(Input { text: v.get("text")?.as_str()?.to_owned() })
}
