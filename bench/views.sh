#!/usr/bin/env bash
# Times the queries of docs/analytics.md on a generated database of many knocks.
#   bench/views.sh [KNOCKS]        (default 300000)
# Needs: cargo, psql, Postgres reachable through DATABASE_URL's server (default local).
set -euo pipefail
cd "$(dirname "$0")/.."
knocks=${1:-300000}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
db=lobbylog_bench_views
url="$server/$db"

psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
cargo build --release --quiet
DATABASE_URL=$url LOBBYLOG_LOG_FORMAT=json RUST_LOG=warn target/release/lobbylog migrate

echo "generating $knocks knocks over 180 days in 200 rooms"
psql "$url" -q <<SQL
insert into waiting_sessions (room, session_id, joined_event_id, joined_at, left_event_id, left_joined_at,
                              duration_seconds, left_at, attrs_key, user_name, owner)
select case when i % 200 = 0 then 'lobby' else 'room-' || (i % 200) end, 'session-' || i, 'wj-' || i, t,
       case when i % 10 < 4 and i % 50 <> 0 then 'wl-' || i end,
       case when i % 10 < 4 and i % 50 <> 0 then t end,
       case when i % 10 < 4 and i % 50 <> 0 then w end,
       case when i % 10 < 4 and i % 50 <> 0 then t + w * interval '1 second' end,
       '1wj-' || i, 'guest ' || i, false
-- One knock in 50 is recent and still waiting.
from (select i, now() - case when i % 50 = 0 then random() * interval '20 hours' else random() * interval '180 days' end as t, round((random() * 600)::numeric, 3)::float8 as w
      from generate_series(1, $knocks) i) g;
-- Six in ten knocks admitted (the others abandoned, waiting or lost).
insert into participant_sessions (room, session_id, joined_event_id, joined_at, attrs_key)
select room, session_id, 'pj-' || session_id, started_at + random() * interval '2 minutes', '1pj-' || session_id
from waiting_sessions where (substr(session_id, 9)::int % 10) >= 4 and (substr(session_id, 9)::int % 50) <> 0;
vacuum analyze waiting_sessions, participant_sessions;
SQL
psql "$url" -Atc "select outcome, count(*) from knocks group by 1 order by 1"
# The knocks were written straight into the sessions: roll them up as a reproject would.
psql "$url" -Atc "select knock_rollups_rebuild() || ' (room, day) rollups built'"
psql "$url" -qc "vacuum analyze knock_room_days, knock_days"

# Each query, timed by explain analyze (median of 5 runs).
awk '/^## Queries/{on=1} /^## /&&!/Queries/{on=0} on' docs/analytics.md \
  | awk '/^```sql/{q="";inq=1;next} /^```/{if(inq){gsub(/\n/," ",q); print q}; inq=0; next} inq{q=q" "$0}' \
  | while IFS= read -r query; do
      times=()
      for _ in 1 2 3 4 5; do
        t=$(psql "$url" -Atc "explain (analyze, format json) $query" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
        times+=("$t")
      done
      median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
      printf '%8.1f ms  %s\n' "$median" "$(echo "$query" | cut -c1-110)"
    done
[ -n "${BENCH_KEEP:-}" ] || psql "$server/postgres" -qc "drop database if exists $db with (force)"
