#!/usr/bin/env bash
# Starts a local high-availability PostgreSQL 15 on loopback: one etcd (v3 API) and two
# Patroni 3 nodes in synchronous mode, as background processes (no systemd). Waits until
# there is a running leader and a streaming synchronous standby, then prints, as the last
# lines on stdout:
#   HA_DIR=<DIR>
#   HA_DSN=postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write&connect_timeout=2
#   HA_PATRONICTL=patronictl -c <DIR>/node1.yml
# Everything else goes to stderr. Run again on a running cluster: it only checks and prints.
# Stop with scripts/ha-down.sh [DIR] [--purge].
#
# Usage: scripts/ha-up.sh [DIR]   (default: .local/ha under the repo root, git-ignored)
# Ports: HA_ETCD_PORT (23790), HA_ETCD_PEER_PORT (23800), HA_PG_PORT_1/2 (25432/25433),
#        HA_API_PORT_1/2 (28008/28009). HA_TIMEOUT: seconds to wait for health (60).
# Auth is trust on loopback (superuser postgres, replication user replicator): a dev and
# test cluster, never one to expose.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/.local/ha}

ETCD_PORT=${HA_ETCD_PORT:-23790}
ETCD_PEER_PORT=${HA_ETCD_PEER_PORT:-23800}
PG_PORTS=("${HA_PG_PORT_1:-25432}" "${HA_PG_PORT_2:-25433}")
API_PORTS=("${HA_API_PORT_1:-28008}" "${HA_API_PORT_2:-28009}")
TIMEOUT=${HA_TIMEOUT:-60}
SCOPE=${HA_SCOPE:-userservice-ha}
PG_BIN=/usr/lib/postgresql/15/bin
# Debian's interpreter, not whatever python3 comes first on PATH (pyenv and the like lack
# the python3-etcd / psycopg2 modules Patroni needs).
PY=/usr/bin/python3
# A plain PATH for the daemons: they run as postgres, who cannot read e.g. /root/.pyenv.
DAEMON_PATH=/usr/sbin:/usr/bin:/sbin:/bin

log() { echo "ha-up: $*" >&2; }
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- packages -----------------------------------------------------------------------
# patroni pulls python3-etcd (its etcd3: section speaks etcd's v3 JSON gateway through it)
# and python3-psycopg2; etcd-client gives etcdctl (health checks here, debugging);
# iproute2 gives ss (port checks).
missing=()
for p in patroni etcd-server etcd-client postgresql-15 postgresql-client-15 iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages enable an etcd (on 2379) and a patroni service; on machines whose policy
  # lets postinst start them they would run with the packaged config. We run our own on
  # other ports, so only make sure the packaged ones are not left running.
  for svc in patroni etcd; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# --- layout -------------------------------------------------------------------------
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
is_root=false; [ "$(id -u)" -eq 0 ] && is_root=true
# Marks the folder as ours: ha-down.sh --purge deletes only folders carrying it.
touch "$dir/.ha-cluster"
if $is_root; then
  # The postgres user must be able to reach the folder (as in scripts/servers.sh).
  p=$dir; while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  install -d -o postgres -g postgres -m 700 "$dir/run" "$dir/node1" "$dir/node2"
  install -d -m 700 "$dir/etcd"
else
  mkdir -p "$dir/run" "$dir/node1" "$dir/node2" "$dir/etcd"
  chmod 700 "$dir/run" "$dir/node1" "$dir/node2" "$dir/etcd"
fi

# alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN
# (guards against a recycled pid after a reboot or a kill -9).
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# launch PIDFILE LOGFILE AS_POSTGRES CMD...: detached (own session, no terminal, stdin and
# stdout not inherited, so a caller reading our stdout sees EOF when we exit).
launch() {
  local pidfile=$1 logfile=$2 as_pg=$3; shift 3
  local pre=()
  if $as_pg && $is_root; then
    # setpriv execs (runuser would fork and stay as the parent), so $! is the daemon itself.
    pre=(env HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres
      setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  (cd "$dir" && exec env PATH="$DAEMON_PATH" setsid "${pre[@]}" "$@" </dev/null >>"$logfile" 2>&1) &
  echo $! >"$pidfile"
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (or on all addresses).
port_free() {
  ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}
# fail_if_busy PORT WHAT: a port taken by something else fails fast and clearly instead of
# as a 60 s health timeout.
fail_if_busy() {
  if ! port_free "$1"; then
    log "port $1 ($2) is already in use by another process; pick other ports with HA_* variables"
    ss -Hltnp "sport = :$1" >&2 2>/dev/null || true
    exit 1
  fi
}

# All ports of what is not running yet are checked before anything starts.
if ! alive "$dir/etcd.pid" "$dir/etcd"; then
  fail_if_busy "$ETCD_PORT" "etcd client"; fail_if_busy "$ETCD_PEER_PORT" "etcd peer"
fi
for i in 1 2; do
  alive "$dir/node$i.pid" "$dir/node$i.yml" && continue
  # A PostgreSQL left running by a Patroni that died (kill -9, OOM) is stopped before its
  # Patroni starts again, rather than adopted. Adopted, Patroni 3.0.2 first rewrites
  # postgresql.conf without synchronous_standby_names and reloads it, which acknowledges
  # the commits that were waiting for the (meanwhile promoted) standby, and only then
  # demotes and rewinds the node: those acknowledged commits are lost (seen in testing).
  # A shutdown ends such waits with an error to the client instead.
  data=$dir/node$i/data
  if [ -f "$data/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "node$i: stopping the PostgreSQL its dead Patroni left running"
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -t 20 -w stop >/dev/null 2>&1 ||
      as_postgres "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
  fi
  fail_if_busy "${PG_PORTS[$((i - 1))]}" "node$i PostgreSQL"
  fail_if_busy "${API_PORTS[$((i - 1))]}" "node$i REST API"
done

# On any failure from here on, stop what this run started (not a cluster that was already
# running); logs and data stay in DIR for a look.
started=()
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ ${#started[@]} -gt 0 ]; then
    log "failed: stopping what this run started (${started[*]}); logs and data kept in $dir"
    HA_DOWN_ONLY="${started[*]}" bash "$root/scripts/ha-down.sh" "$dir" >&2 || true
  fi
}
trap on_exit EXIT

# --- etcd ---------------------------------------------------------------------------
etcd_url=http://127.0.0.1:$ETCD_PORT
if alive "$dir/etcd.pid" "$dir/etcd"; then
  log "etcd already running (pid $(cat "$dir/etcd.pid"))"
else
  log "starting etcd on $etcd_url"
  started+=(etcd)
  # One member: losing it stops the cluster from electing (Patroni then keeps the primary
  # running read-write only because nobody can take the leader key away); fine for dev.
  launch "$dir/etcd.pid" "$dir/etcd.log" false /usr/bin/etcd \
    --name ha-etcd --data-dir "$dir/etcd" --logger zap --log-outputs stderr \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "ha-etcd=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new --initial-cluster-token "$SCOPE" \
    --auto-compaction-retention 1h
fi
etcd_ok=false
for _ in $(seq 100); do
  if ETCDCTL_API=3 etcdctl --endpoints="$etcd_url" --dial-timeout=1s --command-timeout=1s \
    endpoint health >/dev/null 2>&1; then etcd_ok=true; break; fi
  alive "$dir/etcd.pid" "$dir/etcd" || break
  sleep 0.2
done
if ! $etcd_ok; then
  log "etcd did not become healthy on $etcd_url; tail of $dir/etcd.log:"
  tail -n 30 "$dir/etcd.log" >&2 || true
  exit 1
fi

# --- Patroni nodes --------------------------------------------------------------------
write_config() {
  local i=$1 n=node$1 pg_port=${PG_PORTS[$(($1 - 1))]} api_port=${API_PORTS[$(($1 - 1))]}
  cat >"$dir/$n.yml.tmp" <<EOF
# Written by scripts/ha-up.sh; edits are overwritten on its next run.
scope: $SCOPE
namespace: /service/
name: $n
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$api_port
  connect_address: 127.0.0.1:$api_port
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  # Cluster-wide settings, stored in etcd by the first node to bootstrap; change them later
  # with patronictl edit-config. Patroni's rule: ttl >= loop_wait + 2 * retry_timeout
  # (here 1 + 2*4 = 9 <= 10). ttl bounds how long a dead leader keeps the leader key, so it
  # is the bulk of the failover time after a crash (Patroni's default is 30); loop_wait 1
  # makes switchovers and rejoins quick; retry_timeout 4 still rides out a busy machine
  # (a primary that cannot reach etcd or its PostgreSQL for that long demotes itself).
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only once the synchronous standby has it, so a failover to
    # that standby loses no acknowledged write. Not strict: with the standby gone, the
    # primary goes on alone rather than blocking every write.
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        # pg_rewind needs hint-bit changes WAL-logged (Patroni sets it too).
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        max_connections: 300
        # A standby retries a failed WAL stream every 5 s by default; 1 s gets a fresh or
        # rejoining standby streaming (and synchronous) sooner.
        wal_retrieve_retry_interval: 1s
        # Dev cluster: a lost OS cache is not a case we care about; a killed process keeps
        # its writes in the page cache, so kill -9 tests are still honest.
        fsync: "off"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:$pg_port
  connect_address: 127.0.0.1:$pg_port
  data_dir: $dir/$n/data
  bin_dir: $PG_BIN
  # Each node its own pgpass: the default (~postgres/pgpass) would be shared by both.
  pgpass: $dir/$n/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
  parameters:
    unix_socket_directories: $dir/run
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  # A node that cannot rewind (e.g. diverged too far after a crash) re-clones from the leader
  # instead of staying down.
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
EOF
  mv "$dir/$n.yml.tmp" "$dir/$n.yml"
  chmod 644 "$dir/$n.yml"
}

# A fresh cluster: node1 starts alone and initialises it, so that it is the first leader
# (the first host of HA_DSN, where clients connect first); node2 then clones from it.
# (Started together, either may win the race to initialise.) Not on restarts: there the
# leader must be whichever node Patroni finds eligible, and it may need both running.
fresh=false
[ -f "$dir/node1/data/PG_VERSION" ] || [ -f "$dir/node2/data/PG_VERSION" ] || fresh=true
has_leader() {
  /usr/bin/patronictl -c "$dir/node1.yml" list -f json 2>/dev/null |
    "$PY" -c 'import json,sys; sys.exit(0 if any(m.get("Role") == "Leader" and m.get("State") == "running" for m in json.load(sys.stdin)) else 1)'
}
start=$(date +%s)  # HA_TIMEOUT counts from here: node startup and the health wait
for i in 1 2; do
  n=node$i
  if [ "$i" = 2 ] && $fresh; then
    while [ $(($(date +%s) - start)) -lt "$TIMEOUT" ]; do
      has_leader && break
      alive "$dir/node1.pid" "$dir/node1.yml" || break
      sleep 0.5
    done
  fi
  if alive "$dir/$n.pid" "$dir/$n.yml"; then
    log "$n already running (pid $(cat "$dir/$n.pid"))"
    continue
  fi
  write_config "$i"
  started+=("$n")
  log "starting $n (PostgreSQL 127.0.0.1:${PG_PORTS[$((i - 1))]}, REST API 127.0.0.1:${API_PORTS[$((i - 1))]})"
  launch "$dir/$n.pid" "$dir/$n.log" true /usr/bin/patroni "$dir/$n.yml"
done

# --- wait for health ------------------------------------------------------------------
# Healthy: one Leader "running" and one "Sync Standby" on the leader's timeline (Patroni
# 3.0.2 shows a replica as "running", not yet "streaming"), and the leader's
# pg_stat_replication shows that standby streaming as sync. patronictl's JSON is read with
# Debian's python (see PY above).
health() {
  local leader_port
  leader_port=$(/usr/bin/patronictl -c "$dir/node1.yml" list -f json 2>/dev/null | "$PY" -c '
import json, sys
m = json.load(sys.stdin)
lead = [x for x in m if x.get("Role") == "Leader" and x.get("State") == "running"]
sync = [x for x in m if x.get("Role") == "Sync Standby" and x.get("State") in ("streaming", "running")]
ok = len(lead) == 1 and len(sync) == 1 and lead[0].get("TL") == sync[0].get("TL")
print(lead[0]["Host"].rsplit(":", 1)[1] if ok else "")') || return 1
  [ -n "$leader_port" ] || return 1
  [ "$(psql -X -At -h 127.0.0.1 -p "$leader_port" -U postgres -d postgres -c \
    "select count(*) from pg_stat_replication where state = 'streaming' and sync_state = 'sync'" \
    2>/dev/null)" = 1 ]
}

healthy=false
while [ $(($(date +%s) - start)) -lt "$TIMEOUT" ]; do
  if health; then healthy=true; break; fi
  for i in 1 2; do
    if ! alive "$dir/node$i.pid" "$dir/node$i.yml"; then
      log "node$i exited; see $dir/node$i.log"; break 2
    fi
  done
  sleep 1
done

if ! $healthy; then
  log "cluster not healthy after $(($(date +%s) - start)) s (want a running Leader and a streaming Sync Standby)"
  /usr/bin/patronictl -c "$dir/node1.yml" list >&2 2>&1 || true
  for f in etcd.log node1.log node2.log; do
    echo "---- tail of $dir/$f" >&2
    tail -n 25 "$dir/$f" >&2 2>/dev/null || true
  done
  exit 1
fi

/usr/bin/patronictl -c "$dir/node1.yml" list >&2
log "healthy after $(($(date +%s) - start)) s"
echo "HA_DIR=$dir"
echo "HA_DSN=postgresql://postgres@127.0.0.1:${PG_PORTS[0]},127.0.0.1:${PG_PORTS[1]}/postgres?target_session_attrs=read-write&connect_timeout=2"
echo "HA_PATRONICTL=patronictl -c $dir/node1.yml"
