"""The measurement that led to ``glassnet/kernels/recurrent_lanes.py``: the LSTM's time loops
split by hidden units over two lanes (glassnet's own threads here), against the one-thread
loop. The library now runs this split on OpenBLAS's own threads instead (``kernels/blas.py``),
which removes the first item of "what the library would still need" below; this script keeps
the fifth session's comparison reproducible.

    python -m bench.recurrent_lanes            # lstm_seq's and char_lstm's step shapes

Today (``functions/recurrent.py``) each step is one product on BLAS's two threads,
``h_{t-1} W_hh^T``, then the gate kernel on one thread while the second core waits. Torch's
fused primitive (oneDNN) keeps both cores on both parts. This script tries that shape with
glassnet's own pieces:

* lane k owns the hidden units [k H/2, (k + 1) H/2): its rows of W_hh (gates i|f|g|o of its
  units, ``_rows_of_units``), its columns of the input side, and its halves of h and c, each a
  contiguous (N, H/2) array (a 2-d view with a row stride made the gate kernel run scalar);
* step t on lane k: a_k = h0_{t-1} W_k0^T + h1_{t-1} W_k1^T, two one-thread products through
  NumPy's OpenBLAS (``cblas_sgemm``, called from the compiled loop, so no GIL), then the gate
  kernel (``kernels.recurrent.lstm_forward_numba``) on its units; then a barrier, since step
  t + 1 needs both halves of h_t;
* the barrier spins on a flag, calling ``sched_yield`` between looks (the opaque call also
  keeps the compiler from hoisting the flag's load out of the loop); a sleeping hand-off
  costs 250-400 us on this virtual machine, more than a whole step.

The backward time loop in the same shape (``compare_backward``): lane k runs the gate
kernel's backward (``lstm_backward_numba``) on its units, giving its dA_k; a barrier; then
its columns of dh_{t-1} = sum_j dA_j W_j, two one-thread products.

What the library would still need: the rest of the training step in lanes as well (lanes
beside two-thread products lose to OpenBLAS's idle worker, which spins for a fraction of a
second after each product: ``threads.lanes_allowed``), so the input projection, the weight
sums (lane k's rows of dW), the input gradient and the layers around the LSTM; variable
lengths; the NumPy backend and one-thread fallbacks; the reference tests; and a rule for when
spinning a core for the length of a recurrent pass is acceptable on a busy machine. The
README's benchmark section has what this measured.
"""
from __future__ import annotations

import ctypes
import time

import numpy as np


def _sgemm():
    """cblas_sgemm from NumPy's own OpenBLAS, its integer arguments typed for the build (64-bit
    in NumPy's wheels); RuntimeError when NumPy's BLAS exports none."""
    from glassnet.threads import _loaded_openblas_paths
    for path in _loaded_openblas_paths():
        lib = ctypes.CDLL(path)
        for name, wide in (("scipy_cblas_sgemm64_", True), ("cblas_sgemm64_", True), ("cblas_sgemm", False)):
            if hasattr(lib, name):
                fn = getattr(lib, name)
                n = ctypes.c_int64 if wide else ctypes.c_int
                fn.restype = None
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, n, n, n, ctypes.c_float, ctypes.c_size_t,
                               n, ctypes.c_size_t, n, ctypes.c_float, ctypes.c_size_t, n]
                return fn
    raise RuntimeError("NumPy's OpenBLAS exports no cblas_sgemm")


def _rows_of_units(W, H, lanes=2):
    """(4H, X) rows in torch's gate order -> (lanes, 4 H/lanes, X): lane k's i|f|g|o rows."""
    Hh = H // lanes
    gates = W.reshape(4, H, -1)
    return np.stack([gates[:, k * Hh:(k + 1) * Hh].reshape(4 * Hh, -1) for k in range(lanes)])


def _build(numba, sgemm, step):
    yield_cpu = ctypes.CDLL(None).sched_yield
    yield_cpu.restype, yield_cpu.argtypes = ctypes.c_int, []
    ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

    @numba.njit(nogil=True)
    def lane_loop(k, gates_k, W_k0, W_k1, h0, h1, c_k, tanh_c_k, a, flags):
        T, N, G = gates_k.shape
        Hh = G // 4
        h_k = h0 if k == 0 else h1
        one, zero = np.float32(1.0), np.float32(0.0)
        for t in range(T):
            # a = h_{t-1} W_k^T, the units' four gates, as the two halves of h times W_k's halves
            sgemm(ROW_MAJOR, NO_TRANS, TRANS, N, G, Hh, one, h0[t].ctypes.data, Hh, W_k0.ctypes.data, Hh,
                  zero, a.ctypes.data, G)
            sgemm(ROW_MAJOR, NO_TRANS, TRANS, N, G, Hh, one, h1[t].ctypes.data, Hh, W_k1.ctypes.data, Hh,
                  one, a.ctypes.data, G)
            step(a, c_k[t], gates_k[t], c_k[t + 1], tanh_c_k[t], h_k[t + 1])
            yield_cpu()                      # the stores above stay before the flag's
            flags[16 * k] = t + 1            # one cache line per flag
            while flags[16 * (1 - k)] < t + 1:
                yield_cpu()
        return 0

    return lane_loop


