"""Reloading modules in a warm interpreter: the agent's half of hotloading.

The daemon watches the user's directories and tells the agent, with its next
request, which files changed (or, with watch_mode poll, which roots to check).
This module finds the loaded modules those files are, runs them again in the
order they import each other, and patches the old module's functions and
classes in place, so references the DCC already holds (callbacks, registered
classes, instances, `from x import f` elsewhere) run the new code. A module
that fails to run again is put back as it was. See docs/hotloading.md.

Standard library only; must parse as Python 3.7.
"""
import ast
import enum
import importlib
import importlib.machinery
import importlib.util
import linecache
import os
import sys
import traceback
import types

AGENT_FILES = {os.path.abspath(__file__)}  # hookd.py adds itself
# The agent's own modules are here: never reloaded nor purged, which would
# start the running agent's state afresh (its count of requests, sources).
AGENT_DIR = os.path.dirname(os.path.realpath(__file__))
NOTE_MAX = 400  # characters of notes per module in an answer
# Class attributes that are the class's machinery, not what its source says:
# never copied from the new class nor deleted from the old one.
CLASS_KEEP = frozenset(("__dict__", "__weakref__", "__module__", "__qualname__",
                        "__slotnames__", "__abstractmethods__", "_abc_impl", "bl_rna"))
MODULE_KEEP = ("__name__", "__file__", "__package__", "__spec__", "__loader__", "__path__",
               "__cached__", "__builtins__")

# The (mtime, size) of every source file as Python read it to import it,
# keyed by the path the module's __file__ has. Recorded by the import system
# itself (SourceFileLoader.path_stats, which it calls before reading a
# source), so a file saved while the module was being imported is not taken
# for the one that ran.
stamps = {}
# The stamp of a file whose reload failed: not tried again before a request
# until it changes again (reload-modules tries it again).
failed = {}


def install_stamps():
    """Record each source file's stamp as the import system reads it."""
    loader = importlib.machinery.SourceFileLoader
    original = loader.path_stats
    if getattr(original, "hotload_stamps", False):
        return

    def path_stats(self, path):
        st = original(self, path)
        stamps[path] = (st["mtime"], st["size"])
        return st

    path_stats.hotload_stamps = True
    loader.path_stats = path_stats


def stat_stamp(path):
    """The (mtime, size) of path now, or None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime, st.st_size)


def source_file(module):
    """The .py file a module was loaded from, or None (built-in, C, namespace)."""
    path = getattr(module, "__file__", None)
    if isinstance(path, str) and path.endswith(".py") and isinstance(module, types.ModuleType):
        return path
    return None


def agent_frames(tb):
    """Return tb without this module's and the agent's frames."""
    kept = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename not in AGENT_FILES:
            kept.append(tb)
        tb = tb.tb_next
    for tb, next_tb in zip(kept, kept[1:] + [None]):
        tb.tb_next = next_tb
    return kept[0] if kept else None


def describe(exc):
    """The protocol's error object for exc, with the user's frames only."""
    text = "".join(traceback.format_exception(type(exc), exc, agent_frames(exc.__traceback__)))
    try:
        message = str(exc)
    except Exception:  # a user exception whose __str__ raises
        message = "<exception str() failed>"
    return {"type": type(exc).__name__, "message": message, "traceback": text}


def imports_of(tree, name, is_package):
    """The module names a module's source imports, from its syntax tree,
    relative imports resolved: `import a.b` imports a and a.b."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".") if package else []
                if node.level > 1:
                    up = up[:len(up) - (node.level - 1)]
                base = ".".join(p for p in up + ([node.module] if node.module else []) if p)
            if base:
                parts = base.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            for alias in node.names:  # `from pkg import sub` may import pkg.sub
                if base and alias.name != "*":
                    found.add(base + "." + alias.name)
    found.discard(name)
    return found


def dependency_order(names, deps):
    """names ordered so each comes after those of them it imports; a cycle is
    broken where it closes, in name order."""
    order, state = [], {}
    for root in sorted(names):
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(deps.get(root, ()))))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child in names and child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(deps.get(child, ())))))
                    break
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order


