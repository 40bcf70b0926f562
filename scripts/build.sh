#!/bin/sh
# Builds the worker bundle into build/: the Rust crates to wasm32, then wasm-bindgen and the JS
# shim (worker-build). wrangler runs this as its [build] command; the tests run it too.
#
# worker-build would download wasm-bindgen and wasm-opt from GitHub; instead it uses the
# wasm-bindgen-cli that scripts/setup.sh installed at the Cargo.lock version, and wasm-opt is
# disabled in Cargo.toml.
set -eu
cd "$(dirname "$0")/.."
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH
if [ -z "${WASM_BINDGEN_BIN:-}" ]; then
  WASM_BINDGEN_BIN=$(command -v wasm-bindgen) || { echo "wasm-bindgen not found: run scripts/setup.sh" >&2; exit 1; }
  export WASM_BINDGEN_BIN
fi
exec worker-build --release
