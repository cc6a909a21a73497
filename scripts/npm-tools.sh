#!/usr/bin/env bash
# Installs the Node.js tools the tests use (tests/node/package.json), at the versions pinned in
# tests/node/package-lock.json, under .cache/npm-tools/ (git-ignored): the OpenTelemetry JS
# OTLP protobuf code, Redocly CLI, Ajv and yaml. Skips the network when the installed lock
# file is already the pinned one.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/npm-tools
mkdir -p "$dest"
if [ -d "$dest/node_modules" ] && cmp -s tests/node/package-lock.json "$dest/package-lock.json"; then
  exit 0
fi
cp tests/node/package.json tests/node/package-lock.json "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --silent)
