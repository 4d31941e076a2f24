#!/usr/bin/env bash
# Load test of two examples/webhook_server (release build) sharing one Redis (REDIS_URL), under wrk, on
# loopback only: what bench/load/run.sh measures for one server with MemoryStore, for two servers acting
# as one channel.
#
#   bench/load/two_servers.sh            # both scenarios, 64 connections (32 per server)
#   DURATION=30s N=50000 bench/load/two_servers.sh
#
# Both servers are configured with the same PUBLIC_URL, the address of a load balancer in front of them
# (http://127.0.0.1:18080; signatures cover it, nothing needs to listen there), and each gets its share of
# the signed requests from its own wrk (one thread, 32 connections), as a balancer would spread them.
#
# Scenario "distinct": the N signed inbound SMS (30,000, as run.sh), each sent once: the first half to
# server A, the second to server B. Every one is verified, classified, de-duplicated in Redis (one SET NX)
# and delivered. The run ends when the N lines are on the servers' stdout (wrk is then stopped with
# SIGINT, which makes it report the time until then).
# Scenario "retried": for DURATION, server A cycles through the N requests from the first, server B from
# the middle: the first pass delivers each once (on whichever server gets it first); after it every
# request is a retry that Redis knows, most of them of a request the other server delivered.
# Both check that the two stdouts together hold each MessageSid exactly once (no retry delivered twice,
# none lost), and report Redis round trips per webhook (INFO commandstats, INFO itself left out).
#
# Needs wrk, python3, redis-server and redis-cli (apt-get install -y wrk redis-server).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS="${CONNECTIONS:-64}"
DURATION="${DURATION:-10s}"
N="${N:-30000}"
PORT_A="${PORT_A:-18081}"
PORT_B="${PORT_B:-18082}"
REDIS_PORT="${REDIS_PORT:-16379}"
OUT=target/load
PUBLIC_URL="http://127.0.0.1:18080"
CHANNEL_ID=3f2504e0-4f89-41d3-9a0c-0305e82c3301
ACCOUNT_SID=AC0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a
TOKEN=load0test0token0load0test0token0
FROM_NUMBER=+14155550100
PER_SERVER=$((CONNECTIONS / 2))

for tool in wrk python3 redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install -y wrk redis-server)" >&2; exit 2; }
done
mkdir -p "$OUT"
cargo build --release --example webhook_server
python3 bench/load/sign_requests.py --public-url "$PUBLIC_URL" --channel-id "$CHANNEL_ID" \
  --account-sid "$ACCOUNT_SID" --token "$TOKEN" --to "$FROM_NUMBER" --count "$N" --out "$OUT/requests-$N.lua"
# The same requests, starting from the middle (server B's order in "retried").
python3 - "$OUT/requests-$N.lua" "$OUT/requests-$N-rotated.lua" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
start = lines.index(" requests = {") + 1
end = lines.index(" }", start)
body = lines[start:end]
half = len(body) // 2
open(sys.argv[2], "w").write("\n".join(lines[:start] + body[half:] + body[:half] + lines[end:]))
PY

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# Stops a process: SIGTERM (graceful), then again, then SIGKILL; says so if it needed more than one.
stop() {
  local pid=$1
  for signal in TERM TERM KILL; do
    kill -s "$signal" "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
    echo "process $pid did not exit within 5 s of SIG$signal" >&2
  done
}

for port in "$PORT_A" "$PORT_B" "$REDIS_PORT"; do
  if port_open "$port"; then echo "port $port is already in use: stop what listens there first" >&2; exit 1; fi
done
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --loglevel warning \
  > "$OUT/redis.log" 2>&1 &
REDIS_PID=$!
SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do stop "$pid"; done
  stop "$REDIS_PID"
}
trap cleanup EXIT
for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
cli ping >/dev/null || { echo "redis-server did not start: $(cat "$OUT/redis.log")" >&2; exit 1; }

start_server() {
  local name=$1 port=$2
  PUBLIC_URL="$PUBLIC_URL" CHANNEL_ID="$CHANNEL_ID" TWILIO_ACCOUNT_SID="$ACCOUNT_SID" \
    TWILIO_AUTH_TOKEN="$TOKEN" TWILIO_FROM_NUMBER="$FROM_NUMBER" BIND_ADDR="127.0.0.1:${port}" \
    TWILIO_API_BASE="http://127.0.0.1:9" REDIS_URL="redis://127.0.0.1:${REDIS_PORT}" RUST_LOG=warn \
    target/release/examples/webhook_server > "$OUT/$name.stdout" 2> "$OUT/$name.stderr" &
  SERVERS+=($!)
  for _ in $(seq 100); do port_open "$port" && break; sleep 0.1; done
  port_open "$port" || { echo "server $name did not start: $(cat "$OUT/$name.stderr")" >&2; exit 1; }
}

# Calls of every command but INFO, from INFO commandstats.
redis_calls() {
  cli info commandstats | python3 -c '
import re, sys
print(sum(int(m.group(2)) for m in re.finditer(r"cmdstat_([a-z|]+):calls=(\d+)", sys.stdin.read()) if m.group(1) != "info"))'
}

