"""hotload: run Python code in the warm DCC interpreters of hotloadd.

    import hotload

    with hotload.Client("python:3") as c:
        c.exec("import sys; print(sys.version)", on_stdout=print)
        print(c.eval("6 * 7"))                      # 42

Standard library only; Python 3.7 and newer (mayapy 2022+, hython 19.5+,
Blender 3.x/4.x, plain CPython). docs/python-client.md is the manual.
"""
from ._address import default_socket_path
from ._errors import (DaemonUnavailable, Error, Interrupted, Refused, ReloadFailed,
                      RemoteError, Timeout, WorkerDied)
from ._protocol import Result
from .client import Client

# The project's version (CMakeLists.txt project(... VERSION)); a test
# checks that the two and pyproject.toml agree.
__version__ = "0.1.0"

__all__ = [
    "Client", "Result", "Error", "DaemonUnavailable", "Refused", "RemoteError",
    "Interrupted", "ReloadFailed", "WorkerDied", "Timeout", "default_socket_path",
    "__version__",
]
