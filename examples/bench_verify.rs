//! Times webhook verification on a conformance corpus, in one process.
//!
//! `cargo run --release --example bench_verify -- PATH` (default `../shared/conformance/corpus.jsonl`,
//! `PASSES` from the environment, default 10) prints one JSON object on stdout, in the format of the peer
//! benchmarks in `../shared/bench/` (anything else goes to stderr):
//!
//! - `valid`: the `true_signature` check of every case: verify an `UnverifiedWebhook` holding the raw
//!   URL, headers and body, as a server holds them once it has read the request (strict form decoding,
//!   canonicalisation, HMAC, constant-time compare: all timed). The peers are handed decoded params;
//!   this crate decodes the raw body inside the timed call;
//! - `all`: every check that carries a signature header;
//! - `floor_hmac_sha1_only`: one bare HMAC-SHA1 (keying included) over the already-built data string of
//!   each `valid` request: the least work any verifier must do;
//! - `valid_over_floor`: the median, over the passes, of a `valid` pass's mean over the floor pass's mean
//!   run right after it (the workloads' passes are interleaved).
//!
//! Each request is copied (untimed) just before its verification, as a server verifies a request it has
//! just read; the timed call checks the URL, builds the `UnverifiedWebhook` and verifies it. The floor
//! keys its HMAC on every call, as the peer scripts' floors do (a pre-keyed HMAC, as `verify` uses,
//! measured the same within noise). A pass's mean is the sum of its timed calls over their number. A
//! breakdown by kind of case (by `traffic` on a corpus that has it, such as
//! `../shared/bench/realistic.jsonl`) goes to stderr.

#[path = "../tests/support/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde_json::{Value, json};
use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, WebhookUrl, WebhookVerifier};

