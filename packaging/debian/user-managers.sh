# Run "systemctl --user ARGS..." in every running systemd user manager, as
# its user, ignoring failures: an artist logged in while the package is
# installed, upgraded or removed should not need to log in again.
# (Pasted into the maintainer scripts by CMake.)
hotload_user_managers()
{
	[ -d /run/systemd/system ] || return 0
	command -v runuser >/dev/null 2>&1 || return 0
	for _hl_sock in /run/user/*/systemd/private; do
		[ -S "$_hl_sock" ] || continue
		_hl_uid=${_hl_sock#/run/user/}
		_hl_uid=${_hl_uid%%/*}
		_hl_user=$(getent passwd "$_hl_uid" | cut -d: -f1) || continue
		[ -n "$_hl_user" ] || continue
		timeout 60 runuser -u "$_hl_user" -- env XDG_RUNTIME_DIR="/run/user/$_hl_uid" \
			systemctl --user "$@" >/dev/null 2>&1 || true
	done
}
