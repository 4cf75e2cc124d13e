"""A notebook executed headless by Debian's `jupyter nbconvert --execute`
on a Blender kernel that `hotloadctl kernelspec install blender` wrote:
its cells run in a real Blender worker of a private hotloadd, and the
written notebook holds their outputs.

Blender is part of the test environment (scripts/install-deps.sh --test):
a missing one fails this test; only missing Jupyter packages skip it."""
import json
import os
import shutil
import subprocess
import unittest

import jupyter_env
from jupyter_env import daemon

import hotload

JUPYTER = "/usr/bin/jupyter"

CELLS = [
    "import bpy\nbpy.app.version_string",
    "print('objects:', sorted(o.name for o in bpy.data.objects))",
    "import sys\nprint('to stderr', file=sys.stderr)",
    "bpy.ops.mesh.primitive_cube_add()\ncount = len(bpy.data.objects)\ncount * 10",
    "def area(r):\n    return 3 * r * r / 0\n\narea(2)",
]


def text(value):
    """A multi-line string of a notebook file: nbformat may write it as a
    list of lines."""
    return "".join(value) if isinstance(value, list) else value


def notebook(kernel, display):
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": kernel, "display_name": display,
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": "cell%d" % i, "metadata": {},
                   "execution_count": None, "outputs": [], "source": code}
                  for i, code in enumerate(CELLS)],
    }


class NbconvertBlenderTest(unittest.TestCase):

    def test_notebook_runs_in_blender(self):
        self.assertTrue(daemon.BLENDER, "Blender is not installed: apt-get install -y "
                        "--no-install-recommends blender")
        if not os.access(JUPYTER, os.X_OK) or not shutil.which("jupyter-nbconvert",
                                                               path="/usr/bin"):
            print("skipped: no jupyter nbconvert (apt-get install jupyter-nbconvert)")
            os._exit(77)
        d = daemon.Daemon()
        jup = jupyter_env.Jupyter(d)
        try:
            with hotload.Client("blender", socket=d.sock) as c:
                version = c.eval("bpy.app.version_string")
                before = c.eval("sorted(o.name for o in bpy.data.objects)")
            spec = jup.install("blender", "hl-blender")
            self.assertRegex(spec["display_name"], r"^Blender [0-9.]+ \(hotload\)$")
            self.assertIn(version.split()[0], spec["display_name"])
            src = os.path.join(jup.dir, "scene.ipynb")
            with open(src, "w") as f:
                json.dump(notebook("hl-blender", spec["display_name"]), f)
            p = subprocess.run([JUPYTER, "nbconvert", "--to", "notebook", "--execute",
                                "--allow-errors", "--ExecutePreprocessor.timeout=120",
                                "--output", "scene.out.ipynb", src],
                               capture_output=True, text=True, timeout=240, cwd=jup.dir)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(jup.dir, "scene.out.ipynb")) as f:
                out = json.load(f)
            self.assertEqual(out["metadata"]["language_info"]["name"], "python")
            cells = out["cells"]
            self.assertEqual([c["execution_count"] for c in cells], [1, 2, 3, 4, 5])

            def only(cell, kind):
                found = [o for o in cell["outputs"] if o["output_type"] == kind]
                self.assertEqual(len(found), 1, cell["outputs"])
                return found[0]

            self.assertEqual(text(only(cells[0], "execute_result")["data"]["text/plain"]),
                             repr(version))
            stream = only(cells[1], "stream")
            self.assertEqual((stream["name"], text(stream["text"])),
                             ("stdout", "objects: %s\n" % before))
            self.assertEqual(cells[1]["outputs"], [stream])  # no Out for a print()
            stream = only(cells[2], "stream")
            self.assertEqual((stream["name"], text(stream["text"])), ("stderr", "to stderr\n"))
            self.assertEqual(text(only(cells[3], "execute_result")["data"]["text/plain"]),
                             str((len(before) + 1) * 10))
            error = only(cells[4], "error")
            self.assertEqual(error["ename"], "ZeroDivisionError")
            self.assertIn("    return 3 * r * r / 0", error["traceback"])
            # the cells ran in the daemon's Blender worker: it holds the cube
            with hotload.Client("blender", socket=d.sock) as c:
                self.assertEqual(c.eval("count"), len(before) + 1)
        finally:
            jup.cleanup()
            d.stop()


if __name__ == "__main__":
    unittest.main()
