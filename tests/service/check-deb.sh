#!/bin/sh
# What the .deb holds: the files and nothing else, the conffiles, the
# dependencies, maintainer scripts that parse, units and man pages as
# installed. Usage: check-deb.sh DEB_BUILD_DIR (holding deb-path)
set -u
dir=$1
if [ ! -f "$dir/deb-path" ]; then
	echo "SKIP: no package was built (see service_deb_build)"
	exit 77
fi
deb=$(cat "$dir/deb-path")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# Files (not directories), and who owns them.
dpkg-deb -c "$deb" >"$tmp/list" || bad "dpkg-deb -c $deb"
awk '$1 !~ /^d/ { print $6 }' "$tmp/list" | sed 's|^\./|/|' | sort >"$tmp/files"
cat >"$tmp/want" <<'LIST'
/etc/hotload/hotloadd.yaml
/usr/bin/hotloadctl
/usr/bin/hotloadd
/usr/lib/hotload/hookd/hookd.py
/usr/lib/hotload/hookd/hotload_agent.py
/usr/lib/hotload/hookd/hotload_hook.py
/usr/lib/hotload/hookd/hotload_debug.py
/usr/lib/hotload/hookd/hotload_reload.py
/usr/lib/hotload/hookd/hotload_template.py
/usr/lib/hotload/hotload-launch
/usr/lib/python3/dist-packages/hotload/__init__.py
/usr/lib/python3/dist-packages/hotload/_address.py
/usr/lib/python3/dist-packages/hotload/_errors.py
/usr/lib/python3/dist-packages/hotload/_protocol.py
/usr/lib/python3/dist-packages/hotload/aio.py
/usr/lib/python3/dist-packages/hotload/client.py
/usr/lib/python3/dist-packages/hotload/py.typed
/usr/lib/python3/dist-packages/hotload_kernel/__init__.py
/usr/lib/python3/dist-packages/hotload_kernel/__main__.py
/usr/lib/python3/dist-packages/hotload_kernel/kernel.py
/usr/lib/systemd/system/hotloadd-tcp.socket
/usr/lib/systemd/system/hotloadd.service
/usr/lib/systemd/system/hotloadd.socket
/usr/lib/systemd/user/hotloadd-tcp.socket
/usr/lib/systemd/user/hotloadd.service
/usr/lib/systemd/user/hotloadd.socket
/usr/share/bash-completion/completions/hotloadctl
/usr/share/hotload/hooks.d/blender.yaml
/usr/share/hotload/hooks.d/hython.yaml
/usr/share/hotload/hooks.d/mayapy.yaml
/usr/share/hotload/hooks.d/python.yaml
/usr/share/nvim/site/pack/hotload/start/hotload/doc/hotload.txt
/usr/share/nvim/site/pack/hotload/start/hotload/doc/tags
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/ctl.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/health.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/init.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/output.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/pymodule.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/targets.lua
/usr/share/nvim/site/pack/hotload/start/hotload/lua/hotload/traceback.lua
/usr/share/nvim/site/pack/hotload/start/hotload/plugin/hotload.lua
/usr/share/man/man1/hotloadctl.1.gz
/usr/share/man/man5/hotload-hooks.5.gz
/usr/share/man/man5/hotloadd.yaml.5.gz
/usr/share/man/man8/hotloadd.8.gz
/usr/share/zsh/vendor-completions/_hotloadctl
LIST
sort -o "$tmp/want" "$tmp/want"
missing=$(comm -23 "$tmp/want" "$tmp/files")
extra=$(comm -13 "$tmp/want" "$tmp/files" | grep -v '^/usr/share/doc/hotload/')
[ -z "$missing" ] || bad "missing from the package: $missing"
[ -z "$extra" ] || bad "unexpected in the package (add them to check-deb.sh if meant): $extra"
grep -q ' \./etc/hotload/hooks\.d/$' "$tmp/list" || bad "no (empty) /etc/hotload/hooks.d"
if awk '$2 != "root/root"' "$tmp/list" | grep -q .; then
	bad "files not owned by root: $(awk '$2 != "root/root"' "$tmp/list")"
fi
for f in usr/bin/hotloadd usr/bin/hotloadctl usr/lib/hotload/hotload-launch; do
	grep -q "^-rwxr-xr-x .* \./$f\$" "$tmp/list" || bad "$f is not 0755"
done

# Control: conffiles, dependencies, scripts.
dpkg-deb -e "$deb" "$tmp/DEBIAN" || bad "dpkg-deb -e"
conffiles=$(cat "$tmp/DEBIAN/conffiles" 2>/dev/null)
[ "$conffiles" = "/etc/hotload/hotloadd.yaml" ] ||
	bad "conffiles is '$conffiles', want /etc/hotload/hotloadd.yaml"
[ "$(dpkg-deb -f "$deb" Package)" = hotload ] || bad "Package: is not hotload"
depends=$(dpkg-deb -f "$deb" Depends)
for d in python3 adduser procps libc6 libuv1 libjansson4 libyaml-0-2 libsystemd0; do
	printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$d" ||
		bad "Depends: lacks $d ($depends)"
done
for s in postinst prerm postrm; do
	[ -x "$tmp/DEBIAN/$s" ] || bad "$s is missing or not executable"
	sh -n "$tmp/DEBIAN/$s" || bad "$s does not parse"
	grep -q '@[A-Z_]*@' "$tmp/DEBIAN/$s" && bad "$s has an unconfigured @VAR@"
	if command -v shellcheck >/dev/null 2>&1; then
		shellcheck -s sh "$tmp/DEBIAN/$s" || bad "shellcheck $s"
	fi
done

# The installed units and man pages.
dpkg-deb -x "$deb" "$tmp/root" || bad "dpkg-deb -x"
for scope in system user; do
	e=$(sed -n 's/^ExecStart=//p' "$tmp/root/usr/lib/systemd/$scope/hotloadd.service")
	[ "$e" = /usr/bin/hotloadd ] || bad "$scope hotloadd.service: ExecStart=$e"
done
for m in "$tmp"/root/usr/share/man/man*/*.gz; do
	out=$(gzip -dc "$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1) || true
	[ -z "$out" ] || bad "$m renders with warnings: $out"
done
# The Python client library imports from where it is installed, and is of
# the package's version.
pkgver=$(dpkg-deb -f "$deb" Version)
pyver=$(cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 python3 -c \
	"import sys; sys.path.insert(0, 'root/usr/lib/python3/dist-packages'); import hotload, hotload.aio; print(hotload.__version__)" 2>&1) ||
	bad "the installed hotload package does not import: $pyver"
[ "$pyver" = "$pkgver" ] || bad "hotload.__version__ is '$pyver', the package's version '$pkgver'"
if [ -n "$(find "$tmp/root/etc/hotload/hooks.d" -mindepth 1 2>/dev/null)" ]; then
	bad "/etc/hotload/hooks.d is not empty: the shipped hooks belong in /usr/share"
fi

[ $fail -eq 0 ] && echo "ok: $deb: $(wc -l <"$tmp/files") files, conffiles, Depends: $depends"
exit $fail
