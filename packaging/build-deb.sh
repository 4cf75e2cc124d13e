#!/bin/sh
# Build the Debian package: a Release build installed under /usr, packed by
# CPack from the CMake install rules. Prints the path of the .deb.
#
# Usage: packaging/build-deb.sh [BUILD_DIR]    (default: build-deb)
# Needs the build dependencies (scripts/install-deps.sh) and dpkg-dev, whose
# dpkg-shlibdeps works out the library dependencies; as root it installs
# what is missing.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-build-deb}

if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "build-deb: dpkg-shlibdeps is missing: apt-get install dpkg-dev" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		dpkg-dev >/dev/null
fi
sh scripts/install-deps.sh

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DBUILD_TESTING=OFF -DHOTLOAD_SYSTEMD=ON >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
# CPack leaves older packages of other versions alone; say only this one.
(cd "$build" && cpack -G DEB >/dev/null)
version=$(sed -n 's/^CPACK_PACKAGE_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' \
	"$build/CPackConfig.cmake")
deb=$(ls -t "$build"/hotload_"$version"_*.deb | head -n 1)
echo "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
