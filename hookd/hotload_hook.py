"""Base class for hotload hooks; a hook file names a subclass as "module:Class"."""


class BaseHook:
    """Set up and tear down one DCC interpreter; both steps do nothing by default."""

    def initialize(self):
        """Prepare the interpreter before the worker reports ready."""

    def namespace(self):
        """Return the names every new user namespace starts with ({"hou": hou}),
        after the hook file's inline namespace code; none by default."""
        return {}

    def before_reload(self, modules):
        """Called with the names of the modules about to be reloaded or
        purged (changed files, or reload-modules), before they are: undo
        what registering them with the DCC did."""

    def after_reload(self, modules):
        """Called with the same names once they were reloaded (some may have
        failed and still be the old code): register them with the DCC again."""

    def uninitialize(self):
        """Tear the interpreter down before the worker exits."""
