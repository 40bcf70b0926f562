#!/usr/bin/env bash
# Runs Herald locally: wrangler dev (workerd) with local Durable Object storage and queues in
# .wrangler/state, on http://127.0.0.1:${PORT:-8787}. No Cloudflare account, no network. Both
# Workers run in the one workerd: `herald` (wrangler.toml) and the delivery Worker
# (delivery/wrangler.toml), which sends the fallback's emails, SMS and pushes; its secrets are
# written to delivery/.dev.vars from .dev.vars (the exchange's variables only).
# The provider recorder (scripts/recorder.mjs) runs beside it on ${RECORDER_PORT:-8788} and
# prints every email and SMS the fallback sends and every push (APNs, FCM, and Web Push to the
# recorder's own subscriptions, decrypted), checked against the push keys in .dev.vars;
# RECORDER=0 starts none (then EMAIL_API_URL, SMS_API_URL, APNS_URL, FCM_URL and
# FCM_TOKEN_URL are what .dev.vars says).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false
PORT="${PORT:-8787}"
RECORDER_PORT="${RECORDER_PORT:-8788}"

scripts/setup.sh

# Every client connection holds file descriptors: about 7 in all under wrangler dev, 6 of them
# in one workerd process (wrangler's proxy in front of the worker; docs/reliability.md). Raise
# the open-file limit to what the machine allows (root may go up to fs.nr_open), then cap the
# connections Herald accepts in all (MAX_CONNECTIONS) so that one client opening sockets in a
# loop meets a coded refusal long before the process meets "Too many open files". Set
# MAX_CONNECTIONS in the environment to choose the cap yourself.
ulimit -n "$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 0)" 2>/dev/null \
  || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
case "$fds" in
  unlimited) fds=1048576 ;;
  ''|*[!0-9]*) fds=1024 ;;
esac
MAX_CONNECTIONS="${MAX_CONNECTIONS:-$(( fds > 2048 ? (fds - 1024) / 8 : 128 ))}"
limits=(--var "MAX_CONNECTIONS:$MAX_CONNECTIONS")

providers=()
exchange_vars=() # NAME=value lines for delivery/.dev.vars, over those of .dev.vars
recorder=""
wrangler=""
if [ "${RECORDER:-1}" != "0" ]; then
  node scripts/recorder.mjs --port "$RECORDER_PORT" &
  recorder=$!
  # The recorder and wrangler stop with this script, however it ends.
  trap 'kill $wrangler $recorder 2>/dev/null || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$RECORDER_PORT/__recorder/requests" >/dev/null 2>&1 && break
    kill -0 "$recorder" 2>/dev/null || { echo "the recorder did not start (is port $RECORDER_PORT taken? set RECORDER_PORT)" >&2; exit 1; }
    sleep 0.1
  done
  recorder_url="http://127.0.0.1:$RECORDER_PORT"
  exchange_vars=("EMAIL_API_URL=$recorder_url" "SMS_API_URL=$recorder_url" "APNS_URL=$recorder_url"
    "FCM_URL=$recorder_url" "FCM_TOKEN_URL=$recorder_url/token"
    # The recorder's Web Push endpoints are plain http on loopback.
    "PUSH_ALLOW_LOOPBACK_HTTP=true")
  for line in "${exchange_vars[@]}"; do providers+=(--var "${line/=/:}"); done
fi

# wrangler gives --var to the first Worker only: the delivery Worker reads its variables from
# delivery/.dev.vars, the exchange's of .dev.vars with the recorder's URLs over them.
{
  overridden=$(printf '%s\n' ${exchange_vars[@]+"${exchange_vars[@]}"} | cut -d= -f1 | paste -sd'|' -)
  grep -E '^(FALLBACK_|EMAIL_|SMS_|TWILIO_|PUSH_|VAPID_|APNS_|FCM_|WEB_PUSH_HOSTS=)' .dev.vars \
    | grep -vE "^(${overridden:-^})=" || true
  if [ ${#exchange_vars[@]} -gt 0 ]; then printf '%s\n' ${exchange_vars[@]+"${exchange_vars[@]}"}; fi
} > delivery/.dev.vars
configs=(-c wrangler.toml -c delivery/wrangler.toml)

cat <<INFO

  Herald will listen on http://127.0.0.1:$PORT (local dev secret in .dev.vars).
  Open files allowed: $fds, so connections are capped at $MAX_CONNECTIONS in all (MAX_CONNECTIONS).
  Mint a dev token:      node scripts/token.mjs alice --name Alice
  Check it is up:        curl http://127.0.0.1:$PORT/api/v1/ping
  Join a room (wscat, websocat or any websocket client):
    ws://127.0.0.1:$PORT/v1/rooms/lobby/ws?token=\$(node scripts/token.mjs alice)
  Publish over REST:
    curl -X POST http://127.0.0.1:$PORT/v1/rooms/lobby/messages \\
      -H "authorization: Bearer \$(node scripts/token.mjs alice)" -d '{"event":"chat","data":"hi"}'
INFO
if [ -n "$recorder" ]; then
  cat <<INFO
  Emails, SMS and pushes go to the recorder on http://127.0.0.1:$RECORDER_PORT, printed below as
  they arrive; what it received: curl http://127.0.0.1:$RECORDER_PORT/__recorder/requests
  A Web Push subscription to give Herald: curl -X POST http://127.0.0.1:$RECORDER_PORT/__recorder/subscriptions
INFO
fi
echo

if [ -z "$recorder" ]; then
  exec miniflare/node_modules/.bin/wrangler dev "${configs[@]}" --ip 127.0.0.1 --port "$PORT" "${limits[@]}" "$@"
fi
# In the background and waited for, so a signal to this script runs the trap at once.
miniflare/node_modules/.bin/wrangler dev "${configs[@]}" --ip 127.0.0.1 --port "$PORT" "${limits[@]}" "${providers[@]}" "$@" &
wrangler=$!
wait $wrangler
