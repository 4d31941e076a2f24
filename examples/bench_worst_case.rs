//! Times the rejection of unsigned requests of every shape an attacker might choose, through the public
//! API, against a plain body of the same size: the cost of a request anyone can send.
//!
//! `cargo run --release --example bench_worst_case` (`PASSES` from the environment, default 5; `SHAPES`, a
//! comma-separated list, times only those shapes beside the baselines) prints
//! one JSON object on stdout: for each shape its body size, the median over the passes of the mean ns
//! per rejection, and its ratio to its baseline timed in the same passes; `worst_ratio` is the largest.
//! Each call does what a server does for such a request: the URL check, building the `UnverifiedWebhook`
//! (a well-formed but wrong `X-Twilio-Signature`), and the verification, which decodes, sorts and MACs
//! the body before it can refuse it. Two sizes: just under the default 64 KiB body limit (where most
//! shapes have more than `MAX_PARAMETERS` pairs and are refused once decoded), and 1,999 bytes, where
//! every shape stays within that many pairs and is sorted. `worst_ratio` is the largest over both.
//!
//! Each shape is compared with a plain body of the same size that is verified as a genuine one is:
//! distinct keys in ascending order (`distinct_ascending_long_values`), each value just long enough for
//! the body to stay within `MAX_PARAMETERS` pairs (one byte at 1,999 bytes, 60 at 64 KiB), so that it is
//! decoded, sorted and MACed. That is what anyone can make a verifier spend on a body of that size
//! without any trick, and the bound is on what a trick adds to it. The same keys with one-byte values
//! (`distinct_ascending`) are refused at 64 KiB for their pair count once decoded, which costs a
//! fraction of that; each shape refused for its count also gets `ratio_to_refused`, its cost against
//! that body, which shows where decoding costs more than plain bytes do (escapes).

use std::hint::black_box;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Map, Value, json};
use twilio_sms::webhook::{FormError, MAX_PARAMETERS};
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, VerifyError, WebhookUrl, WebhookVerifier};

const URL: &str =
    "https://hooks.example.com/api/channels/plugin/twilio-sms/webhook/2aabfe22-8f21-49e9-bb0e-b53f16947ccf";

/// Pieces joined with `&` while they fit in `size` bytes.
fn fill(size: usize, mut piece: impl FnMut(usize) -> String) -> Vec<u8> {
    let mut body = String::new();
    for i in 0.. {
        let next = piece(i);
        if body.len() + next.len() + 1 > size {
            break;
        }
        if i > 0 {
            body.push('&');
        }
        body.push_str(&next);
    }
    body.into_bytes()
}

/// A fixed-width base-26 word for `i` (`aaaa`, `aaab`, …), so that byte order is numeric order.
fn word(i: usize, width: usize) -> String {
    (0..width).rev().map(|d| char::from(b'a' + ((i / 26usize.pow(d as u32)) % 26) as u8)).collect()
}

/// A deterministic permutation of `0..n` (xorshift-driven Fisher-Yates).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

/// The plain body every shape is compared with: verified (decoded, sorted and MACed).
const VERIFIED: &str = "distinct_ascending_long_values";
/// The plain body of short pairs, refused for its pair count at 64 KiB.
const REFUSED: &str = "distinct_ascending";

