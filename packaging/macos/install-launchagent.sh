#!/bin/sh
# Install and load hotloadd as a LaunchAgent for the user running this.
# Usage: install-launchagent.sh [--uninstall]
# The template is org.hotload.hotloadd.plist next to this script; __HOME__
# in it becomes your home. Run as yourself, not with sudo.
set -eu

label=org.hotload.hotloadd
here=$(cd "$(dirname "$0")" && pwd)
template="$here/$label.plist"
agents="$HOME/Library/LaunchAgents"
plist="$agents/$label.plist"
domain="gui/$(id -u)"
sockdir="$HOME/Library/Application Support/hotload"

if [ "$(id -u)" -eq 0 ]; then
	echo "install-launchagent: run this as the artist, not as root" >&2
	exit 2
fi

# Unload a loaded copy; not loaded is fine.
launchctl bootout "$domain/$label" 2>/dev/null || true

if [ "${1:-}" = "--uninstall" ]; then
	rm -f "$plist" "$sockdir/hotloadd.sock"
	echo "hotloadd LaunchAgent removed"
	exit 0
fi

[ -r "$template" ] || { echo "install-launchagent: no $template" >&2; exit 1; }
mkdir -p "$agents" "$HOME/Library/Logs/hotload"
mkdir -p "$sockdir"
chmod 0700 "$sockdir"
# sed with | as delimiter: a home containing | is not supported.
sed "s|__HOME__|$HOME|g" "$template" >"$plist.tmp"
plutil -lint "$plist.tmp" >/dev/null
mv "$plist.tmp" "$plist"
launchctl bootstrap "$domain" "$plist"
launchctl enable "$domain/$label"

cat <<MSG
hotloadd LaunchAgent loaded ($plist).
Unix socket: $sockdir/hotloadd.sock, TCP 127.0.0.1:7720.
For hotloadctl, add to your shell profile (~/.zprofile):
  export HOTLOAD_SOCKET="$sockdir/hotloadd.sock"
Log: $HOME/Library/Logs/hotload/hotloadd.log
MSG
