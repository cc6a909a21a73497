#!/usr/bin/env bash
# tests/deploy/check_deb.sh BUILD_DIR — ctest: `cpack` builds the .deb from the build tree; the
# package holds the binary, the unit, the environment file (a conffile) and the rules; its
# Depends come from the binary's shared libraries; and the binary extracted from it answers
# --version with the version of the build.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(ls "$work"/out/*.deb)
echo "package: $(basename "$deb")"

contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/userservice ./usr/lib/systemd/system/userservice.service \
         ./etc/userservice/userservice.env ./usr/share/userservice/prometheus/userservice.rules.yml \
         ./usr/share/doc/userservice/README.md; do
  grep -q " $f\$" <<<"$contents" || { echo "missing from the package: $f" >&2; echo "$contents" >&2; exit 1; }
done
grep -q '^-rw------- .* ./etc/userservice/userservice.env$' <<<"$contents" ||
  { echo "the environment file (it holds a password) must be 0600" >&2; exit 1; }

control=$(dpkg-deb -I "$deb")
grep -q '^ Package: userservice$' <<<"$control"
grep -Eq '^ Depends: .*libpq5' <<<"$control" || { echo "Depends lacks libpq5:" >&2; echo "$control" >&2; exit 1; }
grep -Eq '^ Depends: .*libhiredis' <<<"$control" || { echo "Depends lacks libhiredis" >&2; exit 1; }
# The allocator (CMake option USERSERVICE_TCMALLOC): nothing calls it by name, so only the
# linker's --no-as-needed keeps it, and the package must then depend on it.
if ldd "$build/userservice" | grep -q libtcmalloc_minimal; then
  grep -Eq '^ Depends: .*libtcmalloc-minimal4' <<<"$control" ||
    { echo "Depends lacks libtcmalloc-minimal4:" >&2; echo "$control" >&2; exit 1; }
fi
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = "/etc/userservice/userservice.env" ] ||
  { echo "the environment file is not a conffile" >&2; exit 1; }

dpkg-deb -x "$deb" "$work/root"
got=$("$work/root/usr/bin/userservice" --version)
want=$("$build/userservice" --version)
[ "$got" = "$want" ] || { echo "packaged --version: '$got', built: '$want'" >&2; exit 1; }
echo "$got"
