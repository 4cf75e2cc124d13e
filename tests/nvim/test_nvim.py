#!/usr/bin/env python3
"""The Neovim plugin against the real hotloadd and hotloadctl.

Starts the given hotloadd on a private socket and configuration (the
shipped hooks of the build tree: python:3 is the python3 on PATH), then
runs each case of cases.lua in its own headless Neovim
(`nvim --headless -u NONE`, the plugin loaded from the build tree's
share/nvim/site as it is installed); harness.lua runs the case and writes
its result. Exit status 0 when every case passed and the daemon exited
cleanly (no sanitizer report) on SIGTERM.

    python3 tests/nvim/test_nvim.py --hotloadd build/bin/hotloadd \\
        --hotloadctl build/bin/hotloadctl --packpath build/share/nvim/site [CASE...]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT = 120  # seconds for one case's Neovim


class Daemon:
    """hotloadd on a socket in a private directory."""

    def __init__(self, hotloadd, root):
        self.hotloadd = os.path.abspath(hotloadd)
        self.dir = os.path.join(root, "daemon")
        os.mkdir(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "hotloadd.sock")
        self.config = os.path.join(self.dir, "hotloadd.yaml")
        self.errpath = os.path.join(self.dir, "hotloadd.err")
        shipped = os.path.join(os.path.dirname(os.path.dirname(self.hotloadd)),
                               "share", "hotload", "hooks.d")
        with open(self.config, "w") as f:
            f.write("listen:\n  unix: %s\n  tcp: \"\"\n" % json.dumps(self.sock) +
                    "hooks_dirs: [%s]\n" % json.dumps(shipped) +
                    "log_level: debug\n")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        for var in ("HOTLOAD_SOCKET", "HOTLOAD_TCP", "HOTLOAD_CONFIG"):
            env.pop(var, None)
        with open(self.errpath, "ab") as err:
            self.proc = subprocess.Popen([self.hotloadd, "--config", self.config],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.sock)
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM; the exit status (None when it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


def nvim_env(args, daemon, case, casedir, result):
    env = dict(os.environ)
    for var in ("HOTLOAD_SOCKET", "HOTLOAD_TCP", "HOTLOAD_CONFIG", "VIMINIT", "MYVIMRC"):
        env.pop(var, None)
    env.update({
        "HOTLOAD_TEST_CASE": case,
        "HOTLOAD_TEST_CASES": os.path.join(HERE, "cases.lua"),
        "HOTLOAD_TEST_RESULT": result,
        "HOTLOAD_TEST_DIR": casedir,
        "HOTLOAD_TEST_SOCKET": daemon.sock,
        "HOTLOAD_TEST_CTL": os.path.abspath(args.hotloadctl),
        "HOTLOAD_TEST_PACKPATH": os.path.abspath(args.packpath),
        # Neovim's own files (shada, swap, logs) stay in the case's directory
        "XDG_DATA_HOME": os.path.join(casedir, "xdg-data"),
        "XDG_STATE_HOME": os.path.join(casedir, "xdg-state"),
        "XDG_CONFIG_HOME": os.path.join(casedir, "xdg-config"),
        "XDG_CACHE_HOME": os.path.join(casedir, "xdg-cache"),
        "NVIM_LOG_FILE": os.path.join(casedir, "nvim.log"),
    })
    return env


def run_nvim(args, daemon, case, root):
    """Run one case; (passed, report text)."""
    casedir = os.path.join(root, "case-" + case)
    os.mkdir(casedir, 0o700)
    result = os.path.join(casedir, "result")
    argv = [args.nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
            "--cmd", "set packpath=" + os.path.abspath(args.packpath),
            "--cmd", "packloadall",
            "-c", "luafile " + os.path.join(HERE, "harness.lua")]
    try:
        proc = subprocess.run(argv, cwd=casedir, env=nvim_env(args, daemon, case, casedir, result),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=CASE_TIMEOUT)
        out, status = proc.stdout.decode("utf-8", "replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        return False, "Neovim did not exit within %d s\n%s" % (CASE_TIMEOUT, out)
    try:
        with open(result, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False, "no result (Neovim exited with %d)\n%s" % (status, out)
    passed = text.startswith("ok") and status == 0
    return passed, text + ("" if passed else "\nNeovim exited with %d\n%s" % (status, out))


def list_cases(args, daemon, root):
    listing = os.path.join(root, "cases")
    env = nvim_env(args, daemon, "--list", root, listing)
    subprocess.run([args.nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
                    "-c", "luafile " + os.path.join(HERE, "harness.lua")],
                   cwd=root, env=env, stdin=subprocess.DEVNULL, timeout=60, check=False)
    with open(listing, encoding="utf-8") as f:
        return f.read().split()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotloadd", required=True)
    ap.add_argument("--hotloadctl", required=True)
    ap.add_argument("--nvim", default="nvim")
    ap.add_argument("--packpath", required=True,
                    help="the share/nvim/site that holds pack/hotload/start/hotload")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("cases", nargs="*", help="only these cases")
    args = ap.parse_args()

    nvim = shutil.which(args.nvim)
    if not nvim:
        print("FAIL: Neovim (%s) is not installed: the plugin's tests need it; install it "
              "with: apt-get install -y neovim (scripts/install-deps.sh --test)" % args.nvim)
        return 1
    args.nvim = nvim
    version = subprocess.run([nvim, "--version"], stdout=subprocess.PIPE,
                             check=False).stdout.decode().split("\n")[0]
    print("nvim.plugin: %s, %s" % (nvim, version))

    root = tempfile.mkdtemp(prefix="hotload-nvim.")
    daemon = Daemon(args.hotloadd, root)
    failures = []
    try:
        if not daemon.start():
            print("FAIL: hotloadd did not start:\n" + daemon.stderr())
            return 1
        cases = args.cases or list_cases(args, daemon, root)
        if not cases:
            print("FAIL: harness.lua listed no cases")
            return 1
        for case in cases:
            t0 = time.monotonic()
            passed, report = run_nvim(args, daemon, case, root)
            print("%s %s (%.1f s)" % ("ok  " if passed else "FAIL", case, time.monotonic() - t0))
            sys.stdout.flush()
            if not passed:
                failures.append(case)
                print("  " + report.replace("\n", "\n  "))
    finally:
        status = daemon.stop()
        if status != 0:
            failures.append("hotloadd exited with status %s on SIGTERM" % status)
            print("FAIL: hotloadd exited with status %s on SIGTERM; its stderr:\n%s"
                  % (status, daemon.stderr()[-20000:]))
        if args.keep or failures:
            print("nvim.plugin: kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("nvim.plugin: %d case(s), %d failed%s" % (
        len(cases), len(failures), (": " + ", ".join(failures)) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
