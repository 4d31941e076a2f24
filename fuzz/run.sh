#!/usr/bin/env bash
# Runs the four fuzz targets, two at a time at low priority, each for SECONDS (default 660).
# Logs: fuzz/logs/TARGET.log (progress and findings on stderr, the JSON summary as the last line).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-660}"
cargo build --release --bin fuzz_loop
mkdir -p logs
run() { nice -n 10 ./target/release/fuzz_loop "$1" --seconds "$SECONDS_PER_TARGET" > "logs/$1.log" 2>&1; }
run verify & run classify & wait
run api_error & run sms_text & wait
for t in verify classify api_error sms_text; do tail -n 1 "logs/$t.log"; done
