"""Base class for hotload hooks; a hook file names a subclass as "module:Class"."""


class BaseHook:
    """Set up and tear down one DCC interpreter; both steps do nothing by default."""

    def initialize(self):
        """Prepare the interpreter before the worker reports ready."""

    def namespace(self):
        """Return the names every new user namespace starts with ({"hou": hou}),
        after the hook file's inline namespace code; none by default."""
        return {}

    def uninitialize(self):
        """Tear the interpreter down before the worker exits."""
