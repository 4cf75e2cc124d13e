#!/bin/sh
# The VS Code extension (clients/vscode) under CTest. One step per call:
#   run.sh build          npm ci when node_modules is missing or older than
#                         the lockfile, then tsc (strict: the type check)
#   run.sh test HOTLOADD  the Node tests, against that hotloadd
#   run.sh vsix OUTDIR    package the .vsix into OUTDIR with @vscode/vsce
# Exit 77 (skipped) when node or npm is not installed.
set -eu
cd "$(dirname "$0")/../../clients/vscode"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIPPED: node and npm are not installed, so the VS Code extension is neither built nor tested (it needs Node 20 or newer)"
	exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "the VS Code extension needs Node 20 or newer; this is $(node --version)" >&2
	exit 1
fi

case "${1:-}" in
build)
	# npm ci wipes node_modules: only when the lockfile changed since the last
	# install, so a second run costs nothing. Install scripts are not needed
	# (the one dev dependency that has one only fetches a signing tool).
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --ignore-scripts --no-audit --no-fund
	fi
	rm -rf out # nothing stale (a removed module) may reach the .vsix
	exec ./node_modules/.bin/tsc -p .
	;;
test)
	HOTLOAD_HOTLOADD="$2" exec node --test out/test/*.test.js
	;;
vsix)
	version=$(node -p 'require("./package.json").version')
	vsix="$2/hotload-$version.vsix"
	rm -f "$vsix"
	./node_modules/.bin/vsce package --no-dependencies --allow-missing-repository --skip-license -o "$vsix"
	# What a user installs: the compiled extension and its manifest, no tests, sources or node_modules.
	exec python3 - "$vsix" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["extension/package.json", "extension/out/src/extension.js", "extension/out/src/protocol/connection.js"]
missing = [n for n in need if n not in names]
extra = [n for n in names if n.startswith(("extension/node_modules/", "extension/out/test/", "extension/src/", "extension/test/"))]
if missing or extra:
    sys.exit("bad .vsix %s: missing %s, unexpected %s" % (sys.argv[1], missing, extra[:10]))
print("%s: %d files" % (sys.argv[1], len(names)))
PY
	;;
*)
	echo "usage: run.sh build | test HOTLOADD | vsix OUTDIR" >&2
	exit 2
	;;
esac
