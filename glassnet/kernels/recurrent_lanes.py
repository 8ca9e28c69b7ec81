"""The LSTM's whole sequence split by hidden units over BLAS's threads (the math is
``functions/recurrent.py``'s LSTM; this is one way to run all of its steps at once).

Lane k of ``lanes`` owns the hidden units [k Hk, (k + 1) Hk), Hk = H / lanes, for the whole
sequence, and runs on one of OpenBLAS's threads (``kernels/blas.py``'s ``run``):

* forward: its gates' share of the input side, x_t W_k^T + b_k for every t (one product);
  then at each step a_k = h_{t-1} W_hh,k^T (one product on its thread: all of h_{t-1}, its
  4 Hk rows of W_hh), ``lstm_forward``'s gate kernel on its units, its units of h_t written
  into the shared h; then a barrier, since every unit's next step needs all of h_t;
* backward: at each step ``lstm_backward`` on its units gives its dA_k,t; a barrier; then its
  columns of dh_{t-1} = sum_j dA_j,t W_hh,j (W_hh,j: lane j's rows); after the loop its rows
  of dW_ih, dW_hh and db (sums over t of dA_k,t^T x_t, dA_k,t^T h_{t-1}, dA_k,t) and its
  share of the rows of dx_t = sum_j dA_j,t W_ih,j.

So both cores do both the products and the gate arithmetic, where the one-thread path
(``functions/recurrent.py``'s loop) runs each step's product on BLAS's threads and its gate
kernel on one. The README's benchmark section has what each measured.

The products with the same weights at every step (x_t W_ih^T + b, h_{t-1} W_hh^T, and in the
backward dA_j,t W_hh,j and dA_j,t W_ih,j) run on ``kernels/packed_gemm.py``: each lane packs
its weights once per pass instead of OpenBLAS packing them again on every call. The sums
over t (dW_ih, dW_hh) are single large products and stay on OpenBLAS.

Layout: the 4H gate rows of W_ih, W_hh and b are regrouped lane by lane (``lane_rows``: lane
k's i|f|g|o rows of its units, so each lane's gates are torch's i|f|g|o over Hk units, what
the step kernels expect), and everything a lane writes per step is its own contiguous array
(``gates``, ``c``, ``tanh_c``, ``dA``: (lanes, T, N, ...)): the gate kernels run scalar code
on strided rows. h is shared, (T + 1, N, H) in torch's layout (the output, and what every
lane's product reads); a lane's units of h_t are copied there from its own (N, Hk) buffer.

Variable lengths work as in the one-thread loop: step t runs on the first ``sizes[t]`` rows,
the rows of finished sequences carry their state.
Checked against the one-thread loop and ``tests/functions/reference.py``'s ``lstm_forward``
and ``lstm_bptt`` by ``tests/kernels/test_recurrent_lanes.py``.
"""
from __future__ import annotations

import numpy as np

from . import BACKEND, jit
from . import blas
from .blas import NO_TRANS, TRANS
from .packed_gemm import packed_shape
from ..threads import get_num_threads

#: fewest hidden units a lane takes: below this the per-step barrier outweighs a lane's share
MIN_UNITS_PER_LANE = 32


