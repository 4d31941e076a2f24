#!/usr/bin/env bash
# plugin/build.sh from a plain export of the repository: `git archive HEAD` extracted into a temporary
# folder (no .git, no ../shared beside it), then `bash plugin/build.sh` and `--git-tree DIR` there, with
# CARGO_TARGET_DIR pointing at the checkout's target dir (or the one given), so that only the workspace's
# own crates are compiled again. Checks that the git tree holds what package.json ships and no .git.
#
# Cargo decides freshness by modification times, and `git archive` gives every file the commit's time,
# older than the target dir's outputs: the export's files are touched so that its own sources are built,
# and the checkout's Rust sources are touched afterwards so that its next build is of its own sources
# again (not the export's, which the shared target dir now holds).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/twilio-sms-export.XXXXXX")"
touch_checkout() {
  find "$root/src" "$root/bindings/wasm/src" -name '*.rs' -exec touch {} + 2>/dev/null || true
}
trap 'touch_checkout; rm -rf "$scratch"' EXIT

mkdir -p "$scratch/export"
git -C "$root" archive HEAD | tar -x -C "$scratch/export"
find "$scratch/export" -type f -exec touch {} +
[ ! -e "$scratch/export/.git" ] && [ ! -e "$scratch/shared" ] || { echo "export-build: the export is not plain" >&2; exit 1; }

(cd "$scratch/export" && bash plugin/build.sh --git-tree "$scratch/tree")

tree="$scratch/tree"
[ ! -e "$tree/.git" ] || { echo "export-build: the git tree has a .git" >&2; exit 1; }
for file in package.json $(node -e 'for (const f of require(process.argv[1]).files) console.log(f)' "$scratch/export/plugin/package.json"); do
  [ -s "$tree/$file" ] || { echo "export-build: the git tree lacks $file" >&2; exit 1; }
done
node --input-type=module -e "const m = await import('$tree/wasm/index.js'); if (!m.warmUp().ok) process.exit(1);" \
  || { echo "export-build: the git tree's core does not load" >&2; exit 1; }
echo "export-build: plugin/build.sh and --git-tree work from a plain export ($(du -sk "$tree" | cut -f1) KiB tree)"
