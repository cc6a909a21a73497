#!/usr/bin/env python3
"""Runs the hot-path measurements of bench/run.sh against an already running, seeded service.

For every hot path and concurrency level: wrk against the service, then pgbench running the
service's own statements for that request (generated here from `userservice
--print-statements`) at the same concurrency and duration, with the service paused (SIGSTOP)
so that nothing else competes for the cores. Then the idle mode: COUNT idle keep-alive
connections held open while the 32-connection wrk load runs. Prints one table and writes it
to --results. The method and its deviations are described in docs/benchmarks.md ("Hot paths:
service vs pgbench").
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class HotPath:
    key: str  # BENCH_PATH of wrk.lua, pgbench script name
    label: str
    route: str
    kind: str  # "read" | "write": which ratio target applies
    # The service's statements for one request, in order, each with the pgbench variables
    # that fill $1, $2, …; more than one runs as one pipeline (one round trip, one implicit
    # transaction), as the service's Pool::pipeline sends it.
    statements: list = field(default_factory=list)
    # Statements the request runs first, each in a round trip of its own (ensure's facts read
    # before it creates).
    before: list = field(default_factory=list)


# Read from src/adapters/http/handlers/*.cpp → src/services/account_service.cpp →
# src/adapters/postgres/user_store.cpp. The parameters in the order PgUserStore passes them.
ENSURE = ["new_uid", "new_uname", "lang_default", "tz_default", "now_us", "new_evt", "traceparent"]
PATHS = [
    HotPath("account_view", "account view", "GET /users/{id}/account", "read",
            [("account_state_by_id", ["uid"])]),
    HotPath("eligibility", "eligibility", "GET /users/{id}/eligibility", "read",
            [("account_state_by_id", ["uid"])]),
    HotPath("eligibility_batch", "eligibility batch of 20", "POST /users/eligibility:batch", "read",
            [("live_account_states", ["batch"])]),
    HotPath("resolve_by_email", "resolve by email", "POST /user-resolutions/by-email", "read",
            [("email_facts", ["email"])]),
    # Ensure reads the email's facts first; an existing account ends there (nothing written),
    # a new one then runs the insert with the facts read pipelined.
    HotPath("ensure_existing", "ensure by email, existing", "POST /users/ensure-by-email", "write",
            [("email_facts", ["email"])]),
    HotPath("ensure_new", "ensure by email, new account", "POST /users/ensure-by-email", "write",
            [("ensure_account", ["new_email"] + ENSURE), ("email_facts", ["new_email"])],
            before=[("email_facts", ["new_email"])]),
    HotPath("settings_patch", "settings patch", "PATCH /users/{id}/settings", "write",
            [("lock_live_account", ["uid"]),
             ("update_settings", ["uid", "lang", "tz", "now_us", "new_evt", "traceparent"]),
             ("account_state_by_id", ["uid"])]),
]

# Read coalescing (docs/architecture.md, "Read coalescing"): the set forms the service runs
# instead of the single reads above when requests queue. Their own pgbench figure, with
# COALESCED_KEYS distinct random keys per execution, shows where the service's gain comes
# from: requests/s = tps × keys. (path key, single statement, set form, its parameter kind)
COALESCED_KEYS = 8
MIN_SET_ELEMENTS = 16  # the pool pads every key array to this length (pool.cpp)
COALESCED = [
    ("account_view", "account_state_by_id", "account_states_by_ids", "uid"),
    ("resolve_by_email", "email_facts", "email_facts_many", "email"),
]

# Constant parameters (pgbench -D): the service's defaults for a request without
# registration_context, and a traceparent of the shape the service stores for a request
# without one (it mints trace and span ids; flags 01).
CONSTANTS = {
    "lang_default": "en",
    "tz_default": "UTC",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}

# The parameter fetch (bench-only): pgbench cannot build strings, so the text parameters
# come from the database. One fetch round trip returns the parameters of the client's next
# SLOTS transactions (SLOTS random rows of bench.params, SLOTS sets of new-account values),
# and the script holds SLOTS copies of the service's statements, the copy for slot j using
# the variables suffixed _j (pgbench cannot index variables). So every transaction still
# uses its own random account, and the fetch costs 1/SLOTS of a round trip per transaction;
# the fetch-only script measures that residue so that "est." can take it out again.
# (\gset is not allowed inside a pipeline, so the fetch cannot share the statements' round
# trip.) New-account values are unique per client, transaction and run:
# nid = 10^17 + run·10^11 + k·1000 + client_id (k numbers the client's transactions); ids
# and event ids keep the service's length (user- + 26, evt- + 26) and grow over time like
# ULIDs. Language and zone lists: the same as bench/hot/wrk.lua.
SLOTS = 8
FETCH_COLUMNS = """p{j}.user_id AS uid_{j}, p{j}.email AS email_{j}, p{j}.batch AS batch_{j},
       'pgb-' || :nid{j} || '@example.com' AS new_email_{j},
       'user-00000000' || :nid{j} AS new_uid_{j},
       'p' || :nid{j} AS new_uname_{j},
       'evt-00000000' || :nid{j} AS new_evt_{j},
       (ARRAY['en', 'de', 'fr', 'pt-BR'])[:li{j}::int] AS lang_{j},
       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'])[:zi{j}::int] AS tz_{j}"""


