"""The package itself: Python 3.7's grammar, the standard library only,
and one version everywhere (CMakeLists.txt, pyproject.toml, the module)."""
import ast
import os
import re
import sys
import unittest

import daemon
import hotload

PACKAGE_DIR = os.path.join(daemon.LIBRARY_DIR, "hotload")
MODULES = sorted(f for f in os.listdir(PACKAGE_DIR) if f.endswith(".py"))

# What the library may import: the standard library of Python 3.7.
STDLIB = {"asyncio", "copy", "errno", "json", "os", "pwd", "queue", "re", "select", "socket",
          "stat", "sys", "threading", "time", "typing"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class PackageTest(unittest.TestCase):

    @unittest.skipIf(sys.version_info < (3, 8), "ast.parse(feature_version=) needs Python 3.8+")
    def test_parses_as_python_3_7(self):
        for name in MODULES:
            with self.subTest(name=name):
                ast.parse(read(os.path.join(PACKAGE_DIR, name)), filename=name,
                          feature_version=(3, 7))

    def test_standard_library_only(self):
        for name in MODULES:
            tree = ast.parse(read(os.path.join(PACKAGE_DIR, name)))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    with self.subTest(name=name, module=top):
                        self.assertIn(top, STDLIB)

    def test_one_version(self):
        cmake = read(os.path.join(daemon.SOURCE_DIR, "CMakeLists.txt"))
        project = re.search(r"project\(hotload VERSION ([0-9.]+)", cmake).group(1)
        pyproject = read(os.path.join(daemon.LIBRARY_DIR, "pyproject.toml"))
        declared = re.search(r'(?m)^version = "([^"]+)"$', pyproject).group(1)
        self.assertEqual((declared, hotload.__version__), (project, project))

    def test_typed_and_without_dependencies(self):
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE_DIR, "py.typed")))
        pyproject = read(os.path.join(daemon.LIBRARY_DIR, "pyproject.toml"))
        self.assertRegex(pyproject, r"(?m)^dependencies = \[\]$")
        self.assertRegex(pyproject, r'(?m)^requires-python = ">=3.7"$')

    def test_public_names(self):
        for name in hotload.__all__:
            self.assertTrue(hasattr(hotload, name), name)
        for exc in (hotload.DaemonUnavailable, hotload.Refused, hotload.RemoteError,
                    hotload.WorkerDied, hotload.Timeout, hotload.Interrupted,
                    hotload.ReloadFailed):
            self.assertTrue(issubclass(exc, hotload.Error))
        self.assertTrue(issubclass(hotload.Interrupted, hotload.RemoteError))
        self.assertTrue(issubclass(hotload.ReloadFailed, hotload.RemoteError))


if __name__ == "__main__":
    unittest.main()
