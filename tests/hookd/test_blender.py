"""The core agent cases inside a real DCC: headless Blender."""
import unittest

from harness import BLENDER, blender_argv
from test_agent import CoreCases


@unittest.skipUnless(BLENDER, "blender is not on PATH: the agent is not tested inside a real DCC")
class BlenderCoreTest(CoreCases, unittest.TestCase):
    """Print, traceback, SIGINT and SIGTERM handling under Blender's Python."""

    def argv(self):
        """Run the agent the way a Blender hook file does."""
        return blender_argv()


if __name__ == "__main__":
    unittest.main()
