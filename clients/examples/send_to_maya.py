#!/usr/bin/env python3
"""Send a script to Maya's mayapy through hotloadd (raw mode), print the reply.

    send_to_maya.py build_rig.py
    send_to_maya.py --target mayapy:2025 -c 'import maya.cmds as mc; print(mc.about(v=True))'

Standard library only; Python 3.7+. See raw_client.py.
"""
import sys

from raw_client import main

if __name__ == "__main__":
    sys.exit(main(default_target="mayapy:2024"))
