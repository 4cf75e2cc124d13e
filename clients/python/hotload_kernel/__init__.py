"""A Jupyter kernel that runs cells in a hotload target.

``python3 -m hotload_kernel --target blender -f CONNECTION_FILE`` is what a
kernelspec written by ``hotloadctl kernelspec install blender`` starts. It
is built on ipykernel's Kernel base class (Debian's python3-ipykernel) and
on the hotload client library; see docs/notebooks.md.

This package imports ipykernel; the hotload package does not, and must not.
"""
from hotload import __version__

__all__ = ["__version__"]
