#!/usr/bin/env bash
# Failure drill under steady load: Postgres stopped for 30 s, then lobbylog killed with -9 and
# restarted. Passes when every event that got 200 is stored exactly once.
#
#   bench/outage.sh            (RATE=1000 events/s by default)
#
# It STOPS AND STARTS THE LOCAL POSTGRES (PG_STOP / PG_START override the commands): run it on a
# machine of your own, never against a shared server.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000}
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
cluster="$(ls /etc/postgresql 2>/dev/null | head -n 1) main"
PG_STOP=${PG_STOP:-"pg_ctlcluster --skip-systemctl-redirect $cluster stop -m fast"}
PG_START=${PG_START:-"pg_ctlcluster --skip-systemctl-redirect $cluster start"}
secret=$(head -c 32 /dev/urandom | base64)
db=lobbylog_bench_outage
port=18282
admin_port=18283
spool=bench/.spool-outage
pid=

cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; $PG_START 2>/dev/null || true; }
trap cleanup EXIT

cargo build --release --quiet --bin lobbylog --example loadgen
psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
rm -rf "$spool"

start() {
  DATABASE_URL="$server/$db" DAILY_WEBHOOK_SECRET=$secret LOBBYLOG_LISTEN=127.0.0.1:$port \
    LOBBYLOG_ADMIN_LISTEN=127.0.0.1:$admin_port LOBBYLOG_SPOOL_DIR=$spool RUST_LOG=warn target/release/lobbylog serve &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
}

load() { # run-id seconds
  target/release/examples/loadgen --url "http://127.0.0.1:$port/webhooks/daily" --secret "$secret" \
    --rate "$RATE" --seconds "$2" --run-id "$1" --label "$1" --settle-seconds 120 \
    --database-url "$server/$db" --count-sql "select count(*) from webhook_events where event_id like '$1-%'"
}

start
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done

echo "1/2: $RATE events/s for 60 s; Postgres stopped from 10 s to 40 s" >&2
load postgres-down 60 > bench/.outage-1.json &
loader=$!
sleep 10; $PG_STOP; echo "postgres stopped" >&2
sleep 20; curl -s "http://127.0.0.1:$admin_port/readyz"; echo
sleep 10; $PG_START; echo "postgres started" >&2
wait $loader
cat bench/.outage-1.json

echo "2/2: $RATE events/s for 30 s; lobbylog killed with -9 at 10 s and restarted" >&2
load killed 30 > bench/.outage-2.json &
loader=$!
sleep 10; kill -9 "$pid"; wait "$pid" 2>/dev/null || true; echo "lobbylog killed" >&2
start; echo "lobbylog restarted" >&2
wait $loader
cat bench/.outage-2.json

python3 - bench/.outage-1.json bench/.outage-2.json <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(f"postgres down 30 s: {a['ok']} acknowledged, {a['stored_rows']} stored, "
      f"{a['non_200']} non-200, {a['errors']} connection errors, p99 {a['p99_ms']} ms, max {a['max_ms']} ms")
print(f"kill -9 + restart:  {b['ok']} acknowledged, {b['stored_rows']} stored, "
      f"{b['non_200']} non-200, {b['errors']} connection errors (while the process was down)")
ok = a["rows_match"] and a["non_200"] == 0 and a["errors"] == 0 and b["rows_match"] and b["non_200"] == 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
