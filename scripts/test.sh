#!/bin/sh
# Install the build and test dependencies (Blender included), build with
# AddressSanitizer and UndefinedBehaviorSanitizer, warnings as errors, and run
# the whole test suite through CTest. Extra arguments go to ctest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHOTLOAD_ASAN=ON -DHOTLOAD_UBSAN=ON \
	-DHOTLOAD_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
exec ctest --output-on-failure --timeout 900 --parallel "$(nproc)" "$@"