class Patcher:
    """Make the old objects of one module behave as the new ones its source
    now defines, keeping their identity. Notes what it could not patch."""

    def __init__(self, modname):
        self.modname = modname
        self.rebound = {}  # id(new object) -> the old object that stands for it
        self.keep = []  # the new objects mapped, kept alive while their ids are keys
        self.notes = []

    def old_for(self, value):
        """The old object standing for value, or value itself."""
        return self.rebound.get(id(value), value)

    def defined_here(self, value):
        return getattr(value, "__module__", None) == self.modname

    def function(self, old, new, label):
        """Give function old new's code; False if their closures differ."""
        if old is new:
            return True
        try:
            old.__code__ = new.__code__
        except ValueError:  # a different number of free variables
            self.notes.append("%s: its closure changed; references held elsewhere keep the "
                              "old code" % label)
            return False
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            try:
                old_cell.cell_contents = self.old_for(new_cell.cell_contents)
            except ValueError:  # an empty cell: a name not bound yet
                try:
                    del old_cell.cell_contents
                except ValueError:
                    pass
        old.__defaults__ = new.__defaults__
        old.__kwdefaults__ = new.__kwdefaults__
        old.__doc__ = new.__doc__
        old.__annotations__ = new.__annotations__
        old.__qualname__ = new.__qualname__
        old.__dict__.clear()
        old.__dict__.update(new.__dict__)
        self.rebound[id(new)] = old
        self.keep.append(new)
        return True

    def class_patchable(self, old, new):
        """Whether old can take on new's contents: same kind of class, the
        same slots, not an Enum (its members are instances made at
        creation)."""
        if type(old) is not type(new) or isinstance(old, enum.EnumMeta):
            return False
        if old.__dict__.get("__slots__") != new.__dict__.get("__slots__"):
            return False
        return old.__qualname__ == new.__qualname__

    def map_classes(self, old, new):
        """Record old as standing for new, and the same for nested classes."""
        self.rebound[id(new)] = old
        self.keep.append(new)
        for key, value in new.__dict__.items():
            before = old.__dict__.get(key)
            if (isinstance(value, type) and isinstance(before, type) and
                    self.defined_here(value) and self.class_patchable(before, value)):
                self.map_classes(before, value)

    def attribute(self, old_value, new_value, label):
        """What the old class's attribute becomes: the old object patched
        where it can be (functions, their classmethod/staticmethod/property
        wrappers), else the new value."""
        if isinstance(old_value, types.FunctionType) and isinstance(new_value, types.FunctionType):
            return old_value if self.function(old_value, new_value, label) else new_value
        if (isinstance(old_value, (classmethod, staticmethod)) and
                type(old_value) is type(new_value) and
                isinstance(old_value.__func__, types.FunctionType) and
                isinstance(new_value.__func__, types.FunctionType)):
            if self.function(old_value.__func__, new_value.__func__, label):
                return old_value
            return new_value
        if isinstance(old_value, property) and type(new_value) is property:
            parts = []
            for old_f, new_f in ((old_value.fget, new_value.fget),
                                 (old_value.fset, new_value.fset),
                                 (old_value.fdel, new_value.fdel)):
                if (isinstance(old_f, types.FunctionType) and
                        isinstance(new_f, types.FunctionType) and
                        self.function(old_f, new_f, label)):
                    parts.append(old_f)
                else:
                    parts.append(new_f)
            return property(parts[0], parts[1], parts[2], new_value.__doc__)
        return self.old_for(new_value)

    def patch_class(self, old, new):
        """Give class old new's attributes (its methods patched in place) and
        bases; names gone from the source go from the class."""
        label = old.__qualname__
        for key in [k for k in old.__dict__ if k not in new.__dict__ and k not in CLASS_KEEP]:
            try:
                delattr(old, key)
            except (AttributeError, TypeError):
                pass
        for key, value in list(new.__dict__.items()):
            if key in CLASS_KEEP:
                continue
            before = old.__dict__.get(key)
            if isinstance(value, type) and self.rebound.get(id(value)) is before and before:
                self.patch_class(before, value)
                continue
            try:
                setattr(old, key, self.attribute(before, value, "%s.%s" % (label, key)))
            except (AttributeError, TypeError) as exc:
                self.notes.append("%s.%s: not patched (%s)" % (label, key, exc))
        bases = tuple(self.old_for(b) for b in new.__bases__)
        if bases != old.__bases__:
            try:
                old.__bases__ = bases
            except TypeError as exc:
                self.notes.append("%s: its bases changed and cannot be patched (%s); "
                                  "recycle the worker" % (label, exc))
        # zero-argument super() in the new methods names the class by a
        # __class__ cell: make it the old class, which they now belong to
        for value in list(old.__dict__.values()):
            func = getattr(value, "__func__", value)
            for f in (func, getattr(value, "fget", None), getattr(value, "fset", None)):
                code = getattr(f, "__code__", None)
                if code is not None and "__class__" in code.co_freevars and f.__closure__:
                    cell = f.__closure__[code.co_freevars.index("__class__")]
                    try:
                        if cell.cell_contents is new:
                            cell.cell_contents = old
                    except ValueError:
                        pass

    def module(self, old_ns, ns):
        """Patch the old objects of old_ns (the module's dict before it ran
        again) into ns (its dict now) where the source still defines them."""
        for key, value in list(ns.items()):
            before = old_ns.get(key)
            if before is None or before is value or not self.defined_here(before):
                continue
            if isinstance(before, type) and isinstance(value, type):
                if self.class_patchable(before, value):
                    self.map_classes(before, value)
                else:
                    self.notes.append("%s: rebound to the new class (%s); objects made before "
                                      "keep the old one" %
                                      (key, "an Enum" if isinstance(before, enum.EnumMeta)
                                       else "its kind or slots changed"))
        for key, value in list(ns.items()):
            before = old_ns.get(key)
            if before is None or before is value:
                continue
            if isinstance(value, type) and self.rebound.get(id(value)) is before:
                self.patch_class(before, value)
                ns[key] = before
            elif (isinstance(before, types.FunctionType) and
                  isinstance(value, types.FunctionType) and self.defined_here(before)):
                if self.function(before, value, key):
                    ns[key] = before
        for key, value in list(ns.items()):
            ns[key] = self.rebind_value(value)

    def rebind_value(self, value):
        """value with new objects replaced by the old ones standing for them:
        the object itself, its class, or the items of a tuple, list, set or
        dict (an add-on's `classes = (...)`)."""
        if id(value) in self.rebound:
            return self.rebound[id(value)]
        if isinstance(value, tuple) and type(value) is tuple:
            if any(id(v) in self.rebound for v in value):
                return tuple(self.old_for(v) for v in value)
        elif type(value) is list:
            value[:] = [self.old_for(v) for v in value]
        elif type(value) is set and any(id(v) in self.rebound for v in value):
            items = [self.old_for(v) for v in value]
            value.clear()
            value.update(items)
        elif type(value) is dict:
            for k, v in list(value.items()):
                if id(v) in self.rebound:
                    value[k] = self.rebound[id(v)]
        elif id(type(value)) in self.rebound:
            try:
                value.__class__ = self.rebound[id(type(value))]
            except TypeError:
                pass
        return value


