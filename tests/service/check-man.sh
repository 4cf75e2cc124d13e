#!/bin/sh
# The man pages render without a single groff warning (-ww), and mandoc's
# linter, when it is installed, finds no errors.
# Usage: check-man.sh MANDIR   (the build tree's share/man)
set -eu
mandir=$1
if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff is not installed (apt-get install groff-base)"
	exit 77
fi
fail=0
n=0
for page in "$mandir"/man1/hotloadctl.1 "$mandir"/man5/hotloadd.yaml.5 \
	"$mandir"/man5/hotload-hooks.5 "$mandir"/man8/hotloadd.8; do
	n=$((n + 1))
	if [ ! -f "$page" ]; then
		echo "FAIL: $page is missing"
		fail=1
		continue
	fi
	out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1) || true
	if grep -q '@[A-Z_]*@' "$page"; then
		out="$out
unconfigured placeholder: $(grep -o '@[A-Z_]*@' "$page" | head -n 1)"
	fi
	if command -v mandoc >/dev/null 2>&1; then
		lint=$(mandoc -Tlint -W warning "$page" 2>&1) || out="$out
$lint"
	fi
	if [ -n "$out" ]; then
		echo "FAIL: $page:"
		echo "$out"
		fail=1
	else
		echo "ok: $page"
	fi
done
[ "$n" -eq 4 ] || fail=1
exit $fail
