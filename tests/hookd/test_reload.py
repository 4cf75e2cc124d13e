"""Reloading in the real agent: the reload op and reloads before a request,
under this Python and, for a bpy.types.Operator, inside real Blender."""
import json
import os
import shutil
import signal
import tempfile
import textwrap
import time
import unittest

from harness import BLENDER, Agent, blender_argv, python_argv


def write(path, text, rename=True):
    """Save text to path as an editor does: a temporary file renamed over
    it (VS Code, vim), or written in place."""
    text = textwrap.dedent(text)
    if rename:
        tmp = path + ".tmp~"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)
    # a save within the same clock tick must still look different
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000))


class ReloadTest(unittest.TestCase):
    """A package a -> b -> c under a temporary directory on the agent's path."""

    argv = staticmethod(python_argv)
    hook = None

    def setUp(self):
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="hotload-reload-"))
        self.addCleanup(shutil.rmtree, self.dir)
        self.pkg = os.path.join(self.dir, "mytools")
        os.mkdir(self.pkg)
        write(self.path("__init__.py"), "")
        write(self.path("c.py"), """\
            VALUE = 1
            def value():
                return VALUE
            class Thing:
                def name(self):
                    return "old"
            """)
        write(self.path("b.py"), """\
            from mytools import c
            from mytools.c import value, Thing
            def twice():
                return 2 * c.value()
            def direct():
                return value()
            """)
        write(self.path("a.py"), """\
            from . import b
            def run():
                return b.twice()
            """)
        hook = dict(self.hook or {}, path=[self.dir])
        self.agent = Agent(self.argv(), hook=hook)
        self.addCleanup(self.agent.close)
        self.agent.ready()

    def path(self, name):
        return os.path.join(self.pkg, name)

    def ok(self, code):
        done = self.agent.request("exec", code=code)
        self.assertTrue(done["ok"], done)

    def value(self, expr, **fields):
        """eval expr, after a reload if fields say what changed; returns
        (value, the reloaded event's modules or None)."""
        req_id = self.agent.send("eval", code=expr, **fields)
        msg, reloaded = self.agent.recv(), None
        if msg.get("event") == "reloaded":
            self.assertEqual(msg["id"], req_id)
            reloaded = msg["modules"]
            self.agent.send_line(json.dumps({"id": req_id, "op": "reloaded-ack"}).encode() + b"\n")
            msg = self.agent.recv()
        self.assertEqual(msg.get("event"), "done", msg)
        self.assertTrue(msg["ok"], msg)
        return msg.get("json", msg.get("value")), reloaded

    def changed(self, *names):
        return {"changed": [self.path(n) for n in names]}

    def statuses(self, modules):
        return [(m["module"], m["status"]) for m in modules]

    def reload_op(self, modules, strategy="reload"):
        req_id = self.agent.send("reload", modules=modules, strategy=strategy)
        event = self.agent.recv()
        self.assertEqual((event["event"], event["id"]), ("reloaded", req_id), event)
        done = self.agent.recv()
        self.assertEqual(done["event"], "done")
        return event["modules"], done

    def test_edit_in_place_and_by_rename(self):
        self.ok("import mytools.a, mytools.c; old_value = mytools.c.value; "
                "thing = mytools.c.Thing()")
        self.assertEqual(self.value("mytools.a.run()")[0], 2)
        for rename, n in ((True, 5), (False, 7)):
            write(self.path("c.py"), """\
                VALUE = %d
                def value():
                    return VALUE
                class Thing:
                    def name(self):
                        return "new %d"
                """ % (n, n), rename=rename)
            got, reloaded = self.value("mytools.a.run()", **self.changed("c.py"))
            self.assertEqual(got, 2 * n)
            self.assertEqual(self.statuses(reloaded), [("mytools.c", "reloaded")])
            self.assertEqual(reloaded[0]["file"], self.path("c.py"))
            # references held from before: the function b imported by name,
            # one kept in the user's namespace, an instance made before
            self.assertEqual(self.value("mytools.b.direct()")[0], n)
            self.assertEqual(self.value("old_value()")[0], n)
            self.assertEqual(self.value("thing.name()")[0], "new %d" % n)
            self.assertEqual(self.value("isinstance(thing, mytools.c.Thing) and "
                                        "old_value is mytools.c.value")[0], True)

    def test_no_change_no_event(self):
        self.ok("import mytools.a")
        # the file the daemon names was imported after it changed: current already
        self.assertEqual(self.value("mytools.a.run()", **self.changed("c.py")), (2, None))
        self.assertEqual(self.value("1", changed=[os.path.join(self.dir, "other.py")]),
                         (1, None))

    def test_dependency_order(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), "VALUE = 10\ndef value():\n    return VALUE\nclass Thing: pass\n")
        write(self.path("b.py"), """\
            from mytools import c
            AT_IMPORT = c.VALUE
            def twice():
                return 2 * c.value()
            """)
        got, reloaded = self.value("mytools.b.AT_IMPORT", **self.changed("b.py", "c.py"))
        self.assertEqual(got, 10)  # b ran again after c, and saw the new c
        self.assertEqual(self.statuses(reloaded),
                         [("mytools.c", "reloaded"), ("mytools.b", "reloaded")])
        # b's name `direct` and `value`, gone from its source, are gone
        self.assertEqual(self.value("hasattr(mytools.b, 'direct'), hasattr(mytools.b, 'value')")[0],
                         [False, False])

    def test_syntax_error_keeps_old_module(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), "VALUE = 3\ndef value(:\n    return VALUE\n")
        got, reloaded = self.value("mytools.a.run()", **self.changed("c.py"))
        self.assertEqual(got, 2)
        self.assertEqual(self.statuses(reloaded), [("mytools.c", "failed")])
        error = reloaded[0]["error"]
        self.assertEqual(error["type"], "SyntaxError")
        self.assertIn('File "%s", line 2' % self.path("c.py"), error["traceback"])
        self.assertNotIn("hotload_reload", error["traceback"])

    def test_exception_at_import_keeps_old_module(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), """\
            VALUE = 4
            def value():
                return VALUE
            def helper():
                raise RuntimeError("broken at import")
            helper()
            """)
        got, reloaded = self.value("mytools.a.run()", **self.changed("c.py"))
        self.assertEqual(got, 2)
        error = reloaded[0]["error"]
        self.assertEqual((error["type"], error["message"]), ("RuntimeError", "broken at import"))
        self.assertIn('File "%s", line 6, in <module>' % self.path("c.py"), error["traceback"])
        self.assertIn('File "%s", line 5, in helper' % self.path("c.py"), error["traceback"])
        self.assertNotIn("hotload_reload", error["traceback"])
        self.assertEqual(self.value("hasattr(mytools.c, 'helper')")[0], False)
        # not tried again until it is saved again; then it works
        self.assertEqual(self.value("mytools.a.run()", **self.changed("c.py")), (2, None))
        self.assertEqual(self.value("1", poll_roots=[self.dir]), (1, None))
        # asked for by name, it is tried again (and still fails)
        modules, done = self.reload_op(["mytools.c"])
        self.assertEqual((self.statuses(modules), done["ok"]), ([("mytools.c", "failed")], False))
        write(self.path("c.py"), "VALUE = 4\ndef value():\n    return VALUE\n")
        self.assertEqual(self.value("mytools.a.run()", **self.changed("c.py"))[0], 8)

    def test_deleted_and_new_module(self):
        self.ok("import mytools.a")
        os.unlink(self.path("c.py"))
        write(self.path("d.py"), "def hello():\n    return 'd'\n")
        _, reloaded = self.value("1", **self.changed("c.py", "d.py"))
        self.assertEqual(self.statuses(reloaded), [("mytools.c", "deleted")])
        done = self.agent.request("exec", code="import mytools.c")
        self.assertEqual(done["error"]["type"], "ModuleNotFoundError")
        self.assertEqual(self.value("hasattr(mytools, 'c')")[0], False)
        self.assertEqual(self.value("__import__('mytools.d').d.hello()")[0], "d")

    def test_super_and_subclass(self):
        write(self.path("c.py"), """\
            class Base:
                def name(self):
                    return "base"
            class Child(Base):
                def name(self):
                    return "child of " + super().name()
            """)
        self.ok("import mytools.c; kid = mytools.c.Child()")
        write(self.path("c.py"), """\
            class Base:
                def name(self):
                    return "BASE"
                def extra(self):
                    return "extra"
            class Child(Base):
                def name(self):
                    return "kid of " + super().name()
            """)
        got, _ = self.value("kid.name(), kid.extra(), mytools.c.Child().name()",
                            **self.changed("c.py"))
        self.assertEqual(got, ["kid of BASE", "extra", "kid of BASE"])

    def test_enum_is_rebound_with_a_note(self):
        write(self.path("c.py"), "import enum\nclass Color(enum.Enum):\n    RED = 1\n")
        self.ok("import mytools.c")
        write(self.path("c.py"), "import enum\nclass Color(enum.Enum):\n    RED = 1\n    BLUE = 2\n")
        got, reloaded = self.value("mytools.c.Color.BLUE.value", **self.changed("c.py"))
        self.assertEqual(got, 2)
        self.assertIn("Color: rebound to the new class (an Enum)", reloaded[0]["note"])

    def test_reload_op(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), "VALUE = 6\ndef value():\n    return VALUE\nclass Thing: pass\n")
        modules, done = self.reload_op(["mytools", "nothere"])
        self.assertTrue(done["ok"], done)
        self.assertEqual(self.statuses(modules),
                         [("mytools", "unchanged"), ("mytools.a", "unchanged"),
                          ("mytools.b", "unchanged"), ("mytools.c", "reloaded"),
                          ("nothere", "unchanged")])
        self.assertIn("not imported", modules[-1]["note"])
        self.assertEqual(self.value("mytools.a.run()")[0], 12)
        # "mytools.c" is a prefix of names, not of strings: mytools.cc is not in it
        write(self.path("cc.py"), "")
        self.ok("import mytools.cc")
        modules, _ = self.reload_op(["mytools.c"], strategy="purge")
        self.assertEqual(self.statuses(modules), [("mytools.c", "purged")])
        self.assertEqual(self.value("__import__('sys').modules.get('mytools.c'), "
                                    "hasattr(mytools, 'c'), 'mytools.cc' in __import__('sys').modules")[0],
                         [None, False, True])
        write(self.path("c.py"), "def value():\n    return 'again'\n")
        self.assertEqual(self.value("__import__('mytools.c').c.value()")[0], "again")

    def test_agent_modules_are_never_reloaded(self):
        name = "__import__('sys')._getframe().f_code.co_filename"
        before = self.value(name)[0]
        agent = self.value("__import__('hotload_agent').__file__")[0]
        modules, done = self.reload_op(["hotload_agent", "hotload_reload"])
        self.assertTrue(done["ok"], done)
        self.assertEqual(self.statuses(modules),
                         [("hotload_agent", "unchanged"), ("hotload_reload", "unchanged")])
        self.assertIn("a module of the hotload agent", modules[0]["note"])
        modules, done = self.reload_op(["hotload_agent"], strategy="purge")
        self.assertEqual(self.statuses(modules), [("hotload_agent", "unchanged")])
        # a save of the agent's file under a watch root reloads nothing
        self.assertEqual(self.value("1", changed=[os.path.realpath(agent)]), (1, None))
        self.assertEqual(self.value("1", poll_roots=[os.path.dirname(os.path.realpath(agent))]),
                         (1, None))
        # the agent kept its count: requests are still numbered on
        after = self.value(name)[0]
        self.assertEqual(int(after.strip("<>").split("-")[1]),
                         int(before.strip("<>").split("-")[1]) + 4, (before, after))

    def test_reload_op_interrupted_before_it_started(self):
        """A SIGINT that came while the agent was idle, for a reload op
        whose interrupt line follows it: the reload does not run."""
        write(self.path("slow.py"), "import time\ntime.sleep(1)\n")
        self.ok("import mytools.slow")
        write(self.path("slow.py"), "import time\ntime.sleep(1)\nVALUE = 2\n")
        self.agent.signal(signal.SIGINT)
        t0 = time.monotonic()
        # as the daemon does: the interrupt line is there before the
        # signal, here before the agent reads the request
        self.agent.next_id += 1
        req_id = self.agent.next_id
        self.agent.send_line(json.dumps({"id": req_id, "op": "reload",
                                         "modules": ["mytools.slow"]}).encode() + b"\n" +
                             json.dumps({"id": req_id, "op": "interrupt"}).encode() + b"\n")
        done = self.agent.recv()
        self.assertEqual((done["event"], done["id"]), ("done", req_id), done)
        self.assertEqual(done["error"]["type"], "KeyboardInterrupt")
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertFalse(self.value("hasattr(__import__('mytools.slow').slow, 'VALUE')")[0])

    def test_reload_op_failure_and_bad_requests(self):
        self.ok("import mytools.a")
        write(self.path("b.py"), "raise ValueError('no')\n")
        modules, done = self.reload_op(["mytools"])
        self.assertFalse(done["ok"])
        self.assertEqual(done["error"]["type"], "ReloadFailed")
        self.assertIn("mytools.b", done["error"]["message"])
        self.assertIn(("mytools.b", "failed"), self.statuses(modules))
        for fields, text in (({"modules": []}, "a list of module names"),
                             ({"modules": "mytools"}, "a list of module names"),
                             ({"modules": ["mytools"], "strategy": "x"}, "strategy")):
            done = self.agent.request("reload", **fields)
            self.assertEqual(done["error"]["type"], "BadRequest")
            self.assertIn(text, done["error"]["message"])
        self.assertEqual(self.value("mytools.a.run()")[0], 2)

    def test_purge_strategy_before_request(self):
        self.ok("import mytools.a; old = mytools.c")
        write(self.path("c.py"), "VALUE = 9\ndef value():\n    return VALUE\n")
        got, reloaded = self.value("__import__('sys').modules.get('mytools.c') is None",
                                   reload_strategy="purge", **self.changed("c.py"))
        self.assertEqual(got, True)
        self.assertEqual(self.statuses(reloaded), [("mytools.c", "purged")])
        self.assertEqual(self.value("__import__('mytools.c').c.value()")[0], 9)

    def test_poll_roots(self):
        self.ok("import mytools.a")
        poll = {"poll_roots": [self.dir]}
        self.assertEqual(self.value("mytools.a.run()", **poll), (2, None))
        write(self.path("c.py"), "VALUE = 11\ndef value():\n    return VALUE\n")
        got, reloaded = self.value("mytools.a.run()", **poll)
        self.assertEqual((got, self.statuses(reloaded)), (22, [("mytools.c", "reloaded")]))
        self.assertEqual(self.value("mytools.a.run()", **poll), (22, None))
        # a root the modules are not under: nothing looked at
        self.assertEqual(self.value("1", poll_roots=[os.path.join(self.dir, "x")]), (1, None))

    def test_interrupt_while_reloading(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), "import time\nwhile True:\n    time.sleep(0.05)\n")
        req_id = self.agent.send("exec", code="print('must not run')", **self.changed("c.py"))
        time.sleep(0.5)
        self.agent.send_line(json.dumps({"id": req_id, "op": "interrupt"}).encode() + b"\n")
        self.agent.signal(2)
        event = self.agent.recv()
        self.assertEqual(event["event"], "reloaded")
        self.assertEqual(self.statuses(event["modules"]), [("mytools.c", "failed")])
        self.assertEqual(event["modules"][0]["error"]["type"], "KeyboardInterrupt")
        self.assertNotIn("interrupted", event["modules"][0])
        self.agent.send_line(json.dumps({"id": req_id, "op": "reloaded-ack"}).encode() + b"\n")
        done = self.agent.recv()
        self.assertEqual(done["error"]["type"], "KeyboardInterrupt")
        self.assertNotIn("must not run", self.agent.stdout())
        self.assertEqual(self.value("mytools.a.run()")[0], 2)  # old c still there


