#!/usr/bin/env bash
# Installs the Debian bookworm packages the build, the tests and the local run need,
# but only those missing (a warm machine skips apt entirely).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpq-dev libhiredis-dev prometheus-cpp-dev
  libtcmalloc-minimal4  # the service's allocator (CMake option USERSERVICE_TCMALLOC)
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 redis-server redis-tools
  wrk tzdata iso-codes
  prometheus  # for promtool: the metrics test checks the exposition with it
  clang-15 libfuzzer-15-dev  # scripts/fuzz.sh: the libFuzzer targets under ASan + UBSan
  clang-format-15  # scripts/format.sh: the formatting gate of scripts/test.sh
  systemd  # systemd-analyze: the unit in deploy/systemd is verified by the tests
  pgbouncer  # the PgBouncer tests (session and transaction pooling) start their own
  patroni etcd-server etcd-client  # scripts/ha-up.sh and the Patroni test (ctest -L ha)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js for scripts/npm-tools.sh (OTLP decoded with the OpenTelemetry JS project's code): any
# node with npm will do. A NodeSource nodejs bundles npm and conflicts with Debian's npm
# package, so the Debian packages are only asked for when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Packaged daemons we only want the binaries of (the tests start their own, on free ports):
# make sure none is left running on machines whose policy lets postinst start it.
for svc in pgbouncer patroni etcd; do
  if printf '%s\n' "${missing[@]}" | grep -qx "$svc\|$svc-server"; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  fi
done
# The prometheus package ships a server we only want promtool from: make sure its daemon
# (started by the package on machines that allow it) is not left running.
if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  $SUDO service prometheus stop >/dev/null 2>&1 || true
  $SUDO pkill -x prometheus >/dev/null 2>&1 || true
fi
