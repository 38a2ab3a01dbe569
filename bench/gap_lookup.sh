#!/usr/bin/env bash
# Times how a delivery gap finds "the last event received" on a large webhook_events table:
# the windowed lookup lobbylog uses (BRIN-prunable) against a plain max(received_at).
#   bench/gap_lookup.sh [EVENTS]        (default 2000000, spread over 180 days, oldest first)
# Needs: cargo, psql, Postgres reachable through BENCH_SERVER_URL (default local).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-2000000}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
db=lobbylog_bench_gaps
url="$server/$db"

psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
cargo build --release --quiet
DATABASE_URL=$url LOBBYLOG_LOG_FORMAT=json RUST_LOG=warn target/release/lobbylog migrate

echo "generating $events events over 180 days (about 300 bytes of body each)"
psql "$url" -q <<SQL
insert into webhook_events (event_id, event_type, event_ts, received_at, body)
select 'bench-' || i, 'participant.joined', t, t,
       jsonb_build_object('id', 'bench-' || i, 'type', 'participant.joined',
                          'payload', jsonb_build_object('room', 'room-' || (i % 200), 'pad', repeat('x', 200)))
-- The newest event is 10 minutes old, as when a webhook has just failed.
from (select i, now() - interval '180 days' + (i::float8 / $events) * interval '179 days 23 hours 50 minutes' as t
      from generate_series(1, $events) i) g;
vacuum analyze webhook_events;
SQL
psql "$url" -Atc "select pg_size_pretty(pg_relation_size('webhook_events')), count(*) from webhook_events"

median() { sort -n | sed -n 3p; }
time_query() {
  for _ in 1 2 3 4 5; do
    psql "$url" -Atc "explain (analyze, format json) $1" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])'
  done | median
}
windowed="select max(received_at) from webhook_events where received_at > now() - interval '1 hour' and received_at <= now()"
printf '%8.1f ms  windowed (1 hour, BRIN)\n' "$(time_query "$windowed")"
week="select max(received_at) from webhook_events where received_at > now() - interval '7 days' and received_at <= now()"
printf '%8.1f ms  windowed (7 days, BRIN)\n' "$(time_query "$week")"
printf '%8.1f ms  max over the whole table\n' "$(time_query "select max(received_at) from webhook_events")"
psql "$url" -Atc "select 'the 1-hour window finds the newest event: ' || (($windowed) = (select max(received_at) from webhook_events))"
[ -n "${BENCH_KEEP:-}" ] || psql "$server/postgres" -qc "drop database if exists $db with (force)"
