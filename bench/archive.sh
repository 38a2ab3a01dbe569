#!/usr/bin/env bash
# Benchmark: archives, local and in a bucket, each beside its baseline in the same run.
#
#   bench/archive.sh [--events N] [--days D] [--runs N]
#
# Loads N synthetic Daily events (default 2000000) into a fresh database, received over D days
# (default 30), outside the timing. Starts a local S3 API (moto's server, tests/s3_server.py).
# Then, RUNS times (default 3), alternating the order of each pair:
#   \copy:           psql -c "\copy (select body from webhook_events) to FILE"
#   export:          lobbylog export --to DIR
#   export s3:       lobbylog export --to s3://lobbylog/bench
#   backfill:        lobbylog backfill DIR, into a fresh migrated database
#   backfill s3:     lobbylog backfill s3://lobbylog/bench, into a fresh migrated database
# Prints each run, the medians (events/s), the ratios export/\copy and backfill s3/backfill, and
# the peak RSS of each lobbylog command.
#
# Needs: a Postgres server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, a user that
# may create databases), psql, GNU time at /usr/bin/time, python3 with moto[server].
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=2000000
DAYS=30
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --days) DAYS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "usage: $0 [--events N] [--days D] [--runs N]" >&2; exit 64 ;;
  esac
done

PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
export PGOPTIONS="-c client_min_messages=warning"
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install -y time" >&2; exit 69; }
command -v psql >/dev/null || { echo "psql is missing: apt-get install -y postgresql-client" >&2; exit 69; }
python3 -c "import moto.server" 2>/dev/null || { echo "moto is missing: pip install 'moto[server]'" >&2; exit 69; }

cargo build --release --quiet --bin lobbylog --example gen_events
LOBBYLOG="$PWD/target/release/lobbylog"
GEN="$PWD/target/release/examples/gen_events"

WORK="$(mktemp -d)"
SOURCE_DB="lobbylog_bench_archive_$$"
TARGET_DB="lobbylog_bench_archive_load_$$"
S3_PID=
cleanup() {
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null || true
  for db in "$SOURCE_DB" "$TARGET_DB"; do
    psql "$PG_URL/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fresh_db() {
  psql "$PG_URL/postgres" -qc "drop database if exists $1 with (force)"
  psql "$PG_URL/postgres" -qc "create database $1"
  DATABASE_URL="$PG_URL/$1" RUST_LOG=warn "$LOBBYLOG" migrate
}

echo "loading $EVENTS events received over $DAYS days..."
"$GEN" --events "$EVENTS" --csv > "$WORK/events.csv"
fresh_db "$SOURCE_DB"
psql "$PG_URL/$SOURCE_DB" -q <<SQL
create temporary table raw (event_id text, body jsonb);
\\copy raw from '$WORK/events.csv' with (format csv)
insert into webhook_events (event_id, event_type, version, event_ts, received_at, body)
select event_id, body->>'type', body->>'version', to_timestamp((body->>'event_ts')::float8),
       timestamptz '2024-06-01T00:00:00Z'
         + (row_number() over () - 1) * interval '1 second' * ($DAYS * 86400.0 / $EVENTS),
       body
from raw
on conflict do nothing;
vacuum analyze webhook_events;
SQL
rm "$WORK/events.csv"
STORED=$(psql "$PG_URL/$SOURCE_DB" -Atc "select count(*) from webhook_events")
echo "  $STORED events, $(psql "$PG_URL/$SOURCE_DB" -Atc "select pg_size_pretty(pg_table_size('webhook_events'))")"

