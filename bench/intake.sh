#!/usr/bin/env bash
# Intake benchmark: lobbylog (group commit), lobbylog with one transaction per request, and a
# typical FastAPI + asyncpg receiver, side by side in one run, on the same Postgres.
#
#   bench/intake.sh                      # 3 rounds of 10 s each at concurrency 64
#   ROUNDS=5 RUN_SECONDS=20 CONCURRENCY=128 bench/intake.sh
#
# Needs cargo, python3 (a venv with FastAPI, uvicorn and asyncpg is made in bench/.venv from
# PyPI), psql, and Postgres reachable at BENCH_SERVER_URL (default postgres://postgres:postgres@localhost:5432).
# Prints one JSON line per run, then medians and ratios. lobbylog runs with its default logging
# (a JSON line per request, to bench/.lobbylog-*.log); uvicorn's access log is off.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RUN_SECONDS=${RUN_SECONDS:-10}
CONCURRENCY=${CONCURRENCY:-64}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
secret=$(head -c 32 /dev/urandom | base64)
results=$(mktemp)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$results"' EXIT

cargo build --release --quiet --bin lobbylog --example loadgen
if [ ! -x bench/.venv/bin/uvicorn ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet -r bench/requirements.txt
fi

fresh_db() {
  psql "$server/postgres" -qc "drop database if exists $1 with (force)" 2>/dev/null
  psql "$server/postgres" -qc "create database $1"
}

wait_http() {
  for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; return 1
}

# Peak resident memory (kB) of a process and its children.
peak_rss() {
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmHWM/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

start_lobbylog() { # db port group_commit
  rm -rf "bench/.spool-$2"
  DATABASE_URL="$server/$1" DAILY_WEBHOOK_SECRET=$secret LOBBYLOG_LISTEN=127.0.0.1:$2 \
    LOBBYLOG_ADMIN_LISTEN=127.0.0.1:0 \
    LOBBYLOG_GROUP_COMMIT=$3 LOBBYLOG_SPOOL_DIR="bench/.spool-$2" LOBBYLOG_LOG_FORMAT=json \
    target/release/lobbylog serve 2>"bench/.lobbylog-$2.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$2/readyz"
}

start_fastapi() { # db port
  psql "$server/$1" -qc "create table webhook_events (event_id text primary key, event_type text,
      body jsonb, received_at timestamptz not null default now())"
  DATABASE_URL="$server/$1" DAILY_WEBHOOK_SECRET=$secret \
    bench/.venv/bin/uvicorn --app-dir bench fastapi_receiver:app --port "$2" --workers 2 \
    --log-level warning --no-access-log &
  pids+=($!)
  sleep 1
  wait_http "http://127.0.0.1:$2/docs"
}

load() { # label port db mix [extra loadgen args...]
  local label=$1 port=$2 db=$3 mix=$4; shift 4
  local run="r$RANDOM$RANDOM"
  # Warm-up: connections, caches, JIT of the Python side.
  target/release/examples/loadgen --url "http://127.0.0.1:$port/webhooks/daily" --secret "$secret" \
    --seconds 2 --concurrency "$CONCURRENCY" --mix "$mix" --run-id "warm$run" --label warmup >/dev/null
  target/release/examples/loadgen --url "http://127.0.0.1:$port/webhooks/daily" --secret "$secret" \
    --seconds "$RUN_SECONDS" --mix "$mix" --run-id "$run" --label "$label" \
    --database-url "$server/$db" --count-sql "select count(*) from webhook_events where event_id like '$run-%'" \
    "$@"
}

run_target() { # label kind mix [loadgen args...]
  local label=$1 kind=$2 mix=$3; shift 3
  local db=lobbylog_bench_intake port=18181
  fresh_db $db
  case $kind in
    group) start_lobbylog $db $port true ;;
    single) start_lobbylog $db $port false ;;
    fastapi) start_fastapi $db $port ;;
  esac
  local pid=${pids[-1]}
  line=$(load "$label" $port $db "$mix" "$@")
  rss=$(peak_rss "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "${line%\}},\"peak_rss_kb\":$rss}" | tee -a "$results"
  psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  run_target lobbylog group knocks --concurrency "$CONCURRENCY"
  run_target lobbylog-raw-only group raw --concurrency "$CONCURRENCY"
  run_target one-tx-per-request single knocks --concurrency "$CONCURRENCY"
  run_target fastapi-asyncpg fastapi knocks --concurrency "$CONCURRENCY"
done

# Latency at 80% of lobbylog's median peak, open loop.
peak=$(python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(statistics.median(r["rps"] for r in rows if r["label"] == "lobbylog"))
PY
)
rate=$(python3 -c "print(round(0.8 * $peak))")
for round in $(seq 1 "$ROUNDS"); do
  run_target "lobbylog-at-80pct-$rate" group knocks --rate "$rate"
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
labels = list(dict.fromkeys(r["label"] for r in rows))
med = lambda label, key: statistics.median(r[key] for r in rows if r["label"] == label)
base = med("lobbylog", "rps")
print(f"\n{'receiver':<28}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'peak RSS MB':>13}{'lobbylog/x':>12}  rows match")
for label in labels:
    rps = med(label, "rps")
    ok = all(r["rows_match"] and r["non_200"] == 0 and r["errors"] == 0 for r in rows if r["label"] == label)
    print(f"{label:<28}{rps:>10.0f}{med(label, 'p50_ms'):>9.2f}{med(label, 'p99_ms'):>9.2f}"
          f"{med(label, 'max_ms'):>9.1f}{med(label, 'peak_rss_kb') / 1024:>13.1f}{base / rps:>12.2f}  {ok}")
print(f"\nmedians of {sum(1 for r in rows if r['label'] == 'lobbylog')} rounds; "
      "'rows match': every run stored exactly the events that got 200, with no errors")
PY
