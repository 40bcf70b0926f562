#!/usr/bin/env bash
# Builds exactly what `wrangler deploy` would upload for each of Herald's two Workers (herald,
# from wrangler.toml, and herald-delivery, from delivery/wrangler.toml), without uploading (no
# account needed), and checks each bundle holds its worker and its wasm, within the 1,000,000
# bytes of wasm each Worker is allowed (README, "The bundle").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false
scripts/setup.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
BUDGET=1000000
for config in wrangler.toml delivery/wrangler.toml; do
  dir="$out/$(dirname "$config")"
  mkdir -p "$dir"
  miniflare/node_modules/.bin/wrangler deploy --dry-run -c "$config" --outdir "$dir"
  ls -l "$dir"
  test -s "$dir/index.js" || { echo "no index.js in the deploy bundle of $config" >&2; exit 1; }
  wasm=$(ls "$dir"/*.wasm 2>/dev/null | head -1 || true)
  test -n "$wasm" || { echo "no wasm module in the deploy bundle of $config" >&2; exit 1; }
  bytes=$(stat -c %s "$wasm")
  if [ "$bytes" -gt "$BUDGET" ]; then
    echo "the wasm of $config is $bytes bytes, over the budget of $BUDGET" >&2
    exit 1
  fi
  echo "$config: deploy bundle OK, wasm $bytes bytes (budget $BUDGET)"
done
