"""GEMM libraries at glassnet's own shapes: NumPy's OpenBLAS against BLIS, MKL and torch.

Issue #10 item 4 asks whether another GEMM library would pay. This script answers the
first half: single-precision GEMM throughput (GFLOP/s, higher is better) of each library
at the products glassnet's benchmark workloads actually run (Linear forward/backward,
recurrent steps, the convolutions' GEMMs as ``kernels/convolution.py`` and
``kernels/conv_shifts.py`` issue them), at 1 and 2 threads.

    python bench/gemm_survey.py                 # everything, about 2 minutes on a quiet machine
    python bench/gemm_survey.py --threads 2 --only numpy,mkl --seconds 0.1

Libraries (each optional; a missing one is reported and skipped):

* ``numpy``: ``np.matmul(a, b, out=c)``, NumPy's bundled OpenBLAS (what glassnet uses);
  threads set through OpenBLAS's API (``glassnet.threads``).
* ``blis``: cython-blis (``pip install blis``), ``blis.py.gemm(..., beta=0)``. Its wheels are
  built without threading, so it always runs on one thread.
* ``mkl``: Intel oneMKL from the ``mkl`` wheel (``pip install mkl``), ``cblas_sgemm`` in
  ``libmkl_rt`` through ctypes on the NumPy arrays; threads via ``mkl_set_num_threads``
  (its OpenMP runtime is Intel's libiomp5).
* ``torch``: ``torch.mm(a, b, out=c)`` on ``torch.from_numpy`` views: not a candidate
  (glassnet does not depend on torch) but the yardstick, since the benchmark's ratios are
  against torch.

Timing: for each shape, each library in turn runs timed batches of calls for a short
while, twice, in rotating order; the figure is its fastest batch (other programs only ever
add time). With several threads,
each turn starts after a pause that lets the previous library's idle workers stop spinning
(libiomp5 spins 200 ms after a call, OpenBLAS about 0.1 s), so each library is measured as
if it were the only one in the process. (With one thread none of them has workers.)

The "other CPU" column is the largest share of the machine that other processes used during
a kept turn (a turn above ``--noise-limit`` is repeated, twice at most): on a busy machine the
one-thread table still holds (each library's fastest batch), but two-thread products wait for
descheduled workers and their figures say little; run it on a quiet machine.

Mixing is measured on its own at the end: calls of two libraries interleaved one by one,
A B A B, as if glassnet used MKL for Linear and OpenBLAS for everything else, each one's
median per call in that loop beside its median alone: two thread pools spinning on the
same two cores can slow both down. For MKL it is measured twice, the second time with
libiomp5's workers told to sleep at once after a call (``kmp_set_blocktime(0)``).
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time

import numpy as np

# Each case: (workload, role, M, K, N, layout) for C (M, N) = op(A) (M, K) @ op(B) (K, N), where
# layout names how A and B are stored: "NN" both row-major, "NT" B given as (N, K) (a Linear's
# forward x @ W.T), "TN" A given as (K, M) (a Linear's weight gradient dy.T @ x).
def _linear(workload, M, K, N, input_grad=True):
    """A Linear layer of batch M, K inputs, N outputs: forward, input gradient, weight gradient."""
    cases = [(workload, f"Linear {K}->{N} fwd", M, K, N, "NT")]
    if input_grad:
        cases.append((workload, f"Linear {K}->{N} dx", M, N, K, "NN"))
    cases.append((workload, f"Linear {K}->{N} dW", N, M, K, "TN"))
    return cases


CASES = (
    _linear("mlp", 128, 784, 256, input_grad=False) + _linear("mlp", 128, 256, 128) + _linear("mlp", 128, 128, 10)
    + _linear("bn_mlp", 256, 784, 512, input_grad=False) + _linear("bn_mlp", 256, 512, 512)
    + _linear("cifar_cnn", 64, 4096, 256)
    + _linear("char_lstm", 2048, 256, 65)
    + [
        # recurrent steps (functions/recurrent.py): h_t W_hh^T forward, da_t W_hh backward
        ("lstm_seq", "step h W_hh^T", 128, 128, 512, "NT"),
        ("lstm_seq", "step da W_hh", 128, 512, 128, "NN"),
        ("lstm_seq", "dW_hh over steps", 512, 3584, 128, "TN"),
        ("char_lstm", "step h W_hh^T", 32, 256, 1024, "NT"),
        ("char_lstm", "step da W_hh", 32, 1024, 256, "NN"),
        ("char_lstm", "dW_hh over steps", 1024, 2048, 256, "TN"),
        # convolutions, as kernels/conv_shifts.py and kernels/convolution.py issue them
        # (recorded from one training step of each workload; the largest by total FLOPs)
        ("cifar_cnn", "conv 32->32 Z=Wz X", 96, 96, 21762, "NN"),
        ("cifar_cnn", "conv 32->32 dW", 96, 21762, 96, "NT"),
        ("cifar_cnn", "conv 64->64 Z=Wz X", 192, 192, 10370, "NN"),
        ("cifar_cnn", "conv 64->64 dW", 192, 10370, 192, "NT"),
        ("cifar_cnn", "conv 32->64 P=W E", 96, 192, 13826, "NN"),
        ("lenet5", "conv2 Z=Wz X", 80, 30, 17924, "NN"),
        ("lenet5", "conv2 dW", 80, 17924, 30, "NT"),
        ("lenet5", "conv1 im2col W cols", 6, 25, 100352, "NN"),
    ]
)

SETTLE = 0.22   # seconds of sleep before a library's turn with several threads (see time_libraries)

ALTERNATING = [("mlp", 128, 784, 256, "NT"), ("mlp", 128, 256, 128, "NT"), ("bn_mlp", 256, 512, 512, "NT"),
               ("cifar_cnn", 96, 96, 21762, "NN")]


def _operands(M, K, N, layout, rng):
    A = rng.standard_normal((K, M) if layout[0] == "T" else (M, K), dtype=np.float32)
    B = rng.standard_normal((N, K) if layout[1] == "T" else (K, N), dtype=np.float32)
    a = A.T if layout[0] == "T" else A
    b = B.T if layout[1] == "T" else B
    return a, b, np.empty((M, N), np.float32)


def _trans(x):
    """(transposed?, leading dimension) of a 2-d float32 view that is row- or column-major."""
    s0, s1 = x.strides
    if s1 == x.itemsize:
        return False, s0 // x.itemsize
    if s0 == x.itemsize:
        return True, s1 // x.itemsize
    raise ValueError("strided operand")


# ---------------------------------------------------------------------------------------- libraries

class NumPy:
    name = "numpy"

    def __init__(self):
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from glassnet import threads
        self._threads = threads
        self.version = f"NumPy {np.__version__}, {self._corename()}"

    @staticmethod
    def _corename():
        for path in _mapped("openblas"):
            lib = ctypes.CDLL(path)
            for fn in ("scipy_openblas_get_config64_", "openblas_get_config64_", "openblas_get_config"):
                if hasattr(lib, fn):
                    getattr(lib, fn).restype = ctypes.c_char_p
                    config = getattr(lib, fn)().decode()
                    for core in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
                        if hasattr(lib, core):
                            getattr(lib, core).restype = ctypes.c_char_p
                            return f"{config.split()[0]} {config.split()[1]} ({getattr(lib, core)().decode()} kernels)"
                    return config
        return "BLAS unknown"

    def set_threads(self, n):
        self._threads.set_num_threads(n)
        return n

    def prepare(self, a, b, c):
        return lambda: np.matmul(a, b, out=c)


class Blis:
    name = "blis"

    def __init__(self):
        import blis.about
        import blis.py
        self._gemm = blis.py.gemm
        self._gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))    # initialises BLIS
        lib = ctypes.CDLL(blis.py.__file__)
        lib.bli_arch_query_id.restype, lib.bli_arch_string.restype = ctypes.c_int, ctypes.c_char_p
        lib.bli_info_get_enable_threading.restype = ctypes.c_int
        self.threaded = bool(lib.bli_info_get_enable_threading())
        arch = lib.bli_arch_string(lib.bli_arch_query_id()).decode()
        self.version = f"cython-blis {blis.about.__version__} ({arch} kernels, {'threaded' if self.threaded else 'no threading'})"

    def set_threads(self, n):
        return n if self.threaded else 1

    def prepare(self, a, b, c):
        ta, _ = _trans(a)
        tb, _ = _trans(b)
        A, B = (a.T if ta else a), (b.T if tb else b)     # the stored, row-major arrays
        gemm = self._gemm
        return lambda: gemm(A, B, out=c, trans1=ta, trans2=tb, beta=0.0)


def _mapped(fragment):
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if fragment in os.path.basename(path).lower() and path not in paths:
                paths.append(path)
    return paths


def find_mkl_rt():
    """Path of libmkl_rt from the ``mkl`` wheel (it installs into the environment's lib/), or None."""
    for root in (sys.prefix, sys.base_prefix, os.path.join(os.path.expanduser("~"), ".local")):
        found = sorted(glob.glob(os.path.join(root, "lib", "libmkl_rt.so*")))
        if found:
            return found[0]
    import ctypes.util
    return ctypes.util.find_library("mkl_rt")


class MKL:
    name = "mkl"

    def __init__(self):
        path = find_mkl_rt()
        if not path:
            raise ImportError("libmkl_rt not found (pip install mkl)")
        lib = ctypes.CDLL(path)
        p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        self._sgemm = lib.cblas_sgemm
        self._sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
        self._sgemm.restype = None
        self._set = lib.MKL_Set_Num_Threads
        self._set.argtypes = [i]
        buf = ctypes.create_string_buffer(200)
        lib.mkl_get_version_string(buf, 200)
        self.version = " ".join(buf.value.decode().split()[:7])
        self.lib = lib

    def set_threads(self, n):
        self._set(n)
        return n

    def set_blocktime(self, ms):
        """How long libiomp5's idle workers spin before sleeping (KMP_BLOCKTIME; default 200 ms)."""
        omp = ctypes.CDLL(_mapped("libiomp5")[0])
        omp.kmp_set_blocktime.argtypes = [ctypes.c_int]
        omp.kmp_set_blocktime(ms)

    def prepare(self, a, b, c):
        ta, lda = _trans(a)
        tb, ldb = _trans(b)
        M, K = a.shape
        N = b.shape[1]
        args = (101, 112 if ta else 111, 112 if tb else 111, M, N, K, 1.0,
                a.ctypes.data, lda, b.ctypes.data, ldb, 0.0, c.ctypes.data, N)
        sgemm = self._sgemm
        return lambda: sgemm(*args)


class Torch:
    name = "torch"

    def __init__(self):
        import torch
        self._torch = torch
        self.version = f"torch {torch.__version__}"

    def set_threads(self, n):
        self._torch.set_num_threads(n)
        return n

    def prepare(self, a, b, c):
        t = self._torch
        ta, tb, tc = t.from_numpy(a), t.from_numpy(b), t.from_numpy(c)
        return lambda: t.mm(ta, tb, out=tc)


LIBRARIES = {"numpy": NumPy, "blis": Blis, "mkl": MKL, "torch": Torch}


# ---------------------------------------------------------------------------------------- timing

def _batch(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


class OtherLoad:
    """``with OtherLoad() as load: ...``; then ``load.share``: the fraction of the machine's CPU time
    that other processes used meanwhile (/proc/stat's busy time less this process's own)."""

    def __enter__(self):
        self._t, self._cpu, self._busy = time.perf_counter(), time.process_time(), self._machine_busy()
        return self

    def __exit__(self, *exc):
        wall, own = time.perf_counter() - self._t, time.process_time() - self._cpu
        busy = self._machine_busy()
        if busy is None or self._busy is None:
            self.share = 0.0
        else:
            self.share = max(0.0, (busy - self._busy) / os.sysconf("SC_CLK_TCK") - own) / (wall * os.cpu_count())
        return False

    @staticmethod
    def _machine_busy():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields) - fields[3] - fields[4]


def time_libraries(fns, seconds, rounds=2, settle=0.0, limit=1.0, batch_seconds=0.004):
    """Seconds per call of each fn in fns (a dict), its fastest batch, and the largest share of the CPUs
    other processes used during a kept turn. ``rounds`` turns each, in rotating order, of timed batches
    for ``seconds``; before each turn, ``settle`` seconds of sleep let the previous library's idle
    workers stop spinning (libiomp5 spins 200 ms, OpenBLAS about 0.1 s). A turn during which other
    processes used more than ``limit`` of the CPUs is repeated (twice at most) after a pause."""
    reps = {}
    for name, fn in fns.items():
        fn()                                              # warm: first-call dispatch, page faults
        reps[name] = max(1, int(batch_seconds / max(_batch(fn, 1), 1e-7)))
    samples = {name: [] for name in fns}
    noise = 0.0
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, n = fns[name], reps[name]
            for attempt in range(3):
                if settle:
                    time.sleep(settle)
                turn = []
                with OtherLoad() as load:
                    deadline = time.perf_counter() + seconds
                    while len(turn) < 3 or time.perf_counter() < deadline:
                        turn.append(_batch(fn, n))
                if load.share <= limit or attempt == 2:
                    break
                time.sleep(0.25)                          # someone else is busy: wait, then repeat
            samples[name] += turn
            noise = max(noise, load.share)
    return {name: min(s) for name, s in samples.items()}, noise


def time_cycle(fns, seconds, limit=1.0):
    """Per-call medians of the functions in ``fns`` (a list) called in a cycle, one call each
    (A B A B ... for two; A A A ... for one), and the share of the CPUs other processes used
    meanwhile (repeated, twice at most, above ``limit``)."""
    for fn in fns:
        fn()
    for attempt in range(3):
        times = [[] for _ in fns]
        with OtherLoad() as load:
            deadline = time.perf_counter() + seconds
            while len(times[0]) < 20 or time.perf_counter() < deadline:
                for fn, out in zip(fns, times):
                    t0 = time.perf_counter()
                    fn()
                    out.append(time.perf_counter() - t0)
        if load.share <= limit:
            break
        time.sleep(0.25)
    return [statistics.median(t) for t in times], load.share


def check(libs, rng):
    """Every library must agree with NumPy before it is timed."""
    for layout in ("NN", "NT", "TN"):
        a, b, c = _operands(33, 47, 29, layout, rng)
        expect = a.astype(np.float64) @ b.astype(np.float64)
        for lib in libs:
            c[...] = np.nan
            lib.prepare(a, b, c)()
            err = np.abs(c - expect).max()
            if not err < 1e-4 * np.abs(expect).max():
                raise AssertionError(f"{lib.name} {layout}: max error {err}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(LIBRARIES), help="libraries, comma-separated")
    parser.add_argument("--threads", default="2,1", help="thread counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=0.05, help="length of one turn of a library at a shape")
    parser.add_argument("--noise-limit", type=float, default=0.15,
                        help="repeat a turn if other processes used more than this share of the CPUs")
    parser.add_argument("--no-alternating", action="store_true")
    args = parser.parse_args(argv)

    libs = []
    for name in args.only.split(","):
        try:
            libs.append(LIBRARIES[name]())
        except Exception as e:           # optional: report and go on
            print(f"# {name}: unavailable ({e})")
    for lib in libs:
        print(f"# {lib.name}: {lib.version}")
    print(f"# CPU: {_cpu()}, {os.cpu_count()} cores visible; load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    check(libs, rng)
    t_start = time.perf_counter()
    thread_counts = [int(t) for t in args.threads.split(",")]

    for threads in thread_counts:
        used = {lib.name: lib.set_threads(threads) for lib in libs}
        names = [lib.name for lib in libs if used[lib.name] == threads]
        print(f"\n## {threads} thread(s): GFLOP/s (fastest batch; * the best candidate, torch is the yardstick)")
        if len(names) < len(libs):
            print("(" + ", ".join(f"{n} runs {used[n]} thread: see that table" for n in used if n not in names) + ")")
        head = "| workload | product | M x K x N | layout | " + " | ".join(names) + " | best/numpy | other CPU |"
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for workload, role, M, K, N, layout in CASES:
            a, b, c = _operands(M, K, N, layout, rng)
            fns = {lib.name: lib.prepare(a, b, c) for lib in libs if lib.name in names}
            t, noise = time_libraries(fns, args.seconds, settle=SETTLE if threads > 1 else 0.0, limit=args.noise_limit)
            gflops = {n: 2 * M * K * N / t[n] / 1e9 for n in names}
            best = max((n for n in names if n != "torch"), key=gflops.get)
            cells = [f"{gflops[n]:.1f}{'*' if n == best else ''}" for n in names]
            ratio = gflops[best] / gflops["numpy"] if "numpy" in gflops else float("nan")
            print(f"| {workload} | {role} | {M}x{K}x{N} | {layout} | " + " | ".join(cells)
                  + f" | {ratio:.2f} | {noise:.0%} |", flush=True)

    names = [lib.name for lib in libs]
    if not args.no_alternating and "numpy" in names and len(names) > 1:
        numpy_lib = libs[names.index("numpy")]
        threads = max(thread_counts)
        print(f"\n## Mixing libraries, {threads} threads: microseconds per call (median), each library's calls "
              "alone and then alternating one by one with NumPy's")
        print("| product | M x K x N | other library | numpy alone | other alone | numpy alternating "
              "| other alternating | other CPU |")
        print("|---|---|---|---|---|---|---|---|")
        variants = []
        for lib in libs:
            if lib.name != "numpy":
                variants.append((lib, lib.name, None))
                if lib.name == "mkl":
                    variants.append((lib, "mkl, KMP_BLOCKTIME=0", 0))
        for workload, M, K, N, layout in ALTERNATING:
            a, b, c = _operands(M, K, N, layout, rng)
            c2 = np.empty_like(c)
            for lib, label, blocktime in variants:
                for each in libs:
                    each.set_threads(threads)
                if blocktime is not None:
                    lib.set_blocktime(blocktime)
                fa, fb = numpy_lib.prepare(a, b, c), lib.prepare(a, b, c2)
                time.sleep(SETTLE)
                (alone_a,), n1 = time_cycle([fa], 0.15, args.noise_limit)
                time.sleep(SETTLE)
                (alone_b,), n2 = time_cycle([fb], 0.15, args.noise_limit)
                (mixed_a, mixed_b), n3 = time_cycle([fa, fb], 0.3, args.noise_limit)
                if blocktime is not None:
                    lib.set_blocktime(200)
                print(f"| {workload} | {M}x{K}x{N} {layout} | {label} | {alone_a * 1e6:.0f} | {alone_b * 1e6:.0f} "
                      f"| {mixed_a * 1e6:.0f} | {mixed_b * 1e6:.0f} | {max(n1, n2, n3):.0%} |", flush=True)
            time.sleep(SETTLE)
    print(f"\n# {time.perf_counter() - t_start:.0f} s")


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
