#!/usr/bin/env bash
# Edge drill: lobbylog (release build, default settings) against 1,000 slow-body, 500 slow-header
# and 500 idle connections while a signed event is sent every 200 ms, then a flood of 1,000
# concurrent unsigned 1 MiB bodies while its memory is read from /proc.
#
#   bench/edge.sh
#   SLOW_BODY=200 SLOW_HEADER=100 IDLE=100 FLOOD=300 DURATION=12 bench/edge.sh
#
# Needs cargo and Postgres reachable at BENCH_SERVER_URL (default postgres://postgres:postgres@localhost:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
server=${BENCH_SERVER_URL:-postgres://postgres:postgres@localhost:5432}
secret=$(head -c 32 /dev/urandom | base64)
port=18383
db=lobbylog_bench_edge
spool=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$spool"' EXIT

cargo build --release --quiet --bin lobbylog --example edge_attack
psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
DATABASE_URL="$server/$db" DAILY_WEBHOOK_SECRET=$secret LOBBYLOG_LISTEN=127.0.0.1:$port \
  LOBBYLOG_ADMIN_LISTEN=127.0.0.1:$((port + 1)) LOBBYLOG_SPOOL_DIR="$spool" RUST_LOG=warn \
  target/release/lobbylog serve &
pid=$!
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done

target/release/examples/edge_attack --address "127.0.0.1:$port" --secret "$secret" --pid "$pid" \
  --slow-body "${SLOW_BODY:-1000}" --slow-header "${SLOW_HEADER:-500}" --idle "${IDLE:-500}" \
  --seconds "${DURATION:-15}" --flood "${FLOOD:-1000}"
curl -s "http://127.0.0.1:$((port + 1))/metrics" | grep -E '^lobbylog_connections_cut_total|^lobbylog_webhook_requests_total'
psql "$server/postgres" -qc "drop database if exists $db with (force)" 2>/dev/null
