"""What the Jupyter tests share: Debian's Jupyter packages (or exit 77), a
private hotloadd (tests/pyclient/daemon.py), and kernelspecs written by
this build's hotloadctl into a temporary prefix that Jupyter is pointed at
and nothing else (JUPYTER_PATH, data, runtime and config directories of
the test's own)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pyclient"))

import daemon  # noqa: E402

try:
    import jupyter_client  # noqa: F401
    import ipykernel  # noqa: F401
except ImportError as exc:
    print("skipped: %s (apt-get install python3-jupyter-client python3-ipykernel)" % exc)
    sys.exit(77)

HOTLOADCTL = os.path.join(daemon.BINARY_DIR, "bin", "hotloadctl")


class Jupyter:
    """A temporary prefix for kernelspecs and the environment that makes
    Jupyter use it alone."""

    def __init__(self, d):
        self.daemon = d
        self.dir = tempfile.mkdtemp(prefix="hl-jup-")
        self.prefix = os.path.join(self.dir, "prefix")
        self.kernels = os.path.join(self.prefix, "share", "jupyter", "kernels")
        env = {"JUPYTER_PATH": os.path.join(self.prefix, "share", "jupyter"),
               "JUPYTER_DATA_DIR": os.path.join(self.dir, "data"),
               "JUPYTER_RUNTIME_DIR": os.path.join(self.dir, "runtime"),
               "JUPYTER_CONFIG_DIR": os.path.join(self.dir, "config"),
               "IPYTHONDIR": os.path.join(self.dir, "ipython")}
        for var in ("HOTLOAD_SOCKET", "HOTLOAD_TCP", "PYTHONPATH"):
            os.environ.pop(var, None)
        os.environ.update(env)
        self.env = dict(os.environ)

    def hotloadctl(self, *args, check=True):
        p = subprocess.run([HOTLOADCTL, "--socket", self.daemon.sock] + list(args),
                           capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("hotloadctl %s: exit %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def install(self, target, name, **changes):
        """hotloadctl kernelspec install TARGET --prefix ... --name NAME;
        changes (interrupt_mode=..., env={...}) are then made to its
        kernel.json, as a user may edit it. Returns the spec."""
        self.hotloadctl("kernelspec", "install", target, "--prefix", self.prefix,
                        "--name", name)
        path = os.path.join(self.kernels, name, "kernel.json")
        with open(path) as f:
            spec = json.load(f)
        if changes:
            for key, value in changes.items():
                if isinstance(value, dict):
                    spec[key].update(value)
                else:
                    spec[key] = value
            with open(path, "w") as f:
                json.dump(spec, f)
        return spec

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