fn shapes(size: usize) -> Vec<(&'static str, Vec<u8>)> {
    let n = 20_000;
    let random = shuffled(n);
    let long_prefix = "MediaContentTypeMediaContentType"; // 32 bytes shared
    // Values long enough for at most `MAX_PARAMETERS` pairs of `word=value&`.
    let value = "v".repeat(size.div_ceil(MAX_PARAMETERS).saturating_sub(6).max(1));
    vec![
        (REFUSED, fill(size, |i| format!("{}=v", word(i, 4)))),
        (VERIFIED, fill(size, |i| format!("{}={value}", word(i, 4)))),
        ("distinct_descending", fill(size, |i| format!("{}=v", word(n - i, 4)))),
        ("distinct_random", fill(size, |i| format!("{}=v", word(random[i % n], 4)))),
        ("one_key_values_descending", fill(size, |i| format!("a={}", word(n - i, 4)))),
        ("one_key_values_ascending", fill(size, |i| format!("a={}", word(i, 4)))),
        ("one_key_values_random", fill(size, |i| format!("a={}", word(random[i % n], 4)))),
        ("shared_6_byte_prefix_random", fill(size, |i| format!("Messag{}=v", word(random[i % n], 4)))),
        // Keys sharing the 13 bytes the first sort reads: all sorted by the second step.
        (
            "shared_13_byte_prefix_random",
            fill(size, |i| format!("MessagingServ{}=v", word(random[i % n], 4))),
        ),
        ("shared_12_byte_prefix_descending", fill(size, |i| format!("MessageSidXX{}=v", word(n - i, 4)))),
        ("shared_12_byte_prefix_random", fill(size, |i| format!("MessageSidXX{}=v", word(random[i % n], 4)))),
        (
            "shared_32_byte_prefix_random",
            fill(size, |i| format!("{long_prefix}{}=v", word(random[i % n], 4))),
        ),
        (
            "one_key_long_shared_value_prefix",
            fill(size, |i| format!("a={}{}", "x".repeat(200), word(n - i, 4))),
        ),
        ("exact_repeats", fill(size, |_| "a=b".to_owned())),
        ("exact_repeats_long", fill(size, |_| format!("{long_prefix}={long_prefix}"))),
        ("empty_pairs", vec![b'&'; size - 1]),
        ("valueless_keys", fill(size, |_| "a".to_owned())),
        ("empty_names", fill(size, |i| format!("={}", word(n - i, 3)))),
        ("bare_equals", fill(size, |_| "=".to_owned())),
        ("one_long_key", [vec![b'k'; size - 3], b"=v".to_vec()].concat()),
        ("one_long_value", [b"k=".to_vec(), vec![b'v'; size - 3]].concat()),
        ("two_long_equal_keys", {
            let half = (size - 6) / 2;
            [vec![b'k'; half], b"=a&".to_vec(), vec![b'k'; half], b"=b".to_vec()].concat()
        }),
        // 978 pairs of long pieces sharing more than 16 bytes at 64 KiB (within the pair limit):
        // every comparison of the sort's second step is a slice compare.
        (
            "thousand_long_values_one_key",
            fill(size, |i| format!("k={long_prefix}{}{}", "v".repeat(28), word(random[i % n], 4))),
        ),
        (
            "thousand_long_shared_prefix_keys",
            fill(size, |i| format!("{long_prefix}{}{}=v", "k".repeat(28), word(random[i % n], 4))),
        ),
        ("all_escapes", fill(size, |i| format!("%41{}=%42%43", word(i, 4)))),
        ("escaped_utf8", fill(size, |i| format!("{}=%C3%A9%E2%82%AC", word(i, 4)))),
        ("plus_signs", fill(size, |i| format!("{}=++++++++", word(i, 4)))),
    ]
}

fn main() {
    let passes: usize = std::env::var("PASSES").ok().and_then(|p| p.parse().ok()).unwrap_or(5).max(1);
    // `SHAPES=a,b` times only those (the baselines are always timed first).
    let only: Option<Vec<String>> =
        std::env::var("SHAPES").ok().map(|s| s.split(',').map(str::to_owned).collect());
    // The largest body, and the largest one whose every shape stays within `MAX_PARAMETERS` pairs
    // (two bytes a pair at the least), so that every shape is sorted, none refused for its count.
    let sizes = [BodyLimit::DEFAULT.get() - 16, 2 * MAX_PARAMETERS - 1];
    let mut by_size = Map::new();
    let mut worst = (String::new(), 0.0f64);
    for size in sizes {
        let (shapes, (name, ratio)) = run(size, passes, only.as_deref());
        if ratio > worst.1 {
            worst = (format!("{name} ({size} bytes)"), ratio);
        }
        by_size.insert(size.to_string(), Value::Object(shapes));
    }
    let result = json!({
        "baseline": VERIFIED,
        "refused_baseline": REFUSED,
        "passes": passes,
        "sizes": by_size,
        "worst_shape": worst.0,
        "worst_ratio": (worst.1 * 100.0).round() / 100.0,
    });
    println!("{result}");
}