class Reloader:
    """Which loaded modules changed, and reloading them."""

    def __init__(self, hook=None):
        self.hook = hook
        self.real = {}  # a module file's path -> its real path
        self.poll_cache = (None, -1, [])  # (roots, len(sys.modules), [(name, path)])

    # What changed

    def real_path(self, path):
        real = self.real.get(path)
        if real is None:
            real = self.real[path] = os.path.realpath(path)
        return real

    def loaded(self):
        """(name, module, file) of every loaded module that has a .py file."""
        for name, module in list(sys.modules.items()):
            path = source_file(module)
            if path is not None and name != "__main__":
                yield name, module, path

    def by_files(self, files):
        """Names of the loaded modules whose files' real paths are in files."""
        wanted = set(files)
        return [name for name, _, path in self.loaded() if self.real_path(path) in wanted]

    def under_roots(self, roots):
        """(name, file) of the loaded modules below the roots (real paths);
        recomputed only when sys.modules grew or shrank or the roots changed."""
        key = tuple(roots)
        cached_roots, count, found = self.poll_cache
        if cached_roots == key and count == len(sys.modules):
            return found
        prefixes = tuple(r.rstrip("/") + "/" for r in key)
        found = [(name, path) for name, _, path in self.loaded()
                 if self.real_path(path).startswith(prefixes)]
        self.poll_cache = (key, len(sys.modules), found)
        return found

    def by_poll(self, roots):
        """Names of the loaded modules below roots whose files changed since
        they were loaded (one stat each)."""
        changed, stat = [], os.stat
        for name, path in self.under_roots(roots):
            try:
                st = stat(path)
                now = (st.st_mtime, st.st_size)
            except OSError:
                now = None
            known = stamps.get(path)
            if known is None:
                if now is not None:
                    stamps[path] = now  # loaded before the agent could see
            elif now != known and now != failed.get(path):
                changed.append(name)
        return changed

    # Reloading

    def before_request(self, req):
        """Reload what a request says changed (or what poll finds), before
        its code runs; the reloaded event's entries (none: nothing to say)."""
        strategy = req.get("reload_strategy") or "reload"
        names = []
        if isinstance(req.get("changed"), list):
            names = self.by_files([f for f in req["changed"] if isinstance(f, str)])
            importlib.invalidate_caches()  # a new file must be found by the next import
        if isinstance(req.get("poll_roots"), list):
            roots = [r for r in req["poll_roots"] if isinstance(r, str)]
            names = sorted(set(names) | set(self.by_poll(roots)))
        if not names:
            return []
        if strategy == "purge":
            names = self.with_submodules(names)
        return self.run(names, strategy, explicit=False)

    def with_submodules(self, prefixes):
        """Loaded module names that are one of prefixes or below one."""
        found = set()
        for name in list(sys.modules):
            for p in prefixes:
                if name == p or name.startswith(p + "."):
                    found.add(name)
        return sorted(found)

    def reload_op(self, prefixes, strategy):
        """The reload op: every loaded module at or below each prefix."""
        importlib.invalidate_caches()
        names = self.with_submodules(prefixes)
        entries = []
        for p in prefixes:
            if not any(n == p or n.startswith(p + ".") for n in names):
                entries.append({"module": p, "status": "unchanged",
                                "note": "not imported in this worker; its next import "
                                        "loads it from its file"})
        return self.run(names, strategy, explicit=True) + entries

    def run(self, names, strategy, explicit):
        """Reload or purge names; with explicit, also report the unchanged."""
        entries, todo = [], []
        for name in names:
            module = sys.modules.get(name)
            path = source_file(module)
            if path is not None and os.path.dirname(self.real_path(path)) == AGENT_DIR:
                if explicit:
                    entries.append({"module": name, "file": path, "status": "unchanged",
                                    "note": "a module of the hotload agent, never reloaded; "
                                            "a worker started anew (hotloadctl restart) "
                                            "runs its saved file"})
                continue
            if strategy == "purge":
                todo.append(name)
                continue
            if path is None:
                if explicit and module is not None:
                    entries.append({"module": name, "status": "unchanged",
                                    "note": "not loaded from a .py file; a C extension or "
                                            "built-in module is never reloaded"})
                continue
            now = stat_stamp(path)
            if now is not None and stamps.get(path) == now:
                if explicit:
                    entries.append({"module": name, "file": path, "status": "unchanged"})
                continue
            if now is not None and failed.get(path) == now and not explicit:
                continue
            todo.append(name)
        if not todo:
            return entries
        error = self.call_hook("before_reload", todo)
        if error:
            entries.append(error)
        try:
            if strategy == "purge":
                entries.extend(self.purge(todo))
            else:
                entries.extend(self.reload_all(todo))
        finally:
            error = self.call_hook("after_reload", todo)
            if error:
                entries.append(error)
        return entries

    def call_hook(self, which, names):
        """Run the hook's before_reload/after_reload; an entry if it failed."""
        if self.hook is None:
            return None
        try:
            self.hook.around_reload(which, list(names))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            return {"module": "<%s %s>" % (self.hook.name, which), "status": "failed",
                    "error": describe(exc)}
        return None

    def purge(self, names):
        """Forget the modules: the next import runs their files afresh."""
        entries = []
        for name in names:
            module = sys.modules.pop(name, None)
            if module is None:
                continue
            self.forget_in_parent(name)
            entry = {"module": name, "status": "purged"}
            if source_file(module):
                entry["file"] = module.__file__
            entries.append(entry)
        return entries

    def forget_in_parent(self, name):
        """Take a module away from its package's attributes."""
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:
            ns = getattr(sys.modules[parent], "__dict__", {})
            if isinstance(ns.get(child), types.ModuleType) and ns[child].__name__ == name:
                del ns[child]

    def reload_all(self, names):
        """Run each module's file again, a module after those it imports."""
        sources, deps, entries = {}, {}, []
        for name in names:
            module = sys.modules.get(name)
            if source_file(module) is None:  # before_reload took it away
                continue
            path = module.__file__
            stamp = stat_stamp(path)
            if stamp is None:
                sys.modules.pop(name, None)
                self.forget_in_parent(name)
                entries.append({"module": name, "file": path, "status": "deleted",
                                "note": "its file is gone: it is no longer importable"})
                stamps.pop(path, None)
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
                tree = compile(importlib.util.decode_source(data), path, "exec",
                               ast.PyCF_ONLY_AST, dont_inherit=True)
            except (SyntaxError, ValueError, UnicodeDecodeError, OSError) as exc:
                failed[path] = stamp
                linecache.checkcache(path)
                entries.append({"module": name, "file": path, "status": "failed",
                                "error": describe(exc),
                                "note": "the old module is still the one in use"})
                continue
            sources[name] = (tree, stamp, path)
            deps[name] = imports_of(tree, name, hasattr(module, "__path__"))
        interrupted = False
        for name in dependency_order(set(sources), deps):
            tree, stamp, path = sources[name]
            if interrupted:
                entries.append({"module": name, "file": path,
                                "status": "failed", "interrupted": True,
                                "note": "not reloaded: interrupted before its turn"})
                continue
            entries.append(self.reload_one(name, tree, stamp))
            interrupted = bool(entries[-1].get("interrupted"))
        return entries

    def reload_one(self, name, tree, stamp):
        """Run module name's new source in its own dict and patch the old
        objects; on any error put the old dict back."""
        module = sys.modules.get(name)
        if module is None:
            return {"module": name, "status": "purged",
                    "note": "gone from sys.modules while its turn came"}
        path = module.__file__
        ns = module.__dict__
        old_ns = dict(ns)
        linecache.checkcache(path)
        try:
            code = compile(tree, path, "exec", dont_inherit=True)
            ns.clear()
            for key in MODULE_KEEP:
                if key in old_ns:
                    ns[key] = old_ns[key]
            ns["__doc__"] = None
            exec(code, ns)
        except (Exception, KeyboardInterrupt, SystemExit) as exc:
            ns.clear()
            ns.update(old_ns)
            entry = {"module": name, "file": path, "status": "failed", "error": describe(exc),
                     "note": "the old module is still the one in use"}
            if isinstance(exc, KeyboardInterrupt):
                entry["interrupted"] = True
            else:
                failed[path] = stamp
            return entry
        except BaseException:  # the agent's own (SIGTERM): put it back, pass it on
            ns.clear()
            ns.update(old_ns)
            raise
        # submodules are the package's attributes, set by the import system
        for key, value in old_ns.items():
            if (key not in ns and isinstance(value, types.ModuleType) and
                    sys.modules.get(name + "." + key) is value):
                ns[key] = value
        patcher = Patcher(name)
        patcher.module(old_ns, ns)
        stamps[path] = stamp
        failed.pop(path, None)
        entry = {"module": name, "file": path, "status": "reloaded"}
        if patcher.notes:
            note = "; ".join(patcher.notes)
            entry["note"] = note if len(note) <= NOTE_MAX else note[:NOTE_MAX - 3] + "..."
        return entry
