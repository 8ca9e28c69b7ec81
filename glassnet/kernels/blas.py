"""NumPy's own OpenBLAS, reached directly: its ``sgemm`` callable from compiled loops, and a
layer's work run on BLAS's own threads.

Why: a recurrent layer's step is one short product (h_{t-1} W_hh^T, a few hundred
microseconds) and then the gate arithmetic. With BLAS's threads the product uses both
cores and the gate kernel one, while the other waits. Split by hidden units instead, each
thread owns a share of the units for the whole sequence: its rows of W_hh, its product on one
BLAS thread, its units' gates, then a barrier before the next step (every unit's next step
needs all of h_t). Both cores then do both parts (``kernels/recurrent_lanes.py``).

Those threads must not be glassnet's own (``kernels/lanes.py``): after any product on two
threads, OpenBLAS's idle worker busy-waits for a fraction of a second, and a thread of ours
running meanwhile shares its core with it. So the shares run *on* OpenBLAS's threads
(``run``): the caller takes share 0 and OpenBLAS's worker k - 1 share k, through
``gotoblas_pthread``, the call OpenBLAS has kept since GotoBLAS for running a function on its
thread pool. BLAS is held at one thread meanwhile, so the products the shares make run on the
thread that makes them, and put back after.

The shares meet at barriers (``barrier_wait``): a counter per share on its own cache line,
each share spinning until every counter has reached the step, calling ``sched_yield`` between
looks, since a hand-off through the kernel costs more than a whole step (the README's
benchmark section has the figures).

``run`` is available (``available()``) only where NumPy's BLAS is a pthreads OpenBLAS that
exports ``gotoblas_pthread`` and ``cblas_sgemm``; elsewhere callers keep their one-thread
path. Compiled code calls C through addresses passed as arguments (``sgemm``,
``call_void``), not ctypes objects, so that Numba can cache it.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from . import BACKEND

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112     # CBLAS enums

_found = None          # the library's entry points once looked for (False: none usable)


class _Library:
    __slots__ = ("sgemm", "wide", "pthread", "threads_in_pool", "sched_yield")


def _library():
    """NumPy's OpenBLAS as a ``_Library``, or False when it is not a pthreads OpenBLAS that
    exports what ``run`` needs."""
    global _found
    if _found is None:
        try:
            _found = _probe()
        except (OSError, AttributeError, TypeError, ValueError):   # no such library or symbol here
            _found = False
    return _found


def _probe():
    from ..threads import _loaded_openblas_paths
    for path in _loaded_openblas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        names = [n for n in ("scipy_cblas_sgemm64_", "cblas_sgemm64_", "cblas_sgemm") if hasattr(lib, n)]
        parallel = next((getattr(lib, n) for n in ("scipy_openblas_get_parallel64_", "openblas_get_parallel64_",
                                                    "openblas_get_parallel") if hasattr(lib, n)), None)
        if not names or parallel is None or not hasattr(lib, "gotoblas_pthread"):
            return False               # NumPy's own library comes first; another would not help
        parallel.restype = ctypes.c_int
        if parallel() != 1:            # 1: pthreads (0 sequential, 2 OpenMP)
            return False
        found = _Library()
        found.sgemm = ctypes.cast(getattr(lib, names[0]), ctypes.c_void_p).value
        found.wide = names[0] != "cblas_sgemm"
        found.pthread = lib.gotoblas_pthread
        found.pthread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        found.pthread.restype = ctypes.c_int
        found.threads_in_pool = ctypes.c_int.in_dll(lib, "blas_num_threads")
        libc = ctypes.CDLL(None)
        found.sched_yield = ctypes.cast(libc.sched_yield, ctypes.c_void_p).value
        return found
    return False


def available() -> int:
    """How many shares ``run`` can run at once (OpenBLAS's pool and the caller); 0 when it
    cannot run at all (no usable OpenBLAS, or the NumPy backend)."""
    lib = _library() if BACKEND == "numba" else False
    return int(lib.threads_in_pool.value) if lib else 0


_entry_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_running = threading.Lock()    # one ``run`` at a time: OpenBLAS's pool has one set of workers
_job = None


def _entry(address):
    job = _job
    k = ctypes.c_int64.from_address(address).value
    try:
        job.fn(k, job.barrier)
    except BaseException as exc:   # noqa: BLE001  (raised by ``run`` once every share is back)
        job.errors.append(exc)
        job.barrier[abort_slot(job.lanes)] = 1          # the other shares leave their barriers


_entry_pointer = ctypes.cast(_entry_type(_entry), ctypes.c_void_p)
_entry_keep = _entry_pointer   # the callback object must outlive every call


class _Job:
    __slots__ = ("fn", "barrier", "lanes", "errors", "ids")


def barrier_counters(lanes: int) -> np.ndarray:
    """Fresh counters for ``lanes`` shares: one int64 per share, 16 apart (its own 128-byte
    line, as adjacent-line prefetchers pair lines), and an abort flag after them."""
    return np.zeros(16 * lanes + 1, np.int64)


def abort_slot(lanes: int) -> int:
    return 16 * lanes


def run(fn, lanes: int, wait: bool = False) -> bool:
    """Run ``fn(k, barrier)`` for k in range(lanes) at the same time, share 0 on the calling
    thread and share k on OpenBLAS's worker k - 1, BLAS on one thread meanwhile; ``barrier``
    is one ``barrier_counters(lanes)`` array for the shares to meet at (``barrier_wait``).
    ``fn`` must release the GIL while it works (a compiled ``nogil`` loop), or the shares
    run one at a time.

    Returns False, having run nothing, when the shares cannot run on BLAS's threads now
    (``available()`` too small, or another thread is inside ``run`` and ``wait`` is False);
    the caller then takes its one-thread path. ``wait``: wait for the other thread instead
    (a backward pass whose forward ran in lanes has no other path). If a share raises, the
    others are released from their barriers (``barrier_wait`` returns False) and the first
    error is raised once all are back."""
    global _job
    if lanes < 2 or available() < lanes or not _running.acquire(blocking=wait):
        return False
    from ..threads import _set_blas, blas_threads
    try:
        job = _Job()
        job.fn, job.barrier, job.lanes, job.errors = fn, barrier_counters(lanes), lanes, []
        job.ids = np.arange(lanes, dtype=np.int64)
        _job = job
        before = blas_threads()
        _set_blas(1)
        try:
            _library().pthread(lanes, _entry_pointer, job.ids.ctypes.data, 8)
        finally:
            _set_blas(before)
            _job = None
    finally:
        _running.release()
    if job.errors:
        raise job.errors[0]
    return True


# --------------------------------------------------------------------------- for compiled code

if BACKEND == "numba":
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _sgemm_intrinsic(width):
        @intrinsic
        def call(typingctx, fn, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
            sig = types.void(types.uintp, types.int64, types.int64, types.int64, types.int64, types.int64,
                             types.float32, types.uintp, types.int64, types.uintp, types.int64, types.float32,
                             types.uintp, types.int64)

            def codegen(context, builder, signature, args):
                i32, iw = ir.IntType(32), ir.IntType(width)
                ptr = cgutils.voidptr_t
                fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, iw, iw, iw, ir.FloatType(), ptr, iw,
                                                       ptr, iw, ir.FloatType(), ptr, iw])
                (f, ta, tb, m_, n_, k_, al, a_, lda_, b_, ldb_, be, c_, ldc_) = args

                def count(v):
                    return v if width == 64 else builder.trunc(v, iw)
                callee = builder.inttoptr(f, fnty.as_pointer())
                builder.call(callee, [ir.Constant(i32, ROW_MAJOR), builder.trunc(ta, i32), builder.trunc(tb, i32),
                                      count(m_), count(n_), count(k_), al, builder.inttoptr(a_, ptr), count(lda_),
                                      builder.inttoptr(b_, ptr), count(ldb_), be, builder.inttoptr(c_, ptr),
                                      count(ldc_)])
                return context.get_dummy_value()
            return sig, codegen
        return call

    _sgemm64 = _sgemm_intrinsic(64)
    _sgemm32 = _sgemm_intrinsic(32)

    @intrinsic
    def call_void(typingctx, fn):
        """Call the C function ``void f(void)`` at address ``fn`` (``sched_yield``), as a full
        memory fence on both sides: the stores before it are visible to the other shares
        before any store after it, and loads after it are not hoisted above it."""
        sig = types.void(types.uintp)

        def codegen(context, builder, signature, args):
            builder.fence("seq_cst")
            callee = builder.inttoptr(args[0], ir.FunctionType(ir.IntType(32), []).as_pointer())
            builder.call(callee, [])
            builder.fence("seq_cst")
            return context.get_dummy_value()
        return sig, codegen

    @intrinsic
    def fence(typingctx):
        """A full memory fence: no load or store moves across it."""
        def codegen(context, builder, signature, args):
            builder.fence("seq_cst")
            return context.get_dummy_value()
        return types.void(), codegen

    from numba import njit

    @njit(cache=True, nogil=True)
    def sgemm(fn, wide, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        """C = alpha op(A) op(B) + beta C, row-major, through the cblas_sgemm at address ``fn``
        (``wide``: its integers are 64-bit); a, b, c are addresses."""
        if wide:
            _sgemm64(fn, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        else:
            _sgemm32(fn, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    @njit(cache=True, nogil=True)
    def barrier_wait(barrier, k, lanes, count, sched_yield):
        """Share k has reached point ``count`` (1, 2, ... in order): publish it and wait until
        every share has. False when a share aborted (the caller returns at once)."""
        call_void(sched_yield)                 # this share's stores before its counter's
        barrier[16 * k] = count
        done = False
        while not done:
            if barrier[16 * lanes] != 0:
                return False
            done = True
            for j in range(lanes):
                if barrier[16 * j] < count:
                    done = False
                    break
            if not done:
                call_void(sched_yield)
        fence()                                # the other shares' data is read after their counters
        return True
