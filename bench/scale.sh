#!/usr/bin/env bash
# bench/scale.sh ACCOUNTS — what the service costs as the account table grows ("the path to
# 100 M accounts"): one throwaway database seeded with ACCOUNTS accounts (e.g. 1000000,
# 10000000), measured through the real service, as one markdown report.
#
# From a fresh clone: installs missing Debian packages, builds the service in Release (the
# same cmake invocation as bench/run.sh), starts a throwaway PostgreSQL and Redis on free
# loopback ports (data under bench/.work-scale/, removed at the end, also on Ctrl-C), seeds
# ACCOUNTS accounts with bench/listing/seed.sh, then starts the service with bench/run.sh's
# settings (logs at warn, telemetry exporters off; pool of 6, see SCALE_POOL) and measures:
#   - seed time; rows, heap, index (each index) and total sizes of every table in schema
#     "user"; the database size;
#   - hot paths through the service (wrk with bench/hot/wrk.lua as bench/run.sh runs it, but
#     one wrk thread: see wrk() in the helper below): account view, eligibility, resolve by email,
#     ensure by email of an existing account. Per path a saturated run (req/s, p50/p99) and a
#     paced run at half that load (p50/p99), each with the CPU per request of the service and
#     of PostgreSQL (utime + stime from /proc/<pid>/stat of the service, and of the postmaster
#     and all its children, exited ones included), and shared-buffer hits / reads per request
#     (pg_stat_database deltas). The accounts come from a random sample of SCALE_IDS live
#     accounts spread over the whole table (all of them at 1 M);
#   - the admin listing: bench/listing/explain.sh (first page and the page after 1,000
#     matches of 22 filters), summarised as time and shared hit / read buffers per page;
#   - the expiry sweeper: SCALE_SWEEP_ITEMS sanctions on random live accounts, inserted in one
#     transaction and lapsing together seconds later, swept by a service restarted with
#     USERSERVICE_EXPIRY_SWEEP_INTERVAL=200ms: items/s from the lapse until none is left;
#     twice: with sanction_active's planner statistics from before the insert (autovacuum off
#     for the table meanwhile), then with an ANALYZE after it (the sweep statement's plan
#     depends on them);
#   - the outbox relay: SCALE_RELAY_EVENTS rows shaped like the service's
#     user.settings.changed events, inserted into "user".event_outbox in one transaction:
#     events/s from the commit until the outbox is empty (all of them in Redis).
# Prints the report and writes it to bench/results/scale-ACCOUNTS.md.
#
# Environment: SCALE_DURATION seconds per hot-path run (10), SCALE_CONNS wrk connections of
# the saturated runs (32), SCALE_POOL the service's USERSERVICE_POSTGRES_MAX_OPEN_CONNS (6: the
# setting of the recorded scale results; bench/run.sh uses 2 since 2026-12-03), SCALE_IDS
# accounts sampled for the hot paths (1000000), SCALE_SWEEP_ITEMS (20000), SCALE_RELAY_EVENTS
# (50000), SCALE_SHARED_BUFFERS (256MB, as bench/run.sh; on huge pages unless
# SCALE_HUGEPAGES=0), SCALE_EXPLAIN=0 skips the listing, SCALE_BUILD_DIR
# (build-release), JOBS (2, ninja), SCALE_BIN: run this userservice binary instead of
# building (e.g. a copy, so that runs at several sizes measure the same code),
# SCALE_QUIET_WAIT (30): seconds each hot-path run may wait for other processes to leave the
# cores, SCALE_KEEP=1 keeps the work folder (data, logs).
# Time on the 2-core machine (2026-12-03): 1 M accounts ~7 min in all (seed 45 s), 10 M
# ~15 min (seed 9 min); the measurements take ~6 min at either size.
# The seeded sanctions and limits that end in the next minutes lapse during the run and the
# sweeper expires them: at 10 M a stray record or event or two beside the measured ones.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() { echo "usage: bench/scale.sh ACCOUNTS   (e.g. 1000000)" >&2; exit 2; }
case ${1:-} in
  -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
  '' | *[!0-9]*) usage ;;
