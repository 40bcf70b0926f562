#!/usr/bin/env bash
# Installs the benchmark's npm packages (bench/package.json: partyserver, socket.io, and
# wrangler / miniflare at the versions miniflare/ pins) from bench/package-lock.json with
# `npm ci`, skipped when that lockfile is already installed. The systems under test and the
# smoke check need it; Herald's own toolchain is scripts/setup.sh's.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.herald-bench-setup
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  printf '\033[1m[bench-setup]\033[0m %s\n' "installing the npm packages in bench/"
  npm ci --no-audit --no-fund --no-update-notifier --loglevel=error
  echo "$want" > "$stamp"
fi
