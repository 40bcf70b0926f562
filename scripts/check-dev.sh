#!/usr/bin/env bash
# Checks the README's run command: starts `scripts/dev.sh` (wrangler dev and the provider
# recorder) on spare ports, waits for ping, publishes and reads back with a dev token minted by
# scripts/token.mjs, checks the recorder answers, sends it oversize bodies while another client
# publishes (miniflare/dev/, which needs wrangler dev in front), stops.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18787}"
RECORDER_PORT="${RECORDER_PORT:-18788}"
log=$(mktemp)
PORT="$PORT" RECORDER_PORT="$RECORDER_PORT" scripts/dev.sh >"$log" 2>&1 &
dev=$!
# Every step may find its process already gone; none of that is this check failing.
trap 'pkill -P $dev 2>/dev/null || true; kill $dev 2>/dev/null || true; wait $dev 2>/dev/null || true; rm -f "$log"' EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 180); do
  curl -fsS "$base/api/v1/ping" >/dev/null 2>&1 && break
  kill -0 $dev 2>/dev/null || { cat "$log"; echo "dev server exited" >&2; exit 1; }
  sleep 1
done
curl -fsS "$base/api/v1/ping" >/dev/null || { cat "$log"; echo "dev server never answered" >&2; exit 1; }
token=$(node scripts/token.mjs ci-check --name CI)
room="ci-check-$$"
published=$(curl -fsS -X POST "$base/v1/rooms/$room/messages" -H "authorization: Bearer $token" \
  -d '{"event":"check","data":"dev works"}')
echo "published: $published"
history=$(curl -fsS "$base/v1/rooms/$room/messages" -H "authorization: Bearer $token")
echo "$history" | grep -q '"data":"dev works"' || { echo "history lacks the message: $history" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$RECORDER_PORT/__recorder/requests" | grep -q '^\[' \
  || { cat "$log"; echo "the provider recorder does not answer on $RECORDER_PORT" >&2; exit 1; }
# A push through make dev: a Web Push subscription the recorder makes (it decrypts what it gets
# with the keys setup.sh wrote to .dev.vars), a high notification, the decrypted push listed.
recorder="http://127.0.0.1:$RECORDER_PORT"
user="ci-push-$$"
user_token=$(node scripts/token.mjs "$user")
curl -fsS -X POST "$base/api/v1/native/subscribe" -H "authorization: Bearer $user_token" \
  -d "$(curl -fsS -X POST "$recorder/__recorder/subscriptions")" >/dev/null \
  || { tail -n 40 "$log"; echo "make dev refused a push subscription" >&2; exit 1; }
curl -fsS -X POST "$base/api/v1/send" -H "authorization: Bearer $token" \
  -d "{\"msg\":\"dev pushes\",\"uid\":\"$user\",\"opts\":{\"urgency\":\"high\"}}" >/dev/null
for _ in $(seq 1 30); do
  curl -fsS "$recorder/__recorder/pushes" | grep -q '"body":"dev pushes"' && break
  sleep 1
done
curl -fsS "$recorder/__recorder/pushes" | grep -q '"body":"dev pushes"' \
  || { tail -n 60 "$log"; echo "make dev sent no push the recorder could decrypt" >&2; exit 1; }
echo "push: the recorder decrypted the notification"
HERALD_DEV_URL="$base" node --test miniflare/dev/ \
  || { tail -n 60 "$log"; echo "make dev failed under oversize bodies" >&2; exit 1; }
echo "dev server OK on $base (provider recorder on $RECORDER_PORT)"
