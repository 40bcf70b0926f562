#!/usr/bin/env bash
# Installs what building and testing Herald needs, idempotently: every step checks first and
# skips what is already there at the pinned version, so a second run takes seconds.
#
#   - the wasm32-unknown-unknown Rust target
#   - worker-build (pinned below)
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#     (worker-build would download it from GitHub, which is not reachable everywhere)
#   - the npm packages of the end-to-end suite, local dev and the build (miniflare/: wrangler,
#     miniflare with workerd, ws, binaryen whose wasm-opt scripts/build.sh runs), from
#     miniflare/package-lock.json
#   - .dev.vars, the local-dev secrets, from .dev.vars.example (and the variables an older
#     .dev.vars lacks), plus throwaway push keys (scripts/dev-keys.mjs: VAPID, APNs, an FCM
#     service account, the receipt secret) that only the local recorder verifies
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
NODE_MIN_MAJOR=20 # wrangler 4.86 needs Node >= 20.3; 4.87+ needs 22, hence the pin

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js >= 20.3 is required" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt "$NODE_MIN_MAJOR" ]; then
  echo "Node.js >= 20.3 is required (found $(node --version))" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo clippy --version >/dev/null 2>&1; then
  say "adding clippy (make test lints every crate)"
  rustup component add clippy
fi

if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen" ]; then
  say "installing wasm-bindgen-cli $bindgen (the version in Cargo.lock)"
  # Its own lockfile pins a webpki-roots release the registry no longer serves, so --locked
  # is tried first and a fresh resolution is the fallback.
  cargo install wasm-bindgen-cli --version "$bindgen" --locked --force \
    || cargo install wasm-bindgen-cli --version "$bindgen" --force
fi

stamp=miniflare/node_modules/.herald-setup
want=$(sha256sum miniflare/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  say "installing the npm packages in miniflare/"
  (cd miniflare && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
  echo "$want" > "$stamp"
fi

if [ ! -f .dev.vars ]; then
  say "creating .dev.vars from .dev.vars.example"
  cp .dev.vars.example .dev.vars
else
  # A .dev.vars from an older checkout gets the variables added to the example since; the
  # ones it has are left as they are.
  if [ -n "$(tail -c1 .dev.vars)" ]; then echo >> .dev.vars; fi
  while IFS= read -r line; do
    case "$line" in [A-Z]*=*) ;; *) continue ;; esac
    if ! grep -q "^${line%%=*}=" .dev.vars; then
      say "adding ${line%%=*} to .dev.vars (from .dev.vars.example)"
      printf '%s\n' "$line" >> .dev.vars
    fi
  done < .dev.vars.example
fi

# Push keys are generated per checkout, never committed; a key already there is kept (a new
# VAPID key would orphan every browser subscribed with the old one).
node scripts/dev-keys.mjs .dev.vars
