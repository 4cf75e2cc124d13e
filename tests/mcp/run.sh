#!/bin/sh
# hotloadctl mcp under CTest, driven by the official MCP client SDK:
#   run.sh HOTLOADD HOTLOADCTL BINARY_DIR
# npm ci when node_modules is missing or older than the lockfile (CI has
# none), then the node:test tests. Exit 77 (skipped) when node or npm is
# not installed.
set -eu
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIPPED: node and npm are not installed, so hotloadctl mcp is not tested with the MCP SDK (it needs Node 20 or newer)"
	exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "the MCP tests need Node 20 or newer; this is $(node --version)" >&2
	exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --ignore-scripts --no-audit --no-fund
fi
HOTLOAD_HOTLOADD="$1" HOTLOAD_HOTLOADCTL="$2" HOTLOAD_BINARY_DIR="$3" \
	exec node --test --test-concurrency=1 --test-timeout=180000 mcp.test.mjs
