#!/bin/sh
# systemd-analyze verify of every unit, as configured into the build tree.
# Usage: verify-units.sh BUILD_DIR BINDIR
#
# The installed hotloadd is not on this machine, so ExecStart= of the copies
# verified here points at the built one; that ExecStart= is otherwise
# BINDIR/hotloadd is checked separately. systemd-analyze only warns (rc 0)
# about unknown keys and bad values, so any output at all fails the test.
# Documentation=man: pages are looked up in BUILD_DIR/share/man.
set -eu
build=$1
bindir=$2

if ! command -v systemd-analyze >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] &&
	command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		systemd >/dev/null 2>&1 || true
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
	exit 77
fi
command -v man >/dev/null 2>&1 || manopt=--man=no

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

for scope in system user; do
	src=$build/lib/systemd/$scope
	exec_start=$(sed -n 's/^ExecStart=//p' "$src/hotloadd.service")
	if [ "$exec_start" != "$bindir/hotloadd" ]; then
		echo "FAIL: $scope/hotloadd.service: ExecStart=$exec_start, expected $bindir/hotloadd"
		fail=1
	fi
	mkdir -p "$tmp/$scope"
	for u in hotloadd.service hotloadd.socket hotloadd-tcp.socket; do
		sed "s|^ExecStart=.*/hotloadd\$|ExecStart=$build/bin/hotloadd|" "$src/$u" >"$tmp/$scope/$u"
	done
	if [ "$scope" = user ]; then
		mkdir -p "$tmp/xdg"
		chmod 0700 "$tmp/xdg"
		set -- --user
	else
		set --
	fi
	out=$(cd "$tmp/$scope" && MANPATH="$build/share/man" XDG_RUNTIME_DIR="$tmp/xdg" \
		systemd-analyze "$@" ${manopt:-} verify \
		hotloadd.service hotloadd.socket hotloadd-tcp.socket 2>&1) && rc=0 || rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL: systemd-analyze $* verify ($scope units), rc $rc:"
		echo "$out"
		fail=1
	else
		echo "ok: $scope units verify cleanly"
	fi
done
exit $fail
