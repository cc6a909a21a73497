# Sourced by scripts/dev.sh and bench/: throwaway PostgreSQL 15 and Redis 7 on loopback,
# data under a project-local folder. As root, PostgreSQL runs as the postgres user
# (initdb and pg_ctl refuse root).
PG_BIN=/usr/lib/postgresql/15/bin

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DATA_DIR PORT — initialises the cluster on first use.
start_postgres() {
  local dir=$1 port=$2
  mkdir -p "$(dirname "$dir")"
  if [ "$(id -u)" -eq 0 ]; then
    install -d -o postgres -g postgres -m 700 "$dir"
    # The postgres user must be able to reach the folder.
    local p; p=$(dirname "$dir"); while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  else
    mkdir -p "$dir"; chmod 700 "$dir"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" --no-sync -A trust -U postgres -D "$dir" >/dev/null
  fi
  if as_postgres "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return 0; fi
  as_postgres "$PG_BIN/pg_ctl" -D "$dir" -w -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=300" \
    start >/dev/null
}

stop_postgres() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# start_redis DIR PORT PASSWORD
start_redis() {
  local dir=$1 port=$2 password=$3
  mkdir -p "$dir"
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then return 0; fi
  redis-server --bind 127.0.0.1 --port "$port" --requirepass "$password" --save "" \
    --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log"
  for _ in $(seq 50); do [ -s "$dir/redis.pid" ] && return 0; sleep 0.1; done
  echo "redis did not start; see $dir/redis.log" >&2; return 1
}

stop_redis() {
  local dir=$1
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -f "$dir/redis.pid"; fi
}
