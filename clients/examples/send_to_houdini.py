#!/usr/bin/env python3
"""Send a script to Houdini's hython through hotloadd (raw mode), print the reply.

    send_to_houdini.py make_scene.py
    send_to_houdini.py -c 'import hou; print(hou.applicationVersionString())'

Standard library only; Python 3.7+. See raw_client.py.
"""
import sys

from raw_client import main

if __name__ == "__main__":
    sys.exit(main(default_target="hython:20.5"))
