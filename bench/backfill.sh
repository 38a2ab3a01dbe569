#!/usr/bin/env bash
# Benchmark: `lobbylog backfill` against `psql \copy` of the same events, in the same run.
#
#   bench/backfill.sh [--events N] [--runs N] [--batch-size N]
#
# Generates N synthetic Daily events (default 200000) as NDJSON, and the same events as a
# two-column CSV (outside the timing). Then, RUNS times (default 3), alternating which goes first:
#   backfill: `lobbylog backfill events.ndjson` (release build) into a fresh, migrated database;
#   \copy:    `psql -c "\copy raw from events.csv with (format csv)"` into a fresh database whose
#             only table is `raw (event_id text primary key, body jsonb)`.
# Prints each run, the median events/s of both, their ratio, and the backfill's peak RSS.
#
# Needs: a Postgres server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, a user that
# may create databases), psql, and GNU time at /usr/bin/time (Debian: `apt-get install -y time`).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=200000
RUNS=3
BATCH_SIZE=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --batch-size) BATCH_SIZE="$2"; shift 2 ;;
    *) echo "usage: $0 [--events N] [--runs N] [--batch-size N]" >&2; exit 64 ;;
  esac
done

PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
# Quiet psql's notices ("database ... does not exist, skipping").
export PGOPTIONS="-c client_min_messages=warning"
if [ ! -x /usr/bin/time ]; then
  echo "GNU time is missing: install it with 'apt-get install -y time'" >&2
  exit 69
fi
command -v psql >/dev/null || { echo "psql is missing: apt-get install -y postgresql-client" >&2; exit 69; }

cargo build --release --quiet --bin lobbylog --example gen_events
LOBBYLOG=target/release/lobbylog
GEN=target/release/examples/gen_events

WORK="$(mktemp -d)"
BACKFILL_DB="lobbylog_bench_backfill_$$"
COPY_DB="lobbylog_bench_copy_$$"
cleanup() {
  psql "$PG_URL/postgres" -qc "drop database if exists $BACKFILL_DB with (force)" 2>/dev/null || true
  psql "$PG_URL/postgres" -qc "drop database if exists $COPY_DB with (force)" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating $EVENTS events..."
"$GEN" --events "$EVENTS" > "$WORK/events.ndjson"
"$GEN" --events "$EVENTS" --csv > "$WORK/events.csv"
echo "  $(du -h "$WORK/events.ndjson" | cut -f1) NDJSON, $(du -h "$WORK/events.csv" | cut -f1) CSV"

now() { date +%s.%N; }
rate() { awk -v n="$EVENTS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

fresh_db() {
  psql "$PG_URL/postgres" -qc "drop database if exists $1 with (force)"
  psql "$PG_URL/postgres" -qc "create database $1"
}

run_backfill() {
  fresh_db "$BACKFILL_DB"
  DATABASE_URL="$PG_URL/$BACKFILL_DB" RUST_LOG=warn "$LOBBYLOG" migrate
  local start end
  start=$(now)
  DATABASE_URL="$PG_URL/$BACKFILL_DB" RUST_LOG=warn /usr/bin/time -v -o "$WORK/time.txt" \
    "$LOBBYLOG" backfill --batch-size "$BATCH_SIZE" "$WORK/events.ndjson" > "$WORK/summary.txt"
  end=$(now)
  local stored
  stored=$(psql "$PG_URL/$BACKFILL_DB" -Atc "select count(*) from webhook_events")
  [ "$stored" = "$EVENTS" ] || { echo "backfill stored $stored of $EVENTS events" >&2; exit 1; }
  BACKFILL_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  BACKFILL_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
}

run_copy() {
  fresh_db "$COPY_DB"
  psql "$PG_URL/$COPY_DB" -qc "create table raw (event_id text primary key, body jsonb)"
  local start end
  start=$(now)
  psql "$PG_URL/$COPY_DB" -qc "\\copy raw from '$WORK/events.csv' with (format csv)"
  end=$(now)
  local stored
  stored=$(psql "$PG_URL/$COPY_DB" -Atc "select count(*) from raw")
  [ "$stored" = "$EVENTS" ] || { echo "\\copy stored $stored of $EVENTS rows" >&2; exit 1; }
  COPY_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
}

BACKFILL_RATES=()
COPY_RATES=()
PEAK_RSS_KB=0
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then run_backfill; run_copy; else run_copy; run_backfill; fi
  BACKFILL_RATES+=("$(rate "$BACKFILL_SECONDS")")
  COPY_RATES+=("$(rate "$COPY_SECONDS")")
  [ "$BACKFILL_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$BACKFILL_RSS_KB
  printf 'run %d: backfill %7.3f s %8s events/s (peak RSS %d MiB) | \\copy %7.3f s %8s events/s\n' \
    "$run" "$BACKFILL_SECONDS" "${BACKFILL_RATES[-1]}" $((BACKFILL_RSS_KB / 1024)) \
    "$COPY_SECONDS" "${COPY_RATES[-1]}"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
B=$(median "${BACKFILL_RATES[@]}")
C=$(median "${COPY_RATES[@]}")
echo
echo "events:            $EVENTS ($RUNS runs, batch size $BATCH_SIZE, $(nproc) cores)"
echo "backfill median:   $B events/s"
echo "\\copy median:      $C events/s"
echo "ratio:             $(awk -v b="$B" -v c="$C" 'BEGIN { printf "%.2f", b / c }')"
echo "backfill peak RSS: $((PEAK_RSS_KB / 1024)) MiB"
echo
echo "last backfill summary:"
cat "$WORK/summary.txt"