used_memory() { cli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

lines() { cat "$OUT/$1-A.stdout" "$OUT/$1-B.stdout" | wc -l; }

run_scenario() {
  local name=$1
  cli flushall >/dev/null
  SERVERS=()
  start_server "$name-A" "$PORT_A"
  start_server "$name-B" "$PORT_B"
  # One request first (the list's first, to A): it must be accepted (200) before the load starts.
  local first
  first=$(REQUESTS="$OUT/requests-$N.lua" python3 - "$PORT_A" <<'PY'
import re, sys, urllib.request, os
text = open(os.environ["REQUESTS"]).read()
path = re.search(r'path = "([^"]+)"', text).group(1)
body, sig = re.search(r'\{"([^"]+)", "([^"]+)"\}', text).groups()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}{path}", data=body.encode(), method="POST",
    headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
print(urllib.request.urlopen(req).status)
PY
)
  [ "$first" = 200 ] || { echo "the first signed request got $first" >&2; exit 1; }
  local calls_before memory_before
  calls_before=$(redis_calls)
  memory_before=$(used_memory)
  echo "== $name: $N signed requests, two servers, one Redis; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local wrk_a wrk_b
  if [ "$name" = distinct ]; then
    REQUESTS="$OUT/requests-$N.lua" WRK_THREADS=2 WRK_FIRST_BLOCK=0 WRK_ONCE=1 \
      wrk -t1 -c"$PER_SERVER" -d120s --latency -s bench/load/wrk_inbound.lua "http://127.0.0.1:${PORT_A}" \
      > "$OUT/$name-A.wrk" &
    wrk_a=$!
    REQUESTS="$OUT/requests-$N.lua" WRK_THREADS=2 WRK_FIRST_BLOCK=1 WRK_ONCE=1 \
      wrk -t1 -c"$PER_SERVER" -d120s --latency -s bench/load/wrk_inbound.lua "http://127.0.0.1:${PORT_B}" \
      > "$OUT/$name-B.wrk" &
    wrk_b=$!
    # Until every request is delivered (the check request's line included), at most 120 s.
    for _ in $(seq 6000); do [ "$(lines "$name")" -ge "$N" ] && break; sleep 0.02; done
    kill -INT "$wrk_a" "$wrk_b" 2>/dev/null || true
  else
    REQUESTS="$OUT/requests-$N.lua" WRK_THREADS=1 \
      wrk -t1 -c"$PER_SERVER" -d"$DURATION" --latency -s bench/load/wrk_inbound.lua "http://127.0.0.1:${PORT_A}" \
      > "$OUT/$name-A.wrk" &
    wrk_a=$!
    REQUESTS="$OUT/requests-$N-rotated.lua" WRK_THREADS=1 \
      wrk -t1 -c"$PER_SERVER" -d"$DURATION" --latency -s bench/load/wrk_inbound.lua "http://127.0.0.1:${PORT_B}" \
      > "$OUT/$name-B.wrk" &
    wrk_b=$!
  fi
  wait "$wrk_a" "$wrk_b"
  local calls_after keys
  calls_after=$(redis_calls)
  keys=$(cli dbsize)
  echo "Redis: $keys keys, $(( ($(used_memory) - memory_before) / keys )) bytes of used_memory per key"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  for server in A B; do
    echo "server $server: $(tail -n 1 "$OUT/$name-$server.wrk")"
    local pid=${SERVERS[$([ $server = A ] && echo 0 || echo 1)]}
    echo "server $server peak RSS (VmHWM): $(grep VmHWM "/proc/$pid/status" | awk '{print $2, $3}')"
  done
  for pid in "${SERVERS[@]}"; do stop "$pid"; done
  SERVERS=()
  local checked=0
  python3 - "$OUT/$name" "$N" "$calls_before" "$calls_after" <<'PY' || checked=$?
import json, sys
prefix, n, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs = [json.loads(open(f"{prefix}-{s}.wrk").read().strip().splitlines()[-1]) for s in "AB"]
sids = []
for s in "AB":
    for line in open(f"{prefix}-{s}.stdout"):
        sids.append(json.loads(line)["incoming"]["platformMessageId"])
requests = sum(r["requests"] for r in runs) + 1  # the check request
summary = {
    "requests": requests,
    "requests_per_s": round(sum(r["requests_per_s"] for r in runs)),
    "p50_ms": [r["p50_ms"] for r in runs],
    "p99_ms": [r["p99_ms"] for r in runs],
    "non_2xx": sum(r["non_2xx_3xx"] for r in runs),
    "socket_errors": sum(r["socket_errors"] for r in runs),
    "delivered": len(sids),
    "distinct_delivered": len(set(sids)),
    "redis_calls_per_webhook": round((after - before) / (requests - 1), 3),
}
print(json.dumps(summary))
ok = summary["delivered"] == summary["distinct_delivered"] == n and summary["non_2xx"] == 0
print("each MessageSid delivered exactly once across the two servers" if ok else
      f"CHECK FAILED: {summary['delivered']} lines, {summary['distinct_delivered']} distinct, {n} expected")
sys.exit(0 if ok else 1)
PY
  echo "warnings logged: $(cat "$OUT/$name-A.stderr" "$OUT/$name-B.stderr" | grep -c WARN || true)"
  grep -h WARN "$OUT/$name-A.stderr" "$OUT/$name-B.stderr" | head -n 4 || true
  [ "$checked" = 0 ] || FAILED=1
}

FAILED=0

run_scenario distinct
run_scenario retried
exit "$FAILED"
