"""hookd: starts the hotload agent inside a DCC interpreter.

Run as a script (python hookd.py, blender --python hookd.py, ...); the
agent itself is the module hotload_agent next to it, whose bytecode is
cached where a script's never is. See docs/agent-protocol.md.
Standard library only; must parse as Python 3.7.
"""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

# no byte code written next to the agent, which is not the workers' to write
_write = sys.dont_write_bytecode
sys.dont_write_bytecode = True
import hotload_agent  # noqa: E402  (after the path it is found on)
sys.dont_write_bytecode = _write

hotload_agent.main()