def lanes_for(N: int, H: int, dtype, lanes: int) -> int:
    """How many lanes an LSTM of H units over batches of N runs in, out of the ``lanes``
    threads glassnet uses: 0 for the one-thread path (float64, the NumPy backend, one thread,
    no OpenBLAS to run on, or too few units per lane)."""
    if BACKEND != "numba" or np.dtype(dtype) != np.float32 or N < 1:
        return 0
    lanes = min(lanes, blas.available())
    while lanes >= 2 and (H % lanes or H // lanes < MIN_UNITS_PER_LANE):
        lanes -= 1
    return lanes if lanes >= 2 else 0


def lane_rows(H: int, lanes: int) -> np.ndarray:
    """The 4H gate rows (torch's order i|f|g|o, H units each) regrouped lane by lane: row r of
    the regrouped weights is row ``lane_rows(H, lanes)[r]`` of torch's."""
    Hk = H // lanes
    gate, lane, unit = np.meshgrid(np.arange(4), np.arange(lanes), np.arange(Hk), indexing="ij")
    return (gate * H + lane * Hk + unit).transpose(1, 0, 2).reshape(-1)


if BACKEND == "numba":
    from .packed_gemm import matmul_packed, matmul_packed_bias, pack
    from .recurrent import lstm_backward_numba, lstm_forward_numba

    @jit
    def _forward_lane(k, lanes, barrier, x, W_ih, b, W_hh, P_ih, P_hh, gates, c, tanh_c, h, a, hk, sizes, lib):
        """Lane k's whole forward. x (T*N, I); W_ih (4Hk, I), b (4Hk,) or empty, W_hh (4Hk, H):
        its rows; gates (T, N, 4Hk), c (T+1, N, Hk), tanh_c (T, N, Hk): its own; h (T+1, N, H)
        shared, h[0] (and c[0]) given; P_ih, P_hh (for W_ih^T, W_hh^T packed), a (N, 4Hk),
        hk (N, Hk): its scratch. lib: (sgemm's address, whether its integers are 64-bit,
        sched_yield's address)."""
        sched_yield = lib[2]
        T, N, G = gates.shape
        Hk = G // 4
        lo = k * Hk
        pack(W_ih.T, P_ih)                                # once per pass: the weights of every step
        pack(W_hh.T, P_hh)
        rows = gates.reshape(T * N, G)
        if b.size:                                        # b + x_t W_ih^T for every t
            matmul_packed_bias(x, P_ih, b, rows)
        else:
            matmul_packed(x, P_ih, rows, False)
        for t in range(T):
            n = sizes[t]
            if n < N:                                     # finished sequences keep their state
                c[t + 1, n:] = c[t, n:]
                h[t + 1, n:, lo:lo + Hk] = h[t, n:, lo:lo + Hk]
            if n > 0:
                matmul_packed(h[t, :n], P_hh, a[:n], False)   # h_{t-1} W_hh^T
                lstm_forward_numba(a[:n], c[t, :n], gates[t, :n], c[t + 1, :n], tanh_c[t, :n], hk[:n])
                h[t + 1, :n, lo:lo + Hk] = hk[:n]
            if not blas.barrier_wait(barrier, k, lanes, t + 1, sched_yield):
                return

    @jit
    def _backward_lane(k, lanes, barrier, dY, dh, dc, c, gates, tanh_c, dA, W_hh, P_hh, dy, sizes,
                       x, h, W_ih, P_ih, dW_ih, dW_hh, db, dx, lib):
        """Lane k's whole backward. dY (T, N, H) shared; dh, dc (N, Hk): its units of dL/dh_T,
        dL/dc_T in, of dL/dh_0, dL/dc_0 out; c, gates, tanh_c: its forward values; dA (lanes,
        T, N, 4Hk) shared, zero where padded; W_hh, W_ih (4H, ...): all lanes' rows; P_hh, P_ih
        (lanes, ...): scratch for each lane j's W_hh,j[:, units k] and W_ih,j packed; dy (N, Hk)
        scratch. Then its rows of dW_ih (4Hk, I), dW_hh (4Hk, H), db (4Hk,), and its share of
        dx's rows (T*N, I); an empty array where a gradient is not wanted."""
        sgemm, wide, sched_yield = lib
        T, N, Hk = tanh_c.shape
        G, H = 4 * Hk, dY.shape[2]
        lo = k * Hk
        one, zero = np.float32(1), np.float32(0)
        dA_k = dA[k]
        for j in range(lanes):                            # once per pass: the weights of every step
            pack(W_hh[j * G:(j + 1) * G, lo:lo + Hk], P_hh[j])
        for i in range(T):
            t = T - 1 - i
            n = sizes[t]
            if n > 0:
                dy[:n] = dY[t, :n, lo:lo + Hk]
                lstm_backward_numba(dh[:n], dy[:n], dc[:n], c[t, :n], gates[t, :n], tanh_c[t, :n], dA_k[t, :n])
            if not blas.barrier_wait(barrier, k, lanes, i + 1, sched_yield):
                return
            if n > 0:                                     # dh_{t-1}[:, units k] = sum_j dA_j,t W_hh,j[:, units k]
                for j in range(lanes):
                    matmul_packed(dA[j, t, :n], P_hh[j], dh[:n], j > 0)
        TN = T * N
        rows = dA_k.reshape(TN, G)
        if dW_hh.size:                                    # sum_t dA_k,t^T h_{t-1}
            blas.sgemm(sgemm, wide, TRANS, NO_TRANS, G, H, TN, one, rows.ctypes.data, G, h.ctypes.data, H,
                       zero, dW_hh.ctypes.data, H)
        I = x.shape[1]
        if dW_ih.size:                                    # sum_t dA_k,t^T x_t
            blas.sgemm(sgemm, wide, TRANS, NO_TRANS, G, I, TN, one, rows.ctypes.data, G, x.ctypes.data, I,
                       zero, dW_ih.ctypes.data, I)
        if db.size:                                       # sum_t dA_k,t
            db[:] = 0
            for r in range(TN):
                db += rows[r]
        if dx.size:                                       # dx_t = sum_j dA_j,t W_ih,j, lane k's rows
            r0, r1 = TN * k // lanes, TN * (k + 1) // lanes
            if r1 > r0:
                for j in range(lanes):
                    pack(W_ih[j * G:(j + 1) * G], P_ih[j])
                    matmul_packed(dA[j].reshape(TN, G)[r0:r1], P_ih[j], dx[r0:r1], j > 0)


def _lib():
    lib = blas._library()
    return (np.uint64(lib.sgemm), lib.wide, np.uint64(lib.sched_yield))


_EMPTY = np.empty(0, np.float32)


class LSTMLanes:
    """One LSTM pass split over ``lanes`` lanes: ``forward`` then ``backward``, the state a
    forward pass keeps for its backward held here. Inputs in step order (``StepOrder``)."""

    def __init__(self, lanes: int, H: int):
        self.lanes, self.H = lanes, H
        self.rows = lane_rows(H, lanes)

    @classmethod
    def start(cls, N: int, H: int, dtype):
        """An ``LSTMLanes`` for this pass, or None where the one-thread path runs (``lanes_for``
        with the threads glassnet uses now)."""
        lanes = lanes_for(N, H, dtype, get_num_threads())
        return cls(lanes, H) if lanes else None

    def forward(self, x, h0, c0, W_ih, W_hh, bias, sizes):
        """x (T, N, I) C-contiguous float32, h0, c0 (N, H), bias (4H,) or None ->
        h (T+1, N, H) (h[0] = h0, h[t+1] the state after step t), or None if the lanes
        could not run (the caller takes the one-thread path)."""
        T, N, I = x.shape
        H, L = self.H, self.lanes
        Hk = H // L
        f32 = np.float32
        self.x = x.reshape(T * N, I)
        self.W_ih = np.ascontiguousarray(W_ih[self.rows], f32)
        self.W_hh = np.ascontiguousarray(W_hh[self.rows], f32)
        b = _EMPTY if bias is None else np.ascontiguousarray(bias[self.rows], f32)
        self.sizes = np.asarray(sizes, np.int64)
        self.gates = np.empty((L, T, N, 4 * Hk), f32)
        self.c = np.empty((L, T + 1, N, Hk), f32)
        self.c[:, 0] = c0.reshape(N, L, Hk).transpose(1, 0, 2)
        self.tanh_c = np.empty((L, T, N, Hk), f32)
        self.h = h = np.empty((T + 1, N, H), f32)
        h[0] = h0
        a, hk = np.empty((L, N, 4 * Hk), f32), np.empty((L, N, Hk), f32)
        G = 4 * Hk
        P_ih, P_hh = np.empty((L, *packed_shape(I, G)), f32), np.empty((L, *packed_shape(H, G)), f32)
        lib = _lib()

        def lane(k, barrier):
            _forward_lane(k, L, barrier, self.x, self.W_ih[k * G:(k + 1) * G], b[k * G:(k + 1) * G] if b.size else b,
                          self.W_hh[k * G:(k + 1) * G], P_ih[k], P_hh[k], self.gates[k], self.c[k], self.tanh_c[k],
                          h, a[k], hk[k], self.sizes, lib)
        return h if blas.run(lane, L) else None

    def c_n(self):
        """c after the last step, (N, H)."""
        c = self.c[:, -1]
        return c.transpose(1, 0, 2).reshape(c.shape[1], self.H)

    def backward(self, dY, dh_n, dc_n, padded, need_x, need_W_ih, need_W_hh, need_b):
        """dY (T, N, H) C-contiguous, dh_n, dc_n (N, H) -> (dx (T, N, I), dh_0, dc_0, dW_ih, dW_hh,
        db) in torch's layout, None where not wanted."""
        T, N, H = dY.shape
        L, G = self.lanes, 4 * (self.H // self.lanes)
        Hk = G // 4
        f32 = np.float32
        I = self.x.shape[1]
        dh = np.ascontiguousarray(dh_n.reshape(N, L, Hk).transpose(1, 0, 2), f32)
        dc = np.ascontiguousarray(dc_n.reshape(N, L, Hk).transpose(1, 0, 2), f32)
        dA = (np.zeros if padded else np.empty)((L, T, N, G), f32)
        dW_ih = np.empty((L * G, I), f32) if need_W_ih else _EMPTY.reshape(0, 0)
        dW_hh = np.empty((L * G, H), f32) if need_W_hh else _EMPTY.reshape(0, 0)
        db = np.empty(L * G, f32) if need_b else _EMPTY
        dx = np.empty((T * N, I), f32) if need_x else _EMPTY.reshape(0, 0)
        dy = np.empty((L, N, Hk), f32)
        P_hh = np.empty((L, L, *packed_shape(G, Hk)), f32)
        P_ih = np.empty((L, L, *packed_shape(G, I)), f32)             # untouched unless need_x
        lib = _lib()

        def lane(k, barrier):
            part = slice(k * G, (k + 1) * G)
            _backward_lane(k, L, barrier, dY, dh[k], dc[k], self.c[k], self.gates[k], self.tanh_c[k], dA,
                           self.W_hh, P_hh[k], dy[k], self.sizes, self.x, self.h, self.W_ih, P_ih[k],
                           dW_ih[part] if need_W_ih else dW_ih, dW_hh[part] if need_W_hh else dW_hh,
                           db[part] if need_b else db, dx, lib)
        if not blas.run(lane, L, wait=True):  # the forward ran in lanes: this is the only way back
            raise RuntimeError(f"LSTM backward: {L} lanes ran forward, but OpenBLAS now has fewer threads")

        def torch_rows(g):
            if g is None:
                return None
            out = np.empty_like(g)
            out[self.rows] = g
            return out
        return (dx.reshape(T, N, I) if need_x else None,
                dh.transpose(1, 0, 2).reshape(N, H), dc.transpose(1, 0, 2).reshape(N, H),
                torch_rows(dW_ih if need_W_ih else None), torch_rows(dW_hh if need_W_hh else None),
                torch_rows(db if need_b else None))
