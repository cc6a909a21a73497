#!/usr/bin/env bash
# scripts/build.sh [BUILD_DIR] [extra cmake args...] — configure (once) and build.
# BUILD_TARGETS="userservice" builds only those targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.cache/ccache}
# The precompiled header would otherwise defeat the cache.
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
fi
# Two cores: more jobs only add memory pressure (a Beast TU peaks near 800 MB).
# shellcheck disable=SC2086  # BUILD_TARGETS is a list
ninja -C "$dir" -j "${JOBS:-2}" ${BUILD_TARGETS:-}
