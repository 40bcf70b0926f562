#!/bin/sh
# Builds the Workers' bundles: the Rust crates to wasm32, then wasm-bindgen and the JS shim
# (worker-build), then wasm-opt over the wasm. Herald is two Workers: `herald` (the root
# package, into build/) and `herald-delivery` (delivery/, into delivery/build/), the fallback
# queues' consumer. `scripts/build.sh` builds both; `scripts/build.sh herald` or
# `scripts/build.sh delivery` one (each wrangler.toml's [build] command builds its own). The
# tests run it too.
#
# worker-build would download wasm-bindgen and wasm-opt from GitHub; instead it uses the
# wasm-bindgen-cli that scripts/setup.sh installed at the Cargo.lock version, and its own
# wasm-opt step is disabled in Cargo.toml. wasm-opt runs here instead, from the npm package
# `binaryen` (miniflare/package.json, installed by scripts/setup.sh): worker-build's step would
# keep the function names section, a fifth of the module; this one drops it.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export PATH
if [ -z "${WASM_BINDGEN_BIN:-}" ]; then
  WASM_BINDGEN_BIN=$(command -v wasm-bindgen) || { echo "wasm-bindgen not found: run scripts/setup.sh" >&2; exit 1; }
  export WASM_BINDGEN_BIN
fi
WASM_OPT_BIN=${WASM_OPT_BIN:-$root/miniflare/node_modules/.bin/wasm-opt}
[ -x "$WASM_OPT_BIN" ] || { echo "wasm-opt not found at $WASM_OPT_BIN: run scripts/setup.sh" >&2; exit 1; }

# Panic locations name their source files; a dependency's path under the registry is long, and
# means nothing on the platform: it is written relative to the registry instead (about 4 KB).
RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src/="
export RUSTFLAGS

# One Worker's bundle, in its crate's directory ("." for herald, "delivery").
build_one() {
  (
    cd "$root/$1"
    worker-build --release

    # -Oz: the smallest code (README, "The bundle"). A second -Oz round finds about 1 KB more
    # that the first one's changes uncovered (a third finds nothing); the producers and
    # target-features sections are information for tools, which workerd does not read (300
    # bytes). The features are the ones rustc emits for wasm32-unknown-unknown plus
    # wasm-bindgen's exception handling, named one by one as worker-build does, so that
    # wasm-opt never emits an encoding workerd does not know yet.
    echo "[build] wasm-opt -Oz -Oz $1/build/index_bg.wasm"
    "$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.opt.wasm -Oz -Oz --strip-producers --strip-target-features \
      --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
      --enable-multivalue --enable-reference-types --enable-exception-handling
    mv build/index_bg.opt.wasm build/index_bg.wasm
  )
}

case "${1:-all}" in
  herald) build_one . ;;
  delivery) build_one delivery ;;
  all)
    build_one .
    build_one delivery
    ;;
  *) echo "usage: scripts/build.sh [herald|delivery]" >&2; exit 2 ;;
esac
