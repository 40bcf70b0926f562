#!/usr/bin/env bash
# Runs Herald locally: wrangler dev (workerd) with local Durable Object storage in
# .wrangler/state, on http://127.0.0.1:${PORT:-8787}. No Cloudflare account, no network.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false
PORT="${PORT:-8787}"

scripts/setup.sh

cat <<INFO

  Herald will listen on http://127.0.0.1:$PORT (local dev secret in .dev.vars).
  Mint a dev token:      node scripts/token.mjs alice --name Alice
  Check it is up:        curl http://127.0.0.1:$PORT/api/v1/ping
  Join a room (wscat, websocat or any websocket client):
    ws://127.0.0.1:$PORT/v1/rooms/lobby/ws?token=\$(node scripts/token.mjs alice)
  Publish over REST:
    curl -X POST http://127.0.0.1:$PORT/v1/rooms/lobby/messages \\
      -H "authorization: Bearer \$(node scripts/token.mjs alice)" -d '{"event":"chat","data":"hi"}'

INFO

exec miniflare/node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$PORT" "$@"