/// Times every shape of `size` bytes against its baseline; each shape's figures, and the worst.
fn run(size: usize, passes: usize, only: Option<&[String]>) -> (Map<String, Value>, (&'static str, f64)) {
    let verifier = WebhookVerifier::new(&AuthToken::new("f3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8").expect("token"));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
    // Well-formed (28 characters of base64 for 20 bytes), but not the MAC of anything here.
    headers.insert("x-twilio-signature", HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    let baseline = |name: &str| name == REFUSED || name == VERIFIED;
    let shapes: Vec<_> = shapes(size)
        .into_iter()
        .filter(|(name, _)| baseline(name) || only.is_none_or(|o| o.iter().any(|n| n == name)))
        .collect();
    // Whether the rejection was for the pair count (else a mismatch once sorted and MACed; at 1,999
    // bytes never anything else), and its time.
    let reject = |body: &[u8]| {
        let (headers, body) = (headers.clone(), body.to_vec());
        let t = Instant::now();
        let url = WebhookUrl::exact(URL).expect("url");
        let webhook =
            UnverifiedWebhook::new(Method::POST, url, headers, body, BodyLimit::DEFAULT).expect("fits");
        let outcome = black_box(verifier.verify(webhook));
        let elapsed = t.elapsed().as_nanos() as f64;
        let sorted = matches!(outcome, Err(VerifyError::SignatureMismatch));
        let counted = matches!(outcome, Err(VerifyError::MalformedForm(FormError::TooManyParameters { .. })));
        assert!(sorted || counted && size > 2 * MAX_PARAMETERS, "{size} bytes: {outcome:?}");
        (counted, elapsed)
    };
    let counted: Vec<bool> = shapes.iter().map(|(_, body)| reject(body).0).collect();
    // Each pass times every shape (several calls each), interleaved, so that they share the machine's
    // state; a shape's figure is the median over the passes.
    let calls = 20;
    let mut means = vec![Vec::new(); shapes.len()];
    for _ in 0..=passes {
        for ((_, body), means) in shapes.iter().zip(&mut means) {
            means.push((0..calls).map(|_| reject(body).1).sum::<f64>() / calls as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.remove(0); // the warm-up pass
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let medians: Vec<f64> = means.iter_mut().map(median).collect();
    let ns_of =
        |name: &str| shapes.iter().position(|(n, _)| *n == name).and_then(|i| medians.get(i).copied());
    let (verified, refused) = (ns_of(VERIFIED).unwrap_or(f64::NAN), ns_of(REFUSED).unwrap_or(f64::NAN));
    let round = |ratio: f64| (ratio * 100.0).round() / 100.0;
    let mut out = Map::new();
    let mut worst = ("", 0.0f64);
    for (((name, body), ns), counted) in shapes.iter().zip(&medians).zip(&counted) {
        let ratio = ns / verified;
        if ratio > worst.1 {
            worst = (name, ratio);
        }
        let mut figures = json!({"bytes": body.len(), "ns": ns.round(), "ratio": round(ratio)});
        let mut refused_ratio = String::new();
        if *counted {
            figures["ratio_to_refused"] = json!(round(ns / refused));
            refused_ratio = format!("  ({:.2}x the refused plain body)", ns / refused);
        }
        out.insert((*name).to_owned(), figures);
        eprintln!("{name:36} {:>6} bytes {:>10.0} ns  {ratio:5.2}x{refused_ratio}", body.len(), ns);
    }
    (out, worst)
}