esac
[ $# -eq 1 ] || usage
accounts=$1
duration=${SCALE_DURATION:-10}
conns=${SCALE_CONNS:-32}
pool=${SCALE_POOL:-6}
id_sample=${SCALE_IDS:-1000000}
sweep_items=${SCALE_SWEEP_ITEMS:-20000}
relay_events=${SCALE_RELAY_EVENTS:-50000}
shared_buffers=${SCALE_SHARED_BUFFERS:-256MB}
build=${SCALE_BUILD_DIR:-$root/build-release}
results=$root/bench/results/scale-$accounts.md
say() { echo "scale: $(date -u +%H:%M:%S) $*" >&2; }
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
run_start=$(date +%s)

# ---- Packages, build and throwaway servers (bench/lib.sh, as bench/run.sh) ---------------
. bench/lib.sh
if [ -n "${SCALE_BIN:-}" ]; then
  bin=$(realpath "$SCALE_BIN")  # a binary kept from an earlier build: the same code for every size
else
  bench_build "$build" SCALE_BUILD_DIR
  bin=$build/userservice
fi
bench_servers bench/.work-scale "${SCALE_KEEP:-0}"
bench_shared_buffers "$shared_buffers" "${SCALE_HUGEPAGES:-1}"
[ "$huge" = on ] || say "warning: PostgreSQL runs on 4 kB pages"

# ---- Seed ------------------------------------------------------------------------------------
# (nice only lowers psql's priority: the work runs in the PostgreSQL backend.)
say "seeding $accounts accounts (bench/listing/seed.sh; ~2-3 min per million)"
seed_t0=$(date +%s.%N)
nice -n 10 bash bench/listing/seed.sh "$dsn" "$accounts" >"$work/seed.log"
seed_s=$(awk -v a="$seed_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
say "seeded in $seed_s s"

# ---- The service (bench/run.sh's environment) ------------------------------------------------
bench_start_service

# The hot paths' accounts: a random sample of live accounts from the whole table.
psql_ -c "COPY (SELECT user_id, email FROM \"user\".accounts WHERE deleted_at IS NULL
                 ORDER BY hashtextextended(user_id, 8) LIMIT $id_sample) TO STDOUT (DELIMITER ' ')" \
  >"$work/ids.txt"
live=$(psql_ -At -c 'SELECT count(*) FROM "user".accounts WHERE deleted_at IS NULL')
say "$live live accounts, $(wc -l <"$work/ids.txt") sampled for the hot paths"

# ---- The measurements (one Python helper; bench/hot/driver.py's Bench runs wrk) -------------
cat >"$work/measure.py" <<'PY'
"""bench/scale.sh's measurements; prints markdown on stdout, progress on stderr."""
import argparse, json, os, re, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("what", choices=["sizes", "hot", "listing", "sweep", "relay"])
ap.add_argument("--root"); ap.add_argument("--work"); ap.add_argument("--pg-port", type=int)
ap.add_argument("--http-port", type=int); ap.add_argument("--service-pid", type=int)
ap.add_argument("--redis-port", type=int); ap.add_argument("--redis-password")
ap.add_argument("--duration", type=int, default=10); ap.add_argument("--conns", type=int, default=32)
ap.add_argument("--quiet-wait", type=float, default=30); ap.add_argument("--items", type=int, default=0)
ap.add_argument("--explain-out")
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.root, "bench", "hot"))
import driver  # noqa: E402  (Bench.wrk, CpuMeter)

PG = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(a.pg_port),
      "-U", "postgres", "-d", "postgres"]


def log(msg):
    print(f"scale: {time.strftime('%H:%M:%S', time.gmtime())} {msg}", file=sys.stderr, flush=True)


def psql(sql):
    return subprocess.run(PG + ["-F", "\t"], input=sql, check=True, capture_output=True,
                          text=True).stdout.strip()


def rows(sql):
    return [line.split("\t") for line in psql(sql).splitlines() if line]


