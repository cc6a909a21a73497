#!/usr/bin/env bash
# Stops the cluster started by scripts/ha-up.sh: the Patroni nodes (each stops its own
# PostgreSQL), then etcd. Keeps data and logs unless --purge is given, which then deletes
# DIR (only a folder that ha-up.sh made: it carries a .ha-cluster marker).
#
# Usage: scripts/ha-down.sh [DIR] [--purge]   (default DIR: .local/ha under the repo root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
purge=false
dir=""
for a in "$@"; do
  case $a in
    --purge) purge=true ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) dir=$a ;;
  esac
done
dir=${dir:-$root/.local/ha}
# HA_DOWN_ONLY="etcd node1 ...": stop only these (ha-up.sh uses it to undo a failed start).
only=${HA_DOWN_ONLY:-}
wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
PG_BIN=/usr/lib/postgresql/15/bin

log() { echo "ha-down: $*" >&2; }

if [ ! -d "$dir" ]; then log "$dir does not exist: nothing to stop"; exit 0; fi
dir=$(cd "$dir" && pwd)
if [ ! -e "$dir/.ha-cluster" ]; then
  log "$dir was not made by scripts/ha-up.sh (no .ha-cluster marker); not touching it"
  exit 1
fi

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Same check as ha-up.sh: the recorded pid runs and is the process we started.
alive_pid() {
  local pid=$1 pattern=$2
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# stop PIDFILE PATTERN NAME SECONDS: TERM, wait, then KILL.
stop() {
  local pidfile=$1 pattern=$2 name=$3 wait_s=$4 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if alive_pid "$pid" "$pattern"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((wait_s * 5))); do alive_pid "$pid" "$pattern" || break; sleep 0.2; done
    if alive_pid "$pid" "$pattern"; then
      log "$name did not stop in ${wait_s} s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

# A PostgreSQL left behind by a Patroni that died (kill -9, OOM) has no one to stop it.
stop_orphan_postgres() {
  local data=$1
  [ -f "$data/postmaster.pid" ] || return 0
  if as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "stopping PostgreSQL left running in $data"
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -t 20 -w stop >/dev/null 2>&1 ||
      as_postgres "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

# Replicas first, the leader last: stopping the leader first would make the replica
# promote itself (a needless failover and timeline switch) just before it is stopped too.
order=(node1 node2)
etcd_hosts=$(sed -n 's/^  hosts: //p' "$dir/node1.yml" 2>/dev/null || true)
# Asked only of a live etcd: patronictl would otherwise retry for a while.
if [ -n "$etcd_hosts" ] && ETCDCTL_API=3 etcdctl --endpoints="http://$etcd_hosts" --dial-timeout=1s \
  --command-timeout=1s endpoint health >/dev/null 2>&1; then
  leader=$(timeout 10 /usr/bin/patronictl -c "$dir/node1.yml" list -f json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(next((m["Member"] for m in json.load(sys.stdin) if m.get("Role") == "Leader"), ""))' \
    2>/dev/null || true)
  if [ "$leader" = node1 ]; then order=(node2 node1); fi
fi
for n in "${order[@]}"; do
  wanted "$n" || continue
  # Patroni stops PostgreSQL (fast shutdown) before exiting; give it time for a checkpoint.
  stop "$dir/$n.pid" "$dir/$n.yml" "$n" 60
  stop_orphan_postgres "$dir/$n/data"
done
if wanted etcd; then stop "$dir/etcd.pid" "$dir/etcd" etcd 20; fi

if $purge; then
  log "deleting $dir"
  rm -rf -- "$dir"
fi
