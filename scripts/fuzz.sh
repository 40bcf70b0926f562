#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz and libFuzzer on the nightly toolchain) for
# FUZZ_SECONDS each, one after the other, then minimizes each target's corpus (kept in the
# repository: at most FUZZ_CORPUS_KB each, 32 by default), writes fuzz/results.json and
# rewrites the figures in docs/reliability.md (between `<!-- fuzz:begin -->` and
# `<!-- fuzz:end -->`). Not part of `make test` or CI.
#
#   make fuzz                                # every target, 180 s each
#   make fuzz FUZZ_SECONDS=5                 # a quick pass
#   FUZZ_TARGETS="fuzz_jws fuzz_query" scripts/fuzz.sh
#
# Where nightly or cargo-fuzz cannot be had, it says so and exits 0. A crash, a timeout or an
# out-of-memory exits 1 once every target has run: the input is in fuzz/artifacts/<target>/;
# keep it in fuzz/regressions/<target>/ (the native suite replays it) once it is fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${FUZZ_SECONDS:-180}
# The most each target's minimized corpus may keep in the repository, in KB (the smallest
# inputs first): a few hundred KB for all of them.
CORPUS_KB=${FUZZ_CORPUS_KB:-32}
ALL_TARGETS="fuzz_native_frame fuzz_engineio fuzz_socketio fuzz_dialects fuzz_jws fuzz_query fuzz_token_sources fuzz_rest_bodies fuzz_provider_answers fuzz_push_answers fuzz_receipts fuzz_internal"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
# Each target's limits: a run over 10 s, a process over 2 GB or one allocation over 256 MB is a
# failure (a hang, or memory a declared size asked for). Inputs up to 2 KB: a script of dozens
# of steps fits, and the corpus kept in the repository stays small.
LIBFUZZER_LIMITS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=2048)
# SQLite (the rooms' test storage, compiled into the targets) defines two static tables of
# one name, which AddressSanitizer's one-definition check takes for a clash.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

# Keeps the smallest inputs of a target's corpus that reach every edge the corpus reaches
# (edges only, not how often each is hit, which would keep far more).
minimize() {
  (cd fuzz && cargo +nightly fuzz cmin "$1" "corpus/$1" -- -use_counters=0 "${LIBFUZZER_LIMITS[@]}") >>"$2" 2>&1 \
    || { say "$1: the corpus could not be minimized (see $2)"; failed=1; }
}
corpus_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

say() { printf '\033[1m[fuzz]\033[0m %s\n' "$*"; }
skip() { say "skipped: $*"; exit 0; }

command -v rustup >/dev/null || skip "rustup is not installed, so there is no nightly toolchain to fuzz with"
if ! cargo +nightly --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 \
    || skip "the nightly toolchain could not be installed (offline?); fuzzing needs it"
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force >/dev/null 2>&1 \
    || skip "cargo-fuzz $CARGO_FUZZ_VERSION could not be installed (offline?)"
fi

nightly=$(cargo +nightly --version)
say "building the fuzz targets ($nightly)"
(cd fuzz && cargo +nightly fuzz build) || { say "the fuzz targets do not build"; exit 1; }

