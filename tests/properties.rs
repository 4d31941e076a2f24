//! Property tests (proptest): sign-then-verify round trips, single changes that must be rejected (and the
//! changes that are semantically neutral, which must be accepted), arbitrary bodies through the strict
//! form decoder, and the text splitter and segment counter.
//!
//! The oracles here are written from the rules (twilio-signature.md §5, the `sms_text` docs), not from
//! the crate's code. Case counts are modest so the file runs in a few seconds; the long randomized runs
//! are in `fuzz/` (see `fuzz/README.md`).
//!
//! Semantically neutral changes (accepted, by design):
//! - re-encoding a byte of the body as `%XX` (either hex case), or a space as `+` or `%20`: the
//!   signature covers the decoded parameters, not their encoding;
//! - reordering the `&`-separated pairs: parameters are signed sorted by key, then value;
//! - duplicating an exact `name=value` pair, or changing one of two equal pairs' values to another value
//!   that name already has: each key's *distinct* values are signed;
//! - moving the boundary between a name and its value (`Body=Hi` and `Bo=dyHi`), or adding an empty
//!   `=` pair, as long as the sort order keeps the same concatenation: Twilio's data string writes names
//!   and values with no separator, so these sign the same (a property of Twilio's scheme that every
//!   verifier shares; see SECURITY.md);
//! - adding or removing an explicit default port (`:443` / `:80`), or removing any explicit port: the
//!   verifier also tries the URL's one port variant, as Twilio's SDKs do;
//! - a token longer than 64 bytes replaced by its SHA-1: HMAC hashes long keys (it also pads short ones
//!   with zeros, which is why `AuthToken` refuses control characters such as NUL). The generated tokens
//!   are printable and at most 40 bytes, so no such pair occurs; real Auth Tokens are 32 hex digits.

use std::collections::HashSet;

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use twilio_sms::sms_text::{self, BodyError, Encoding, MAX_BODY_UTF16};
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, VerifyError, WebhookUrl, WebhookVerifier};
use twilio_sms_testkit::encode_form;
use unicode_segmentation::UnicodeSegmentation;

// ---------------------------------------------------------------------------------------------------
// Reference rules
// ---------------------------------------------------------------------------------------------------

// The one reference of the rules (form decoding, the canonical string, the signature), shared with the
// fuzz loop (`fuzz/`).
#[path = "support/reference.rs"]
#[allow(dead_code, reason = "the fuzz loop uses the rest")]
mod reference;

use reference::{Pairs, canonical as data_string, decode_form};

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn headers(signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    h.insert("x-twilio-signature", HeaderValue::from_str(signature).unwrap());
    h
}

fn verify(token: &str, url: &str, signature: &str, body: impl Into<Vec<u8>>) -> Result<Pairs, VerifyError> {
    let webhook = UnverifiedWebhook::new(
        Method::POST,
        WebhookUrl::exact(url).unwrap(),
        headers(signature),
        body,
        BodyLimit::DEFAULT,
    )?;
    let verifier = WebhookVerifier::new(&AuthToken::new(token).unwrap());
    verifier.verify(webhook).map(|v| v.params().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

fn sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    twilio_sms_testkit::sign(token, url, &borrowed(params)).to_string()
}

// ---------------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------------

/// Printable tokens of 1 to 40 bytes without edge white space (no NUL: see the module docs).
fn token() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{32}", "[!-~]{1,40}", "[!-~][ -~é✓]{0,10}[!-~]",]
        .prop_filter("a usable token", |t| t.len() <= 40 && AuthToken::new(t.as_str()).is_ok())
}

/// Valid http(s) URLs with ports, paths and queries (no fragment, no white space, no `bodySHA256`).
fn url() -> impl Strategy<Value = String> {
    let scheme = prop_oneof!["https", "http", "HTTPS"];
    let host = prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
        Just("Agents.Example.COM".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[2001:db8::1]".to_owned()),
        Just("user:pa:ss@example.com".to_owned()),
    ];
    let port =
        prop_oneof![Just(String::new()), Just(":443".to_owned()), Just(":80".to_owned()), "(:[0-9]{1,5})?"];
    let path = "(/[A-Za-z0-9._~!$'()*+,;=:@-]{0,8}|/%[0-9A-Fa-f]{2}){0,4}/?";
    let query = prop_oneof![
        Just(String::new()),
        "\\?[A-Za-z0-9._~!$'()*+,;=:@/?-]{0,12}(&[A-Za-z0-9]{1,5}=[A-Za-z0-9%+]{0,6}){0,3}",
    ];
    (scheme, host, port, path, query)
        .prop_map(|(s, h, p, path, q)| format!("{s}://{h}{p}{path}{q}"))
        .prop_filter("no bodySHA256", |u| !u.contains("bodySHA256") && WebhookUrl::exact(u).is_ok())
}

