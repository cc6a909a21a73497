#!/usr/bin/env bash
# The whole test suite: the formatting gate (scripts/format.sh --check), then unit and
# integration tests, once in a normal build and once
# under AddressSanitizer + UndefinedBehaviorSanitizer, then every libFuzzer target for a
# bounded time (scripts/fuzz.sh; FUZZ_SECONDS per target, 30 by default; FUZZ_SECONDS=0
# skips fuzzing). Integration tests start their own throwaway PostgreSQL and Redis servers
# on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/npm-tools.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# LeakSanitizer needs ptrace-free operation; it is off where the kernel forbids it.

status=0
# Formatting first: cheap, and a failure names the files (scripts/format.sh fixes them).
bash scripts/format.sh --check || status=1

run_suite() {
  local dir=$1; shift
  echo "== build $dir" >&2
  bash scripts/build.sh "$dir" "$@"
  echo "== test $dir" >&2
  (cd "$dir" && ctest --output-on-failure --timeout 1500) || status=1
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build-sanitize -DCMAKE_BUILD_TYPE=Debug -DUSERSERVICE_SANITIZE=ON -DCMAKE_CXX_FLAGS=-O1
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  bash scripts/fuzz.sh || status=1
fi
exit $status
