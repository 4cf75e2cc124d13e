"""pip install clients/python works offline into a virtual environment,
and what it installs is the package (py.typed included).

Offline means --no-build-isolation: setuptools and wheel must be in the
venv already. ensurepip gives a venv pip and (before 3.12) setuptools but
never wheel, so the venv is made with --system-site-packages from a Python
that has both: this one, else Debian's /usr/bin/python3 (python3-venv,
python3-setuptools, python3-wheel). Skipped (exit 77 when run alone) where
there is none."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import daemon


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


class InstallTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hl-py-venv-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def venv(self):
        """A venv that sees pip, setuptools and wheel, or None."""
        pythons = [sys.executable]
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
                os.access("/usr/bin/python3", os.X_OK):
            pythons.append("/usr/bin/python3")
        for python in pythons:
            if run([python, "-c", "import setuptools, wheel"]).returncode != 0:
                continue
            path = os.path.join(self.tmp, "venv")
            made = run([python, "-m", "venv", "--system-site-packages", path])
            py = os.path.join(path, "bin", "python")
            if made.returncode == 0 and run([py, "-m", "pip", "--version"]).returncode == 0:
                return py
            shutil.rmtree(path, True)
        return None

    def test_pip_install_offline(self):
        py = self.venv()
        if py is None:
            self.skipTest("no venv with pip and setuptools (Debian: python3-venv, "
                          "python3-setuptools)")
        # a copy, so that the build leaves nothing in the source tree
        src = os.path.join(self.tmp, "src")
        shutil.copytree(daemon.LIBRARY_DIR, src,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        # nothing of this machine's pip configuration: no index, no links
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        r = run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                 "--disable-pip-version-check", src], env=env)
        self.assertEqual(r.returncode, 0, r.stdout)
        probe = ("import hotload, hotload.aio, os, sys\n"
                 "d = os.path.dirname(hotload.__file__)\n"
                 "print(hotload.__version__, d.startswith(sys.prefix),"
                 " sorted(f for f in os.listdir(d) if not f.startswith('__pycache__')))")
        r = run([py, "-I", "-c", probe], cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stdout)
        import hotload
        self.assertEqual(r.stdout.split()[0:2], [hotload.__version__, "True"])
        for f in ("py.typed", "client.py", "aio.py", "__init__.py"):
            self.assertIn("'%s'" % f, r.stdout)
        r = run([py, "-m", "pip", "show", "hotload"])
        self.assertIn("Requires: \n", r.stdout + "\n")


if __name__ == "__main__":
    result = unittest.main(exit=False).result
    sys.exit(77 if result.wasSuccessful() and result.skipped else
             0 if result.wasSuccessful() else 1)
