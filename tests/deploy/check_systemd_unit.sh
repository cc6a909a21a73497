#!/usr/bin/env bash
# tests/deploy/check_systemd_unit.sh UNIT ENV_FILE BINARY — ctest: the systemd unit in deploy/
# passes `systemd-analyze verify` with no diagnostic at all (verify exits 0 on unknown keys
# and bad values, so any output fails this check), its hardening scores "OK" or better
# (exposure ≤ 2.0) in `systemd-analyze security --offline`, and the environment file it names
# is a configuration the binary accepts (`--check-config`).
set -euo pipefail
unit=$1 env_file=$2 binary=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart binaries exist: point them at the built binary.
sed -e "s|/usr/bin/userservice|$binary|g" -e "s|^EnvironmentFile=.*|EnvironmentFile=$env_file|" \
  "$unit" > "$work/userservice.service"

out=$(systemd-analyze verify "$work/userservice.service" 2>&1 || true)
if [ -n "$out" ]; then
  echo "systemd-analyze verify reported:" >&2
  echo "$out" >&2
  exit 1
fi

level=$(systemd-analyze security --offline=true "$work/userservice.service" 2>&1 |
        sed -n 's/.*Overall exposure level for userservice.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ] || ! awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
  echo "hardening exposure level ${level:-unknown} is above 2.0" >&2
  exit 1
fi
echo "systemd unit: verify clean, exposure $level"

# The environment file as systemd reads it (KEY=VALUE lines, comments skipped).
env_args=()
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  env_args+=("$line")
done < "$env_file"
env -i "${env_args[@]}" "$binary" --check-config
