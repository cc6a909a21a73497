#!/usr/bin/env bash
# bench/run.sh [--quick] — the service's hot paths against pgbench running the same SQL, in
# one run (docs/benchmarks.md, "Hot paths: service vs pgbench").
#
# From a fresh clone: installs missing Debian packages, builds the service in Release, starts a
# throwaway PostgreSQL and Redis on free loopback ports (data under bench/.work/, removed at the
# end, also on Ctrl-C), starts the service, seeds 100,000 accounts with bench/listing/seed.sh,
# and runs bench/hot/driver.py: for each hot path, wrk against the service and pgbench with the
# service's own statements (from `userservice --print-statements`) at 32 and 256 connections,
# then the 32-connection load again beside 5,000 idle keep-alive connections. Prints a table
# and writes it to bench/results/latest.md (to bench/results/custom.md when any setting below
# differs from its default, or with --quick).
#
# Environment: BENCH_DURATION seconds per run (10; 3 with --quick), BENCH_ACCOUNTS (100000),
# BENCH_CONNS (32,256), BENCH_IDLE_CONNS (5000; 0 skips the idle mode), BENCH_BUILD_DIR
# (build-release), JOBS (2, ninja), BENCH_KEEP=1 keeps the work folder (data, logs, scripts),
# BENCH_QUIET_WAIT (30): seconds each run may wait for other processes to leave the cores,
# BENCH_PATHS (all): comma-separated subset of the hot paths (keys in bench/hot/driver.py),
# BENCH_POOL (2): the service's USERSERVICE_POSTGRES_MAX_OPEN_CONNS, sized for this 2-core
# machine (docs/benchmarks.md, "Pool size"),
# BENCH_SERVICE_ENV: extra "NAME=value ..." for the service (e.g. pool settings to try),
# BENCH_HUGEPAGES=0: no huge pages for PostgreSQL (see below), BENCH_PACED=0: skip the read
# paths' latency runs at half load (after the saturated runs), BENCH_REPEAT (1): alternate
# the service and pgbench runs of each row this many times and keep the median pair.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done
if [ $quick = 1 ]; then duration=${BENCH_DURATION:-3}; else duration=${BENCH_DURATION:-10}; fi
accounts=${BENCH_ACCOUNTS:-100000}
pool=${BENCH_POOL:-2}
conns=${BENCH_CONNS:-32,256}
idle=${BENCH_IDLE_CONNS:-5000}
build=${BENCH_BUILD_DIR:-$root/build-release}
# Only a full run with the defaults replaces the reference table; anything else (--quick,
# a subset, other settings) goes to a scratch file. BENCH_REPEAT only makes the table steadier,
# so a repeated full run is a reference run too (its notes give the repeat count).
results=$root/bench/results/latest.md
if [ $quick = 1 ] || [ -n "${BENCH_DURATION:-}${BENCH_ACCOUNTS:-}${BENCH_CONNS:-}${BENCH_IDLE_CONNS:-}${BENCH_PATHS:-}${BENCH_POOL:-}${BENCH_PACED:-}${BENCH_SERVICE_ENV:-}" ]; then
  results=$root/bench/results/custom.md
fi
say() { echo "bench: $*" >&2; }

# ---- Packages and build ------------------------------------------------------------------
. bench/lib.sh
bench_build "$build" BENCH_BUILD_DIR
bin=$build/userservice

# ---- File descriptors: the idle mode holds $idle sockets on each side ---------------------
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
if [ "$idle" -gt 0 ] && [ "$(ulimit -n)" -lt $((idle + 1024)) ]; then
  idle=$(($(ulimit -n) - 1024))
  say "open-file limit $(ulimit -n): idle mode reduced to $idle connections"
fi

# ---- Throwaway servers --------------------------------------------------------------------
# Shared buffers hold the whole data set (~160 MB with bench.params), on huge pages
# (bench/lib.sh says why). BENCH_HUGEPAGES=0 skips them.
drv_pid=""
stop_driver() { if [ -n "$drv_pid" ]; then kill -TERM "$drv_pid" 2>/dev/null; wait "$drv_pid" 2>/dev/null; fi; }
bench_before_cleanup=stop_driver
bench_servers bench/.work "${BENCH_KEEP:-0}"
bench_shared_buffers 256MB "${BENCH_HUGEPAGES:-1}"
[ "$huge" = on ] || say "warning: PostgreSQL runs on 4 kB pages; pgbench's fresh backends pay a page fault per first touch of each buffer (docs/benchmarks.md)"

# ---- The service (its own migration runner creates the schema) -----------------------------
# BENCH_SERVICE_ENV is a list of NAME=value words.
# shellcheck disable=SC2086
bench_start_service ${BENCH_SERVICE_ENV:-}

# ---- Seed ------------------------------------------------------------------------------------
say "seeding $accounts accounts"
bash bench/listing/seed.sh "$dsn" "$accounts" >"$work/seed.log"
psql_ -f bench/hot/params.sql
psql_ -c "COPY (SELECT user_id, email FROM bench.params ORDER BY n) TO STDOUT (DELIMITER ' ')" \
  >"$work/ids.txt"
live=$(wc -l <"$work/ids.txt")
say "$live live accounts"

# ---- The service's statements ----------------------------------------------------------------
"$bin" --print-statements >"$work/statements.jsonl"
printed=$(wc -l <"$work/statements.jsonl")
declared=$(find src/adapters/postgres/sql -name '*.sql' -not -path '*/fragments/*' | wc -l)
if [ "$printed" != "$declared" ]; then
  say "warning: --print-statements printed $printed statements, src/adapters/postgres/sql/ holds $declared"
fi

# ---- Measure -------------------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- src cmd migrations 2>/dev/null)" ]; then commit="$commit + local changes"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
python3 bench/hot/driver.py \
  --statements "$work/statements.jsonl" --work "$work" --ids "$work/ids.txt" --live "$live" \
  --http-port "$http_port" --pg-port "$pg_port" --service-pid "$svc_pid" \
  --service-log "$work/service.log" \
  --pg-data "$work/pg" --redis-pidfile "$work/redis/redis.pid" \
  --duration "$duration" --conns "$conns" --idle "$idle" --quiet-wait "${BENCH_QUIET_WAIT:-30}" \
  --paths "${BENCH_PATHS:-}" --paced "${BENCH_PACED:-1}" --repeat "${BENCH_REPEAT:-1}" \
  --results "$results" \
  --meta "commit $commit; Release build; $(nproc) cores ($cpu); $(free -g | awk '/^Mem:/ {print $2}') GiB" \
  --meta "$duration s per run; $accounts accounts seeded ($live live); wrk -t2, pgbench -M prepared -j2" \
  --meta "PostgreSQL $(psql_ -At -c 'SHOW server_version') (fsync=off, shared_buffers $(psql_ -At -c 'SHOW shared_buffers'), huge pages $huge); service env: defaults + USERSERVICE_POSTGRES_MAX_OPEN_CONNS=$pool${BENCH_SERVICE_ENV:+ + $BENCH_SERVICE_ENV}; logs at warn, telemetry exporters off" &
drv_pid=$!
wait "$drv_pid"
drv_pid=""