sleep infinity | python3 tests/s3_server.py > "$WORK/s3.json" &
S3_PID=$(jobs -p | tail -n 1)
for _ in $(seq 1 100); do [ -s "$WORK/s3.json" ] && break; sleep 0.1; done
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/s3.json" "$1"; }
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
AWS_ACCESS_KEY_ID=$(field key_id); AWS_SECRET_ACCESS_KEY=$(field secret); AWS_ENDPOINT_URL=$(field endpoint)
BUCKET_URL="s3://$(field bucket)/bench"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
# timed NAME DB COMMAND...: runs COMMAND against DB under GNU time; sets SECONDS_<NAME>, RSS_<NAME>.
timed() {
  local name="$1" db="$2" start end; shift 2
  start=$(now)
  DATABASE_URL="$PG_URL/$db" RUST_LOG=warn /usr/bin/time -v -o "$WORK/time.txt" "$@" > "$WORK/$name.txt"
  end=$(now)
  printf -v "SECONDS_$name" '%s' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')"
  printf -v "RSS_$name" '%s' "$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")"
}
copy_out() { timed copy "$SOURCE_DB" psql "$PG_URL/$SOURCE_DB" -qc "\\copy (select body from webhook_events) to '$WORK/copy.ndjson'"; }
export_dir() { rm -rf "$WORK/export"; timed export "$SOURCE_DB" "$LOBBYLOG" export --to "$WORK/export"; }
export_s3() { timed export_s3 "$SOURCE_DB" "$LOBBYLOG" export --to "$BUCKET_URL"; }
load() {
  fresh_db "$TARGET_DB"
  timed "$1" "$TARGET_DB" "$LOBBYLOG" backfill "$2"
  local stored
  stored=$(psql "$PG_URL/$TARGET_DB" -Atc "select count(*) from webhook_events")
  [ "$stored" = "$STORED" ] || { echo "$1 stored $stored of $STORED events" >&2; exit 1; }
}

declare -A RATES PEAK
record() { RATES[$1]+="$(rate "$STORED" "$2") "; [ "${3:-0}" -gt "${PEAK[$1]:-0}" ] && PEAK[$1]=$3; return 0; }
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then copy_out; export_dir; export_s3; else export_s3; export_dir; copy_out; fi
  rm -f "$WORK/copy.ndjson"
  if [ $((run % 2)) -eq 1 ]; then load backfill "$WORK/export"; load backfill_s3 "$BUCKET_URL";
  else load backfill_s3 "$BUCKET_URL"; load backfill "$WORK/export"; fi
  record copy "$SECONDS_copy"
  for step in export export_s3 backfill backfill_s3; do
    seconds_var="SECONDS_$step"; rss_var="RSS_$step"
    record "$step" "${!seconds_var}" "${!rss_var}"
  done
  printf 'run %d: \\copy %.1f s | export %.1f s, %d MiB | export s3 %.1f s, %d MiB | backfill %.1f s, %d MiB | backfill s3 %.1f s, %d MiB\n' \
    "$run" "$SECONDS_copy" "$SECONDS_export" $((RSS_export / 1024)) "$SECONDS_export_s3" $((RSS_export_s3 / 1024)) \
    "$SECONDS_backfill" $((RSS_backfill / 1024)) "$SECONDS_backfill_s3" $((RSS_backfill_s3 / 1024))
done

median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "archive: $STORED events over $DAYS days, $(du -sh "$WORK/export" | cut -f1) as zstd NDJSON ($RUNS runs, $(nproc) cores)"
for step in copy export export_s3 backfill backfill_s3; do
  printf '%-12s median %8s events/s' "$step" "$(median "${RATES[$step]}")"
  [ -n "${PEAK[$step]:-}" ] && printf ', peak RSS %d MiB' $((PEAK[$step] / 1024))
  echo
done
ratio() { awk -v a="$(median "${RATES[$1]}")" -v b="$(median "${RATES[$2]}")" 'BEGIN { printf "%.2f", a / b }'; }
echo "export / \\copy:          $(ratio export copy)"
echo "export s3 / \\copy:       $(ratio export_s3 copy)"
echo "backfill s3 / backfill:  $(ratio backfill_s3 backfill)"
echo
echo "last export summary:"; cat "$WORK/export.txt"
echo "last backfill s3 summary:"; cat "$WORK/backfill_s3.txt"
