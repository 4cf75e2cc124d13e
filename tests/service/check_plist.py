#!/usr/bin/env python3
"""The LaunchAgent plist: valid property-list XML, before and after the
per-user rendering, with the keys launchd needs.

Usage: check_plist.py CONFIGURED_PLIST BINDIR
"""
import plistlib
import sys


def check(pl, bindir, home):
    errors = []

    def want(cond, what):
        if not cond:
            errors.append(what)

    want(pl.get("Label") == "org.hotload.hotloadd", "Label")
    want(pl.get("ProgramArguments") == [bindir + "/hotloadd"],
         "ProgramArguments is [%s/hotloadd]" % bindir)
    want(pl.get("RunAtLoad") is True, "RunAtLoad true")
    want(pl.get("KeepAlive") == {"SuccessfulExit": False},
         "KeepAlive restarts only after a failure")
    socks = pl.get("Sockets", {})
    unix = socks.get("unix", {})
    want(unix.get("SockPathName", "").startswith(home + "/")
         and unix.get("SockPathName", "").endswith("/hotloadd.sock"),
         "Sockets.unix.SockPathName under the home")
    want(len(unix.get("SockPathName", "").encode()) < 104,
         "Sockets.unix.SockPathName fits sun_path (104 bytes on macOS)")
    want(unix.get("SockPathMode") == 0o600, "Sockets.unix.SockPathMode 384 (0600)")
    tcp = socks.get("tcp", {})
    want(tcp.get("SockNodeName") == "127.0.0.1", "Sockets.tcp.SockNodeName 127.0.0.1")
    want(tcp.get("SockServiceName") == "7720", "Sockets.tcp.SockServiceName \"7720\"")
    want(tcp.get("SockType", "stream") == "stream", "Sockets.tcp.SockType stream")
    want(pl.get("StandardErrorPath", "").startswith(home + "/Library/Logs/"),
         "StandardErrorPath in ~/Library/Logs")
    want(isinstance(pl.get("ExitTimeOut"), int) and pl["ExitTimeOut"] > 15,
         "ExitTimeOut longer than stop_grace + kill_grace")
    return errors


def main():
    path, bindir = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    plistlib.loads(raw)  # the template itself is valid XML
    home = "/Users/artist"
    rendered = raw.replace(b"__HOME__", home.encode())
    pl = plistlib.loads(rendered)
    errors = check(pl, bindir, home)
    if b"__HOME__" in plistlib.dumps(pl) or b"@" in raw.replace(b"@localhost", b""):
        errors.append("placeholders left after rendering")
    for e in errors:
        print("FAIL: plist: " + e)
    if not errors:
        print("ok: %s is a valid LaunchAgent property list" % path)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
