"""Keep NumPy's large temporaries out of the page-fault path (glibc only): an explicit call.

A training step allocates and frees the same large arrays every step (im2col buffers,
activations, gradients). glibc serves blocks above its mmap threshold with a fresh
``mmap`` and gives them back with ``munmap`` on free, and it trims the heap top back to
the OS once enough is free; either way the next step faults every page in again and the
kernel zeroes it. Measured on a LeNet-5 training step (1 thread): 21.8 ms per step by
default, 13.9 ms with the thresholds below (the README's benchmark section has this
session's figures). Torch suffers the same: its LeNet-5 step swings between processes under
glibc's defaults and holds steady with these thresholds (which ``python -m bench`` gives
every worker).

``tune()`` raises the mmap threshold to 64 MiB and the trim threshold to 1 GiB, so freed
blocks stay in the heap and are reused: the process keeps its peak working set instead
of returning it between steps.

It is **not** called on ``import glassnet``: changing malloc's behaviour for a whole host
process (a web server, a notebook, another library's process) is not a library's call to
make. ``glassnet train`` and the benchmark's glassnet worker call it; a script that trains
calls ``gn.allocator.tune()`` itself. ``GLASSNET_MALLOC_TUNING=0`` makes every call a no-op.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 1 << 30

tuned = False


def tune() -> bool:
    """Apply the thresholds on Linux/glibc; returns whether they were applied."""
    global tuned
    if tuned or os.environ.get("GLASSNET_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return tuned
    try:
        libc = ctypes.CDLL("libc.so.6")
        tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        tuned = False
    return tuned
