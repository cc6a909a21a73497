#!/usr/bin/env bash
# scripts/fuzz.sh [TARGET...] — builds the libFuzzer targets (fuzz/, clang-15, ASan + UBSan)
# in build-fuzz/ and runs each for a bounded time, starting from the seed corpus in
# fuzz/corpus/<target>/ and the regression inputs in fuzz/regressions/<target>/.
#
#   FUZZ_SECONDS   seconds per target (default 30; http_request and json_body get twice that)
#   FUZZ_JOBS      targets run at once (default 1: CI has two cores and builds nothing meanwhile)
#
# New interesting inputs accumulate in build-fuzz/corpus/<target>/ (kept between local runs,
# never committed automatically). A crash, a leak, a sanitizer report, a timeout (10 s for one
# input) or an out-of-memory (2 GiB) fails the run; the input is saved as
# build-fuzz/artifacts/<target>-crash-<sha1>. Fix the bug, then copy the input into
# fuzz/regressions/<target>/ and add a unit test for it (docs/testing.md, "Fuzzing").
# The table of executions per target is printed and written to build-fuzz/fuzz-report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
bash scripts/build.sh build-fuzz -DUSERSERVICE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-15 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/targets/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p build-fuzz/artifacts build-fuzz/logs
report=build-fuzz/fuzz-report.md
{
  echo "| target | seconds | executions | exec/s | coverage (edges) | corpus | result |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} > "$report"

status=0
for t in "${targets[@]}"; do
  seconds=$FUZZ_SECONDS
  case $t in http_request|json_body) seconds=$((FUZZ_SECONDS * 2)) ;; esac
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-")
  [ -f "fuzz/dict/$t.dict" ] && opts+=(-dict="fuzz/dict/$t.dict")
  log=build-fuzz/logs/$t.log
  echo "== fuzz $t (${seconds}s)" >&2
  result=ok
  if ! "build-fuzz/fuzz/fuzz_$t" "${opts[@]}" "${dirs[@]}" > "$log" 2>&1; then
    result=FAILED
    status=1
    grep -E "ERROR|FUZZ_CHECK|SUMMARY|Test unit written|runtime error" "$log" | head -20 >&2 || true
  fi
  # A failed run prints no final stats: these may find nothing (and must not stop the script).
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -1 || true)
  rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  cov=$( (grep -E '#[0-9]+[[:space:]]+DONE' "$log" || true) | grep -oE 'cov: [0-9]+' | awk '{print $2}' | tail -1 || true)
  corp=$( (grep -E '#[0-9]+[[:space:]]+DONE' "$log" || true) | grep -oE 'corp: [0-9]+' | awk '{print $2}' | tail -1 || true)
  echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${corp:-?} | $result |" >> "$report"
done
cat "$report"
exit $status
