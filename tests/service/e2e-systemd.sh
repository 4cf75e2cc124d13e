#!/bin/sh
# End to end under a real systemd: boot a clean Debian 12 root with systemd
# as PID 1 in an nspawn container, install the .deb with apt (its
# dependencies come from the Debian mirror), and check the system units,
# reload, a SIGKILLed daemon, an upgrade, the user units of a lingering
# user, and that `apt-get purge` leaves nothing behind.
#
# Usage: e2e-systemd.sh [DEB | FILE_WITH_DEB_PATH]
#   Without an argument the package is built (packaging/build-deb.sh).
# Environment:
#   HOTLOAD_TEST_CACHE   cache directory (default /var/cache/hotload-test):
#                        the debootstrapped root as a tarball, apt's archives
#   HOTLOAD_TEST_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   HOTLOAD_E2E_KEEP=1   keep the container's root and logs afterwards
# Exit status: 0 all passed, 1 a check failed, 77 skipped (not root, or
# systemd-nspawn cannot run here).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=${HOTLOAD_TEST_CACHE:-/var/cache/hotload-test}
mirror=${HOTLOAD_TEST_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
include=systemd,systemd-sysv,dbus,libpam-systemd
# Change the name when the recipe changes, so an old cache is not used.
tarball=$cache/$suite-minbase-systemd-v1.tar

t0=$(date +%s)
fails=0
log() { printf '[%4ds] %s\n' $(($(date +%s) - t0)) "$*"; }
ok() { log "ok: $*"; }
bad() {
	log "FAIL: $*"
	fails=$((fails + 1))
}
skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root to boot a container with systemd-nspawn"
if ! command -v systemd-nspawn >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
	log "installing systemd-container and debootstrap"
	for try in install update-and-install; do
		[ $try = install ] || apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			systemd-container debootstrap >/dev/null 2>&1 && break
	done
	command -v systemd-nspawn >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 ||
		skip "systemd-nspawn or debootstrap is missing and apt-get could not install them"
fi

# The package.
deb=${1:-}
if [ -n "$deb" ] && [ ! -f "$deb" ]; then
	bad "no such file: $deb"
	exit 1
fi
if [ -n "$deb" ] && [ "${deb%.deb}" = "$deb" ]; then
	deb=$(cat "$deb")
fi
if [ -z "$deb" ]; then
	log "building the package"
	deb=$(sh "$src/packaging/build-deb.sh" "${TMPDIR:-/tmp}/hotload-e2e-deb-build" | tail -n 1)
fi
[ -f "$deb" ] || {
	bad "no package at '$deb'"
	exit 1
}
log "package: $deb"

mkdir -p "$cache/apt-archives/partial"
work=$(mktemp -d /var/tmp/hotload-e2e.XXXXXX)
root=$work/root
nspawn_pid=""
leader=""

# Power the booted container off and wait for nspawn to end.
poweroff() {
	if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
		timeout 20 nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1 || true
	fi
	if [ -n "$nspawn_pid" ]; then
		i=0
		while kill -0 "$nspawn_pid" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	leader=""
	nspawn_pid=""
}

cleanup() {
	rc=$?
	if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
		if [ "$fails" -ne 0 ] || [ "$rc" -ne 0 ]; then
			nsenter -t "$leader" -a journalctl --no-pager -n 150 >"$work/journal.log" 2>&1 || true
			echo "---- last of the container's journal ($work/journal.log) ----"
			tail -n 60 "$work/journal.log"
		fi
	fi
	poweroff
	if [ "${HOTLOAD_E2E_KEEP:-}" = 1 ]; then
		echo "kept: $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The root: the cached tarball, or debootstrap (then cached).
mkdir -p "$root"
(
	flock 9
	if [ ! -f "$tarball" ]; then
		log "no cached root: debootstrap $suite (minbase, $include)"
		rm -rf "$work/boot-root"
		debootstrap --variant=minbase --include="$include" "$suite" "$work/boot-root" \
			"$mirror" >"$work/debootstrap.log" 2>&1 || {
			tail -n 20 "$work/debootstrap.log"
			exit 1
		}
		tar -C "$work/boot-root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$work/boot-root"
		log "cached the root as $tarball"
	fi
) 9>"$cache/.lock" || {
	bad "debootstrap failed"
	exit 1
}
tar -C "$root" -xf "$tarball"
cp "$deb" "$root/root/hotload.deb"
log "root ready"

# Can nspawn run here at all?
if ! out=$(timeout 60 systemd-nspawn -q -D "$root" --register=no --keep-unit /bin/true 2>&1); then
	skip "systemd-nspawn cannot run here: $out"
fi

name=hle2e$$
systemd-nspawn -q -D "$root" -b --register=no --keep-unit -M "$name" \
	--bind="$cache/apt-archives:/var/cache/apt/archives" \
	</dev/null >"$work/boot.log" 2>&1 &
nspawn_pid=$!
i=0
while [ -z "$leader" ] && [ $i -lt 100 ]; do
	leader=$(pgrep -P "$nspawn_pid" -x systemd || true)
	[ -n "$leader" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$leader" ] || {
	cat "$work/boot.log"
	skip "the container did not boot"
}

# Run a command in the container (as root, clean environment).
c() {
	timeout 120 nsenter -t "$leader" -a env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
# ... as the artist, with the artist's user manager.
u() {
	c runuser -u artist -- env XDG_RUNTIME_DIR=/run/user/1000 HOME=/home/artist "$@"
}
# expect DESC WANT CMD...: CMD's output (stdout) is WANT.
expect() {
	desc=$1 want=$2
	shift 2
	got=$("$@" 2>"$work/stderr") || true
	if [ "$got" = "$want" ]; then
		ok "$desc"
	else
		bad "$desc: got '$got', want '$want' ($(head -c 300 "$work/stderr"))"
	fi
}
# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
main_pid() { c systemctl show -p MainPID --value hotloadd.service; }

# systemd answers once its private socket is there; then wait for the boot.
wait_for 60 c test -S /run/systemd/private || {
	cat "$work/boot.log"
	skip "systemd did not come up in the container"
}
state=$(c timeout 90 systemctl is-system-running --wait 2>/dev/null) || true
log "booted: $state (systemd as PID 1 in container $name)"
tboot=$(date +%s)

# From here on every check runs and counts; a failure does not stop the rest.
set +e

# ---- install ----------------------------------------------------------------
c apt-get update -qq >"$work/apt.log" 2>&1 || bad "apt-get update (see $work/apt.log)"
if c env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	/root/hotload.deb >>"$work/apt.log" 2>&1; then
	ok "apt-get install ./hotload.deb, dependencies from the mirror ($(($(date +%s) - tboot)) s)"
else
	tail -n 30 "$work/apt.log"
	bad "apt-get install ./hotload.deb"
	exit 1
fi
expect "hotload user and home" "hotload:/var/lib/hotload" \
	c sh -c 'getent passwd hotload | cut -d: -f1,6'
expect "/var/lib/hotload is the hotload user's, 0750" "750 hotload hotload" \
	c stat -c '%a %U %G' /var/lib/hotload
expect "the system socket is not enabled by the package" "disabled" \
	c systemctl is-enabled hotloadd.socket
expect "the user units are enabled for every user" "enabled" \
	c systemctl --global is-enabled hotloadd.socket
expect "hotloadd-tcp.socket comes with it (static)" "static" \
	c systemctl --global is-enabled hotloadd-tcp.socket
out=$(c systemd-analyze verify --man=no /usr/lib/systemd/system/hotloadd.service \
	/usr/lib/systemd/system/hotloadd.socket /usr/lib/systemd/system/hotloadd-tcp.socket 2>&1) &&
	[ -z "$out" ] && ok "systemd-analyze verify: installed system units" ||
	bad "systemd-analyze verify (system): $out"
out=$(c sh -c 'mkdir -p -m 0700 /run/verify-xdg && cd /usr/lib/systemd/user &&
	XDG_RUNTIME_DIR=/run/verify-xdg systemd-analyze --user verify --man=no \
	hotloadd.service hotloadd.socket hotloadd-tcp.socket' 2>&1) &&
	[ -z "$out" ] && ok "systemd-analyze verify: installed user units" ||
	bad "systemd-analyze --user verify: $out"
c runuser -u hotload -- hotloadd --check-config >"$work/check.log" 2>&1 &&
	ok "hotloadd --check-config as the hotload user" ||
	bad "hotloadd --check-config as hotload: $(cat "$work/check.log")"

# ---- the system units -------------------------------------------------------
c systemctl enable --now hotloadd.socket >/dev/null 2>&1 || bad "systemctl enable --now hotloadd.socket"
expect "hotloadd.socket listens" "active" c systemctl is-active hotloadd.socket
expect "hotloadd-tcp.socket listens (started with it)" "active" c systemctl is-active hotloadd-tcp.socket
expect "the service waits for the first connection" "inactive" c systemctl is-active hotloadd.service
expect "/run/hotload/hotloadd.sock is the hotload user's, 0600" "600 hotload hotload" \
	c stat -c '%a %U %G' /run/hotload/hotloadd.sock
tfirst=$(date +%s)
expect "the first connection starts the service: hotloadctl exec python:3 -c 'print(1)'" "1" \
	c hotloadctl exec python:3 -c 'print(1)'
log "first request, service start included: $(($(date +%s) - tfirst)) s"
expect "hotloadd.service is active" "active" c systemctl is-active hotloadd.service
pid=$(main_pid)
expect "hotloadd runs as hotload" "hotload" c ps -o user= -p "$pid"
# A request runs in its client's directory (/ here); the worker itself, and
# the daemon, in the service's WorkingDirectory.
expect "workers run as hotload in /var/lib/hotload" "hotload /var/lib/hotload /var/lib/hotload /" \
	c hotloadctl exec python:3 -c \
	"import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name, os.environ['HOME'], os.readlink('/proc/$pid/cwd'), os.getcwd())"
expect "over TCP 127.0.0.1:7720" "2" c hotloadctl --tcp 127.0.0.1:7720 exec python:3 -c 'print(2)'
# before anything imports it, which would compile it too
expect "postinst compiled the Python library (py3compile)" "1" \
	c sh -c 'ls /usr/lib/python3/dist-packages/hotload/__pycache__ | grep -c "^client\.cpython-.*\.pyc$"'
expect "the Python library, installed for Debian's python3, finds the daemon" \
	"42 /usr/lib/python3/dist-packages/hotload/__init__.py" \
	c python3 -c 'import hotload; c = hotload.Client("python:3"); print(c.eval("6 * 7"), hotload.__file__)'
status=$(c systemctl show -p StatusText --value hotloadd.service)
if [ -n "$status" ] && c systemctl status --no-pager hotloadd.service 2>/dev/null |
	grep -q "Status: \""; then
	ok "systemctl status shows the STATUS= line: $status"
else
	bad "systemctl status shows no STATUS= line (sd_notify STATUS=)"
fi
expect "no device allow-list (GPUs stay reachable)" "auto:" \
	c sh -c 'echo "$(systemctl show -p DevicePolicy --value hotloadd.service):$(systemctl show -p DeviceAllow --value hotloadd.service)"'
# A request past its timeout is logged about its worker and that request.
c hotloadctl exec --timeout 0.3 python:3 -c 'import time; time.sleep(5)' >/dev/null 2>&1 || true
sleep 1
if c journalctl -u hotloadd.service -o verbose 2>/dev/null | grep -q HOTLOAD_TARGET=python:3; then
	ok "journal entries carry HOTLOAD_TARGET="
else
	bad "no journal entry with HOTLOAD_TARGET="
fi
if c journalctl -u hotloadd.service -o verbose 2>/dev/null | grep -q "HOTLOAD_REQUEST=[0-9]"; then
	ok "journal entries about a request carry HOTLOAD_REQUEST="
else
	bad "no journal entry with HOTLOAD_REQUEST= after a request timed out"
fi

# ---- reload -----------------------------------------------------------------
hook='name: e2epy
hints:
  linux:
    - path: /usr/bin/python3
      version: "3"
env:
  E2E_MARK: VALUE
'
printf '%s' "$hook" | sed 's/VALUE/one/' | c sh -c 'cat >/etc/hotload/hooks.d/e2e.yaml'
c hotloadctl exec e2epy -c 'pass' >/dev/null 2>&1 && rc=0 || rc=$?
[ $rc -eq 4 ] && ok "a new hook file is unknown before the reload (exit 4)" ||
	bad "hotloadctl exec e2epy before the reload: exit $rc, want 4"
c systemctl reload hotloadd.service || bad "systemctl reload hotloadd.service"
mark() { c hotloadctl exec e2epy -c 'import os; print(os.environ["E2E_MARK"])' 2>"$work/mark.err"; }
mark_is() { [ "$(mark)" = "$1" ]; }
wait_for 20 mark_is one && ok "systemctl reload applies a new hook" ||
	bad "after systemctl reload: e2epy says '$(mark)', want 'one' ($(cat "$work/mark.err"))"
printf '%s' "$hook" | sed 's/VALUE/two/' | c sh -c 'cat >/etc/hotload/hooks.d/e2e.yaml'
c systemctl reload hotloadd.service || bad "systemctl reload hotloadd.service"
wait_for 20 mark_is two && ok "systemctl reload applies a changed hook (new workers)" ||
	bad "after the second reload: e2epy says '$(mark)', want 'two' ($(cat "$work/mark.err"))"
expect "reload keeps the daemon (same MainPID)" "$pid" main_pid
expect "the service is active after reloads" "active" c systemctl is-active hotloadd.service

# ---- SIGKILL: restarted on the same socket, no worker left behind -----------
workers=$(c pgrep -u hotload -f hookd.py | tr '\n' ' ')
ino=$(c stat -c %i /run/hotload/hotloadd.sock)
restarts=$(c systemctl show -p NRestarts --value hotloadd.service)
[ -n "$workers" ] && ok "workers before the kill: $workers" || bad "no workers before the kill"
c kill -KILL "$pid"
# Connect at once: the connection waits in the socket's backlog for the
# restarted daemon.
tkill=$(date +%s)
expect "a request sent right after the SIGKILL is served" "3" \
	c hotloadctl exec python:3 -c 'print(3)'
log "served $(($(date +%s) - tkill)) s after the kill"
newpid=$(main_pid)
[ -n "$newpid" ] && [ "$newpid" != 0 ] && [ "$newpid" != "$pid" ] &&
	ok "systemd restarted hotloadd (pid $pid -> $newpid)" ||
	bad "hotloadd was not restarted (MainPID $newpid)"
expect "NRestarts went up by one" "$((restarts + 1))" \
	c systemctl show -p NRestarts --value hotloadd.service
expect "the same socket (inode $ino)" "$ino" c stat -c %i /run/hotload/hotloadd.sock
expect "hotloadd.socket stayed active" "active" c systemctl is-active hotloadd.socket
left=""
for w in $workers; do
	c kill -0 "$w" 2>/dev/null && left="$left $w"
done
[ -z "$left" ] && ok "no worker of the killed daemon is left" || bad "workers left behind:$left"
orphans=$(c ps -o pid=,ppid=,args= -u hotload | awk -v p="$newpid" '$1 != p && $2 == 1')
[ -z "$orphans" ] && ok "no hotload process was reparented to PID 1" || bad "orphans: $orphans"

# ---- upgrade (reinstall): running daemons restart, enablement is kept ------
pid=$(main_pid)
c env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall /root/hotload.deb \
	>>"$work/apt.log" 2>&1 || bad "apt-get install --reinstall"
newpid=$(main_pid)
[ "$newpid" != "$pid" ] && [ "$newpid" != 0 ] && ok "the upgrade restarted the system daemon" ||
	bad "the upgrade did not restart the system daemon (MainPID $pid -> $newpid)"
expect "the upgrade kept hotloadd.socket enabled" "enabled" c systemctl is-enabled hotloadd.socket
expect "served after the upgrade" "4" c hotloadctl exec python:3 -c 'print(4)'

# ---- stop the system units --------------------------------------------------
c systemctl disable --now hotloadd.socket hotloadd-tcp.socket >/dev/null 2>&1 ||
	bad "systemctl disable --now hotloadd.socket hotloadd-tcp.socket"
c systemctl stop hotloadd.service
expect "no process of the hotload user after stop" "" c pgrep -u hotload
c test -e /run/hotload/hotloadd.sock && bad "/run/hotload/hotloadd.sock is left after stop" ||
	ok "the socket file goes with the socket unit"

# ---- the user units, for a lingering user -----------------------------------
c useradd -m -u 1000 -s /bin/sh artist
c loginctl enable-linger artist || bad "loginctl enable-linger artist"
wait_for 30 c test -S /run/user/1000/systemd/private && ok "artist's user manager runs (linger)" ||
	bad "no user manager for artist"
user_active() { [ "$(u systemctl --user is-active "$1")" = active ]; }
wait_for 20 user_active hotloadd.socket &&
	ok "artist's hotloadd.socket listens (enabled globally by the package)" ||
	bad "artist's hotloadd.socket: $(u systemctl --user is-active hotloadd.socket)"
expect "artist's hotloadd-tcp.socket listens" "active" u systemctl --user is-active hotloadd-tcp.socket
expect "\$XDG_RUNTIME_DIR/hotload/hotloadd.sock is artist's, 0600" "600 artist" \
	c stat -c '%a %U' /run/user/1000/hotload/hotloadd.sock
expect "artist: hotloadctl exec on the default socket runs as artist" "1000 1" \
	u hotloadctl exec python:3 -c 'import os; print(os.getuid(), 1)'
expect "artist's hotloadd.service is active" "active" u systemctl --user is-active hotloadd.service
[ -n "$(u systemctl --user show -p StatusText --value hotloadd.service)" ] &&
	ok "artist's service has a STATUS= line" || bad "artist's service has no STATUS= line"
expect "artist over TCP" "5" u hotloadctl --tcp 127.0.0.1:7720 exec python:3 -c 'print(5)'
u hotloadctl stop >/dev/null 2>&1 || bad "artist: hotloadctl stop"
expect "hotloadctl stop stops artist's service and both sockets" "inactive
inactive
inactive" u systemctl --user is-active hotloadd.service hotloadd.socket hotloadd-tcp.socket
u hotloadctl start >/dev/null 2>&1 || bad "artist: hotloadctl start"
expect "hotloadctl start starts them again" "active
active
active" u systemctl --user is-active hotloadd.service hotloadd.socket hotloadd-tcp.socket
expect "served after hotloadctl start" "6" u hotloadctl exec python:3 -c 'print(6)'

# ---- purge ------------------------------------------------------------------
if c env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq hotload >>"$work/apt.log" 2>&1; then
	ok "apt-get purge hotload"
else
	tail -n 20 "$work/apt.log"
	bad "apt-get purge hotload"
fi
expect "dpkg forgot hotload" "" c sh -c 'dpkg-query -W -f="\${Status}" hotload 2>/dev/null | grep -v not-installed'
expect "no hotloadd process left (system or user)" "" c pgrep -x hotloadd
expect "the hotload user is gone" "" c getent passwd hotload
expect "the hotload group is gone" "" c getent group hotload
c test -e /run/user/1000/hotload/hotloadd.sock && bad "artist's socket file is left" ||
	ok "artist's socket was stopped and removed"
expect "artist's user manager has no hotloadd.socket" "inactive" \
	u systemctl --user is-active hotloadd.socket
leftovers=$(c find / /run -xdev \( -path /proc -o -path /sys -o -path /var/cache/apt \
	-o -path /var/log -o -path /var/lib/apt -o -path /root/hotload.deb \) -prune \
	-o -name '*hotload*' -print 2>/dev/null)
[ -z "$leftovers" ] && ok "nothing named *hotload* is left on the system" ||
	bad "left after purge: $(echo "$leftovers" | tr '\n' ' ')"

log "booted part done: $(($(date +%s) - tboot)) s after boot"

# ---- without systemd running ------------------------------------------------
# The same root, not booted: the maintainer scripts must work where systemd
# is not PID 1 (a chroot, an image build, a container).
[ "$fails" -eq 0 ] || c journalctl --no-pager -n 150 >"$work/journal.log" 2>&1
poweroff
out=$(timeout 300 systemd-nspawn -q -D "$root" --register=no --keep-unit --console=pipe \
	--bind="$cache/apt-archives:/var/cache/apt/archives" /bin/sh -c '
	export DEBIAN_FRONTEND=noninteractive
	test -d /run/systemd/system && echo "systemd-runs"
	apt-get install -y -qq --no-install-recommends /root/hotload.deb >/dev/null 2>&1 &&
		echo installed
	getent passwd hotload >/dev/null && echo user
	test -L /etc/systemd/user/sockets.target.wants/hotloadd.socket && echo user-units-enabled
	test -L /etc/systemd/system/sockets.target.wants/hotloadd.socket && echo system-enabled
	apt-get purge -y -qq hotload >/dev/null 2>&1 && echo purged
	getent passwd hotload >/dev/null && echo user-left
	find / -xdev \( -path /proc -o -path /sys -o -path /var/cache/apt -o -path /var/log \
		-o -path /var/lib/apt -o -path /root/hotload.deb \) -prune \
		-o -name "*hotload*" -print 2>/dev/null | sed "s/^/left: /"' </dev/null 2>"$work/offline.err" | tr -d '\r')
want="installed
user
user-units-enabled
purged"
if [ "$out" = "$want" ]; then
	ok "without systemd running: install (user created, user units enabled) and purge leave nothing"
else
	bad "without systemd running: got '$(echo "$out" | tr '\n' ' ')', want '$(echo "$want" | tr '\n' ' ')' ($(tail -n 5 "$work/offline.err"))"
fi

log "done: $fails failed check(s); $(($(date +%s) - tboot)) s after boot, $(($(date +%s) - t0)) s in all"
[ "$fails" -eq 0 ]
