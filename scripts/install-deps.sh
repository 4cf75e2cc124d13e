#!/bin/sh
# Install the Debian packages hotload needs to build, test and run.
# Idempotent: packages already present are left alone, apt runs only when
# something is missing. Usage: scripts/install-deps.sh [--test]
set -eu

build="build-essential cmake pkg-config libuv1-dev libsystemd-dev libjansson-dev libyaml-dev python3"
test_pkgs="check blender python3-dev python3-venv python3-setuptools python3-wheel systemd dpkg-dev debootstrap systemd-container clang-format clang libclang-rt-14-dev neovim python3-ipykernel python3-jupyter-client jupyter-nbconvert python3-debugpy valgrind"

pkgs="$build"
[ "${1:-}" = "--test" ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
