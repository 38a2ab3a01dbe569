#!/usr/bin/env bash
# Times GET /dashboard (the admin listener) on a generated database of many knocks.
#   bench/dashboard.sh [KNOCKS]        (default 1000000)
# Needs: cargo, curl, psql, Postgres reachable through BENCH_SERVER_URL (default local).
set -euo pipefail
cd "$(dirname "$0")/.."
knocks=${1:-1000000}
runs=${RUNS:-15}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
db=lobbylog_bench_dashboard
url="$server/$db"
admin=127.0.0.1:${BENCH_ADMIN_PORT:-19090}
spool=$(mktemp -d)

psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
cargo build --release --quiet
DATABASE_URL=$url LOBBYLOG_LOG_FORMAT=json RUST_LOG=warn target/release/lobbylog migrate

echo "generating $knocks knocks over 180 days in 200 rooms, inserted in time order as they arrive"
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
      from generate_series(1, $knocks) i) g
order by t;
-- Six in ten knocks admitted (the others abandoned, waiting or lost).
insert into participant_sessions (room, session_id, joined_event_id, joined_at, attrs_key)
select room, session_id, 'pj-' || session_id, started_at + random() * interval '2 minutes', '1pj-' || session_id
from waiting_sessions where (substr(session_id, 9)::int % 10) >= 4 and (substr(session_id, 9)::int % 50) <> 0
order by started_at;
vacuum analyze waiting_sessions, participant_sessions;
SQL
psql "$url" -Atc "select count(*) filter (where knocked_at >= now() - interval '30 days') || ' knocks in the last 30 days, ' || count(*) || ' in all' from knocks"

DATABASE_URL=$url LOBBYLOG_ALLOW_UNSIGNED=true LOBBYLOG_LISTEN=127.0.0.1:0 LOBBYLOG_ADMIN_LISTEN=$admin \
  LOBBYLOG_SPOOL_DIR=$spool LOBBYLOG_LOG_FORMAT=json RUST_LOG=error target/release/lobbylog serve &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$spool"' EXIT
for _ in $(seq 1 50); do curl -fso /dev/null "http://$admin/dashboard?days=1" && break; sleep 0.2; done

# Each page: two warm-up loads, then RUNS timed loads, one after the other.
for query in "" "?room=lobby" "?days=7" "?days=366"; do
  for _ in 1 2; do curl -fso /dev/null "http://$admin/dashboard$query"; done
  for _ in $(seq 1 "$runs"); do
    curl -fso /dev/null -w '%{time_total}\n' "http://$admin/dashboard$query"
  done | sort -n | awk -v q="/dashboard$query" '{t[NR]=$1*1000} END {printf "%-22s median %6.0f ms   p90 %6.0f ms   max %6.0f ms\n", q, t[int((NR+1)/2)], t[int(NR*0.9+0.5)], t[NR]}'
done
[ -n "${BENCH_KEEP:-}" ] || psql "$server/postgres" -qc "drop database if exists $db with (force)"