/// Parameters with repeated keys, empty values and arbitrary Unicode.
fn params() -> impl Strategy<Value = Pairs> {
    let key = prop_oneof![
        Just("Body".to_owned()),
        Just("From".to_owned()),
        Just("To".to_owned()),
        Just(String::new()),
        any::<String>(),
        "[A-Za-z]{1,6}",
    ];
    let value = prop_oneof![Just(String::new()), any::<String>(), "[ -~]{0,12}", "\\+[0-9]{11}"];
    prop::collection::vec((key, value), 0..8).prop_flat_map(|pairs| {
        // Sometimes repeat an exact pair.
        let n = pairs.len();
        (Just(pairs), 0..=n, any::<bool>()).prop_map(|(mut pairs, at, repeat)| {
            if repeat && !pairs.is_empty() {
                let dup = pairs[at % pairs.len()].clone();
                pairs.insert(at, dup);
            }
            pairs
        })
    })
}

// ---------------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// What is signed verifies, and the verified parameters are the sent ones, in wire order.
    #[test]
    fn sign_then_verify_accepts(token in token(), url in url(), params in params()) {
        let body = encode_form(&borrowed(&params));
        let signature = sign(&token, &url, &params);
        prop_assert_eq!(verify(&token, &url, &signature, body), Ok(params));
    }

    /// Any one-byte edit of the body (replace, insert, delete) is rejected, unless it is semantically
    /// neutral (the decoded parameters sign the same), in which case it is accepted.
    #[test]
    fn any_body_change_is_rejected_unless_neutral(
        token in token(),
        url in url(),
        params in params(),
        edit in (any::<prop::sample::Index>(), 0..3usize, any::<u8>()),
    ) {
        let mut body = encode_form(&borrowed(&params)).into_bytes();
        let (index, kind, byte) = edit;
        match kind {
            0 if !body.is_empty() => { let i = index.index(body.len()); body[i] = byte; }
            1 => body.insert(index.index(body.len() + 1), byte),
            _ if !body.is_empty() => { body.remove(index.index(body.len())); }
            _ => body.push(byte),
        }
        let signature = sign(&token, &url, &params);
        let got = verify(&token, &url, &signature, body.clone());
        match decode_form(&body) {
            Err(e) => prop_assert_eq!(got, Err(VerifyError::MalformedForm(e))),
            Ok(decoded) if data_string(&decoded) == data_string(&params) => prop_assert_eq!(got, Ok(decoded)),
            Ok(_) => prop_assert_eq!(got, Err(VerifyError::SignatureMismatch)),
        }
    }

    /// The neutral changes: reordered pairs, a duplicated pair, `%XX` re-encoding in either case, and
    /// `%20` for `+`, all verify against the original signature.
    #[test]
    fn neutral_body_changes_are_accepted(
        token in token(),
        url in url(),
        params in params(),
        shuffle in any::<prop::sample::Index>(),
        which in any::<prop::sample::Index>(),
    ) {
        let signature = sign(&token, &url, &params);
        let mut reordered = params.clone();
        if !reordered.is_empty() {
            let k = shuffle.index(reordered.len());
            reordered.rotate_left(k);
            reordered.reverse();
        }
        let mut duplicated = params.clone();
        if !duplicated.is_empty() {
            let dup = duplicated[which.index(duplicated.len())].clone();
            duplicated.push(dup);
        }
        for variant in [&reordered, &duplicated] {
            let body = encode_form(&borrowed(variant));
            prop_assert!(verify(&token, &url, &signature, body).is_ok());
        }
        // Every byte escaped, lower-case hex; spaces as %20.
        let escaped: String = params
            .iter()
            .map(|(k, v)| {
                let esc = |s: &str| s.bytes().map(|b| format!("%{b:02x}")).collect::<String>();
                format!("{}={}", esc(k), esc(v))
            })
            .collect::<Vec<_>>()
            .join("&");
        prop_assert_eq!(verify(&token, &url, &signature, escaped), Ok(params.clone()));
        let spaces = encode_form(&borrowed(&params)).replace('+', "%20");
        prop_assert_eq!(verify(&token, &url, &signature, spaces), Ok(params));
    }

    /// Any one-character edit of the URL is rejected, except the port variant (documented).
    #[test]
    fn any_url_change_is_rejected_unless_it_is_the_port_variant(
        token in token(),
        url in url(),
        params in params(),
        at in any::<prop::sample::Index>(),
        c in prop_oneof![Just('/'), Just(':'), Just('0'), Just('%'), Just('A'), Just('a'), Just('?'), Just('&'), any::<char>()],
        delete in any::<bool>(),
    ) {
        let mut changed: Vec<char> = url.chars().collect();
        let i = at.index(changed.len());
        if delete { changed.remove(i); } else { changed.insert(i, c); }
        let changed: String = changed.into_iter().collect();
        let Ok(received) = WebhookUrl::exact(&changed) else { return Ok(()) };
        prop_assume!(!changed.contains("bodySHA256"));
        let body = encode_form(&borrowed(&params));
        let got = verify(&token, &changed, &sign(&token, &url, &params), body);
        if changed == url || received.port_variant() == url {
            prop_assert_eq!(got, Ok(params));
        } else {
            prop_assert_eq!(got, Err(VerifyError::SignatureMismatch));
        }
    }

    /// The port variant: a request signed over the received URL's variant verifies; the reverse (signed
    /// over the URL, received at its variant) only when the variant's variant is the URL again, that is
    /// when the URL has no port or the scheme's default one (`:8443` removed comes back as `:443`).
    #[test]
    fn the_port_variant_is_accepted(token in token(), url in url(), params in params()) {
        let variant = WebhookUrl::exact(&url).unwrap().port_variant();
        let back = WebhookUrl::exact(&variant).unwrap().port_variant();
        let body = encode_form(&borrowed(&params));
        prop_assert!(verify(&token, &url, &sign(&token, &variant, &params), body.clone()).is_ok());
        let reverse = verify(&token, &variant, &sign(&token, &url, &params), body);
        prop_assert_eq!(reverse.is_ok(), back == url, "{} -> {} -> {}", url, variant, back);
    }

    /// Twilio's data string has no separators: shifting the name/value boundary of a pair signs the
    /// same when the new name keeps its place in the sort order (documented in SECURITY.md).
    #[test]
    fn a_name_value_boundary_shift_signs_the_same(token in token(), url in url(), value in "[a-z]{0,8}") {
        let original: Pairs = vec![("Body".into(), value.clone()), ("From".into(), "+14155550100".into())];
        let shifted: Pairs = vec![("Bo".into(), format!("dy{value}")), ("From".into(), "+14155550100".into())];
        let signature = sign(&token, &url, &original);
        let got = verify(&token, &url, &signature, encode_form(&borrowed(&shifted)));
        prop_assert_eq!(got, Ok(shifted));
    }

    /// Any one-character change of the signature header is rejected: malformed or a mismatch.
    #[test]
    fn any_signature_change_is_rejected(
        token in token(),
        url in url(),
        params in params(),
        at in 0..28usize,
        c in prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_".to_vec()),
    ) {
        let mut signature = sign(&token, &url, &params).into_bytes();
        prop_assume!(signature[at] != c);
        signature[at] = c;
        let signature = String::from_utf8(signature).unwrap();
        let got = verify(&token, &url, &signature, encode_form(&borrowed(&params)));
        prop_assert!(
            matches!(got, Err(VerifyError::MalformedSignature | VerifyError::SignatureMismatch)),
            "{:?}", got
        );
    }

    /// Another token never verifies (see the module docs for the HMAC key equivalences excluded).
    #[test]
    fn any_other_token_is_rejected(token in token(), other in token(), url in url(), params in params()) {
        prop_assume!(token != other);
        let signature = sign(&other, &url, &params);
        let got = verify(&token, &url, &signature, encode_form(&borrowed(&params)));
        prop_assert_eq!(got, Err(VerifyError::SignatureMismatch));
    }

    /// Arbitrary bytes as a form body never panic, and are refused exactly as the rules say.
    #[test]
    fn arbitrary_bodies_decode_or_are_refused_by_the_rules(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(prop::sample::select(b"a=&%+2Fcz\xc3\xa9\xff".to_vec()), 0..60),
        ],
        token in token(),
        url in url(),
    ) {
        let got = verify(&token, &url, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", body.clone());
        match decode_form(&body) {
            Err(e) => prop_assert_eq!(got, Err(VerifyError::MalformedForm(e))),
            Ok(pairs) => {
                // Well-formed: refused only for its signature, and accepted once signed.
                prop_assert_eq!(got, Err(VerifyError::SignatureMismatch));
                prop_assert_eq!(verify(&token, &url, &sign(&token, &url, &pairs), body), Ok(pairs));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Text splitting and segment counts
// ---------------------------------------------------------------------------------------------------

const PIECES: &[&str] = &[
    "hello",
    "world",
    "Your",
    "table",
    "façon",
    "Ωμέγα",
    "€5",
    "{x}",
    "`",
    "漢字",
    "😀",
    "👍🏽",
    "👨\u{200d}👩\u{200d}👧",
    "🇫🇷",
    "e\u{301}",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{3000}",
    ". ",
    "! ",
    "? ",
    "…",
    ".\" ",
    "。",
    "！",
    "\u{3000}\u{200d}",
];

/// Texts from a few characters to several bodies long, built from the pieces that matter.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(PIECES), 0..1400).prop_map(|p| p.concat()),
        (prop::sample::select(PIECES), 1..900usize).prop_map(|(p, n)| p.repeat(n)),
    ]
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// The segment count from the documented rules: GSM-7 septets (extension characters 2) in 160 / 153,
/// else UTF-16 units of whole grapheme clusters (CR LF as two characters) in 70 / 67.
fn reference_segments(text: &str) -> (Encoding, u32, u32) {
    let (encoding, items, single, per): (_, Vec<usize>, usize, usize) =
        match text.chars().map(sms_text::gsm7_septets).collect::<Option<Vec<u8>>>() {
            Some(septets) => (Encoding::Gsm7, septets.into_iter().map(usize::from).collect(), 160, 153),
            None => {
                let mut items = Vec::new();
                for g in text.graphemes(true) {
                    match g {
                        "\r\n" => items.extend([1, 1]),
                        g if utf16(g) <= 67 => items.push(utf16(g)),
                        g => items.extend(g.chars().map(char::len_utf16)),
                    }
                }
                (Encoding::Ucs2, items, 70, 67)
            }
        };
    let units: usize = items.iter().sum();
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        let (mut segments, mut current) = (0, 0);
        for w in items {
            if segments == 0 || current + w > per {
                segments += 1;
                current = 0;
            }
            current += w;
        }
        segments
    };
    (encoding, segments, units as u32)
}

fn check_segments(text: &str) -> Result<(), TestCaseError> {
    let info = sms_text::segments(text);
    prop_assert_eq!((info.encoding, info.segments, info.units), reference_segments(text), "{:?}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// The separator rule: the parts are unchanged slices of the text, in order, cut on grapheme
    /// boundaries, at most 1600 UTF-16 units, never blank, and only white space lies between them; a text
    /// that fits is one unchanged part. Every part's (and the text's) segment count follows the rules.
    #[test]
    fn split_parts_are_valid_and_rebuild_the_text(text in text()) {
        check_segments(&text)?;
        let longest = text.graphemes(true).map(utf16).max().unwrap_or(0);
        let parts = match sms_text::split(&text) {
            Err(BodyError::Empty) => { prop_assert!(blank(&text)); return Ok(()); }
            Err(BodyError::GraphemeTooLong { units, .. }) => {
                prop_assert!(units > MAX_BODY_UTF16 && longest > MAX_BODY_UTF16);
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
            Ok(parts) => parts,
        };
        prop_assert!(!blank(&text) && longest <= MAX_BODY_UTF16);
        if utf16(&text) <= MAX_BODY_UTF16 {
            prop_assert_eq!(parts.len(), 1);
            prop_assert_eq!(parts[0].as_str(), text.as_str());
            return Ok(());
        }
        let boundaries: HashSet<usize> =
            text.grapheme_indices(true).map(|(i, _)| i).chain([text.len()]).collect();
        let mut pos = 0;
        for part in &parts {
            let part = part.as_str();
            prop_assert!(!blank(part) && utf16(part) <= MAX_BODY_UTF16);
            prop_assert!(!part.graphemes(true).next().is_some_and(blank));
            prop_assert!(!part.graphemes(true).next_back().is_some_and(blank));
            let found = pos + text[pos..].find(part).expect("each part is a slice of the text, in order");
            prop_assert!(blank(&text[pos..found]), "only white space is dropped between parts");
            prop_assert!(boundaries.contains(&found) && boundaries.contains(&(found + part.len())));
            check_segments(part)?;
            prop_assert_eq!(sms_text::segments(part), sms_text::SmsBody::new(part).unwrap().segments());
            pos = found + part.len();
        }
        prop_assert!(blank(&text[pos..]), "only trailing white space is dropped");
    }
}
