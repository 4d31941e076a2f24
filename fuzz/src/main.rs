//! `fuzz_loop`: a long-running randomized fuzz loop for twilio-sms on stable Rust.
//!
//! ```text
//! cargo run --release --bin fuzz_loop -- TARGET [--seconds N] [--seed S] [--corpus PATH]...
//! cargo run --release --bin fuzz_loop -- replay FINDING.json
//! ```
//!
//! Targets: `verify`, `classify`, `api_error`, `sms_text`. Each iteration generates an input with a
//! structure-aware generator and mutator (seeded from the conformance corpus and the test fixtures), runs
//! it under `catch_unwind`, and checks invariants; a panic or a broken invariant is a finding, saved to
//! `fuzz/findings/TARGET-HASH.json` (deduplicated by message). Progress goes to stderr every 30 s; the
//! last line on stdout is one JSON object with the counts.

// `*rng.pick(&["a", "b"])` needs the explicit deref: coercion does not reach through the generic `pick`.
#![allow(clippy::explicit_auto_deref)]

// The one reference of the rules, shared with the crate's property tests.
#[path = "../../tests/support/reference.rs"]
mod reference;
mod rng;
mod seeds;
mod t_api_error;
mod t_classify;
mod t_sms_text;
mod t_verify;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use rng::Rng;
use seeds::Seeds;

const TARGETS: &[&str] = &["verify", "classify", "api_error", "sms_text"];

/// One generated input of any target, with its runner and its JSON form.
enum Input {
    Verify(t_verify::Input),
    Classify(t_classify::Input),
    ApiError(t_api_error::Input),
    SmsText(t_sms_text::Input),
}

impl Input {
    fn generate(target: &str, rng: &mut Rng, seeds: &Seeds) -> Self {
        match target {
            "verify" => Self::Verify(t_verify::generate(rng, seeds)),
            "classify" => Self::Classify(t_classify::generate(rng)),
            "api_error" => Self::ApiError(t_api_error::generate(rng)),
            _ => Self::SmsText(t_sms_text::generate(rng, seeds)),
        }
    }

    fn check(&self) -> Result<(), String> {
        match self {
            Self::Verify(i) => t_verify::check(i),
            Self::Classify(i) => t_classify::check(i),
            Self::ApiError(i) => t_api_error::check(i),
            Self::SmsText(i) => t_sms_text::check(i),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Verify(i) => t_verify::to_json(i),
            Self::Classify(i) => t_classify::to_json(i),
            Self::ApiError(i) => t_api_error::to_json(i),
            Self::SmsText(i) => t_sms_text::to_json(i),
        }
    }

    fn from_json(target: &str, v: &Value) -> Option<Self> {
        Some(match target {
            "verify" => Self::Verify(t_verify::from_json(v)?),
            "classify" => Self::Classify(t_classify::from_json(v)?),
            "api_error" => Self::ApiError(t_api_error::from_json(v)?),
            "sms_text" => Self::SmsText(t_sms_text::from_json(v)?),
            _ => return None,
        })
    }
}

/// The last panic message, captured by a quiet panic hook.
fn install_panic_hook() -> Arc<Mutex<Option<String>>> {
    let last = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&last);
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("panic: {payload}{location}"));
    }));
    last
}

/// Runs one input: `Err` is a finding (a panic or a broken invariant).
fn run(input: &Input, last_panic: &Mutex<Option<String>>) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| input.check())) {
        Ok(result) => result,
        Err(_) => {
            Err(last_panic.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_else(|| "panic".into()))
        }
    }
}

/// A key that groups findings of one kind: the message without its digits and quoted parts.
fn finding_key(message: &str) -> String {
    message.split(':').next().unwrap_or(message).chars().filter(|c| !c.is_ascii_digit()).collect()
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn save(dir: &Path, target: &str, message: &str, input: &Input) -> PathBuf {
    let path = dir.join(format!("{target}-{:016x}.json", fnv(&finding_key(message))));
    let doc = json!({ "target": target, "message": message, "input": input.to_json() });
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap_or_default());
    path
}

