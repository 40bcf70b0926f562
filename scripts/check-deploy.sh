#!/usr/bin/env bash
# Builds exactly what `wrangler deploy` would upload, without uploading (no account needed),
# and checks the bundle holds the worker and its wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false
scripts/setup.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
miniflare/node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
ls -l "$out"
test -s "$out/index.js" || { echo "no index.js in the deploy bundle" >&2; exit 1; }
ls "$out"/*.wasm >/dev/null 2>&1 || { echo "no wasm module in the deploy bundle" >&2; exit 1; }
echo "deploy bundle OK"
