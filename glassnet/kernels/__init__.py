"""How glassnet's primitives run fast: the second room.

``glassnet/functions/`` says *what* each primitive computes, forward and backward, in the
notes' terms. This package says *how* those steps run quickly on a CPU: compiled loops
(Numba) that fuse what NumPy would do in several passes over memory, the memory layouts
that make them fast, and every tuning knob beside the kernel that uses it. Nothing here
imports from ``functions/``, ``nn/`` or ``tensor.py``: kernels take and return plain
NumPy arrays.

Every kernel exists twice, a compiled one and a pure-NumPy twin with the same signature,
and both are tested against the textbook forms in ``tests/functions/reference.py``. Three
compiled paths have no twin, because each stands beside a NumPy path that already computes
the same thing and is chosen by a rule, not by the backend: the Winograd and direct-sum
convolutions (``kernels/winograd.py``, ``kernels/conv_direct.py``; the GEMM convolutions are
their NumPy path) and the LSTM's lanes with their packed step products
(``kernels/recurrent_lanes.py``, ``kernels/packed_gemm.py``; the one-thread loop of
``functions/recurrent.py`` is theirs). Which twin runs is chosen once, at import:

* ``GLASSNET_KERNELS=numba`` (the default when Numba imports): compiled loops;
* ``GLASSNET_KERNELS=numpy``: the NumPy twins (also what runs when Numba is missing).

Compiled kernels are serial (no ``prange``): two thread pools spinning on the same cores
made a recurrent step many times slower when tried. The threads are BLAS's, or, for layers
whose work is much more than products (the Winograd convolution), glassnet's own lanes, each
running a share of the layer with BLAS on one thread (``kernels/lanes.py`` says when and why),
or, for the LSTM, BLAS's own threads each running a share of its hidden units for the whole
sequence (``kernels/recurrent_lanes.py``, on ``kernels/blas.py``), or, for a convolution with
few channels summed directly, BLAS's threads each summing a share of the batch
(``kernels/conv_direct.py``).
Kernels are compiled with ``cache=True``, so only the first process on a machine pays the
compile.

Layout rules (each kernel module documents its own in detail):

* one module per family, named like its ``functions/`` counterpart
  (``kernels/recurrent.py`` runs the steps of ``functions/recurrent.py``, and so on);
* a kernel's docstring names the math it computes and the reference test that checks it.
"""
from __future__ import annotations

import os

_requested = os.environ.get("GLASSNET_KERNELS", "").strip().lower() or "auto"
if _requested not in ("auto", "numba", "numpy"):
    raise ImportError(f"GLASSNET_KERNELS: expected 'numba' or 'numpy', got {_requested!r}")

try:
    import numba as _numba
except ImportError:  # the NumPy twins serve
    _numba = None

if _requested == "numba" and _numba is None:
    raise ImportError("GLASSNET_KERNELS=numba but Numba is not installed: pip install numba")

#: "numba" or "numpy": which twin of every kernel runs in this process.
BACKEND = "numpy" if (_requested == "numpy" or _numba is None) else "numba"


def jit(fn=None, **options):
    """Compile ``fn`` with Numba's ``njit`` (serial, cached, NumPy's error model), or return
    it unchanged when the NumPy backend is in use, so the same loop stays callable (slowly)
    as plain Python for tests.

    ``fastmath`` is off unless a kernel asks for it; a kernel that does must pass its
    reference test with it on.
    """
    settings = {"cache": True, "nogil": True, "error_model": "numpy"}
    settings.update(options)

    def wrap(f):
        if BACKEND != "numba":
            return f
        return _numba.njit(**settings)(f)

    return wrap(fn) if fn is not None else wrap


def pick(compiled, numpy_twin):
    """The twin that runs under this process's backend."""
    return compiled if BACKEND == "numba" else numpy_twin
