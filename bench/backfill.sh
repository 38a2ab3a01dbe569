#!/usr/bin/env bash
# Benchmark: `lobbylog backfill` against `psql \copy` of the same events, in the same run.
#
#   bench/backfill.sh [--events N] [--duplicates SHARE] [--spread [--shuffled]] [--runs N]
#                     [--batch-size N]
#
# Generates an archive as archives really are (outside the timing): N synthetic Daily events
# (default 190000), a SHARE of them (default 0.25) repeats of earlier ones as Daily's retries leave
# them, spread over NDJSON, gzip and zstd NDJSON, JSON arrays and single pretty-printed files; and
# the archive's unique events as a two-column CSV. With --spread, the repeats are of any event
# and anywhere in the archive (before their first too), 60% of the records in gzip'd NDJSON
# files, the rest in one JSON array, one plain NDJSON file and one pretty envelope; with
# --shuffled as well, every record is anywhere (a session's events far apart). Then, RUNS
# times (default 3), alternating which goes first:
#   backfill: `lobbylog backfill archive/` (release build) into a fresh, migrated database, then
#             the same again into that database (a rerun: every event a duplicate);
#   \copy:    `psql -c "\copy raw from unique.csv with (format csv)"` into a fresh database whose
#             only table is `raw (event_id text primary key, body jsonb)`.
# Prints each run, the median rates of both (backfill: events read per second, duplicates
# included; \copy: unique rows per second), their ratio, how much faster the rerun is than the
# first load, and the backfill's peak RSS.
#
# Needs: a Postgres server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, a user that
# may create databases), psql, and GNU time at /usr/bin/time (Debian: `apt-get install -y time`).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=190000
DUPLICATES=0.25
RUNS=3
BATCH_SIZE=
SPREAD=
SHUFFLED=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --duplicates) DUPLICATES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --batch-size) BATCH_SIZE="$2"; shift 2 ;;
    --spread) SPREAD=--spread; shift ;;
    --shuffled) SHUFFLED=--shuffled; shift ;;
    *) echo "usage: $0 [--events N] [--duplicates SHARE] [--spread [--shuffled]] [--runs N] [--batch-size N]" >&2; exit 64 ;;
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

echo "generating an archive of $EVENTS events, $DUPLICATES of them repeats..."
"$GEN" --events "$EVENTS" --archive "$WORK" --duplicates "$DUPLICATES" $SPREAD $SHUFFLED
UNIQUE=$(wc -l < "$WORK/unique.csv")
echo "  $(find "$WORK/archive" -type f | wc -l) files, $(du -sh "$WORK/archive" | cut -f1); $UNIQUE unique events"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

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
    "$LOBBYLOG" backfill ${BATCH_SIZE:+--batch-size "$BATCH_SIZE"} "$WORK/archive" > "$WORK/summary.txt"
  end=$(now)
  local stored
  stored=$(psql "$PG_URL/$BACKFILL_DB" -Atc "select count(*) from webhook_events")
  [ "$stored" = "$UNIQUE" ] || { echo "backfill stored $stored of $UNIQUE unique events" >&2; exit 1; }
  BACKFILL_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  BACKFILL_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
  start=$(now)
  DATABASE_URL="$PG_URL/$BACKFILL_DB" RUST_LOG=warn \
    "$LOBBYLOG" backfill ${BATCH_SIZE:+--batch-size "$BATCH_SIZE"} "$WORK/archive" > "$WORK/rerun.txt"
  end=$(now)
  grep -q "inserted     0$" "$WORK/rerun.txt" || { echo "the rerun inserted events:" >&2; cat "$WORK/rerun.txt" >&2; exit 1; }
  RERUN_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
}

run_copy() {
  fresh_db "$COPY_DB"
  psql "$PG_URL/$COPY_DB" -qc "create table raw (event_id text primary key, body jsonb)"
  local start end
  start=$(now)
  psql "$PG_URL/$COPY_DB" -qc "\\copy raw from '$WORK/unique.csv' with (format csv)"
  end=$(now)
  local stored
  stored=$(psql "$PG_URL/$COPY_DB" -Atc "select count(*) from raw")
  [ "$stored" = "$UNIQUE" ] || { echo "\\copy stored $stored of $UNIQUE rows" >&2; exit 1; }
  COPY_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
}

BACKFILL_RATES=()
RERUN_SPEEDUPS=()
COPY_RATES=()
PEAK_RSS_KB=0
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then run_backfill; run_copy; else run_copy; run_backfill; fi
  BACKFILL_RATES+=("$(rate "$EVENTS" "$BACKFILL_SECONDS")")
  RERUN_SPEEDUPS+=("$(awk -v a="$BACKFILL_SECONDS" -v b="$RERUN_SECONDS" 'BEGIN { printf "%.2f", a / b }')")
  COPY_RATES+=("$(rate "$UNIQUE" "$COPY_SECONDS")")
  [ "$BACKFILL_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$BACKFILL_RSS_KB
  printf 'run %d: backfill %7.3f s %8s events read/s (peak RSS %d MiB), rerun %7.3f s | \\copy %7.3f s %8s rows/s\n' \
    "$run" "$BACKFILL_SECONDS" "${BACKFILL_RATES[-1]}" $((BACKFILL_RSS_KB / 1024)) \
    "$RERUN_SECONDS" "$COPY_SECONDS" "${COPY_RATES[-1]}"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
B=$(median "${BACKFILL_RATES[@]}")
C=$(median "${COPY_RATES[@]}")
echo
echo "archive:           $EVENTS events, $UNIQUE unique${SPREAD:+, repeats spread}${SHUFFLED:+, all shuffled} ($RUNS runs, batch size ${BATCH_SIZE:-default}, $(nproc) cores)"
echo "backfill median:   $B events read/s"
echo "\\copy median:      $C unique rows/s"
echo "ratio:             $(awk -v b="$B" -v c="$C" 'BEGIN { printf "%.2f", b / c }')"
echo "rerun speed-up:    $(median "${RERUN_SPEEDUPS[@]}")x (median of first load / rerun)"
echo "backfill peak RSS: $((PEAK_RSS_KB / 1024)) MiB"
echo
echo "last backfill summary:"
cat "$WORK/summary.txt"