def fetch_block(live, slots=SLOTS):
    # Slot j is the client's transaction k + j - 1: its nid is unique as described above.
    sets = [f"\\set n{j} random(1, {live})\n\\set li{j} random(1, 4)\n"
            f"\\set zi{j} random(1, 4)\n\\set nid{j} :nid + {(j - 1) * 1000}\n"
            for j in range(1, slots + 1)]
    cols = ",\n       ".join(FETCH_COLUMNS.format(j=j) for j in range(1, slots + 1))
    tables = ", ".join(f"bench.params p{j}" for j in range(1, slots + 1))
    where = " AND ".join(f"p{j}.n = :n{j}" for j in range(1, slots + 1))
    return ("\\set k :k + 1\n"
            f"\\set slot 1 + (:k - 1) % {slots}\n"
            "\\if :slot = 1\n"
            "\\set nid 100000000000000000 + :run * 100000000000 + :k * 1000 + :client_id\n"
            + "".join(sets) +
            f"SELECT {cols},\n"
            '       "user".epoch_us(clock_timestamp()) AS now_us\n'
            f"  FROM {tables}\n WHERE {where} \\gset\n"
            "\\endif\n")


def fail(msg):
    sys.exit(f"bench: {msg}")


def load_statements(path):
    stmts = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                stmts[obj["name"]] = obj["sql"]
    return stmts


def to_pgbench(name, sql, params):
    """The statement with $n replaced by pgbench variables; fails loudly on any drift."""
    numbers = sorted({int(m) for m in re.findall(r"\$(\d+)", sql)})
    if numbers != list(range(1, len(params) + 1)):
        fail(f"statement {name} uses parameters {numbers}, the bench passes {len(params)}: "
             "update PATHS in bench/hot/driver.py")
    if ";" in sql:
        fail(f"statement {name} contains ';', which would end a pgbench command early")
    return re.sub(r"\$(\d+)", lambda m: ":" + params[int(m.group(1)) - 1], sql.strip()) + ";"


def slot_variable(name, j):
    """Per-slot variables carry the slot suffix; constants (pgbench -D) and now_us do not."""
    return name if name in CONSTANTS or name == "now_us" else f"{name}_{j}"


def write_scripts(dirname, stmts, live):
    os.makedirs(dirname, exist_ok=True)
    scripts = {}

    def emit(key, text):
        path = os.path.join(dirname, key + ".sql")
        with open(path, "w") as f:
            f.write(text)
        scripts[key] = path

    def path_script(p, slots):
        missing = [n for n, _ in p.before + p.statements if n not in stmts]
        if missing:
            fail(f"statements {missing} not printed by userservice --print-statements")
        parts = [header, f"-- {p.key}: {p.route}\n", fetch_block(live, slots)]
        for j in range(1, slots + 1):
            parts.append(("\\if" if j == 1 else "\\elif") + f" :slot = {j}\n")
            for n, args in p.before:
                parts.append(f"-- service statement {n} (slot {j}), its own round trip\n" +
                             to_pgbench(n, stmts[n], [slot_variable(v, j) for v in args]) + "\n")
            body = [f"-- service statement {n} (slot {j})\n" +
                    to_pgbench(n, stmts[n], [slot_variable(v, j) for v in args])
                    for n, args in p.statements]
            if len(body) > 1:
                parts += ["\\startpipeline\n", "\n".join(body) + "\n", "\\endpipeline\n"]
            else:
                parts += [body[0] + "\n"]
        parts.append("\\endif\n")
        return "".join(parts)

    header = "-- generated by bench/hot/driver.py from `userservice --print-statements`\n"
    emit("fetch_only", header + "-- the parameter fetch alone\n" + fetch_block(live))
    for p in PATHS:
        emit(p.key, path_script(p, SLOTS))
    # Calibration of the correction: the account read with a fetch round trip in every
    # transaction; its "est." must agree with the SLOTS-way one if subtracting works.
    emit("fetch_only_1", header + "-- the parameter fetch alone, every transaction\n" +
         fetch_block(live, 1))
    emit("account_view_1", path_script(PATHS[0], 1))
    # The coalesced set forms: every transaction fetches COALESCED_KEYS random rows and runs
    # the set form once over their keys; "fetch_keys" is that fetch alone, for "est.".
    k = COALESCED_KEYS
    sets = "".join(f"\\set n{j} random(1, {live})\n" for j in range(1, k + 1))
    cols = ", ".join(f"p{j}.user_id AS uid_{j}, p{j}.email AS email_{j}" for j in range(1, k + 1))
    tables = ", ".join(f"bench.params p{j}" for j in range(1, k + 1))
    where = " AND ".join(f"p{j}.n = :n{j}" for j in range(1, k + 1))
    fetch = f"{sets}SELECT {cols}\n  FROM {tables}\n WHERE {where} \\gset\n"
    emit("fetch_keys", header + f"-- {k} random rows' keys, every transaction\n" + fetch)
    for key, _single, set_form, kind in COALESCED:
        if set_form not in stmts:
            fail(f"statement {set_form} not printed by userservice --print-statements")
        # Padded with NULLs to the pool's minimum array length, as the service sends it
        # (pool.cpp, kMinSetElements).
        pad = ["NULL"] * max(0, MIN_SET_ELEMENTS - k)
        array = "ARRAY[" + ", ".join([f":{kind}_{j}" for j in range(1, k + 1)] + pad) + "]::text[]"
        sql = stmts[set_form].strip().replace("$1::text[]", array).replace("$1", array)
        emit("coalesced_" + key, header + f"-- {set_form} over {k} keys\n" + fetch + sql + ";\n")
    return scripts


TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children=False):
    """CPU seconds of a process (and of its reaped children); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
    return out


class CpuMeter:
    """Where the CPU went during a run: the service, PostgreSQL, and processes outside the
    benchmark.

    The cores are shared (other builds and tests may run at the same time); a run that had
    to share them is not comparable with one that had them alone, so every row says how
    much CPU went elsewhere. Ours: the service, the postmaster and its backends (live ones,
    and exited ones through the postmaster's children times), Redis, this driver and its
    children (wrk, pgbench, the idle holder).
    """

    def __init__(self, service_pid, postmaster_pid, redis_pid):
        self.pids = (service_pid, postmaster_pid, redis_pid)
        with open("/proc/stat") as f:
            self.cpus = sum(1 for line in f if re.match(r"cpu\d", line))

    @staticmethod
    def busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v[:8]) - v[3] - v[4]) / TICKS  # all but idle and iowait

    def sample(self):
        service, postmaster, redis = self.pids
        t = os.times()
        pg = proc_cpu(postmaster, children=True) + sum(proc_cpu(p) for p in children_of(postmaster))
        # "client": the load generator (wrk or pgbench), reaped by subprocess.run before stop().
        return {"busy": self.busy(), "service": proc_cpu(service), "postgres": pg,
                "client": t.children_user + t.children_system,
                "rest": t.user + t.system + proc_cpu(redis)}

    def start(self):
        self.t0, self.s0 = time.monotonic(), self.sample()

    def stop(self):
        """CPU seconds per part since start(), and "other_cpu": the outside share in %."""
        time.sleep(0.3)  # lets the postmaster reap the backends of closed connections
        wall = time.monotonic() - self.t0
        s1 = self.sample()
        d = {k: s1[k] - self.s0[k] for k in s1}
        other = d["busy"] - d["service"] - d["postgres"] - d["client"] - d["rest"]
        d["other_cpu"] = max(0.0, 100.0 * other / (wall * self.cpus))
        return d

    def other_percent(self):
        return self.stop()["other_cpu"]


class Bench:
    def __init__(self, args):
        self.a = args
        self.run_id = 0
        self.connect_pad = {}  # conns -> seconds added to pgbench -T for connecting
        self.log_offset = 0
        self.pg = ["-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres"]
        with open(os.path.join(args.pg_data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        with open(args.redis_pidfile) as f:
            redis = int(f.readline())
        self.cpu = CpuMeter(args.service_pid, postmaster, redis)

    # ---- helpers ----------------------------------------------------------------------
    def psql(self, sql):
        out = subprocess.run(["psql", "-X", "-q", "-At", *self.pg, "-d", "postgres", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def status_kb(self, key):
        with open(f"/proc/{self.a.service_pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        fail(f"{key} missing from /proc/{self.a.service_pid}/status")

    def reset_peak_rss(self):
        # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0), so each
        # run reports its own peak.
        with open(f"/proc/{self.a.service_pid}/clear_refs", "w") as f:
            f.write("5")

    def alive(self):
        try:
            os.kill(self.a.service_pid, 0)
            return True
        except ProcessLookupError:
            return False

    def outbox_rows(self):
        return int(self.psql('SELECT count(*) FROM "user".event_outbox'))

    def wait_outbox_drained(self, timeout=180):
        """Events of the previous run must not be published during the next one."""
        t0 = time.monotonic()
        while self.outbox_rows() > 0:
            if time.monotonic() - t0 > timeout:
                print(f"  warning: outbox not drained after {timeout}s", file=sys.stderr)
                return
            time.sleep(0.2)

    def settle(self):
        self.psql("CHECKPOINT")  # every run starts right after a checkpoint
        time.sleep(0.5)
        self.wait_quiet()

    def wait_quiet(self):
        """Waits (up to --quiet-wait seconds) until other processes leave the cores alone for
        a second: builds and tests of other engineers share this machine."""
        deadline = time.monotonic() + self.a.quiet_wait
        while True:
            self.cpu.start()
            time.sleep(1)
            busy = self.cpu.other_percent()
            if busy <= 10 or time.monotonic() > deadline:
                return

    # ---- load generators --------------------------------------------------------------
    def wrk(self, key, conns, delay_ms=None):
        self.run_id += 1
        env = dict(os.environ, BENCH_PATH=key, BENCH_IDS=self.a.ids, BENCH_RUN=str(self.run_id))
        if delay_ms:
            env["BENCH_DELAY_MS"] = f"{delay_ms:.3f}"
        cmd = ["wrk", "-t2", f"-c{conns}", f"-d{self.a.duration}s", "--timeout", "5s",
               "-s", os.path.join(HERE, "wrk.lua"), f"http://127.0.0.1:{self.a.http_port}"]
        self.cpu.start()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        cpu = self.cpu.stop()
        m = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            fail(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["other_cpu"] = cpu["other_cpu"]
        r["service_us"] = 1e6 * cpu["service"] / max(1, r["requests"])
        r["postgres_us"] = 1e6 * cpu["postgres"] / max(1, r["requests"])
        r["client_us"] = 1e6 * cpu["client"] / max(1, r["requests"])
        return r

    def pgbench_cmd(self, script, conns, pad, *extra):
        """pgbench on `script` with `conns` clients for the run duration + `pad` seconds (its
        -T includes connecting them), the constants and a fresh run id as variables."""
        self.run_id += 1
        defs = ["-D", "k=0", "-D", f"run={self.run_id}"]
        for k, v in CONSTANTS.items():
            defs += ["-D", f"{k}={v}"]
        return ["pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", "2",
                "-T", str(self.a.duration + pad), *extra, *self.pg, *defs, "-f", script,
                "postgres"]

    def pgbench(self, script, conns):
        """One pgbench run whose measured window (after all clients connected) lasts the
        run duration: -T includes the connection phase, which at 256 clients on busy cores
        can take seconds, so -T is padded by the connection time seen last (and rerun with a
        larger pad when it was too small)."""
        for _ in range(4):
            pad = self.connect_pad.get(conns, 2 + conns // 32)
            cmd = self.pgbench_cmd(script, conns, pad)
            # The service's sessions run with statement_timeout = its operation timeout (1 s);
            # pgbench's do not: there a timed-out statement aborts its client, and with it
            # the run, when 256 clients queue for 2 busy cores.
            env = dict(os.environ, PGOPTIONS="-c statement_timeout=0")
            self.cpu.start()
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            cpu = self.cpu.stop()
            tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
            failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
            lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
            done = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
            conn = re.search(r"initial connection time = ([\d.]+) ms", out.stdout)
            conn_s = float(conn.group(1)) / 1000 if conn else 0.0
            window = self.a.duration + pad - conn_s
            ok = out.returncode == 0 and tps and float(tps.group(1)) > 0
            # No transactions at all: the clients were still connecting when -T ran out.
            self.connect_pad[conns] = max(pad, int(conn_s) + 2) if ok else 2 * pad
            if ok and window >= 0.9 * self.a.duration:
                return {"tps": float(tps.group(1)),
                        "failed": int(failed.group(1)) if failed else 0,
                        "latency_ms": float(lat.group(1)) if lat else None,
                        "other_cpu": cpu["other_cpu"],
                        # includes connecting the clients (backend start-up)
                        "postgres_us": 1e6 * cpu["postgres"] / max(1, int(done.group(1))),
                        "client_us": 1e6 * cpu["client"] / max(1, int(done.group(1)))}
        # One failed pgbench run must not throw away the whole benchmark: the row shows "–".
        print(f"bench: pgbench failed ({out.returncode}) on {script}:\n{out.stdout}\n"
              f"{out.stderr[-2000:]}", file=sys.stderr)
        return None

    def pgbench_rate(self, script, conns, rate):
        """pgbench paced to `rate` transactions/s in all (-R: a Poisson schedule), the service
        paused, every transaction logged (-l). Returns the p50/p99 of the transaction time
        without its schedule lag (the time from sending to the answer, which is what wrk's
        per-request latency measures) and with it, and the CPU per transaction. Percentiles
        leave out the transactions that also run the parameter fetch."""
        self.settle()
        os.kill(self.a.service_pid, signal.SIGSTOP)
        logdir = tempfile.mkdtemp(prefix="pgbench-rate-")
        try:
            pad = self.connect_pad.get(conns, 2 + conns // 32)
            cmd = self.pgbench_cmd(script, conns, pad, "-R", f"{rate:.0f}", "-l",
                                   "--log-prefix", os.path.join(logdir, "tx"))
            env = dict(os.environ, PGOPTIONS="-c statement_timeout=0")
            self.cpu.start()
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            cpu = self.cpu.stop()
            times, with_lag, total = [], [], 0
            for name in os.listdir(logdir):
                with open(os.path.join(logdir, name)) as f:
                    for line in f:
                        v = line.split()
                        total += 1
                        # Skip the transactions that carry the parameter fetch (the first
                        # of every SLOTS, counted from 1 per client): an extra round trip
                        # the service does not make; one transaction in SLOTS would otherwise
                        # fill the p99 with it.
                        if len(v) >= 7 and (int(v[1]) - 1) % SLOTS != 0:
                            times.append(int(v[2]) - int(v[6]))
                            with_lag.append(int(v[2]))
        finally:
            os.kill(self.a.service_pid, signal.SIGCONT)
            shutil.rmtree(logdir, ignore_errors=True)
        if out.returncode != 0 or not times:
            print(f"bench: paced pgbench failed ({out.returncode}) on {script}:\n"
                  f"{out.stdout}\n{out.stderr[-2000:]}", file=sys.stderr)
            return None
        times.sort()
        with_lag.sort()
        pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] / 1000
        return {"tps": total / (self.a.duration + pad), "p50_ms": pct(times, 0.5),
                "p99_ms": pct(times, 0.99), "p99_lag_ms": pct(with_lag, 0.99),
                "postgres_us": 1e6 * cpu["postgres"] / total,
                "client_us": 1e6 * cpu["client"] / total}

    def pgbench_paused(self, script, conns, write):
        """pgbench with the service stopped; its outbox rows are dropped, not published."""
        self.settle()
        os.kill(self.a.service_pid, signal.SIGSTOP)
        try:
            r = self.pgbench(script, conns) or dict(MISSING)
            if write:
                self.psql('DELETE FROM "user".event_outbox')
        finally:
            os.kill(self.a.service_pid, signal.SIGCONT)
        return r

    def service_run(self, key, conns, idle=0):
        """wrk against the service; with `idle`, that many idle keep-alive connections are
        opened first (after the settle, so that they are not idle for long before the load)
        and peak RSS covers them."""
        self.wait_outbox_drained()
        self.settle()
        if not self.alive():
            fail("the service exited; see its log")
        self.reset_peak_rss()
        holder = self.start_holder(idle) if idle else None
        try:
            r = self.wrk(key, conns)
            r["hwm_kb"] = self.status_kb("VmHWM")
        finally:
            if holder:
                r_held = self.stop_holder(holder)
        if holder:
            r["held"] = r_held
        r["outbox_left"] = self.outbox_rows()
        r["failures"] = self.new_failures()
        return r

    def new_failures(self):
        """Counts the service's "request failed" warnings since the last call, by error code
        and detail (the log is at warn level, so these are the non-2xx answers' causes)."""
        counts = {}
        with open(self.a.service_log, errors="replace") as f:
            f.seek(self.log_offset)
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "request failed":
                    key = f"{rec.get('code')} ({rec.get('detail') or rec.get('message')})"
                    counts[key] = counts.get(key, 0) + 1
            self.log_offset = f.tell()
        return counts

    def start_holder(self, count):
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "idle_holder.py"), "127.0.0.1",
                              str(self.a.http_port), str(count), self.a.ids],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.startswith("ready "):
            p.kill()
            fail(f"idle holder did not get ready: {line!r}")
        return p

    @staticmethod
    def stop_holder(p):
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])


