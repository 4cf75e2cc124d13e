"""The agent must parse on the oldest Python a supported DCC ships (3.7)."""
import ast
import os
import sys
import unittest

from harness import AGENT_DIR


class SyntaxTest(unittest.TestCase):
    """Parse every agent file with Python 3.7's grammar."""

    @unittest.skipIf(sys.version_info < (3, 8), "ast.parse(feature_version=) needs Python 3.8+")
    def test_parses_as_python_3_7(self):
        for name in ("hookd.py", "hotload_agent.py", "hotload_hook.py", "hotload_reload.py"):
            with open(os.path.join(AGENT_DIR, name), encoding="utf-8") as f:
                src = f.read()
            with self.subTest(name=name):
                ast.parse(src, filename=name, feature_version=(3, 7))


if __name__ == "__main__":
    unittest.main()
