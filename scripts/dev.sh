#!/usr/bin/env bash
# The main job: install what is missing, build, start a local PostgreSQL and Redis on
# loopback (data under .local/, git-ignored) and run the service in the foreground.
# Ctrl-C stops the service gracefully, then the servers.
#
# Ports: PG_PORT (55432), REDIS_PORT (56379), the service on USERSERVICE_INTERNAL_HTTP_ADDR
# (127.0.0.1:8091) and metrics on USERSERVICE_ADMIN_HTTP_ADDR (127.0.0.1:9091).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/install-deps.sh
# Only the service binary: the tests are built by scripts/test.sh, when asked for.
BUILD_TARGETS=userservice bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo

. scripts/servers.sh
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
REDIS_PASSWORD=${REDIS_PASSWORD:-local-dev-password}
start_postgres "$root/.local/pg" "$PG_PORT"
start_redis "$root/.local/redis" "$REDIS_PORT" "$REDIS_PASSWORD"
cleanup() { stop_redis "$root/.local/redis"; stop_postgres "$root/.local/pg"; }
trap cleanup EXIT

export USERSERVICE_POSTGRES_PRIMARY_DSN=${USERSERVICE_POSTGRES_PRIMARY_DSN:-"host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"}
export USERSERVICE_REDIS_MASTER_ADDR=${USERSERVICE_REDIS_MASTER_ADDR:-127.0.0.1:$REDIS_PORT}
export USERSERVICE_REDIS_PASSWORD=${USERSERVICE_REDIS_PASSWORD-$REDIS_PASSWORD}
export USERSERVICE_INTERNAL_HTTP_ADDR=${USERSERVICE_INTERNAL_HTTP_ADDR:-127.0.0.1:8091}
export USERSERVICE_ADMIN_HTTP_ADDR=${USERSERVICE_ADMIN_HTTP_ADDR-127.0.0.1:9091}
# No collector runs locally; set these to otlp and point OTEL_EXPORTER_OTLP_ENDPOINT at one.
export OTEL_TRACES_EXPORTER=${OTEL_TRACES_EXPORTER:-none}
export OTEL_METRICS_EXPORTER=${OTEL_METRICS_EXPORTER:-none}

echo "userservice on http://$USERSERVICE_INTERNAL_HTTP_ADDR (metrics: http://$USERSERVICE_ADMIN_HTTP_ADDR/metrics)" >&2
# Not exec: the trap must still stop the servers when the service exits.
./build/userservice &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
wait $pid || true
wait $pid 2>/dev/null || true