struct Args {
    target: String,
    seconds: u64,
    seed: u64,
    corpora: Vec<PathBuf>,
    replay: Option<PathBuf>,
    findings: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: fuzz_loop TARGET [--seconds N] [--seed S] [--corpus PATH]... [--findings DIR]\n       fuzz_loop replay FINDING.json\ntargets: {}",
        TARGETS.join(", ")
    );
    std::process::exit(2)
}

fn args() -> Args {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| usage());
    let mut parsed = Args {
        target,
        seconds: 600,
        seed: rng::seed_from_time(),
        corpora: Vec::new(),
        replay: None,
        findings: here.join("findings"),
    };
    if parsed.target == "replay" {
        parsed.replay = Some(args.next().map(PathBuf::from).unwrap_or_else(|| usage()));
        return parsed;
    }
    if !TARGETS.contains(&parsed.target.as_str()) {
        usage();
    }
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--seconds" => parsed.seconds = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => parsed.seed = value.parse().unwrap_or_else(|_| usage()),
            "--corpus" => parsed.corpora.push(PathBuf::from(value)),
            "--findings" => parsed.findings = PathBuf::from(value),
            _ => usage(),
        }
    }
    if parsed.corpora.is_empty() {
        parsed.corpora = vec![
            here.join("../../shared/conformance/corpus.jsonl"),
            here.join("../tests/fixtures/corpus_subset.jsonl"),
            here.join("../tests/fixtures/sdk_vectors.json"),
        ];
    }
    parsed
}

fn main() {
    let args = args();
    let last_panic = install_panic_hook();
    if let Some(path) = &args.replay {
        let doc: Value = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| usage());
        let target = doc.get("target").and_then(Value::as_str).unwrap_or_default();
        let input = doc.get("input").and_then(|i| Input::from_json(target, i)).unwrap_or_else(|| usage());
        match run(&input, &last_panic) {
            Ok(()) => println!("{target}: passes now"),
            Err(message) => {
                println!("{target}: still fails: {message}");
                std::process::exit(1);
            }
        }
        return;
    }

    let paths: Vec<&Path> = args.corpora.iter().map(PathBuf::as_path).collect();
    let seeds = Seeds::load(&paths);
    eprintln!(
        "fuzz_loop {}: seed {}, {} seed requests, {} seed values, {} s",
        args.target,
        args.seed,
        seeds.requests.len(),
        seeds.values.len(),
        args.seconds
    );
    let mut rng = Rng::new(args.seed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut report_at = started + Duration::from_secs(30);
    let (mut executions, mut failures) = (0u64, 0u64);
    let mut kinds: HashSet<String> = HashSet::new();
    let mut saved: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..64 {
            let input = Input::generate(&args.target, &mut rng, &seeds);
            executions += 1;
            if let Err(message) = run(&input, &last_panic) {
                failures += 1;
                if kinds.insert(finding_key(&message)) {
                    let path = save(&args.findings, &args.target, &message, &input);
                    eprintln!("FINDING {}: {message}", path.display());
                    saved.push(path.display().to_string());
                }
            }
        }
        if Instant::now() >= report_at {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{:>6.0} s  {executions} execs ({:.0}/s), {failures} failing, {} distinct findings",
                secs,
                executions as f64 / secs,
                kinds.len()
            );
            report_at += Duration::from_secs(30);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "target": args.target,
            "seed": args.seed,
            "seconds": secs.round(),
            "executions": executions,
            "execs_per_s": (executions as f64 / secs).round(),
            "failing_executions": failures,
            "distinct_findings": kinds.len(),
            "findings": saved,
            "verify_accepted": t_verify::ACCEPTED.load(std::sync::atomic::Ordering::Relaxed),
            "verify_rejected": t_verify::REJECTED.load(std::sync::atomic::Ordering::Relaxed),
        })
    );
}
