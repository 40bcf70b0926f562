#!/usr/bin/env bash
# Runs every test: clippy over every crate (warnings fail), the native suite (the core and its
# scenarios, `cargo test`), then the end-to-end suite against the built worker in workerd
# (miniflare/, real ws and fetch clients).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false

scripts/setup.sh

echo "== lints (cargo clippy, warnings are errors): the native crates, then the wasm ones"
cargo clippy -p herald-core -p herald-tests --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown -p herald -p herald-delivery -p herald-durable-objects -p herald-platform \
  -- -D warnings

echo "== native tests (cargo test)"
cargo test -p herald-core -p herald-tests

echo "== building the worker"
scripts/build.sh

echo "== end-to-end tests (workerd via Miniflare)"
(cd miniflare && npm test)