def _build_backward(numba, sgemm, step_back):
    yield_cpu = ctypes.CDLL(None).sched_yield
    yield_cpu.restype, yield_cpu.argtypes = ctypes.c_int, []
    ROW_MAJOR, NO_TRANS = 101, 111

    @numba.njit(nogil=True)
    def lane_loop(k, dy_k, dh_k, dc_k, c_k, gates_k, tanh_c_k, dA0, dA1, W_0k, W_1k, flags):
        # W_jk (4 H/2, H/2): lane j's gate rows of W_hh, lane k's unit columns
        T, N, Hh = tanh_c_k.shape
        G = 4 * Hh
        dA_k = dA0 if k == 0 else dA1
        one, zero = np.float32(1.0), np.float32(0.0)
        for i in range(T):
            t = T - 1 - i
            step_back(dh_k, dy_k[t], dc_k, c_k[t], gates_k[t], tanh_c_k[t], dA_k[t])
            yield_cpu()
            flags[16 * k] = i + 1
            while flags[16 * (1 - k)] < i + 1:
                yield_cpu()
            # dh_{t-1}[:, units k] = dA0_t W_0k + dA1_t W_1k
            sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, N, Hh, G, one, dA0[t].ctypes.data, G, W_0k.ctypes.data, Hh,
                  zero, dh_k.ctypes.data, Hh)
            sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, N, Hh, G, one, dA1[t].ctypes.data, G, W_1k.ctypes.data, Hh,
                  one, dh_k.ctypes.data, Hh)
        return 0

    return lane_loop


def current_backward(dy, dh, dc, c, gates, tanh_c, dA, W, step_back):
    """glassnet's backward loop today: the gate kernel, then dh_{t-1} = dA_t W_hh on BLAS's threads."""
    for t in reversed(range(tanh_c.shape[0])):
        step_back(dh, dy[t], dc, c[t], gates[t], tanh_c[t], dA[t])
        np.matmul(dA[t], W, out=dh)