struct Prepared {
    verifier: usize,
    kind: String,
    method: http::Method,
    url: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// The data string Twilio signs, from the corpus's decoded params (the floor's input).
fn data_string(case: &Value) -> Vec<u8> {
    let mut data = case["url"].as_str().unwrap_or_default().as_bytes().to_vec();
    if case["kind"] == "form_post" || case["kind"] == "form_decoder_edge" {
        let mut pairs: Vec<(&str, &str)> = case["params"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (k, v) in pairs {
            data.extend_from_slice(k.as_bytes());
            data.extend_from_slice(v.as_bytes());
        }
    }
    data
}

/// The timings of one workload: each call's time, and each pass's mean (the sum of its calls' times over
/// `n`; untimed set-up between calls is left out).
struct Workload {
    n: usize,
    per_call: Vec<u64>,
    means: Vec<f64>,
}

impl Workload {
    fn new(n: usize) -> Self {
        Self { n, per_call: Vec::new(), means: Vec::new() }
    }

    /// Runs one pass: `run` times each of its `n` calls and pushes the times.
    fn pass(&mut self, run: impl FnOnce(&mut Vec<u64>)) {
        let before = self.per_call.len();
        run(&mut self.per_call);
        let sum: u64 = self.per_call.get(before..).unwrap_or_default().iter().sum();
        self.means.push(sum as f64 / self.n.max(1) as f64);
    }

    fn stats(mut self) -> Value {
        let median = median(&mut self.means.clone());
        self.means.sort_by(f64::total_cmp);
        self.per_call.sort_unstable();
        let calls = &self.per_call;
        let pct = |p: f64| calls.get(((calls.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
        json!({
            "n": self.n,
            "passes": self.means.len(),
            "pass_mean_ns_median": median.round(),
            "pass_mean_ns_min": self.means.first().copied().unwrap_or(0.0).round(),
            "call_ns_median": pct(0.5),
            "call_ns_p99": pct(0.99),
            "ops_per_s": (1e9 / median).round(),
        })
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The request `p` describes, as a server holds it once it has read it: method, raw URL, headers and
/// body.
struct Request(http::Method, String, HeaderMap, Vec<u8>);

impl Request {
    /// A copy of `p`'s request (untimed, as the server's reading of it is).
    fn of(p: &Prepared) -> Self {
        Self(p.method.clone(), p.url.clone(), p.headers.clone(), p.body.clone())
    }

    /// What the server then does (timed): checks the URL, builds the webhook, verifies it (and drops
    /// what it got). Whether it was accepted.
    fn verify(self, verifier: &WebhookVerifier) -> bool {
        let Self(method, url, headers, body) = self;
        let webhook = WebhookUrl::exact(&url)
            .ok()
            .and_then(|url| UnverifiedWebhook::new(method, url, headers, body, BodyLimit::DEFAULT).ok());
        webhook.and_then(|w| verifier.verify(w).ok()).is_some()
    }
}

/// Verifies every request of `set`, timing each; returns how many were accepted. Each request is copied
/// (untimed) just before, as a server verifies a request it has just read: its bytes are in the cache,
/// as the floor's data strings are.
fn verify_all(set: &[Prepared], verifiers: &[WebhookVerifier], per_call: &mut Vec<u64>) -> usize {
    let mut accepted = 0;
    for p in set {
        let request = Request::of(p);
        let t = Instant::now();
        accepted += usize::from(black_box(request.verify(&verifiers[p.verifier])));
        per_call.push(t.elapsed().as_nanos() as u64);
    }
    accepted
}

/// Mean ns per `valid` call and per floor call for each kind of case, on stderr: where the time goes.
fn by_kind(valid: &[Prepared], floor: &[(Vec<u8>, Vec<u8>)], verifiers: &[WebhookVerifier], passes: usize) {
    let mut sums: std::collections::BTreeMap<&str, (u64, u64, u64)> = Default::default();
    for _ in 0..passes {
        for (p, (key, data)) in valid.iter().zip(floor) {
            let request = Request::of(p);
            let t = Instant::now();
            black_box(request.verify(&verifiers[p.verifier]));
            let ours = t.elapsed().as_nanos() as u64;
            let data = data.clone();
            let t = Instant::now();
            let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
            mac.update(&data);
            black_box(mac.finalize().into_bytes());
            let bare = t.elapsed().as_nanos() as u64;
            let entry = sums.entry(p.kind.as_str()).or_default();
            *entry = (entry.0 + 1, entry.1 + ours, entry.2 + bare);
        }
    }
    for (kind, (n, ours, bare)) in sums {
        eprintln!(
            "valid {kind}: {} cases, {:.0} ns per verification, floor {:.0} ns",
            n / passes as u64,
            ours as f64 / n as f64,
            bare as f64 / n as f64
        );
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "../shared/conformance/corpus.jsonl".to_owned());
    let passes: usize = std::env::var("PASSES").ok().and_then(|p| p.parse().ok()).unwrap_or(10).max(1);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2)
    });

    let mut tokens: Vec<String> = Vec::new();
    let mut verifiers = Vec::new();
    let (mut valid, mut all, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus line is JSON");
        for check in case["checks"].as_array().into_iter().flatten() {
            let req = corpus::request(&case, check);
            if !req.headers.contains_key("x-twilio-signature") {
                continue;
            }
            let verifier = match tokens.iter().position(|t| *t == req.token) {
                Some(i) => i,
                None => {
                    tokens.push(req.token.clone());
                    verifiers.push(WebhookVerifier::new(&AuthToken::new(req.token.as_str()).expect("token")));
                    verifiers.len() - 1
                }
            };
            // Realistic traffic is reported by its `traffic` (inbound SMS, MMS, status callback), the
            // stress corpus by its `kind`.
            let kind = case["traffic"].as_str().or(case["kind"].as_str()).unwrap_or_default().to_owned();
            let prepared = Prepared {
                verifier,
                kind,
                method: req.method,
                url: req.url,
                headers: req.headers,
                body: req.body,
            };
            if check["name"] == "true_signature" {
                valid.push(Prepared {
                    headers: prepared.headers.clone(),
                    body: prepared.body.clone(),
                    url: prepared.url.clone(),
                    method: prepared.method.clone(),
                    kind: prepared.kind.clone(),
                    ..prepared
                });
                floor.push((req.token.into_bytes(), data_string(&case)));
            }
            all.push(prepared);
        }
    }

    let floor_pass = |calls: &mut Vec<u64>| {
        for (key, data) in &floor {
            // Copied (untimed) just before, as a verifier's data string is built just before its HMAC.
            let data = data.clone();
            let t = Instant::now();
            let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
            mac.update(&data);
            black_box(mac.finalize().into_bytes());
            calls.push(t.elapsed().as_nanos() as u64);
        }
    };
    // One warm-up pass of each workload, then the passes interleaved, so that the ratio compares passes
    // run side by side (this machine's speed drifts over a run).
    let (mut accepted_valid, mut accepted_all) = (0, 0);
    verify_all(&valid, &verifiers, &mut Vec::new());
    verify_all(&all, &verifiers, &mut Vec::new());
    floor_pass(&mut Vec::new());
    let (mut valid_w, mut all_w, mut floor_w) =
        (Workload::new(valid.len()), Workload::new(all.len()), Workload::new(floor.len()));
    let mut ratios = Vec::with_capacity(passes);
    for _ in 0..passes {
        valid_w.pass(|calls| accepted_valid = verify_all(&valid, &verifiers, calls));
        all_w.pass(|calls| accepted_all = verify_all(&all, &verifiers, calls));
        floor_w.pass(floor_pass);
        if let (Some(v), Some(f)) = (valid_w.means.last(), floor_w.means.last()) {
            ratios.push(v / f);
        }
    }
    let ratio = median(&mut ratios);
    let (valid_stats, all_stats, floor_stats) = (valid_w.stats(), all_w.stats(), floor_w.stats());
    by_kind(&valid, &floor, &verifiers, passes);
    let avg_data = floor.iter().map(|(_, d)| d.len()).sum::<usize>() as f64 / floor.len().max(1) as f64;
    eprintln!("accepted: valid {accepted_valid}/{}, all {accepted_all}/{}", valid.len(), all.len());

    let mut floor_json = floor_stats;
    floor_json["avg_data_bytes"] = json!(avg_data.round());
    let out = json!({
        "peer": format!("rust twilio-sms {}", env!("CARGO_PKG_VERSION")),
        "runtime": "native, release build",
        "cpu": cpu_model(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "corpus": std::path::Path::new(&path).file_name().and_then(|n| n.to_str()).unwrap_or(""),
        "valid": valid_stats,
        "all": all_stats,
        "floor_hmac_sha1_only": floor_json,
        "valid_over_floor": (ratio * 100.0).round() / 100.0,
    });
    println!("{out}");
}
