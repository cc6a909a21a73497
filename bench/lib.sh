# shellcheck shell=bash
# Sourced by bench/run.sh and bench/scale.sh: the Release build, the throwaway PostgreSQL and
# Redis on free loopback ports, shared buffers on huge pages, and the cleanup of all of it.
# The caller defines say() and runs from the repository root with `set -euo pipefail`.

# bench_build BUILD_DIR SETTING — installs what is missing and builds BUILD_DIR/userservice in
# Release; SETTING names the variable that points elsewhere when BUILD_DIR is not Release.
bench_build() {
  local build=$1 setting=$2
  bash scripts/install-deps.sh
  if ! command -v python3 >/dev/null; then
    local SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq --no-install-recommends python3 >/dev/null
  fi
  export CCACHE_DIR=${CCACHE_DIR:-$root/.cache/ccache}
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
    say "$build is not a Release build; point $setting elsewhere"; exit 1
  fi
  say "building $build/userservice (Release)"
  ninja -C "$build" -j "${JOBS:-2}" userservice >/dev/null
}

# bench_servers WORK_PARENT KEEP — a fresh work folder under WORK_PARENT (git-ignored), three
# free ports, PostgreSQL and Redis started in it. Sets work, pg_port, redis_port, http_port,
# redis_password, dsn, and psql_; the EXIT trap stops the service (svc_pid), the servers and
# gives back the huge pages; the folder is removed unless KEEP is 1. A caller with more to
# stop first sets bench_before_cleanup to a function name.
bench_servers() {
  local parent=$1
  bench_keep=$2
  . scripts/servers.sh
  mkdir -p "$parent"
  echo '*' >"$parent/.gitignore"
  work=$(mktemp -d "$root/$parent/run.XXXXXX")
  chmod 755 "$work"
  read -r pg_port redis_port http_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  redis_password=bench-$RANDOM$RANDOM
  svc_pid=""
  hugepages_before=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  say "PostgreSQL on $pg_port, Redis on $redis_port, service on $http_port (work: $work)"
  start_postgres "$work/pg" "$pg_port"
  start_redis "$work/redis" "$redis_port" "$redis_password"
  dsn="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
}

psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }

# bench_start_service [NAME=value ...] — starts $bin with the benchmark's environment (pool
# $pool, logs at warn, telemetry exporters off) plus the given variables, in an exact
# environment (nothing from the caller's USERSERVICE_* or OTEL_* leaks in); returns once it
# answers. Sets svc_pid; the log goes to $work/service.log.
bench_start_service() {
  env -i PATH="$PATH" \
    USERSERVICE_POSTGRES_PRIMARY_DSN="$dsn" \
    USERSERVICE_REDIS_MASTER_ADDR="127.0.0.1:$redis_port" \
    USERSERVICE_REDIS_PASSWORD="$redis_password" \
    USERSERVICE_INTERNAL_HTTP_ADDR="127.0.0.1:$http_port" \
    USERSERVICE_LOG_LEVEL=warn \
    OTEL_TRACES_EXPORTER=none \
    OTEL_METRICS_EXPORTER=none \
    USERSERVICE_POSTGRES_MAX_OPEN_CONNS="$pool" \
    "$@" \
    "$bin" >>"$work/service.log" 2>&1 &
  svc_pid=$!
  python3 - "$http_port" "$svc_pid" <<'PY' || { say "service did not start:"; tail -20 "$work/service.log" >&2; exit 1; }
import os, sys, time, urllib.request, urllib.error
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/internal/users/bench-probe/exists"
        if urllib.request.urlopen(url, timeout=2).status == 200:
            sys.exit(0)
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    time.sleep(0.1)
sys.exit(1)
PY
}

# Stops the service (the drivers pause it during pgbench runs, hence the CONT first).
bench_stop_service() {
  [ -n "${svc_pid:-}" ] || return 0
  kill -CONT "$svc_pid" 2>/dev/null || true
  kill -TERM "$svc_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$svc_pid" 2>/dev/null || true
  wait "$svc_pid" 2>/dev/null || true
  svc_pid=""
}

bench_cleanup() {
  set +e
  [ -z "${bench_before_cleanup:-}" ] || "$bench_before_cleanup"
  bench_stop_service
  stop_redis "$work/redis"
  stop_postgres "$work/pg"
  if [ -n "$hugepages_before" ]; then echo "$hugepages_before" 2>/dev/null >/proc/sys/vm/nr_hugepages; fi
  if [ "$bench_keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}

# bench_shared_buffers SIZE USE_HUGE — sets shared_buffers (e.g. 256MB) and restarts
# PostgreSQL on huge pages unless USE_HUGE is 0; sets huge (on|off).
#
# Why huge pages: on this sandboxed VM a page fault costs ~0.2 ms, and every backend faults
# each 4 kB page of shared memory the first time it touches it, so fresh pgbench backends
# (cold) would pay far more than the service's long-lived pool connections (warm) for the
# same SQL. Huge pages (2 MB) make that first touch ~500x rarer. They are reserved here only
# if too few are free, and the reservation is given back at the end.
bench_shared_buffers() {
  local size=$1 use_huge=$2 mb need free
  mb=$(python3 -c "
import re, sys
m = re.fullmatch(r'(\d+)\s*(kB|MB|GB)', sys.argv[1])
if not m: sys.exit('shared buffers: use kB, MB or GB')
print(int(int(m[1]) * {'kB': 1 / 1024, 'MB': 1, 'GB': 1024}[m[2]]))" "$size")
  huge=off
  if [ "$use_huge" != 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
    need=$((mb / 2 + 72))  # 2 MB pages: shared buffers + PostgreSQL's other shared memory
    free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
    if [ "$free" -lt "$need" ]; then
      hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
      echo $((hugepages_before + need - free)) 2>/dev/null >/proc/sys/vm/nr_hugepages || true
    fi
    huge=on
  fi
  psql_ -c "ALTER SYSTEM SET shared_buffers = '$size'" -c "ALTER SYSTEM SET huge_pages = '$huge'"
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$work/pg" -m fast -w restart >/dev/null 2>&1; then
    huge=off
    sed -i "s/^huge_pages = .*/huge_pages = 'off'/" "$work/pg/postgresql.auto.conf"
    start_postgres "$work/pg" "$pg_port"
  fi
}
