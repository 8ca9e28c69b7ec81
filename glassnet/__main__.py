"""``python -m glassnet``: the same command line as ``glassnet``."""
import sys

from .cli import main

sys.exit(main())
