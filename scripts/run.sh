#!/bin/sh
# Install what hotloadd needs, build it, and run it in the foreground with the
# built-in defaults (plain python3 as the DCC). Extra arguments go to hotloadd.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)"
echo "hotloadd: built; hotloadctl is build/bin/hotloadctl" >&2
exec build/bin/hotloadd "$@"
