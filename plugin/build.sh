#!/usr/bin/env bash
# Builds the installable plugin: the WebAssembly package (bindings/wasm/build.sh) goes into plugin/wasm/,
# so that plugin/ is the folder Hivekeep loads and `npm pack` in it gives the npm tarball.
#
#   bash plugin/build.sh                    build into plugin/wasm/
#   bash plugin/build.sh --git-tree DIR     also write a standalone tree into DIR (created if missing): the
#                                           plugin at its root, built files included, for git installs
#                                           (Hivekeep runs no build step on them). If DIR is a git checkout,
#                                           its files are replaced (its .git is kept), so a release is one
#                                           more commit on the branch users install from.
#   bash plugin/build.sh --pkg DIR          take an already built package (bindings/wasm/build.sh's output)
#                                           instead of building it again
#
# Works from a plain export of the repository (no .git needed) and honours CARGO_TARGET_DIR and TOOLS_DIR
# (through bindings/wasm/build.sh). Checks that plugin.json and package.json agree (name, version, main)
# and that plugin.json's config schema is the core's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
git_tree=""
pkg=""
while [ $# -gt 0 ]; do
  case "$1" in
    --git-tree) git_tree="${2:?--git-tree needs a directory}"; shift 2 ;;
    --git-tree=*) git_tree="${1#--git-tree=}"; shift ;;
    --pkg) pkg="${2:?--pkg needs a directory}"; shift 2 ;;
    --pkg=*) pkg="${1#--pkg=}"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "plugin/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

out="$here/wasm"
if [ -n "$pkg" ] && [ "$(cd "$pkg" && pwd)" = "$out" ]; then
  echo "== using the WebAssembly package already in $out"
elif [ -n "$pkg" ]; then
  pkg="$(cd "$pkg" && pwd)"
  echo "== taking the WebAssembly package from $pkg"
  rm -rf "$out"
  mkdir -p "$out"
  cp "$pkg"/index.js "$pkg"/index.d.ts "$pkg"/package.json "$pkg"/twilio_sms_wasm.js "$pkg"/twilio_sms_wasm.d.ts \
    "$pkg"/twilio_sms_wasm_bg.wasm "$pkg"/twilio_sms_wasm_bg.wasm.d.ts "$out/"
else
  OUT_DIR="$out" bash "$root/bindings/wasm/build.sh"
fi

# The manifests agree with each other and with the core; every file package.json ships exists.
node --input-type=module - "$here" <<'EOF'
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(join(dir, "plugin.json"), "utf8"));
const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
const fail = (message) => { console.error(`plugin/build.sh: ${message}`); process.exit(1); };
if (manifest.version !== pkg.version) fail(`plugin.json version ${manifest.version} != package.json ${pkg.version}`);
if (manifest.main !== pkg.main) fail(`plugin.json main ${manifest.main} != package.json ${pkg.main}`);
if (manifest.name !== "twilio-sms") fail("plugin.json name must be twilio-sms");
if (Object.keys(pkg.dependencies ?? {}).length) fail("package.json must have no runtime dependencies");
for (const file of pkg.files) if (!existsSync(join(dir, file))) fail(`package.json lists ${file}, which is missing`);
if (!pkg.files.includes(manifest.main)) fail(`package.json files must list ${manifest.main}`);
const core = await import(join(dir, "wasm", "index.js"));
const schema = core.configSchema();
if (!isDeepStrictEqual(manifest.channels?.["twilio-sms"]?.configSchema, schema)) {
  fail(`plugin.json's configSchema is not the core's: ${JSON.stringify(schema)}`);
}
console.log(`== plugin ${pkg.name} ${pkg.version}: manifests agree, core ${core.version()}`);
EOF

if [ -n "$git_tree" ]; then
  mkdir -p "$git_tree"
  git_tree="$(cd "$git_tree" && pwd)"
  case "$git_tree/" in "$here/"*) echo "plugin/build.sh: --git-tree must be outside plugin/" >&2; exit 2 ;; esac
  # Replace everything but .git, so that removed files disappear in the next commit too.
  find "$git_tree" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  files="$(node -e 'for (const f of require(process.argv[1]).files) console.log(f)' "$here/package.json")"
  cp "$here/package.json" "$git_tree/"
  while IFS= read -r file; do
    mkdir -p "$git_tree/$(dirname "$file")"
    cp "$here/$file" "$git_tree/$file"
  done <<< "$files"
  echo "== git tree in $git_tree ($(du -sk "$git_tree" --exclude=.git | cut -f1) KiB)"
fi
