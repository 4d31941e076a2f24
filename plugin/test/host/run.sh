#!/usr/bin/env bash
# The in-host suite: boots the real Hivekeep host (../shared/hivekeep-host beside the repository, or
# $HIVEKEEP_HOST_SRC), installs the plugin built by plugin/build.sh through the host's npm and git paths,
# upgrades the old plugin through the update route (npm) and the git install by a new commit (git pull), and checks what users see (suite.mjs). Closes with
# "hivekeep: N passed, N failed" and exits non-zero on a failure.
#
# Nothing reaches the internet: every stand-in (Twilio, the LLM, the npm registry, the git server) is on
# 127.0.0.1; the host runs with a preload that sends api.twilio.com to the Twilio stand-in and refuses any
# other non-loopback host; and, where `unshare -n` works (root), the whole suite runs in a network
# namespace that has only loopback.
#
#   WASM_PKG=DIR   take the already built WebAssembly package from DIR (bindings/wasm/build.sh's output)
#                  instead of building it again
#   LATENCY_N=N    signed webhooks per plugin for the latency report (default 100)
#   LATENCY_CONTROL=1  after the upgrade, the same interleaved run with 0.6.0 on both instances (what
#                  the instances differ by, whatever the plugin)
#   KEEP_WORK=1    keep the scratch folder (hosts' data and logs)
#   KNOWN_GAP=0    skip the check of a part that fails before Hivekeep links the reply (on by default)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
host_src="${HIVEKEEP_HOST_SRC:-$root/../shared/hivekeep-host}"
if [ ! -f "$host_src/setup.sh" ] || [ ! -d "$host_src/seed-plugin" ]; then
  echo "in-host suite skipped: the Hivekeep host is not at $host_src (CI lays ../shared/hivekeep-host beside the clone)"
  exit 0
fi

host_dir="$(bash "$host_src/setup.sh" | tail -n 1)"
export PATH="${BUN_DIR:-$HOME/.cache/hivekeep-host/bun}/node_modules/.bin:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/twilio-sms-in-host.XXXXXX")"
cleanup() { if [ "${KEEP_WORK:-0}" = "1" ]; then echo "# scratch kept in $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

build=()
if [ -n "${WASM_PKG:-}" ]; then build=(--pkg "$WASM_PKG"); fi
bash "$root/plugin/build.sh" "${build[@]}" --git-tree "$work/tree"

export HIVEKEEP_HOST_DIR="$host_dir" PLUGIN_DIR="$root/plugin" GIT_TREE="$work/tree" SEED_PLUGIN="$host_src/seed-plugin" WORK="$work"
suite=(timeout --kill-after=30 1200 bun "$here/suite.mjs")
if [ "${NO_NETNS:-0}" != "1" ] && unshare -n true 2>/dev/null; then
  echo "# running in a network namespace with only loopback (unshare -n)"
  unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${suite[@]}"
else
  echo "# unshare -n is not available: isolation by the preload (loopback only) alone"
  "${suite[@]}"
fi