NAN = float("nan")
MISSING = {"tps": NAN, "failed": 0, "latency_ms": None, "other_cpu": NAN, "postgres_us": NAN,
           "client_us": NAN}


def fmt(v, digits=0):
    if v is None or v != v:
        return "–"
    return f"{v:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--statements", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--live", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--pg-data", required=True)
    ap.add_argument("--redis-pidfile", required=True)
    ap.add_argument("--service-pid", type=int, required=True)
    ap.add_argument("--service-log", required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--conns", default="32,256")
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quiet-wait", type=float, default=30)
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--paths", default="", help="comma-separated subset of the hot paths")
    ap.add_argument("--repeat", type=int, default=1,
                    help="alternate service and pgbench runs this many times per row")
    ap.add_argument("--paced", type=int, default=1,
                    help="1: also measure the read paths' latency at half load")
    a = ap.parse_args()
    # bench/run.sh stops the driver with SIGTERM: unwind, so that the finally blocks stop the
    # idle holder and resume a paused service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    stmts = load_statements(a.statements)
    scripts = write_scripts(os.path.join(a.work, "pgbench"), stmts, a.live)
    b = Bench(a)
    levels = [int(c) for c in a.conns.split(",") if c]
    wanted = [k for k in a.paths.split(",") if k]
    unknown = set(wanted) - {p.key for p in PATHS}
    if unknown:
        fail(f"unknown BENCH_PATHS {sorted(unknown)}; known: {[p.key for p in PATHS]}")
    paths = [p for p in PATHS if not wanted or p.key in wanted]
    rows, notes = [], []
    fetch_tps = {}

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    for conns in levels:
        f = b.pgbench_paused(scripts["fetch_only"], conns, write=False)
        fetch_tps[conns] = f["tps"]
        log(f"[{conns} conns] parameter fetch alone: {fmt(f['tps'])} tps")
        for p in paths:
            # With --repeat n, service and pgbench alternate n times and the row is the pair
            # with the median raw ratio (one real pair, so its columns stay consistent); the
            # range goes to the notes. Run-to-run noise on this machine is larger than most
            # of the differences the table is read for (docs/benchmarks.md).
            pairs = []
            for _ in range(a.repeat):
                s = b.service_run(p.key, conns)
                g = b.pgbench_paused(scripts[p.key], conns, write=p.kind == "write")
                pairs.append((s, g))
            ratios = sorted(((s["rps"] / g["tps"] if g["tps"] else NAN), i)
                            for i, (s, g) in enumerate(pairs))
            s, g = pairs[ratios[len(ratios) // 2][1]]
            for extra, _ in [pairs[i] for _, i in ratios if pairs[i][0] is not s]:
                for what, n in extra["failures"].items():
                    s["failures"][what] = s["failures"].get(what, 0) + n
            if a.repeat > 1:
                notes.append(f"{p.key} at {conns} conns: raw ratio over {a.repeat} alternating "
                             f"runs {ratios[0][0]:.2f}–{ratios[-1][0]:.2f} (row: the median)")
            rows.append((p, str(conns), conns, s, g))
            log(f"[{conns} conns] {p.key}: service {s['rps']:,.0f} req/s "
                f"(p99 {s['p99_us'] / 1000:.2f} ms, non-2xx {s['non_2xx']}), "
                f"pgbench {fmt(g['tps'])} tps, peak RSS {s['hwm_kb'] / 1024:.1f} MiB, "
                f"other processes' CPU {s['other_cpu']:.0f}% / {fmt(g['other_cpu'])}%")
            for what, n in s["failures"].items():
                notes.append(f"{p.key} at {conns} conns: {n} × {what}")
            if g["failed"]:
                notes.append(f"pgbench {p.key} at {conns}: {g['failed']} failed transactions")
            if p.kind == "write" and s["outbox_left"]:
                notes.append(f"{p.key} at {conns} conns: {s['outbox_left']:,} events still in "
                             "the outbox when wrk ended (the relay lagged behind the writes)")
        if conns == levels[0] and "account_view" in [p.key for p in paths]:
            f1 = b.pgbench_paused(scripts["fetch_only_1"], conns, write=False)
            r1 = b.pgbench_paused(scripts["account_view_1"], conns, write=False)
            r8 = next(r[4]["tps"] for r in rows if r[0].key == "account_view" and r[2] == conns)
            est8 = 1 / (1 / r8 - 1 / fetch_tps[conns]) if r8 < fetch_tps[conns] else NAN
            est1 = 1 / (1 / r1["tps"] - 1 / f1["tps"]) if r1["tps"] < f1["tps"] else NAN
            notes.append(f"check of the fetch correction at {conns} conns: account view with a "
                         f"fetch round trip in every transaction ran {fmt(r1['tps'])} tps, the "
                         f"fetch alone {fmt(f1['tps'])} tps, so est. {fmt(est1)} tps; with one "
                         f"fetch per {SLOTS} transactions est. {fmt(est8)} tps")
            log(notes[-1])

    # The coalesced statements' own figure, at the first load level.
    coalesced_rows = []
    conns = levels[0]
    if any(p.key == key for p in paths for key, *_ in COALESCED):
        fk = b.pgbench_paused(scripts["fetch_keys"], conns, write=False)
        for key, single, set_form, _kind in COALESCED:
            if not any(p.key == key for p in paths):
                continue
            g = b.pgbench_paused(scripts["coalesced_" + key], conns, write=False)
            est = 1 / (1 / g["tps"] - 1 / fk["tps"]) if g["tps"] < fk["tps"] else NAN
            coalesced_rows.append((single, set_form, g, est, fk))
            log(f"[{conns} conns] {set_form} over {COALESCED_KEYS} keys: {fmt(g['tps'])} tps "
                f"(est. {fmt(est)}), = {fmt(est * COALESCED_KEYS)} requests/s")

    if a.idle > 0:
        conns = levels[0]
        for p in paths:
            s = b.service_run(p.key, conns, idle=a.idle)
            held = s["held"]
            g = next(r[4] for r in rows if r[0] is p and r[2] == conns)
            rows.append((p, f"{conns} + {a.idle:,} idle", conns, s, g))
            log(f"[{conns} + {a.idle} idle] {p.key}: service {s['rps']:,.0f} req/s, "
                f"peak RSS {s['hwm_kb'] / 1024:.1f} MiB, idle connections open at the end "
                f"{held['open_at_end']}/{held['opened']}")
            for what, n in s["failures"].items():
                notes.append(f"{p.key} at {conns} + {a.idle} idle: {n} × {what}")
            if held["open_at_end"] != held["opened"]:
                notes.append(f"idle mode {p.key}: only {held['open_at_end']} of "
                             f"{held['opened']} idle connections were still open at the end")

    # ---- latency below saturation ------------------------------------------------------
    # wrk keeps every connection busy, so the runs above measure a saturated closed loop,
    # where the mean latency is connections / throughput (Little's law) for the service and
    # pgbench alike. These runs pace each connection (random think time, exponential, wrk's
    # delay()) so that the offered load is half of the saturated throughput measured above.
    paced = []
    conns = levels[0]
    if a.paced:
        for p, label, c, s, g in list(rows):
            if label != str(conns) or p.kind != "read" or not s["rps"]:
                continue
            target = 0.5 * s["rps"]
            b.wait_outbox_drained()
            b.settle()
            r = b.wrk(p.key, conns, delay_ms=1000.0 * conns / target)
            # pgbench at the rate the service served: the same SQL, one statement per request
            pr = b.pgbench_rate(scripts[p.key], conns, r["rps"]) if r["rps"] else None
            paced.append((p, conns, target, r, pr))
            log(f"[{conns} conns, half load] {p.key}: {r['rps']:,.0f} req/s, "
                f"p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms; pgbench at "
                f"that rate: p99 {pr['p99_ms'] if pr else float('nan'):.2f} ms")

    # ---- table --------------------------------------------------------------------------
    head = ("| hot path | | conns | service req/s | p50 ms | p99 ms | pgbench mean ms | errors "
            "| pgbench tps raw "
            "| pgbench tps est. | ratio est. (raw) | service CPU µs/req | PG CPU µs: svc / pgbench "
            "| load gen. CPU µs: wrk / pgbench | all CPU µs: svc / pgbench "
            "| peak RSS MiB | other CPU % | misses target |")
    lines = [head, "|" + "---|" * 18]
    for p, label, conns, s, g in rows:
        est = 1 / (1 / g["tps"] - 1 / fetch_tps[conns]) if g["tps"] < fetch_tps[conns] else None
        ratio = s["rps"] / est if est else None
        rss = s["hwm_kb"] / 1024
        misses = []
        want = 0.9 if p.kind == "read" else 0.8
        if ratio is not None and ratio < want:
            misses.append(f"ratio < {want}")
        if p.kind == "read" and label == "32" and s["p99_us"] > 5000:
            misses.append("p99 > 5 ms")
        if label == "256" and rss > 64:
            misses.append("RSS > 64")
        if "idle" in label and rss > 128:
            misses.append("RSS > 128")
        errors = s["non_2xx"] + s["socket_errors"]
        lines.append(
            f"| {p.label} | {p.kind[0].upper()} | {label} | {fmt(s['rps'])} | "
            f"{s['p50_us'] / 1000:.2f} | {s['p99_us'] / 1000:.2f} | "
            f"{fmt(g['latency_ms'], 2) if g['latency_ms'] is not None else '–'} | "
            f"{errors} | {fmt(g['tps'])} | "
            f"{fmt(est)} | {fmt(ratio, 2)} ({fmt(s['rps'] / g['tps'], 2)}) | "
            f"{s['service_us']:.0f} | {s['postgres_us']:.0f} / {fmt(g['postgres_us'])} | "
            f"{s['client_us']:.0f} / {fmt(g['client_us'])} | "
            f"{s['service_us'] + s['postgres_us'] + s['client_us']:.0f} / "
            f"{fmt(g['postgres_us'] + g['client_us'])} | "
            f"{rss:.1f} | {s['other_cpu']:.0f} / {fmt(g['other_cpu'])} | {', '.join(misses)} |")
    fetch_line = ", ".join(f"{fmt(t)} tps at {c} conns" for c, t in fetch_tps.items())
    footer = [
        "",
        f"Parameter fetch alone (subtracted for \"est.\"): {fetch_line}.",
        "ratio = service req/s ÷ pgbench tps est. (raw: ÷ pgbench tps raw); targets: reads ≥ 0.9, writes ≥ 0.8, "
        "read p99 ≤ 5 ms at 32 conns, peak RSS ≤ 64 MiB at 256 conns and ≤ 128 MiB with the "
        "idle connections. Idle rows compare with the pgbench run at the same load level. "
        "errors: non-2xx answers plus socket errors (settings patch: 409 policy_denied for "
        "seeded profile_update_block holders is expected). other CPU %: share of the cores "
        "used by processes outside the benchmark during the service run / the pgbench run; "
        "rows with more than a few percent are not comparable. service CPU µs/req: the "
        "service process's CPU time per request (user + system); PG CPU µs: PostgreSQL's CPU "
        "time (all backends) per service request / per pgbench transaction (the latter "
        "includes the parameter fetch and connecting pgbench's clients). load gen. CPU µs: "
        "wrk's CPU time per request / pgbench's per transaction. all CPU µs: service + "
        "PostgreSQL + wrk per request / PostgreSQL + pgbench per transaction; both sides "
        "saturate the same cores, so the raw ratio is close to the inverse of these two.",
    ] + [f"- {n}" for n in notes]
    if paced:
        footer += [
            "",
            f"Latency below saturation: {conns} connections, each pacing its requests (random "
            "think time) so that the offered load is half the saturated throughput above.",
            "",
            "| hot path | conns | offered req/s | served req/s | p50 ms | p99 ms | max ms | errors "
            "| CPU µs/req: service / PG / wrk | other CPU % "
            "| pgbench at the served rate: p50 / p99 ms (p99 with schedule lag), fetch excluded "
            "| its CPU µs/tx: PG / pgbench | p99 ≤ 5 ms |",
            "|" + "---|" * 13,
        ] + [f"| {p.label} | {c} | {fmt(t)} | {fmt(r['rps'])} | {r['p50_us'] / 1000:.2f} | "
             f"{r['p99_us'] / 1000:.2f} | {r['max_us'] / 1000:.2f} | "
             f"{r['non_2xx'] + r['socket_errors']} | {r['service_us']:.0f} / "
             f"{r['postgres_us']:.0f} / {r['client_us']:.0f} | {r['other_cpu']:.0f} | "
             + (f"{g['p50_ms']:.2f} / {g['p99_ms']:.2f} ({g['p99_lag_ms']:.2f}) | "
                f"{g['postgres_us']:.0f} / {g['client_us']:.0f} | " if g else "– | – | ")
             + f"{'yes' if r['p99_us'] <= 5000 else 'no'} |"
             for p, c, t, r, g in paced]
    if coalesced_rows:
        footer += [
            "",
            f"Coalesced statements (what the service runs for queued reads of one kind): pgbench "
            f"with {COALESCED_KEYS} distinct random keys per execution, {levels[0]} connections; "
            "requests/s = est. × keys; the fetch of the keys alone is taken out as above.",
            "",
            "| single statement | set form | keys | pgbench tps raw | tps est. | requests/s est. "
            "| PG CPU µs per request |",
            "|" + "---|" * 7,
        ] + [f"| {single} | {set_form} | {COALESCED_KEYS} | {fmt(g['tps'])} | {fmt(est)} | "
             f"{fmt(est * COALESCED_KEYS)} | {fmt(g['postgres_us'] / COALESCED_KEYS)} |"
             for single, set_form, g, est, fk in coalesced_rows]
    table = "\n".join(lines + footer)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = [f"- {m}" for m in a.meta]
    doc = "\n".join([f"# Hot paths: service vs pgbench — {now}", "", *meta, "", table, ""])
    os.makedirs(os.path.dirname(a.results), exist_ok=True)
    with open(a.results, "w") as f:
        f.write(doc)
    print()
    print(table)
    print(f"\nwritten to {a.results}")


if __name__ == "__main__":
    main()
