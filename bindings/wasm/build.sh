#!/usr/bin/env bash
# Builds the WebAssembly package the TypeScript plugin loads, into bindings/wasm/pkg (or $OUT_DIR):
#   index.js / index.d.ts          the plugin-facing API (this folder's js/)
#   twilio_sms_wasm.js / .d.ts     wasm-bindgen's glue (--target web, instantiated with initSync)
#   twilio_sms_wasm_bg.wasm        the core, built with --no-default-features (no reqwest, tokio, axum)
#
# Installs what is missing: the wasm32-unknown-unknown target, and wasm-bindgen-cli pinned to exactly
# the wasm-bindgen crate's version, cached outside the checkout in $TOOLS_DIR (default
# ~/.cache/twilio-sms-tools; the first build of it takes about 5 minutes, later runs reuse it).
# Then optimises with wasm-opt -O3 from the npm `binaryen` package (installed into $TOOLS_DIR/node;
# about 10% smaller); WASM_OPT=0 skips it, and when it cannot be installed or fails the module is kept
# as wasm-bindgen wrote it.
#
# The module is built with WebAssembly SIMD (simd128), which Node 16.4+ and Bun support: the compiler and
# memchr use it on their own (the crate has one portable form decoder). Set
# CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="" to build without it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT_DIR:-$here/pkg}"
tools="${TOOLS_DIR:-$HOME/.cache/twilio-sms-tools}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
binaryen_version="132.0.0"

# The exact wasm-bindgen version the crate pins (`wasm-bindgen = "=X"` in bindings/wasm/Cargo.toml).
version="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$here/Cargo.toml")"
if [ -z "$version" ]; then
  echo "build.sh: bindings/wasm/Cargo.toml must pin wasm-bindgen exactly (\"=X.Y.Z\")" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "== adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

bindgen="$tools/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $version" ]; then
  echo "== installing wasm-bindgen-cli $version into $tools (about 5 minutes, once)"
  # Not --locked: its lock file names dependency versions the registry may no longer serve, so cargo
  # picks compatible ones (the CLI's own version is pinned, which is what must match).
  cargo install --root "$tools" wasm-bindgen-cli --version "$version"
fi

echo "== building the core for wasm32-unknown-unknown (profile wasm-release)"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS--C target-feature=+simd128}"
(cd "$root" && cargo build -p twilio-sms-wasm --target wasm32-unknown-unknown --profile wasm-release)
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/twilio_sms_wasm.wasm"

rm -rf "$out"
mkdir -p "$out"
"$bindgen" --target web --out-dir "$out" "$wasm"

if [ "${WASM_OPT:-1}" = "1" ]; then
  opt="$tools/node/node_modules/.bin/wasm-opt"
  if [ ! -x "$opt" ]; then
    echo "== installing binaryen@$binaryen_version (wasm-opt) into $tools/node"
    mkdir -p "$tools/node"
    npm install --prefix "$tools/node" --no-audit --no-fund --no-update-notifier --loglevel=error \
      "binaryen@$binaryen_version" || true
  fi
  if [ -x "$opt" ]; then
    echo "== wasm-opt -O3"
    # The features come from the module's target_features section.
    "$opt" -O3 "$out/twilio_sms_wasm_bg.wasm" -o "$out/twilio_sms_wasm_bg.opt.wasm" \
      && mv "$out/twilio_sms_wasm_bg.opt.wasm" "$out/twilio_sms_wasm_bg.wasm" \
      || echo "build.sh: wasm-opt failed; keeping the unoptimised module" >&2
  else
    echo "build.sh: wasm-opt is not available; keeping the unoptimised module" >&2
  fi
fi

cp "$here/js/index.js" "$here/js/index.d.ts" "$here/js/package.json" "$out/"
wasm_bytes="$(wc -c < "$out/twilio_sms_wasm_bg.wasm")"
gzip_bytes="$(gzip -9 -c "$out/twilio_sms_wasm_bg.wasm" | wc -c)"
echo "== package in $out: twilio_sms_wasm_bg.wasm $wasm_bytes bytes ($gzip_bytes gzipped)"
