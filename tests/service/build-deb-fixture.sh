#!/bin/sh
# CTest fixture: build the .deb (packaging/build-deb.sh) into BUILD_DIR and
# write its path to BUILD_DIR/deb-path for check-deb.sh and e2e-systemd.sh.
# Usage: build-deb-fixture.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
rm -f "$build/deb-path"
for tool in dpkg-deb cpack; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done
if ! command -v dpkg-shlibdeps >/dev/null 2>&1 && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: dpkg-shlibdeps is missing (apt-get install dpkg-dev) and we are not root"
	exit 77
fi
start=$(date +%s)
deb=$(sh "$src/packaging/build-deb.sh" "$build" | tail -n 1)
[ -f "$deb" ] || { echo "FAIL: packaging/build-deb.sh printed '$deb', not a file"; exit 1; }
echo "$deb" >"$build/deb-path"
echo "ok: built $deb in $(($(date +%s) - start)) s"