class HookReloadTest(ReloadTest):
    """before_reload / after_reload from the hook see the module names."""

    hook = {"name": "t", "initialize": "log = []",
            "before_reload": "log.append(('before', modules))",
            "after_reload": "log.append(('after', modules))\n"
                            "import builtins; builtins.reload_log = log"}

    def test_hooks_called(self):
        self.ok("import mytools.a")
        write(self.path("c.py"), "VALUE = 2\ndef value():\n    return VALUE\n")
        got, _ = self.value("reload_log", **self.changed("c.py"))
        self.assertEqual(got, [["before", ["mytools.c"]], ["after", ["mytools.c"]]])

    def test_failing_hook_is_reported(self):
        self.ok("import mytools.a")
        self.agent.request("exec", code="pass")
        write(self.path("c.py"), "VALUE = 3\ndef value():\n    return VALUE\n")
        # the hook's own namespace is not the user's: break it from its log
        self.ok("import builtins; builtins.reload_log = None")
        self.ok("import gc\n"
                "for o in gc.get_objects():\n"
                "    if isinstance(o, dict) and o.get('__name__') == '__hotload_hook__':\n"
                "        o['log'] = None\n")
        got, reloaded = self.value("mytools.a.run()", **self.changed("c.py"))
        self.assertEqual(got, 6)  # the reload itself went on
        self.assertEqual(self.statuses(reloaded),
                         [("<t before_reload>", "failed"), ("mytools.c", "reloaded"),
                          ("<t after_reload>", "failed")])
        self.assertIn("AttributeError", reloaded[0]["error"]["traceback"])
        self.assertIn("<t before_reload>", reloaded[0]["error"]["traceback"])
        # the reload op says the hook failed, not that a module did
        write(self.path("c.py"), "VALUE = 4\ndef value():\n    return VALUE\n")
        modules, done = self.reload_op(["mytools.c"])
        self.assertIn(("mytools.c", "reloaded"), self.statuses(modules))
        self.assertEqual(done["error"]["message"],
                         "the hook's before_reload and after_reload failed")