mkdir -p fuzz/logs
declare -A entry
failed=0
date=$(date -u +%Y-%m-%d)
for target in $TARGETS; do
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  inputs=("$corpus" "fuzz/seeds/$target")
  [ -d "fuzz/regressions/$target" ] && inputs+=("fuzz/regressions/$target")
  log=fuzz/logs/$target.log
  say "$target: ${SECONDS_PER_TARGET} s"
  started=$(date +%s)
  (cd fuzz && cargo +nightly fuzz run "$target" "${inputs[@]/#fuzz\//}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -dict=herald.dict -print_final_stats=1 "${LIBFUZZER_LIMITS[@]}") \
    >"$log" 2>&1
  status=$?
  took=$(($(date +%s) - started))
  runs=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$log")
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{ print $2 + 0 }')
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # libFuzzer stopped on a failure it kept no input for
  fi
  if [ "$crashes" -gt 0 ]; then
    failed=1
    say "$target FAILED (see $log and $artifacts/)"
  else
    # The corpus kept in the repository: the smallest inputs that reach every edge the run
    # reached (edges only, not how often each is hit, which would keep far more).
    minimize "$target" "$log"
    if [ "$(corpus_bytes "$corpus")" -gt $((CORPUS_KB * 1024)) ]; then
      # Over the budget: keep the smallest inputs that fit it, then minimize those again.
      kept=$(mktemp -d)
      find "$corpus" -type f -printf '%s %p\n' | sort -n \
        | awk -v budget=$((CORPUS_KB * 1024)) '{ total += $1; if (total > budget) exit; print $2 }' \
        | while read -r file; do mv "$file" "$kept/"; done
      find "$corpus" -type f -delete
      find "$kept" -type f -exec mv {} "$corpus/" \;
      rmdir "$kept"
      minimize "$target" "$log"
    fi
  fi
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(corpus_bytes "$corpus")
  # What the kept corpus reaches: the last minimization's count.
  kept_edges=$(grep -o '[0-9]* new coverage edges' "$log" | tail -1 | awk '{ print $1 + 0 }')
  say "$target: $runs runs in $took s, $edges edges ($kept_edges in the kept corpus), $crashes crashes, corpus $files inputs ($bytes bytes)"
  entry[$target]="\"date\": \"$date\", \"seconds\": $took, \"runs\": $runs, \"edges\": $edges, \"crashes\": $crashes, \"corpus_files\": $files, \"corpus_bytes\": $bytes, \"corpus_edges\": $kept_edges, \"toolchain\": \"$nightly\""
done

# fuzz/results.json: one line per target, from this run or kept from the last one that ran it.
for target in $ALL_TARGETS; do
  if [ -z "${entry[$target]:-}" ] && [ -f fuzz/results.json ]; then
    entry[$target]=$(sed -n "s/^    \"$target\": {\(.*\)},\{0,1\}\$/\1/p" fuzz/results.json)
  fi
done
{
  echo '{'
  echo '  "targets": {'
  for target in $ALL_TARGETS; do
    [ -n "${entry[$target]:-}" ] && echo "    \"$target\": {${entry[$target]}},"
  done | sed '$s/,$//'
  echo '  }'
  echo '}'
} > fuzz/results.json

# The figures in docs/reliability.md, between the markers, from fuzz/results.json.
if ! grep -q '<!-- fuzz:begin -->' docs/reliability.md || ! grep -q '<!-- fuzz:end -->' docs/reliability.md; then
  say "docs/reliability.md has no <!-- fuzz:begin --> / <!-- fuzz:end --> markers to write the figures between"
  exit 1
fi
figures=$(mktemp)
{
  echo "| target | last run | seconds | runs | edges reached | crashes | corpus kept | edges it reaches |"
  echo "|---|---|---:|---:|---:|---:|---|---:|"
  awk '
    function number(name,   s) {
      if (!match($0, "\"" name "\": [0-9]+")) return ""
      s = substr($0, RSTART, RLENGTH); sub(/.*: /, "", s); return s
    }
    function text(name,   s) {
      if (!match($0, "\"" name "\": \"[^\"]*\"")) return ""
      s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: "/, "", s); sub(/"$/, "", s); return s
    }
    /^    "fuzz_/ {
      target = $1; gsub(/[":]/, "", target)
      printf "| `%s` | %s | %s | %s | %s | %s | %s (%d KB) | %s |\n", target, text("date"), number("seconds"),
        number("runs"), number("edges"), number("crashes"), number("corpus_files"),
        (number("corpus_bytes") + 1023) / 1024, number("corpus_edges")
    }' fuzz/results.json
  echo
  echo "Toolchain: $nightly. Written by \`scripts/fuzz.sh\` from \`fuzz/results.json\`."
} > "$figures"
awk -v figures="$figures" '
  /<!-- fuzz:end -->/ { skipping = 0 }
  !skipping { print }
  /<!-- fuzz:begin -->/ { while ((getline line < figures) > 0) print line; skipping = 1 }
' docs/reliability.md > docs/reliability.md.new && mv docs/reliability.md.new docs/reliability.md
rm -f "$figures"
say "wrote fuzz/results.json and the figures in docs/reliability.md"

if [ "$failed" -ne 0 ]; then
  say "a target failed: fix the decoder, add a regression test, keep the input in fuzz/regressions/"
  exit 1
fi
