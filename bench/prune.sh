#!/usr/bin/env bash
# Benchmark: `lobbylog prune` on a table of synthetic events, and what an event costs on disk.
#
#   bench/prune.sh [--events N] [--keep FRACTION] [--batch-size N]
#
# Generates N synthetic Daily events (default 1000000, examples/gen_events.rs), backfills them
# into a fresh database, vacuums it (the state autovacuum keeps a live table in), then prunes with
# a cutoff that keeps FRACTION of them (default 0.5; the oldest go; 0 prunes them all). Prints the
# prune rate and the disk an event costs (webhook_events with its TOAST and indexes, per stored
# event), index by index before the prune, then:
#   - before the prune;
#   - after it (dead rows still there);
#   - after `vacuum` (space free for reuse inside the files, not returned), and how long it took;
#   - after loading as many new events as were pruned (the freed space reused);
#   - after `vacuum full` (space returned to the file system), and how long it took.
#
# Needs: a Postgres server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432, a user that
# may create databases) and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=1000000
KEEP=0.5
BATCH_SIZE=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    --batch-size) BATCH_SIZE="$2"; shift 2 ;;
    *) echo "usage: $0 [--events N] [--keep FRACTION] [--batch-size N]" >&2; exit 64 ;;
  esac
done

PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
export PGOPTIONS="-c client_min_messages=warning"
command -v psql >/dev/null || { echo "psql is missing: apt-get install -y postgresql-client" >&2; exit 69; }

cargo build --release --quiet --bin lobbylog --example gen_events
LOBBYLOG=target/release/lobbylog
GEN=target/release/examples/gen_events

WORK="$(mktemp -d)"
DB="lobbylog_bench_prune_$$"
export DATABASE_URL="$PG_URL/$DB" RUST_LOG=warn
cleanup() {
  psql "$PG_URL/postgres" -qc "drop database if exists $DB with (force)" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

sql() { psql "$DATABASE_URL" -Atc "$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Bytes of webhook_events (heap, TOAST, indexes) per stored event, and the dead rows Postgres counts.
disk() {
  sql "select coalesce(round(pg_total_relation_size('webhook_events')::numeric
                               / nullif(count(*), 0))::text, '-')
              || ' B/event  (total ' || pg_size_pretty(pg_total_relation_size('webhook_events'))
              || ', heap+toast ' || pg_size_pretty(pg_table_size('webhook_events'))
              || ', indexes ' || pg_size_pretty(pg_indexes_size('webhook_events'))
              || ', ' || count(*) || ' events, '
              || (select n_dead_tup from pg_stat_user_tables where relname = 'webhook_events')
              || ' dead rows counted)'
       from webhook_events"
}

echo "generating $EVENTS events..."
"$GEN" --events "$EVENTS" > "$WORK/events.ndjson"
"$GEN" --events "$EVENTS" --seed 2 > "$WORK/more.ndjson"
psql "$PG_URL/postgres" -qc "create database $DB"
"$LOBBYLOG" migrate
start=$(now)
"$LOBBYLOG" backfill "$WORK/events.ndjson" > /dev/null
echo "backfilled in $(since "$start") s"
sql "vacuum analyze webhook_events" > /dev/null
sleep 1 # let the statistics collector catch up
echo "before the prune:        $(disk)"
echo "  per index:             $(sql "select string_agg(indexrelname || ' ' || round(pg_relation_size(indexrelid)::numeric
                 / (select count(*) from webhook_events)) || ' B', ', ' order by indexrelname)
               from pg_stat_user_indexes where relname = 'webhook_events'")"

# The cutoff that keeps about the newest KEEP of the events, in whole minutes before now.
MINUTES=$(sql "select greatest(1, floor(extract(epoch from now() - percentile_disc(1 - $KEEP::float8)
                 within group (order by coalesce(event_ts, received_at))) / 60))::bigint
               from webhook_events")
start=$(now)
"$LOBBYLOG" prune --older-than "${MINUTES}m" --dry-run > "$WORK/dry.txt"
echo "dry run:                 $(since "$start") s, $(awk '/events/ { print $2 }' "$WORK/dry.txt") events would go"

start=$(now)
"$LOBBYLOG" prune --older-than "${MINUTES}m" --batch-size "$BATCH_SIZE" > "$WORK/prune.txt"
SECONDS_TAKEN=$(since "$start")
PRUNED=$(awk '/^  events/ { print $2 }' "$WORK/prune.txt")
echo "prune:                   $PRUNED events in $SECONDS_TAKEN s (process wall time):" \
  "$(awk -v n="$PRUNED" -v s="$SECONDS_TAKEN" 'BEGIN { printf "%.0f", n / s }') rows/s," \
  "batch size $BATCH_SIZE"
sleep 1
echo "after the prune:         $(disk)"
start=$(now)
sql "vacuum webhook_events" > /dev/null
VACUUM_SECONDS=$(since "$start")
sleep 1
echo "after vacuum ($VACUUM_SECONDS s): $(disk)"
head -n "$PRUNED" "$WORK/more.ndjson" > "$WORK/refill.ndjson"
"$LOBBYLOG" backfill "$WORK/refill.ndjson" > /dev/null
sql "vacuum analyze webhook_events" > /dev/null
sleep 1
echo "after as many new events: $(disk)"
start=$(now)
sql "vacuum full webhook_events" > /dev/null
VACUUM_SECONDS=$(since "$start")
sleep 1
echo "after vacuum full ($VACUUM_SECONDS s): $(disk)"
echo
echo "prune summary:"
cat "$WORK/prune.txt"
