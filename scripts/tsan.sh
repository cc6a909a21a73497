#!/usr/bin/env bash
# ThreadSanitizer run: the unit tests and the integration tests whose service process has
# several threads sharing state (the outbox relay, the log writer, the span/metric exporters
# and the event loop). Not part of scripts/test.sh (a third full build would push CI past its
# budget on two cores); run it by hand before changing code that crosses threads.
#   scripts/tsan.sh [gtest filter for the integration tests]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=Debug -DUSERSERVICE_TSAN=ON -DCMAKE_CXX_FLAGS=-O1
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
filter=${1:-EventsRelay.*:ResourceLimits.*:Telemetry*:Idempotency.*:PartialFailures.*:PostgresPool*:Startup.*:Shutdown.*}
build-tsan/tests/unit_tests
build-tsan/tests/integration_tests --gtest_filter="$filter"
