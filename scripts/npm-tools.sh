#!/usr/bin/env bash
# Installs the Node.js tools the tests use, at the versions pinned in their package-lock.json,
# under .cache/npm-tools/ (git-ignored): @opentelemetry/otlp-transformer (OTLP bodies decoded
# with the OpenTelemetry project's own protobuf code). Skips the network when the installed
# lock file is already the pinned one.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/npm-tools/otlp_decode
mkdir -p "$dest"
if [ -d "$dest/node_modules" ] && cmp -s tests/otlp_decode/package-lock.json "$dest/package-lock.json"; then
  exit 0
fi
cp tests/otlp_decode/package.json tests/otlp_decode/package-lock.json "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --silent)
