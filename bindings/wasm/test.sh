#!/usr/bin/env bash
# Runs the WebAssembly package's JS tests (bindings/wasm/test/*.test.mjs, node:test) against the built
# package (build.sh first): with Node, then with Bun when Bun can be had (on PATH, or installed from
# the npm registry into $TOOLS_DIR/bun; where it cannot, that part is skipped and says so).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${TOOLS_DIR:-$HOME/.cache/twilio-sms-tools}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
cd "$here"

echo "== JS tests under Node $(node --version)"
node --test test/*.test.mjs 2>&1 | tee "$logs/node.txt"
passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$logs/node.txt" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$logs/node.txt" | tail -n 1)"

bun="$(command -v bun || true)"
if [ -z "$bun" ] && [ -x "$tools/bun/node_modules/.bin/bun" ]; then
  bun="$tools/bun/node_modules/.bin/bun"
fi
if [ -z "$bun" ] && [ "${SKIP_BUN:-0}" != "1" ]; then
  echo "== installing bun from the npm registry into $tools/bun"
  mkdir -p "$tools/bun"
  if npm install --prefix "$tools/bun" --no-audit --no-fund --no-update-notifier --loglevel=error bun \
    && "$tools/bun/node_modules/.bin/bun" --version >/dev/null 2>&1; then
    bun="$tools/bun/node_modules/.bin/bun"
  fi
fi
if [ -n "$bun" ]; then
  echo "== JS tests under Bun $("$bun" --version)"
  "$bun" test ./test/*.test.mjs 2>&1 | tee "$logs/bun.txt"
  passed=$((passed + $(sed -n 's/^ *\([0-9]*\) pass$/\1/p' "$logs/bun.txt" | tail -n 1)))
  failed=$((failed + $(sed -n 's/^ *\([0-9]*\) fail$/\1/p' "$logs/bun.txt" | tail -n 1)))
else
  echo "== Bun is not available here (neither on PATH nor from the npm registry): Bun run skipped"
fi
echo "wasm: $passed passed, $failed failed"
[ "$failed" = "0" ]
