#!/usr/bin/env bash
# Runs every test: the native suite (the core and its scenarios, `cargo test`), then the
# end-to-end suite against the built worker in workerd (miniflare/, real ws and fetch clients).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false

scripts/setup.sh

echo "== native tests (cargo test)"
cargo test -p herald-core -p herald-tests

echo "== building the worker"
scripts/build.sh

echo "== end-to-end tests (workerd via Miniflare)"
(cd miniflare && npm test)