def compare_backward(T, N, H, rounds=12, seed=0):
    """As ``compare``, for the backward time loop: (largest |dh| or |dc| difference, times)."""
    import numba

    import glassnet as gn
    from glassnet import threads
    from glassnet.kernels import lanes
    from glassnet.kernels import recurrent as R
    step_back = R.lstm_backward_numba
    lane_loop = _build_backward(numba, _sgemm(), step_back)
    requested = threads._requested
    gn.set_num_threads(2)
    rng = np.random.default_rng(seed)
    G, Hh = 4 * H, H // 2
    W = (rng.standard_normal((G, H)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((T, N, H)).astype(np.float32)
    c = rng.standard_normal((T + 1, N, H)).astype(np.float32)
    gates = rng.uniform(0.05, 0.95, (T, N, G)).astype(np.float32)
    tanh_c = np.tanh(c[1:])
    dA = np.empty((T, N, G), np.float32)

    def units(a, k):
        return np.ascontiguousarray(a[..., k * Hh:(k + 1) * Hh])
    Wk = _rows_of_units(W, H)
    W_jk = [[units(Wk[j], k) for k in range(2)] for j in range(2)]
    g_units = [np.ascontiguousarray(gates.reshape(T, N, 4, H)[:, :, :, k * Hh:(k + 1) * Hh].reshape(T, N, G // 2))
               for k in range(2)]
    dy_k, c_k, tanh_c_k = ([units(a, k) for k in range(2)] for a in (dy, c, tanh_c))
    dA_k = [np.empty((T, N, G // 2), np.float32) for _ in range(2)]

    def split_backward():
        dh, dc = [np.zeros((N, Hh), np.float32) for _ in range(2)], [np.zeros((N, Hh), np.float32) for _ in range(2)]
        flags = np.zeros(32, np.int64)
        lanes.run(lambda k: lane_loop(k, dy_k[k], dh[k], dc[k], c_k[k], g_units[k], tanh_c_k[k], dA_k[0], dA_k[1],
                                      W_jk[0][k], W_jk[1][k], flags), [(0,), (1,)])
        return np.concatenate(dh, axis=1), np.concatenate(dc, axis=1)

    try:
        threads.use_blas()
        dh, dc = np.zeros((N, H), np.float32), np.zeros((N, H), np.float32)
        current_backward(dy, dh, dc, c, gates, tanh_c, dA, W, step_back)
        threads.use_lanes()
        dh_split, dc_split = split_backward()
        difference = float(max(np.abs(dh_split - dh).max(), np.abs(dc_split - dc).max()))
        times = {"today": [], "split by units": []}
        for _ in range(rounds):
            threads.use_blas()
            dh[...], dc[...] = 0, 0
            start = time.perf_counter()
            current_backward(dy, dh, dc, c, gates, tanh_c, dA, W, step_back)
            times["today"].append(time.perf_counter() - start)
            threads.use_lanes()
            time.sleep(0.25)
            start = time.perf_counter()
            split_backward()
            times["split by units"].append(time.perf_counter() - start)
    finally:
        threads.use_blas()
        gn.set_num_threads(requested)
    return difference, times


def current_forward(gates, W, h, c, tanh_c, step):
    """glassnet's loop today: BLAS's threads for the product, one thread for the gates."""
    T, N, G = gates.shape
    a = np.empty((N, G), np.float32)
    for t in range(T):
        np.matmul(h[t], W.T, out=a)
        step(a, c[t], gates[t], c[t + 1], tanh_c[t], h[t + 1])


def compare(T, N, H, rounds=12, seed=0):
    """(largest |h| difference between the two loops, {loop: [seconds per forward]}) for one
    shape, the two loops alternating for ``rounds`` rounds (compiled kernels, two threads)."""
    import numba

    import glassnet as gn
    from glassnet import threads
    from glassnet.kernels import lanes
    from glassnet.kernels import recurrent as R
    step = R.lstm_forward_numba
    lane_loop = _build(numba, _sgemm(), step)
    requested = threads._requested           # put back on leaving (None: the automatic count)
    gn.set_num_threads(2)
    rng = np.random.default_rng(seed)
    G, Hh = 4 * H, H // 2
    W = (rng.standard_normal((G, H)) * 0.1).astype(np.float32)
    g0 = rng.standard_normal((T, N, G)).astype(np.float32)
    h, c = np.zeros((T + 1, N, H), np.float32), np.zeros((T + 1, N, H), np.float32)
    tanh_c = np.empty((T, N, H), np.float32)
    Wk = _rows_of_units(W, H)
    W_halves = [(np.ascontiguousarray(Wk[k][:, :Hh]), np.ascontiguousarray(Wk[k][:, Hh:])) for k in range(2)]
    g_units = [np.ascontiguousarray(g0.reshape(T, N, 4, H)[:, :, :, k * Hh:(k + 1) * Hh].reshape(T, N, G // 2))
               for k in range(2)]
    hs = [np.zeros((T + 1, N, Hh), np.float32) for _ in range(2)]
    cs = [np.zeros((T + 1, N, Hh), np.float32) for _ in range(2)]
    tcs = [np.empty((T, N, Hh), np.float32) for _ in range(2)]

    def split_forward(gk):
        flags, a = np.zeros(32, np.int64), [np.empty((N, G // 2), np.float32) for _ in range(2)]
        lanes.run(lambda k: lane_loop(k, gk[k], *W_halves[k], hs[0], hs[1], cs[k], tcs[k], a[k], flags),
                  [(0,), (1,)])

    try:
        threads.use_blas()
        current_forward(g0.copy(), W, h, c, tanh_c, step)
        threads.use_lanes()
        split_forward([g.copy() for g in g_units])
        difference = float(np.abs(np.concatenate(hs, axis=2) - h).max())
        times = {"today": [], "split by units": []}
        for _ in range(rounds):
            threads.use_blas()
            g = g0.copy()
            start = time.perf_counter()
            current_forward(g, W, h, c, tanh_c, step)
            times["today"].append(time.perf_counter() - start)
            threads.use_lanes()
            time.sleep(0.25)                    # OpenBLAS's idle worker stops spinning
            gk = [g.copy() for g in g_units]
            start = time.perf_counter()
            split_forward(gk)
            times["split by units"].append(time.perf_counter() - start)
    finally:
        threads.use_blas()
        gn.set_num_threads(requested)
    return difference, times


def main(rounds=12):
    print("LSTM time loops, 2 threads: min / median ms over", rounds, "alternating rounds")
    for name, shape in {"lstm_seq": (28, 128, 128), "char_lstm": (64, 32, 256)}.items():
        for direction, measure in (("forward", compare), ("backward", compare_backward)):
            difference, times = measure(*shape, rounds=rounds)
            assert difference < 1e-5, f"the split {direction} loop differs by {difference}"
            cells = [f"{k} {min(v) * 1e3:.2f} / {np.median(v) * 1e3:.2f}" for k, v in times.items()]
            print(f"  {name} {direction} (T, N, H = {shape}): " + ",  ".join(cells))


if __name__ == "__main__":
    main()