@unittest.skipUnless(BLENDER, "Blender is not installed")
class BlenderReloadTest(unittest.TestCase):
    """An operator registered with Blender runs the new execute() after its
    module is reloaded, without being registered again."""

    def test_operator_runs_new_code(self):
        root = os.path.realpath(tempfile.mkdtemp(prefix="hotload-bpy-"))
        self.addCleanup(shutil.rmtree, root)
        path = os.path.join(root, "myop.py")
        source = """\
            import bpy
            class HOTLOAD_OT_probe(bpy.types.Operator):
                bl_idname = "hotload.probe"
                bl_label = "Probe"
                def execute(self, context):
                    bpy.app.driver_namespace["probe"] = %r
                    return {"FINISHED"}
            """
        write(path, source % "old")
        agent = Agent(blender_argv(), hook={"path": [root]})
        self.addCleanup(agent.close)
        agent.ready()
        done = agent.request("exec", code="import bpy, myop\n"
                             "bpy.utils.register_class(myop.HOTLOAD_OT_probe)\n"
                             "bpy.ops.hotload.probe()")
        self.assertTrue(done["ok"], done)
        write(path, source % "new")
        req_id = agent.send("eval", code="bpy.ops.hotload.probe() and "
                            "bpy.app.driver_namespace['probe']", changed=[path])
        event = agent.recv()
        self.assertEqual(event["event"], "reloaded", event)
        self.assertEqual([(m["module"], m["status"]) for m in event["modules"]],
                         [("myop", "reloaded")])
        agent.send_line(json.dumps({"id": req_id, "op": "reloaded-ack"}).encode() + b"\n")
        done = agent.recv()
        self.assertTrue(done["ok"], done)
        self.assertEqual(done["json"], "new")


if __name__ == "__main__":
    unittest.main()