class Session:
    """One psql session for polling (no backend start-up per poll): a query, then an \\echo
    marker; psql's output to a pipe is block-buffered, so stdbuf makes it line-buffered."""

    def __init__(self):
        self.p = subprocess.Popen(["stdbuf", "-oL"] + PG + ["-F", "\t"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

    def query(self, sql):
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __done__\n")
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                sys.exit("scale: polling psql session ended")
            if line.rstrip("\n") == "__done__":
                return out
            out.append(line.rstrip("\n"))

    def value(self, sql):
        return self.query(sql)[0]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def mib(b):
    return f"{int(b) / 1048576:,.1f}"


def fmt(v, d=0):
    return "–" if v is None else f"{v:,.{d}f}"


def wait_quiet(limit=15):
    """Up to `limit` s for other processes to leave the cores (driver.Bench.wait_quiet)."""
    deadline = time.monotonic() + limit
    while True:
        m = meter()
        m.start()
        time.sleep(1)
        if m.other_percent() <= 10 or time.monotonic() > deadline:
            return


def meter():
    with open(os.path.join(a.work, "pg", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    with open(os.path.join(a.work, "redis", "redis.pid")) as f:
        redis = int(f.readline())
    return driver.CpuMeter(a.service_pid, postmaster, redis)


# ---- sizes ---------------------------------------------------------------------------------
if a.what == "sizes":
    tables = rows("""SELECT c.relname, c.oid, pg_relation_size(c.oid), pg_indexes_size(c.oid),
                            pg_total_relation_size(c.oid)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = 'user' AND c.relkind = 'r' ORDER BY 5 DESC, 1""")
    out = ["| table | rows | heap MiB | indexes MiB | total MiB (with TOAST) | indexes (MiB each) |",
           "|---|---|---|---|---|---|"]
    sums = [0, 0, 0, 0]
    for name, oid, heap, idx, total in tables:
        n = int(psql(f'SELECT count(*) FROM "user".{name}'))
        each = rows(f"""SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x
                          JOIN pg_class i ON i.oid = x.indexrelid
                         WHERE x.indrelid = {oid} ORDER BY 2 DESC, 1""")
        sums = [sums[0] + n, sums[1] + int(heap), sums[2] + int(idx), sums[3] + int(total)]
        out.append(f"| {name} | {n:,} | {mib(heap)} | {mib(idx)} | {mib(total)} | "
                   + ", ".join(f"{i} {mib(s)}" for i, s in each) + " |")
    out.append(f"| **all** | {sums[0]:,} | {mib(sums[1])} | {mib(sums[2])} | {mib(sums[3])} | |")
    db = int(psql("SELECT pg_database_size(current_database())"))
    out += ["", f"Database size (pg_database_size): {mib(db)} MiB ({db / 2**30:.2f} GiB)."]
    print("\n".join(out))

# ---- hot paths -----------------------------------------------------------------------------
PATHS = [("account_view", "account view", "GET /users/{id}/account"),
         ("eligibility", "eligibility", "GET /users/{id}/eligibility"),
         ("resolve_by_email", "resolve by email", "POST /user-resolutions/by-email"),
         ("ensure_existing", "ensure by email, existing", "POST /users/ensure-by-email")]


def blks():
    # Backends flush their counters at most once a second, and an idle one only after 10 s
    # (PostgreSQL 15), so a reading waits 11 s after the load for the last second's share.
    h, r = rows("SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()")[0]
    return int(h), int(r)


if a.what == "hot":
    ns = argparse.Namespace(
        pg_port=a.pg_port, pg_data=os.path.join(a.work, "pg"),
        redis_pidfile=os.path.join(a.work, "redis", "redis.pid"), service_pid=a.service_pid,
        ids=os.path.join(a.work, "ids.txt"), duration=a.duration, http_port=a.http_port,
        quiet_wait=a.quiet_wait)
    b = driver.Bench(ns)

    def wrk(key, delay_ms=None):
        """driver.Bench.wrk with one wrk thread instead of two. wrk runs each thread's init()
        (wrk.lua: reading the whole ids file, ~3 s per million lines) in its main thread
        before starting the next thread, and starts its clock only after the last one: with
        two threads, the first one's requests during the second one's init() land in the
        measured window (with 970,000 ids, ~3 s of the first thread's requests before a 10 s
        window). One thread has no such head start."""
        b.run_id += 1
        env = dict(os.environ, BENCH_PATH=key, BENCH_IDS=ns.ids, BENCH_RUN=str(b.run_id))
        if delay_ms:
            env["BENCH_DELAY_MS"] = f"{delay_ms:.3f}"
        cmd = ["wrk", "-t1", f"-c{a.conns}", f"-d{a.duration}s", "--timeout", "5s",
               "-s", os.path.join(a.root, "bench", "hot", "wrk.lua"), f"http://127.0.0.1:{a.http_port}"]
        b.cpu.start()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        cpu = b.cpu.stop()
        m = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            sys.exit(f"scale: wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        r = json.loads(m.group(1))
        n = max(1, r["requests"])
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["other_cpu"] = cpu["other_cpu"]
        r["service_us"] = 1e6 * cpu["service"] / n
        r["postgres_us"] = 1e6 * cpu["postgres"] / n
        r["client_us"] = 1e6 * cpu["client"] / n
        return r

    def run(key, delay_ms=None):
        b.settle()
        h0, r0 = blks()
        r = wrk(key, delay_ms=delay_ms)
        time.sleep(11)
        h1, r1 = blks()
        n = max(1, r["requests"])
        r["hit"], r["read"] = (h1 - h0) / n, (r1 - r0) / n
        return r

    log(f"warm-up: account view, {a.duration} s (not reported)")
    b.settle()
    wrk("account_view")
    time.sleep(11)  # its last second of buffer counters must not land in the first run
    sat, paced = {}, {}
    # The account view once more at the end: how much of a row's difference is its place in
    # the sequence (the first run after the seed and the warm-up) rather than its path.
    sat_rows = []
    for key, label, route in PATHS + [(PATHS[0][0], PATHS[0][1] + ", again after the others", PATHS[0][2])]:
        r = run(key)
        sat.setdefault(key, r)
        sat_rows.append((label, route, r))
        log(f"{label}: {r['rps']:,.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, p99 "
            f"{r['p99_us'] / 1000:.2f} ms, svc {r['service_us']:.0f} µs, PG {r['postgres_us']:.0f} µs, "
            f"hit {r['hit']:.1f} read {r['read']:.2f} per req, other CPU {r['other_cpu']:.0f}%")
    for key, label, _ in PATHS:
        target = 0.5 * sat[key]["rps"]
        paced[key] = r = run(key, delay_ms=1000.0 * a.conns / target)
        r["target"] = target
        log(f"{label}, half load: {r['rps']:,.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, "
            f"p99 {r['p99_us'] / 1000:.2f} ms")
    out = [f"Saturated: wrk -t1 -c{a.conns}, {a.duration} s per path, back to back (bench/hot/wrk.lua).",
           "",
           "| hot path | route | req/s | p50 ms | p99 ms | errors | service CPU µs/req "
           "| PostgreSQL CPU µs/req | wrk CPU µs/req (incl. loading the ids) | shared hit / read per req | other CPU % |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, route, r in sat_rows:
        out.append(f"| {label} | `{route}` | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | "
                   f"{r['p99_us'] / 1000:.2f} | {r['non_2xx'] + r['socket_errors']} | "
                   f"{r['service_us']:.0f} | {r['postgres_us']:.0f} | {r['client_us']:.0f} | "
                   f"{r['hit']:.1f} / {r['read']:.2f} | {r['other_cpu']:.0f} |")
    out += ["", f"Half load: the same {a.conns} connections, each pacing its requests (random "
            "think time, bench/hot/wrk.lua's BENCH_DELAY_MS) so that the offered load is half "
            "the saturated req/s above.", "",
            "| hot path | offered req/s | served req/s | p50 ms | p99 ms | max ms | errors "
            "| service CPU µs/req | PostgreSQL CPU µs/req | shared hit / read per req |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for key, label, _ in PATHS:
        r = paced[key]
        out.append(f"| {label} | {r['target']:,.0f} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} | "
                   f"{r['p99_us'] / 1000:.2f} | {r['max_us'] / 1000:.2f} | "
                   f"{r['non_2xx'] + r['socket_errors']} | {r['service_us']:.0f} | "
                   f"{r['postgres_us']:.0f} | {r['hit']:.1f} / {r['read']:.2f} |")
    print("\n".join(out))
    with open(os.path.join(a.work, "hot.json"), "w") as f:
        json.dump({"saturated": [[l, r] for l, _, r in sat_rows], "paced": paced}, f)

# ---- listing -------------------------------------------------------------------------------
if a.what == "listing":
    # explain.sh's summary lines: label (72 wide), page, rows, exec ms, plan ms, buffers, scans.
    text = open(a.explain_out).read()
    summary = text.split("=== Summary", 1)[1].splitlines()[2:] if "=== Summary" in text else []
    cases = {}
    order = []
    pat = re.compile(r"^(.*?)\s+(first|later)\s+(?:(\d+) rows\s+([\d.]+) ms \(plan\s+([\d.]+) ms\)"
                     r"\s+((?:hit=\d+)?\s*(?:read=\d+)?\s*(?:dirtied=\d+)?\s*(?:written=\d+)?)\s*(.*)"
                     r"|\(fewer.*)$")
    for line in summary:
        m = pat.match(line)
        if not m:
            continue
        label = m[1].strip()
        if label not in cases:
            cases[label] = {}
            order.append(label)
        if m[3] is None:
            cases[label][m[2]] = None
            continue
        buf = m[6]
        hit = re.search(r"hit=(\d+)", buf)
        read = re.search(r"read=(\d+)", buf)
        cases[label][m[2]] = {"ms": float(m[4]), "hit": int(hit[1]) if hit else 0,
                              "read": int(read[1]) if read else 0, "scans": m[7].strip()}

    def cell(c):
        return "–" if not c else f"{c['ms']:.1f} ms, {c['hit']:,} / {c['read']:,}"

    out = ["| filter | first page: time, shared hit / read | later page: time, shared hit / read "
           "| page query's scans |", "|---|---|---|---|"]
    for label in order:
        c = cases[label]
        scans = (c.get("first") or {}).get("scans", "")
        out.append(f"| {label} | {cell(c.get('first'))} | {cell(c.get('later'))} | {scans} |")
    firsts = [c["first"] for c in cases.values() if c.get("first")]
    laters = [c["later"] for c in cases.values() if c.get("later")]
    if firsts:
        tot = lambda xs, k: sum(x[k] for x in xs)
        out += ["", f"Over the {len(firsts)} first pages: shared hit {tot(firsts, 'hit'):,}, read "
                f"{tot(firsts, 'read'):,}, median {sorted(x['hit'] + x['read'] for x in firsts)[len(firsts) // 2]:,} "
                f"buffers, max {max(x['hit'] + x['read'] for x in firsts):,}, median time "
                f"{sorted(x['ms'] for x in firsts)[len(firsts) // 2]:.1f} ms; over the "
                f"{len(laters)} later pages: median "
                f"{sorted(x['hit'] + x['read'] for x in laters)[len(laters) // 2]:,} buffers, max "
                f"{max(x['hit'] + x['read'] for x in laters):,}, median time "
                f"{sorted(x['ms'] for x in laters)[len(laters) // 2]:.1f} ms."]
    print("\n".join(out))

# ---- sweeper -------------------------------------------------------------------------------
if a.what == "sweep":
    # K live accounts without a game_join_block, at random over the whole table; the sanctions
    # lapse together 2 s after the transaction began (expiry_test.cpp's
    # ThreeInstancesSweepingOneDatabaseExpireEachItemExactlyOnce, one instance here). Twice:
    # first with the planner statistics of sanction_active as they were (taken before the
    # insert: no lapsed rows), as after a mass lapse between two autoanalyze runs; then with
    # an ANALYZE of sanction_active between the insert and the lapse.
    def autoanalyzed():
        return int(psql("""SELECT autoanalyze_count FROM pg_stat_user_tables
                            WHERE schemaname = 'user' AND relname = 'sanction_active'"""))

    def expired_records():
        return int(psql("""SELECT count(*) FROM "user".sanction_records
                            WHERE kind = 'expire' AND sanction_code = 'game_join_block'"""))

    # The sweeper's statement (`userservice --print-statements`), for its plan: EXPLAIN
    # without ANALYZE just before the lapse, with the same statistics as the sweeper's first
    # batch (a custom plan, as the service's prepared statement gets for its first runs).
    with open(os.path.join(a.work, "statements.jsonl")) as f:
        sweep_sql = next(json.loads(l)["sql"] for l in f if '"sweep_sanctions"' in l)

    def plan_of_delete(doc):
        """The join under `Delete on sanction_active` (the CTE "gone"), as nested node names."""
        def find(n):
            if n.get("Subplan Name") == "CTE gone":
                return n
            for c in n.get("Plans", []):
                f = find(c)
                if f:
                    return f
            return None

        def desc(n):
            name = n["Node Type"]
            for k in ("Index Name", "CTE Name", "Relation Name"):
                if k in n and n["Node Type"] != "ModifyTable":
                    name += " " + n[k]
                    break
            if "Scan" in n["Node Type"] and "CTE" not in n["Node Type"]:
                name += f" (est. {n['Plan Rows']} rows)"
            kids = n.get("Plans", [])
            return name + (" [" + ", ".join(desc(c) for c in kids) + "]" if kids else "")

        g = find(doc[0]["Plan"])
        return desc(g["Plans"][0]) if g and g.get("Plans") else "?"

    lines = ["| planner statistics of sanction_active | sanctions lapsing together | swept in "
             "(from the lapse until none is left) | items/s | service CPU µs/item "
             "| PostgreSQL CPU µs/item | expire records written | autoanalyze during the sweep "
             "| other CPU % | plan of the batch's DELETE (EXPLAIN before the lapse) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for seed, analyze, label in [(77, False, "from before the insert (no lapsed rows known; autovacuum off for the table)"),
                                 (78, True, "ANALYZE after the insert")]:
        s = Session()
        t = time.time()
        while s.value('SELECT EXISTS (SELECT 1 FROM "user".event_outbox)') == "t":
            if time.time() - t > 300:
                sys.exit("scale: the outbox did not drain before the sweep")
            time.sleep(0.2)
        wait_quiet()
        rec0, aa0 = expired_records(), autoanalyzed()
        # Without ANALYZE: autovacuum held off sanction_active for the pass, so that an
        # autoanalyze somewhere in the middle (its turn comes at a random moment within
        # autovacuum_naptime) does not decide the figure.
        psql(f'ALTER TABLE "user".sanction_active SET (autovacuum_enabled = {"on" if analyze else "off"})')
        out = rows(f"""
SET client_min_messages = warning;
CREATE TEMP TABLE pick AS
SELECT user_id FROM "user".accounts a
 WHERE deleted_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM "user".sanction_active s
                    WHERE s.user_id = a.user_id AND s.sanction_code = 'game_join_block')
 ORDER BY hashtextextended(user_id, {seed}) LIMIT {a.items};
BEGIN;
INSERT INTO "user".sanction_active (user_id, sanction_code, reason_code, actor_type, actor_id,
                                    applied_at, expires_at)
SELECT user_id, 'game_join_block', 'scale_bench', 'admin', 'scale-bench', now(),
       now() + interval '{4 if analyze else 2} seconds' FROM pick;
SELECT extract(epoch FROM now() + interval '{4 if analyze else 2} seconds'), (SELECT count(*) FROM pick),
       (now() + interval '{4 if analyze else 2} seconds')::text;
COMMIT;
{'ANALYZE "user".sanction_active;' if analyze else ''}
SELECT extract(epoch FROM clock_timestamp());
PREPARE sweep AS {sweep_sql};
EXPLAIN (FORMAT JSON) EXECUTE sweep("user".epoch_us(now() + interval '{4 if analyze else 2} seconds'),
  '{{{",".join(f"evt-plan{i:022d}" for i in range(200))}}}', '100', 'expired', 'system',
  'expiry-sweeper', 'login_block');""")
        lapse, k, lapse_txt = float(out[0][0]), int(out[0][1]), out[0][2]
        committed = float(out[1][0])
        plan = plan_of_delete(json.loads("\n".join("\t".join(r) for r in out[2:])))
        if committed >= lapse:
            log(f"warning: the insert committed {committed - lapse:.2f} s after the sanctions lapsed")
        cpu = meter()
        time.sleep(max(0.0, lapse - time.time()))
        cpu.start()
        t0 = max(lapse, committed)
        left_sql = f"""SELECT count(*) FROM "user".sanction_active
                        WHERE expires_at <= '{lapse_txt}'::timestamptz"""
        deadline = time.time() + 900
        while int(s.value(left_sql)) > 0:
            if time.time() > deadline:
                sys.exit("scale: the sweeper did not finish in 15 minutes")
            time.sleep(0.05)
        t1 = time.time()
        d = cpu.stop()
        s.close()
        el = t1 - t0
        psql('ALTER TABLE "user".sanction_active RESET (autovacuum_enabled)')
        rec = expired_records() - rec0
        aa = autoanalyzed() - aa0
        log(f"sweeper, statistics {label}: {k:,} items in {el:.2f} s = {k / el:,.0f} items/s")
        lines.append(f"| {label} | {k:,} | {el:.2f} s | {k / el:,.0f} | {1e6 * d['service'] / k:.0f} | "
                     f"{1e6 * d['postgres'] / k:.0f} | {rec:,} | {'yes' if aa else 'no'} | "
                     f"{d['other_cpu']:.0f} | {plan} |")
    print("\n".join(lines))

# ---- relay ---------------------------------------------------------------------------------
if a.what == "relay":
    def xlen():
        out = subprocess.run(["redis-cli", "-p", str(a.redis_port), "-a", a.redis_password,
                              "--no-auth-warning", "XLEN", "user:domain_events"],
                             check=True, capture_output=True, text=True).stdout
        return int(out.strip() or 0)

    s = Session()
    t = time.time()
    while s.value('SELECT EXISTS (SELECT 1 FROM "user".event_outbox)') == "t":  # the sweeper's events
        if time.time() - t > 300:
            sys.exit("scale: the outbox did not drain before the relay run")
        time.sleep(0.2)
    psql('VACUUM "user".event_outbox')
    time.sleep(1)
    wait_quiet()
    x0 = xlen()
    # Rows as kUpdateSettings (src/adapters/postgres/user_store.cpp) writes them, for live
    # accounts at random; event ids of the service's length (evt- + 26 characters).
    psql(f"""
SET client_min_messages = warning;
CREATE TEMP TABLE pick AS
SELECT user_id, row_number() OVER () AS i FROM
  (SELECT user_id FROM "user".accounts WHERE deleted_at IS NULL
    ORDER BY hashtextextended(user_id, 99) LIMIT {a.items}) x;
INSERT INTO "user".event_outbox (event_id, stream, event_type, user_id, occurred_at, payload,
                                 traceparent)
SELECT 'evt-scale' || lpad(i::text, 21, '0'), 'domain', 'user.settings.changed', user_id, now(),
       json_build_object('user_id', user_id, 'preferred_language', 'de',
                         'time_zone', 'Europe/Berlin', 'previous_preferred_language', 'en',
                         'previous_time_zone', 'UTC')::text,
       '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  FROM pick;""")
    # Committed when psql returns; the relay polls every 25 ms.
    cpu = meter()
    cpu.start()
    t0 = time.time()
    deadline = t0 + 600
    while s.value('SELECT EXISTS (SELECT 1 FROM "user".event_outbox)') == "t":
        if time.time() > deadline:
            sys.exit("scale: the relay did not drain the outbox in 10 minutes")
        time.sleep(0.02)
    t1 = time.time()
    d = cpu.stop()
    s.close()
    el = t1 - t0
    n = a.items
    got = xlen() - x0
    log(f"relay: {n:,} events in {el:.2f} s = {n / el:,.0f} events/s; {got:,} new stream entries")
    print(f"| events inserted in one transaction | drained in (commit → outbox empty) | events/s "
          f"| service CPU µs/event | PostgreSQL CPU µs/event | Redis CPU µs/event | new entries in user:domain_events | other CPU % |\n"
          f"|---|---|---|---|---|---|---|---|\n"
          f"| {n:,} | {el:.2f} s | {n / el:,.0f} | {1e6 * d['service'] / n:.0f} | "
          f"{1e6 * d['postgres'] / n:.0f} | {1e6 * d['rest'] / n:.0f} | {got:,} | {d['other_cpu']:.0f} |")
PY
measure() {
  python3 "$work/measure.py" "$@" --root "$root" --work "$work" --pg-port "$pg_port" \
    --http-port "$http_port" --service-pid "$svc_pid" --redis-port "$redis_port" \
    --redis-password "$redis_password" --duration "$duration" --conns "$conns" \
    --quiet-wait "${SCALE_QUIET_WAIT:-30}"
}

say "sizes"
sizes_md=$(measure sizes)
say "hot paths (warm-up + 5 saturated + 4 half-load runs of ${duration} s)"
hot_md=$(measure hot)

listing_md="(skipped: SCALE_EXPLAIN=0)"
explain_s=0
if [ "${SCALE_EXPLAIN:-1}" != 0 ]; then
  say "admin listing (bench/listing/explain.sh)"
  ex_t0=$(date +%s)
  explain_rc=0
  bash bench/listing/explain.sh "$dsn" >"$work/explain.txt" 2>&1 || explain_rc=$?
  explain_s=$(($(date +%s) - ex_t0))
  listing_md=$(measure listing --explain-out "$work/explain.txt")
  if [ "$explain_rc" != 0 ]; then
    listing_md+=$'\n\n'"explain.sh exited with $explain_rc (1: a plan has a Seq Scan on accounts): $(grep -c 'SEQ SCAN ON ACCOUNTS' "$work/explain.txt" || true) summary line(s) flagged."
  fi
fi

"$bin" --print-statements >"$work/statements.jsonl"
say "expiry sweeper: restarting the service with USERSERVICE_EXPIRY_SWEEP_INTERVAL=200ms"
bench_stop_service
bench_start_service USERSERVICE_EXPIRY_SWEEP_INTERVAL=200ms
sweep_md=$(measure sweep --items "$sweep_items")
say "outbox relay"
relay_md=$(measure relay --items "$relay_events")

# ---- Report ------------------------------------------------------------------------------------
version=$("$bin" --version)
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
wall=$(($(date +%s) - run_start))
seed_summary=$(grep -E '^(accounts|plan|sanction|limit|size) ' "$work/seed.log" | sed 's/^/    /' || true)
report=$(cat <<EOF
# Scale: $(commas "$accounts") accounts — $(date -u '+%Y-%m-%d %H:%M UTC')

- \`bench/scale.sh $accounts\`; \`$version\`${SCALE_BIN:+ (SCALE_BIN=$SCALE_BIN)}; $(nproc) cores ($cpu_model); $(free -g | awk '/^Mem:/ {print $2}') GiB
- PostgreSQL $(psql_ -At -c 'SHOW server_version') (scripts/servers.sh settings: fsync=off; shared_buffers $(psql_ -At -c 'SHOW shared_buffers'), huge pages $huge, otherwise defaults), Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); service env as bench/run.sh: defaults + USERSERVICE_POSTGRES_MAX_OPEN_CONNS=$pool, logs at warn, telemetry exporters off (the sweeper run adds USERSERVICE_EXPIRY_SWEEP_INTERVAL=200ms)
- $(commas "$accounts") accounts seeded by bench/listing/seed.sh ($(commas "$live") live); hot paths draw from a random sample of $(commas "$(wc -l <"$work/ids.txt")") live accounts
- CPU per request: utime + stime from /proc/<pid>/stat — the service process; PostgreSQL = the postmaster and all its children (backends, checkpointer, autovacuum, …; exited ones through the postmaster's children times), over each wrk run (bench/hot/driver.py's CpuMeter); not pg_stat_statements (not loaded). Shared hit / read: pg_stat_database blks_hit / blks_read deltas over the run, per request ("read" = not in shared_buffers: from the OS page cache or disk)
- whole run $((wall / 60)) min $((wall % 60)) s

## Seed

bench/listing/seed.sh: $seed_s s ($(awk -v s="$seed_s" -v n="$accounts" 'BEGIN { printf "%.1f", s / 60 / (n / 1e6) }') min per million accounts; its own log: $(grep -E '^vacuum analyze' "$work/seed.log" || echo '-')).

$seed_summary

## Sizes (after the seed)

$sizes_md

## Hot paths through the service

$hot_md

## Admin listing (bench/listing/explain.sh, page_size 50, later = after 1,000 matches; warm runs; $explain_s s)

$listing_md

## Expiry sweeper (one instance, USERSERVICE_EXPIRY_SWEEP_INTERVAL=200ms)

$sweep_md

## Outbox relay (one leader)

$relay_md
EOF
)
mkdir -p "$(dirname "$results")"
printf '%s\n' "$report" >"$results"
printf '%s\n' "$report"
say "written to $results (whole run $((wall / 60)) min $((wall % 60)) s)"
