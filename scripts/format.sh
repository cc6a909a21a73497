#!/usr/bin/env bash
# scripts/format.sh [--check] — formats every C++ file git tracks with clang-format-15 and the
# repository's .clang-format (Google style, 100 columns). --check changes nothing and fails,
# naming each file, when one is not formatted: the gate scripts/test.sh runs first.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.hpp' '*.cc')
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format-15 --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) not formatted (run scripts/format.sh):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files formatted" >&2
else
  clang-format-15 -i "${files[@]}"
fi
