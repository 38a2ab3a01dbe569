#!/usr/bin/env bash
# Times GET /dashboard (the admin listener) on a database of many knocks, beside a baseline
# database holding the same last 30 days over a short history: a page must cost its window, not
# the history.
#   bench/dashboard.sh [KNOCKS [DAYS [ROOMS]]]     (default 10000000 knocks over 730 days in 500 rooms)
#   BASELINE_HISTORY=100000   knocks older than 30 days in the baseline database
#   RUNS=15                   timed loads per page
#   BENCH_KEEP=1              keep both databases (lobbylog_bench_dashboard, ..._baseline)
#   BENCH_REUSE=1             time the databases a BENCH_KEEP run left, without generating
# Needs: cargo, curl, psql, Postgres reachable through BENCH_SERVER_URL (default local).
set -euo pipefail
cd "$(dirname "$0")/.."
knocks=${1:-10000000}
days=${2:-730}
rooms=${3:-500}
baseline_history=${BASELINE_HISTORY:-100000}
runs=${RUNS:-15}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
db=lobbylog_bench_dashboard
admin=127.0.0.1:${BENCH_ADMIN_PORT:-19090}
spool=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null; rm -rf "$spool"' EXIT

# The last 30 days hold knocks in proportion to the history; both databases get the same ones.
recent=$(( knocks * 30 / days ))
cargo build --release --quiet

# generate DATABASE FIRST COUNT MIN_AGE_DAYS MAX_AGE_DAYS: knocks FIRST.. spread over that age
# range, each knock's time, room, wait and outcome a function of its number alone. Outcomes: six
# in ten admitted, four in ten abandoned, one in fifty never resolved (still waiting if recent).
generate() {
  psql "$server/$1" -q <<SQL
insert into waiting_sessions (room, session_id, joined_event_id, joined_at, left_event_id, left_joined_at,
                              duration_seconds, left_at, attrs_key, user_name, owner)
select case when i % $rooms = 0 then 'lobby' else 'room-' || (i % $rooms) end, 'session-' || i, 'wj-' || i, t,
       case when i % 10 < 4 and i % 50 <> 0 then 'wl-' || i end,
       case when i % 10 < 4 and i % 50 <> 0 then t end,
       case when i % 10 < 4 and i % 50 <> 0 then w end,
       case when i % 10 < 4 and i % 50 <> 0 then t + w * interval '1 second' end,
       '1wj-' || i, 'guest ' || i, false
from (select i, now() - interval '1 day' * ($4 + ($5 - $4) * ((i * 2654435761) % 1000003) / 1000003.0) as t,
             round((((i * 40503) % 600011) / 1000.0)::numeric, 3)::float8 as w
      from generate_series($2::bigint, $2::bigint + $3 - 1) i) g
order by t;
insert into participant_sessions (room, session_id, joined_event_id, joined_at, attrs_key)
select room, session_id, 'pj-' || session_id, started_at + ((substr(session_id, 9)::bigint * 7919) % 120) * interval '1 second',
       '1pj-' || session_id
from waiting_sessions
where (substr(session_id, 9)::bigint % 10) >= 4 and (substr(session_id, 9)::bigint % 50) <> 0
  and substr(session_id, 9)::bigint between $2 and $2 + $3 - 1
order by started_at;
SQL
}

# prepare DATABASE HISTORY: a fresh database, migrated, with the recent knocks and HISTORY older ones.
prepare() {
  psql "$server/postgres" -qc "drop database if exists $1 with (force)" 2>/dev/null
  DATABASE_URL=$server/$1 LOBBYLOG_LOG_FORMAT=json RUST_LOG=warn target/release/lobbylog migrate
  echo "$1: $recent knocks in the last 30 days, $2 over the $days days before"
  generate "$1" 1 "$recent" 0 30
  [ "$2" -eq 0 ] || generate "$1" $(( recent + 1 )) "$2" 30 "$days"
  psql "$server/$1" -qc "vacuum analyze waiting_sessions, participant_sessions"
  local started=$SECONDS
  psql "$server/$1" -Atc "select knock_rollups_rebuild() || ' (room, day) rollups built'"
  echo "  in $(( SECONDS - started )) s"
  psql "$server/$1" -qc "vacuum analyze knock_room_days, knock_days"
}

# time DATABASE PAGE...: serves DATABASE, prints the median, p90 and max of each page.
time_pages() {
  local database=$1
  shift
  DATABASE_URL=$server/$database LOBBYLOG_ALLOW_UNSIGNED=true LOBBYLOG_LISTEN=127.0.0.1:0 \
    LOBBYLOG_ADMIN_LISTEN=$admin LOBBYLOG_SPOOL_DIR=$spool LOBBYLOG_LOG_FORMAT=json RUST_LOG=error \
    target/release/lobbylog serve 2>>"$spool/serve.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -fso /dev/null "http://$admin/dashboard?days=1" && break; sleep 0.2; done
  # Each page: two warm-up loads, then RUNS timed loads, one after the other.
  for query in "$@"; do
    for _ in 1 2; do curl -fso /dev/null "http://$admin/dashboard$query"; done
    for _ in $(seq 1 "$runs"); do
      curl -fso /dev/null -w '%{time_total}\n' "http://$admin/dashboard$query"
    done | sort -n | awk -v q="$database /dashboard$query" '{t[NR]=$1*1000} END {printf "%-48s median %6.0f ms   p90 %6.0f ms   max %6.0f ms\n", q, t[int((NR+1)/2)], t[int(NR*0.9+0.5)], t[NR]}'
  done
  kill $pid
  wait $pid 2>/dev/null || true
  pid=
}

if [ -z "${BENCH_REUSE:-}" ]; then
  prepare "$db" $(( knocks - recent ))
  prepare "${db}_baseline" "$baseline_history"
fi
echo
time_pages "$db" "" "?room=lobby" "?days=7" "?days=366" | tee "$spool/pages"
time_pages "${db}_baseline" "" | tee -a "$spool/pages"
awk '$2 == "/dashboard" {m[++n]=$4} END {if (n == 2) printf "30-day page, full history / baseline: %.2fx\n", m[1]/m[2]}' "$spool/pages"
if [ -z "${BENCH_KEEP:-}" ]; then
  for d in "$db" "${db}_baseline"; do psql "$server/postgres" -qc "drop database if exists $d with (force)"; done
fi
