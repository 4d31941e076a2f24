#!/usr/bin/env bash
# Load test of examples/webhook_server (release build) under wrk, on loopback only.
#
#   bench/load/run.sh            # both scenarios, 2 threads, 64 connections, 10 s each
#   DURATION=30s CONNECTIONS=128 N=50000 bench/load/run.sh
#
# Scenario "replay": one genuine signed inbound SMS, replayed: verified, then acknowledged as a
# duplicate (same MessageSid), not delivered. Scenario "distinct": N different signed inbound SMS, each
# verified, classified, de-duplicated and delivered (one JSON line on the server's stdout). Each wrk thread
# cycles through its own block of N / THREADS requests; a block is larger than the channel store's
# 10,000-key capacity, so a request is always evicted from it before its turn comes again: every request
# takes the full delivery path, with the store full, as in a long-running server (the script checks that
# the lines delivered match the requests).
#
# For each scenario a fresh server is started; the script prints wrk's JSON summary, the server's peak RSS
# (VmHWM), the lines it delivered, and the load average before and after. Needs wrk and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
DURATION="${DURATION:-10s}"
N="${N:-30000}"
PORT="${PORT:-18080}"
OUT=target/load
PUBLIC_URL="http://127.0.0.1:${PORT}"
CHANNEL_ID=3f2504e0-4f89-41d3-9a0c-0305e82c3301
ACCOUNT_SID=AC0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a
TOKEN=load0test0token0load0test0token0
FROM_NUMBER=+14155550100

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
mkdir -p "$OUT"
cargo build --release --example webhook_server
for count in 1 "$N"; do
  python3 bench/load/sign_requests.py --public-url "$PUBLIC_URL" --channel-id "$CHANNEL_ID" \
    --account-sid "$ACCOUNT_SID" --token "$TOKEN" --to "$FROM_NUMBER" --count "$count" \
    --out "$OUT/requests-$count.lua"
done

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; }

# Stops the server: SIGTERM (graceful), then again, then SIGKILL; says so if it needed more than one.
stop() {
  local pid=$1
  for signal in TERM TERM KILL; do
    kill -s "$signal" "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
    echo "the server did not exit within 5 s of SIG$signal" >&2
  done
}

run_scenario() {
  local name=$1 count=$2
  if port_open; then echo "port $PORT is already in use: stop what listens there first" >&2; exit 1; fi
  PUBLIC_URL="$PUBLIC_URL" CHANNEL_ID="$CHANNEL_ID" TWILIO_ACCOUNT_SID="$ACCOUNT_SID" \
    TWILIO_AUTH_TOKEN="$TOKEN" TWILIO_FROM_NUMBER="$FROM_NUMBER" BIND_ADDR="127.0.0.1:${PORT}" \
    TWILIO_API_BASE="http://127.0.0.1:9" RUST_LOG=warn \
    target/release/examples/webhook_server > "$OUT/$name.stdout" 2> "$OUT/$name.stderr" &
  local pid=$!
  for _ in $(seq 100); do port_open && break; sleep 0.1; done
  [ -d "/proc/$pid" ] || { echo "the server did not start: $(cat "$OUT/$name.stderr")" >&2; exit 1; }
  # One request first: it must be accepted (200) before the load starts.
  local first
  first=$(REQUESTS="$OUT/requests-$count.lua" python3 - "$PORT" <<'PY'
import re, sys, urllib.request, os
text = open(os.environ["REQUESTS"]).read()
path = re.search(r'path = "([^"]+)"', text).group(1)
body, sig = re.search(r'\{"([^"]+)", "([^"]+)"\}', text).groups()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}{path}", data=body.encode(), method="POST",
    headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
print(urllib.request.urlopen(req).status)
PY
)
  [ "$first" = 200 ] || { echo "the first signed request got $first" >&2; stop "$pid"; exit 1; }
  echo "== $name: $count signed request(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  REQUESTS="$OUT/requests-$count.lua" WRK_THREADS="$THREADS" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s bench/load/wrk_inbound.lua "http://127.0.0.1:${PORT}" | tee "$OUT/$name.wrk"
  echo "server peak RSS (VmHWM): $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  stop "$pid"
  echo "inbound SMS delivered (stdout lines, the check request included): $(wc -l < "$OUT/$name.stdout")"
  echo "warnings logged: $(grep -c WARN "$OUT/$name.stderr" || true)"
}

run_scenario replay 1
run_scenario distinct "$N"
