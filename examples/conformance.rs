//! Runs a conformance corpus (the format of `../shared/conformance/corpus.jsonl`) through the public API.
//!
//! `cargo run --release --example conformance -- PATH` prints one line per check,
//! `<id>\t<check name>\taccept|reject`, then `N passed, M failed` counted against each check's
//! `expect`. It exits non-zero when a check fails.

#[path = "../tests/support/corpus.rs"]
mod corpus;

use std::io::Write as _;

fn main() -> std::process::ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "../shared/conformance/corpus.jsonl".to_owned());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let outcomes = corpus::run(&text);
    let mut stdout = std::io::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for o in &outcomes {
        let verdict = if o.accepted { "accept" } else { "reject" };
        let _ = writeln!(stdout, "{}\t{}\t{verdict}", o.id, o.name);
        if o.accepted == o.expect {
            passed += 1;
        } else {
            failed += 1;
            eprintln!(
                "MISMATCH case {} check {}: expected {}, got {} ({})",
                o.id,
                o.name,
                if o.expect { "accept" } else { "reject" },
                verdict,
                o.reason.as_deref().unwrap_or("accepted")
            );
        }
    }
    let _ = writeln!(stdout, "{passed} passed, {failed} failed");
    if failed == 0 { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
