"""python3 -m hotload_kernel --target TARGET -f CONNECTION_FILE"""
import sys

from hotload_kernel.kernel import main

sys.exit(main())
