#!/usr/bin/env python3
"""Intake benchmark: lobbylog against its baselines, side by side, in one run on one Postgres.

Targets, each at every concurrency of --concurrency (closed loop), --rounds times:
  lobbylog            the release build, default settings, knock events (projected)
  lobbylog-raw-only   the same, recording events (stored raw, no projection)
  lobbylog-sessions   the same, knock histories: each session's waiting-participant.joined,
                      then its .left some 4,000 events later (a row inserted, then updated)
  one-tx-per-request  lobbylog with LOBBYLOG_GROUP_COMMIT=false
  fastapi-asyncpg     bench/fastapi_receiver.py under uvicorn (--fastapi-workers), a typical
                      hand-written receiver: one insert per request, no projection
then pgbench (one single-row insert per transaction, 64 clients: Postgres' own commit rate),
lobbylog open loop at 80% of its best median rate (latency), and with --rtt-ms, lobbylog behind
a proxy adding that round trip to every exchange with Postgres.

Every run gets a fresh database. CPU per stored event comes from /proc (utime + stime before
and after the run): the receiver's processes, the Postgres backends of the benchmark's database
with the server's own processes (not backends of other databases, so other work on the server
does not count), and the load generator (its rusage). After each run the harness checks that the rows stored equal the events
that got 200.

  bench/intake.py                                  # 3 rounds x 10 s, concurrency 64,256,1024
  bench/intake.py --rounds 1 --seconds 5 --targets lobbylog --concurrency 64
  bench/intake.py --rtt-ms 1
  bench/intake.py --targets lobbylog,compare --compare /path/to/older/lobbylog

Needs cargo, python3, psql, pgbench and Postgres at BENCH_SERVER_URL (default
postgres://postgres:postgres@localhost:5432); FastAPI, uvicorn and asyncpg are installed from
PyPI into bench/.venv.
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("BENCH_SERVER_URL", "postgres://postgres:postgres@localhost:5432")
PORT, ADMIN_PORT, PROXY_PORT = 18181, 18182, 18183
TICK = os.sysconf("SC_CLK_TCK")
DB = "lobbylog_bench_intake"


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def psql(db, sql):
    sh("psql", f"{SERVER}/{db}", "-qc", sql, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fresh_db():
    psql("postgres", f"drop database if exists {DB} with (force)")
    psql("postgres", f"create database {DB}")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / TICK


def postgres_cpu():
    """CPU seconds used so far by the Postgres processes that serve the benchmark: the backends
    of its database and the server's own processes (postmaster, checkpointer, WAL writer, ...).
    Backends of other databases are left out, so other work on the same server does not count;
    so are backends that exited (the receivers keep their connections open through a run)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if open(f"/proc/{entry}/comm").read().strip() != "postgres":
                continue
            title = open(f"/proc/{entry}/cmdline").read().replace("\0", " ").split()
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # A backend's title: "postgres: [cluster:] user database host(port) state"; the
        # server's own processes name what they do ("checkpointer", "walwriter", ...).
        is_backend = any("(" in word and word.endswith(")") for word in title) or "[local]" in title
        if is_backend and DB not in title:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def family(pid):
    """`pid` and its children (uvicorn's workers)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [int(p) for p in out.split()]


def peak_rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def wait_http(url, seconds=30):
    until = time.time() + seconds
    while time.time() < until:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"not answering: {url}")


class Receiver:
    def __init__(self, kind, secret, db_port, binary="target/release/lobbylog"):
        url = f"{SERVER.rsplit(':', 1)[0]}:{db_port}/{DB}" if db_port else f"{SERVER}/{DB}"
        env = dict(os.environ, DATABASE_URL=url, DAILY_WEBHOOK_SECRET=secret)
        if kind == "fastapi":
            psql(DB, "create table webhook_events (event_id text primary key, event_type text, "
                     "body jsonb, received_at timestamptz not null default now())")
            cmd = [".venv/bin/uvicorn", "--app-dir", ".", "fastapi_receiver:app", "--port", str(PORT),
                   "--workers", str(ARGS.fastapi_workers), "--log-level", "warning", "--no-access-log"]
            self.proc = subprocess.Popen(cmd, cwd=os.path.join(ROOT, "bench"), env=env)
            time.sleep(1)
            wait_http(f"http://127.0.0.1:{PORT}/docs")
        else:
            env.update(LOBBYLOG_LISTEN=f"127.0.0.1:{PORT}", LOBBYLOG_ADMIN_LISTEN=f"127.0.0.1:{ADMIN_PORT}",
                       LOBBYLOG_SPOOL_DIR=os.path.join(ROOT, "bench", ".spool"),
                       LOBBYLOG_GROUP_COMMIT="false" if kind == "single" else "true",
                       LOBBYLOG_LOG_FORMAT="json")
            sh("rm", "-rf", "bench/.spool")
            log = open(os.path.join(ROOT, "bench", ".lobbylog.log"), "w")
            self.proc = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env, stderr=log)
            wait_http(f"http://127.0.0.1:{ADMIN_PORT}/readyz")

    def pids(self):
        return family(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def loadgen(label, secret, mix, extra):
    run = f"r{time.time_ns()}"
    cmd = ["target/release/examples/loadgen", "--url", f"http://127.0.0.1:{PORT}/webhooks/daily",
           "--secret", secret, "--mix", mix, "--run-id", run, "--label", label] + extra
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1]), run


def stored(run, expected, seconds=60):
    """Rows of this run in webhook_events, once they reach `expected` (spooled ones drain) or time is up."""
    until = time.time() + seconds
    while True:
        count = int(subprocess.run(["psql", f"{SERVER}/{DB}", "-Atc",
                                    f"select count(*) from webhook_events where event_id like '{run}-%'"],
                                   capture_output=True, text=True, check=True).stdout)
        if count >= expected or time.time() > until:
            return count
        time.sleep(0.5)


def measure(label, kind, mix, extra, secret, db_port=None, binary="target/release/lobbylog"):
    fresh_db()
    receiver = Receiver(kind, secret, db_port, binary)
    try:
        loadgen("warmup", secret, mix, ["--seconds", "2"] + extra)
        rx = receiver.pids()
        pg0, rx0, t0 = postgres_cpu(), cpu_seconds(rx), time.time()
        before = os.times()
        result, run = loadgen(label, secret, mix, ["--seconds", str(ARGS.seconds)] + extra)
        after = os.times()
        pg1, rx1 = postgres_cpu(), cpu_seconds(rx)
        result["stored_rows"] = stored(run, result["acked_events"])
        result["rows_match"] = result["stored_rows"] == result["acked_events"]
        ok = max(result["ok"], 1)
        lg = (after.children_user + after.children_system) - (before.children_user + before.children_system)
        result.update(
            kind=kind, concurrency=int(extra[1]) if extra[0] == "--concurrency" else None,
            receiver_us=(rx1 - rx0) * 1e6 / ok, postgres_us=(pg1 - pg0) * 1e6 / ok,
            loadgen_us=lg * 1e6 / ok, peak_rss_kb=peak_rss_kb(rx), wall_s=time.time() - t0)
    finally:
        receiver.stop()
    psql("postgres", f"drop database if exists {DB} with (force)")
    print(json.dumps(result), flush=True)
    return result


def pgbench():
    fresh_db()
    body = json.dumps({"version": "1.0.0", "type": "waiting-participant.left", "payload": {
        "room": "room-1", "session_id": "00000000-0000-4000-8000-000000000000", "user_name": "guest",
        "joined_at": 1.7e9, "duration": 30.0, "owner": False, "will_eject_at": None,
        "permissions": {"hasPresence": True, "canSend": True, "canReceive": {"base": True}, "canAdmin": False}},
        "event_ts": 1.7e9}).replace("'", "''")
    psql(DB, "create table webhook_events (event_id text primary key, body jsonb)")
    script = os.path.join(ROOT, "bench", ".pgbench.sql")
    with open(script, "w") as f:
        f.write(f"insert into webhook_events values (:client_id || '-' || random(), '{body}');\n")
    pg0, t0 = postgres_cpu(), time.time()
    before = os.times()
    out = subprocess.run(["pgbench", "-n", "-c", "64", "-j", "2", "-T", str(int(ARGS.seconds)), "-f", script,
                          f"{SERVER}/{DB}"], capture_output=True, text=True, check=True).stdout
    after = os.times()
    pg1 = postgres_cpu()
    tps = float(next(l for l in out.splitlines() if l.startswith("tps")).split()[2])
    latency = float(next(l for l in out.splitlines() if "latency average" in l).split()[3])
    n = tps * (time.time() - t0)
    client = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    result = dict(label="pgbench-insert", kind="pgbench", concurrency=64, rps=tps, p50_ms=latency,
                  p99_ms=None, receiver_us=None, postgres_us=(pg1 - pg0) * 1e6 / n,
                  loadgen_us=client * 1e6 / n, rows_match=True, non_200=0, errors=0, peak_rss_kb=0)
    psql("postgres", f"drop database if exists {DB} with (force)")
    print(json.dumps(result), flush=True)
    return result


def table(rows):
    def med(label, conc, key):
        values = [r[key] for r in rows if r["label"] == label and r["concurrency"] == conc and r[key] is not None]
        return statistics.median(values) if values else None

    def fmt(v, spec):
        return "" if v is None else format(v, spec)

    pairs = list(dict.fromkeys((r["label"], r["concurrency"]) for r in rows))
    fastapi = {c: med("fastapi-asyncpg", c, "rps") for _, c in pairs}
    pgb = med("pgbench-insert", 64, "rps")
    print(f"\n{'run':<30}{'conc':>6}{'events/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'rx us/ev':>10}"
          f"{'pg us/ev':>10}{'lg us/ev':>10}{'RSS MB':>8}{'/fastapi':>9}{'/pgbench':>9}  ok")
    for label, conc in pairs:
        rps = med(label, conc, "rps")
        ok = all(r["rows_match"] and r["non_200"] == 0 and r["errors"] == 0
                 for r in rows if r["label"] == label and r["concurrency"] == conc)
        fa = fastapi.get(conc)
        print(f"{label:<30}{fmt(conc, '>6') if conc else '':>6}{rps:>10.0f}{fmt(med(label, conc, 'p50_ms'), '>8.2f')}"
              f"{fmt(med(label, conc, 'p99_ms'), '>8.2f')}{fmt(med(label, conc, 'receiver_us'), '>10.1f')}"
              f"{fmt(med(label, conc, 'postgres_us'), '>10.1f')}{fmt(med(label, conc, 'loadgen_us'), '>10.1f')}"
              f"{med(label, conc, 'peak_rss_kb') / 1024:>8.0f}"
              f"{fmt(rps / fa if fa and label.startswith('lobbylog') else None, '>9.2f')}"
              f"{fmt(rps / pgb if pgb and label.startswith('lobbylog') else None, '>9.2f')}  {ok}")
    print(f"\nmedians of {ARGS.rounds} round(s) of {ARGS.seconds} s; 'ok': every run stored exactly "
          "the events that got 200, with no errors; CPU in microseconds per stored event")


def main():
    targets = ARGS.targets.split(",")
    concurrencies = [int(c) for c in ARGS.concurrency.split(",")]
    sh("cargo", "build", "--release", "--quiet", "--bin", "lobbylog", "--example", "loadgen",
       "--example", "delay_proxy")
    if "fastapi" in targets and not os.path.exists(os.path.join(ROOT, "bench/.venv/bin/uvicorn")):
        sh("python3", "-m", "venv", "bench/.venv")
        sh("bench/.venv/bin/pip", "install", "--quiet", "-r", "bench/requirements.txt")
    secret = base64.b64encode(os.urandom(32)).decode()
    plan = {"lobbylog": ("lobbylog", "group", "knocks"), "raw": ("lobbylog-raw-only", "group", "raw"),
            "sessions": ("lobbylog-sessions", "group", "sessions"),
            "single": ("one-tx-per-request", "single", "knocks"), "fastapi": ("fastapi-asyncpg", "fastapi", "knocks")}
    rows = []
    for round_ in range(ARGS.rounds):
        print(f"round {round_ + 1} of {ARGS.rounds}", file=sys.stderr)
        for target in targets:
            if target == "pgbench":
                rows.append(pgbench())
                continue
            if target == "compare":
                for conc in concurrencies:
                    rows.append(measure("lobbylog-compare", "group", ARGS.compare_mix, ["--concurrency", str(conc)],
                                        secret, binary=ARGS.compare))
                continue
            label, kind, mix = plan[target]
            for conc in concurrencies:
                rows.append(measure(label, kind, mix, ["--concurrency", str(conc)], secret))
    best = [r["rps"] for r in rows if r["label"] == "lobbylog"]
    if best and ARGS.latency:
        peak = max(statistics.median([r["rps"] for r in rows if r["label"] == "lobbylog" and r["concurrency"] == c])
                   for c in concurrencies if any(r["label"] == "lobbylog" and r["concurrency"] == c for r in rows))
        rate = round(0.8 * peak)
        for _ in range(ARGS.rounds):
            rows.append(measure(f"lobbylog-open-loop-{rate}/s", "group", "knocks", ["--rate", str(rate)], secret))
    if ARGS.rtt_ms:
        proxy = subprocess.Popen(["target/release/examples/delay_proxy", "--listen", f"127.0.0.1:{PROXY_PORT}",
                                  "--upstream", SERVER.rsplit("@", 1)[-1].split("/")[0],
                                  "--delay-us", str(int(ARGS.rtt_ms * 500))], cwd=ROOT)
        try:
            for _ in range(ARGS.rounds):
                rows.append(measure(f"lobbylog-rtt-{ARGS.rtt_ms}ms", "group", "knocks",
                                    ["--concurrency", str(ARGS.rtt_concurrency)], secret, db_port=PROXY_PORT))
        finally:
            proxy.terminate()
    table(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="64,256,1024")
    parser.add_argument("--targets", default="lobbylog,raw,single,fastapi,pgbench")
    parser.add_argument("--fastapi-workers", type=int, default=2)
    parser.add_argument("--latency", action=argparse.BooleanOptionalAction, default=True,
                        help="an open-loop run at 80%% of lobbylog's best rate")
    parser.add_argument("--rtt-ms", type=float, default=0, help="round trip to add between lobbylog and Postgres")
    parser.add_argument("--rtt-concurrency", type=int, default=256)
    parser.add_argument("--compare", help="another lobbylog binary, run as target 'compare' (e.g. an older build)")
    parser.add_argument("--compare-mix", default="knocks", choices=["knocks", "sessions", "raw"],
                        help="the events sent to target 'compare' (as targets lobbylog, sessions, raw)")
    ARGS = parser.parse_args()
    main()
