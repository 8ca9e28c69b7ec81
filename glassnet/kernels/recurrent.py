"""How the recurrent layers' time steps run fast (the math is in ``functions/recurrent.py``).

``functions/recurrent.py`` walks time in Python: one matrix product per step (NumPy's
``matmul``, so BLAS owns the threads) and one call of a kernel below, which applies the
gate arithmetic of that step in a single pass over memory. Each kernel exists twice with
the same signature: ``*_numba`` (a compiled serial loop) and ``*_numpy`` (NumPy calls);
the un-suffixed name is the one this process's backend picked (see ``glassnet.kernels``).
Every pair is checked against the textbook step-by-step forms in
``tests/functions/reference.py`` (``rnn_forward``, ``lstm_forward``, ``gru_forward`` and
their ``*_bptt``) by ``tests/kernels/test_recurrent_kernels.py``.

Layout rules (written here once; the callers never mention them):

* Time-major sequences, (T, N, ...). Step order: the batch is walked sorted by decreasing
  length (``StepOrder``), as a packed sequence is, so the sequences still running at step
  t are the first ``b_t`` rows and every step works on the slice ``[:b_t]``.
* A step's gate pre-activations are one row-major (b, G*H) array, the gates' blocks in
  torch's order (LSTM i|f|g|o, GRU r|z|n): exactly what ``x_t W_ih^T`` and
  ``h_{t-1} W_hh^T`` produce, so the GEMMs write them with no copy. The activated gates
  are stored the same way, (b, G*H), one row per sequence.
* Inside a compiled kernel each gate is a 1-D slice of its row (``a[n, H:2*H]``) and the
  inner loop runs over j < H on those slices: indexing the gates with a stride inside one
  loop made LLVM fall back to scalar code, silently (only timing shows it; the speed
  guard in the tests catches it).
* Kernels write into arrays the caller owns (``out`` arguments, named after the math:
  ``gates``, ``c``, ``h``, ``dz``); nothing is allocated per step.

Numerics:

* sigma(a) is computed as (1 + tanh(a/2)) / 2, which never overflows (no exp of a large
  argument), so a saturated gate gives exactly 0 or 1 and no warning.
* tanh in the compiled kernels: libm's ``tanh`` is a scalar call that costs more than the
  whole step's arithmetic, so float32 uses a rational minimax approximation (odd degree-13
  numerator over even degree-6 denominator, the coefficients of Eigen's
  ``generic_fast_tanh_float``; abs. error < 4e-7, about 3 float32 ulps near 1) that LLVM
  vectorises; float64 uses tanh(|a|) = (1 - e) / (1 + e), e = exp(-2|a|) (abs. error
  ~1e-16, exact enough for float64 gradient checks). The NumPy twins call ``np.tanh``.
* Loops are serial and compiled with NumPy's error model (a division otherwise stays
  scalar); ``fastmath`` stays off.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import BACKEND, jit, pick

__all__ = ["StepOrder",
           "rnn_tanh_forward", "rnn_tanh_backward", "rnn_relu_forward", "rnn_relu_backward",
           "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
           "gru_reset_update_forward", "gru_candidate_forward",
           "gru_candidate_backward", "gru_reset_backward"]

#: every kernel name; each has a ``_numba`` and a ``_numpy`` twin
KERNELS = tuple(__all__[1:])


# --------------------------------------------------------------------------- step order

class StepOrder:
    """The map between the caller's (T, N, ...) layout and the order the time loop walks.

    Without ``lengths`` the walk is the caller's order (reversed in time when
    ``reverse``). With ``lengths`` (N,) the batch is sorted by decreasing length, so
    ``sizes[t]`` (the number of sequences alive at step t) are the first rows; a reversed
    sequence is flipped within its own length, so it starts at its last valid step.
    """

    def __init__(self, T, N, lengths, reverse):
        self.T, self.N, self.reverse = T, N, bool(reverse)
        if lengths is None:
            self.order = None
            self.sizes = [N] * T
            return
        lengths = np.asarray(lengths, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")            # longest first
        L = lengths[order]
        t = np.arange(T)[:, None]
        self.order = order
        self.sizes = [int(b) for b in (L[None, :] > t).sum(axis=1)]   # sequences alive at step t
        # source time index of step t: t itself, or L-1-t when flipped within the length
        self.t_src = np.where(t < L, L - 1 - t, t) if self.reverse else np.broadcast_to(t, (T, N))
        self.n_src = order[None, :]
        self.pad = t >= lengths[None, :]                         # (T, N) caller layout

    @property
    def padded(self):
        """Whether some steps are padding (their gradients must be zero)."""
        return self.order is not None

    def gather(self, a):
        """Caller layout (T, N, ...) -> step order, one C-contiguous array (a kernel given a
        strided view, such as the gradient of a batch_first output, runs scalar code)."""
        if self.order is None:
            return np.ascontiguousarray(a[::-1] if self.reverse else a)
        return a[self.t_src, self.n_src]

    def scatter(self, a):
        """Step order (T, N, ...) -> caller layout (the inverse permutation of ``gather``)."""
        if self.order is None:
            return a[::-1] if self.reverse else a
        out = np.empty_like(a)
        out[self.t_src, self.n_src] = a
        return out

    def sort(self, h):
        """(N, ...) batch -> step order (a fresh, writable array)."""
        return h.copy() if self.order is None else h[self.order]

    def unsort(self, h):
        """(N, ...) in step order -> the caller's batch order."""
        if self.order is None:
            return h
        out = np.empty_like(h)
        out[self.order] = h
        return out

    def outputs(self, Hs):
        """y in caller layout from the states H[1:] in step order; zero at padded steps."""
        y = self.scatter(Hs)
        if self.order is not None:
            y[self.pad] = 0
        return y

    def carry(self, S, t):
        """Sequences finished before step t keep their state: S[t+1, b:] = S[t, b:]."""
        b = self.sizes[t]
        if b < S.shape[1]:
            S[t + 1, b:] = S[t, b:]


# --------------------------------------------------------------------------- scalar helpers

def _tanh_float32(a):
    """Rational approximation of tanh in float32 (Eigen's generic_fast_tanh_float)."""
    limit = np.float32(7.90531110763549805)       # |tanh| rounds to 1 in float32 beyond this
    a = limit if a > limit else a
    a = -limit if a < -limit else a
    a2 = a * a
    p = np.float32(-2.76076847742355e-16)
    p = p * a2 + np.float32(2.00018790482477e-13)
    p = p * a2 + np.float32(-8.60467152213735e-11)
    p = p * a2 + np.float32(5.12229709037114e-08)
    p = p * a2 + np.float32(1.48572235717979e-05)
    p = p * a2 + np.float32(6.37261928875436e-04)
    p = p * a2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * a2 + np.float32(1.18534705686654e-04)
    q = q * a2 + np.float32(2.26843463243900e-03)
    q = q * a2 + np.float32(4.89352518554385e-03)
    return a * p / q


def _tanh_float64(a):
    """tanh(a) = sign(a) (1 - e) / (1 + e) with e = exp(-2|a|) in [0, 1]: never overflows."""
    e = math.exp(-2.0 * abs(a))
    t = (1.0 - e) / (1.0 + e)
    return t if a >= 0 else -t


def _sigmoid_float32(a):
    half = np.float32(0.5)
    return half + half * _tanh(half * a)


def _sigmoid_float64(a):
    return 0.5 + 0.5 * _tanh(0.5 * a)


def _tanh(a):
    """tanh for a kernel's loop (compiled: chosen by dtype, see the module docstring)."""
    return math.tanh(a)


def _sigmoid(a):
    """sigma(a) = (1 + tanh(a/2)) / 2."""
    return 0.5 + 0.5 * math.tanh(0.5 * a)


if BACKEND == "numba":
    from numba import types
    from numba.extending import overload

    @overload(_tanh)
    def _tanh_typed(a):
        return _tanh_float32 if a == types.float32 else _tanh_float64

    @overload(_sigmoid)
    def _sigmoid_typed(a):
        return _sigmoid_float32 if a == types.float32 else _sigmoid_float64


@functools.lru_cache(maxsize=64)
def _np_gate_affine(pattern, H, dtype):
    """Per-column (scale, shift) over a row of gates: (1/2, 1/2) for a sigmoid gate, (1, 0) for
    tanh, so that shift + scale * tanh(scale * a) is sigma(a) or tanh(a): one ``np.tanh`` over
    the whole contiguous row serves every gate (the NumPy twins' costliest call)."""
    scale = np.repeat(np.asarray([0.5 if kind == "sigmoid" else 1.0 for kind in pattern], dtype), H)
    return scale, 1 - scale


def _np_sigmoid(a, out):
    """out = sigma(a) = (1 + tanh(a/2)) / 2, in NumPy (out may be a)."""
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


# --------------------------------------------------------------------------- RNN

@jit
def rnn_tanh_forward_numba(ax, ah, h):
    """h = tanh(ax + ah): ax = x_t W_ih^T + b, ah = h_{t-1} W_hh^T, all (b, H)."""
    N, H = h.shape
    for n in range(N):
        axn, ahn, hn = ax[n], ah[n], h[n]
        for j in range(H):
            hn[j] = _tanh(axn[j] + ahn[j])


def rnn_tanh_forward_numpy(ax, ah, h):
    np.add(ax, ah, out=h)
    np.tanh(h, out=h)


@jit
def rnn_tanh_backward_numba(dh, dy, h, dz):
    """dz = (dh + dy) * (1 - h^2): dh reaches h_t from step t+1, dy from the output y_t."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        dhn, dyn, hn, dzn = dh[n], dy[n], h[n], dz[n]
        for j in range(H):
            dzn[j] = (dhn[j] + dyn[j]) * (one - hn[j] * hn[j])


def rnn_tanh_backward_numpy(dh, dy, h, dz):
    np.add(dh, dy, out=dz)
    dz *= 1 - h * h


@jit
def rnn_relu_forward_numba(ax, ah, h):
    """h = max(ax + ah, 0)."""
    N, H = h.shape
    zero = h.dtype.type(0)
    for n in range(N):
        axn, ahn, hn = ax[n], ah[n], h[n]
        for j in range(H):
            a = axn[j] + ahn[j]
            hn[j] = a if a > zero else zero


def rnn_relu_forward_numpy(ax, ah, h):
    np.add(ax, ah, out=h)
    np.maximum(h, 0, out=h)


@jit
def rnn_relu_backward_numba(dh, dy, h, dz):
    """dz = (dh + dy) * [h > 0]."""
    N, H = h.shape
    zero = h.dtype.type(0)
    for n in range(N):
        dhn, dyn, hn, dzn = dh[n], dy[n], h[n], dz[n]
        for j in range(H):
            dzn[j] = dhn[j] + dyn[j] if hn[j] > zero else zero


def rnn_relu_backward_numpy(dh, dy, h, dz):
    np.add(dh, dy, out=dz)
    dz *= h > 0


# --------------------------------------------------------------------------- LSTM

@jit
def lstm_forward_numba(ax, ah, c_prev, gates, c, tanh_c, h):
    """One LSTM step. ax, ah (b, 4H) as rnn_tanh_forward; writes gates (b, 4H) = i|f|g|o,
    c = f c_prev + i g, tanh_c = tanh(c), h = o tanh(c), each (b, H)."""
    N, H = c.shape
    for n in range(N):
        ai, af, ag, ao = ax[n, :H], ax[n, H:2 * H], ax[n, 2 * H:3 * H], ax[n, 3 * H:]
        hi, hf, hg, ho = ah[n, :H], ah[n, H:2 * H], ah[n, 2 * H:3 * H], ah[n, 3 * H:]
        gi, gf, gg, go = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        cp, cn, tn, hn = c_prev[n], c[n], tanh_c[n], h[n]
        for j in range(H):
            i = _sigmoid(ai[j] + hi[j])
            f = _sigmoid(af[j] + hf[j])
            g = _tanh(ag[j] + hg[j])
            o = _sigmoid(ao[j] + ho[j])
            gi[j], gf[j], gg[j], go[j] = i, f, g, o
            cj = f * cp[j] + i * g
            tc = _tanh(cj)
            cn[j], tn[j], hn[j] = cj, tc, o * tc


def lstm_forward_numpy(ax, ah, c_prev, gates, c, tanh_c, h):
    H = c.shape[1]
    scale, shift = _np_gate_affine(("sigmoid", "sigmoid", "tanh", "sigmoid"), H, gates.dtype)
    np.add(ax, ah, out=gates)
    gates *= scale
    np.tanh(gates, out=gates)
    gates *= scale
    gates += shift                                              # i, f, o = sigma; g = tanh
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    c += i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


@jit
def lstm_backward_numba(dh, dy, dc, c_prev, gates, tanh_c, dz):
    """One LSTM step backwards. In: dh (from step t+1), dy (from y_t), dc = dL/dc_t from
    step t+1, the step's forward values. Out: dz (b, 4H) = dL/d(pre-activations) i|f|g|o,
    and dc overwritten with dL/dc_{t-1} = dc_t * f."""
    N, H = tanh_c.shape
    one = tanh_c.dtype.type(1)
    for n in range(N):
        gi, gf, gg, go = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        di, df, dg, do = dz[n, :H], dz[n, H:2 * H], dz[n, 2 * H:3 * H], dz[n, 3 * H:]
        dhn, dyn, dcn, cp, tn = dh[n], dy[n], dc[n], c_prev[n], tanh_c[n]
        for j in range(H):
            i, f, g, o, tc = gi[j], gf[j], gg[j], go[j], tn[j]
            dh_t = dhn[j] + dyn[j]
            dc_t = dcn[j] + dh_t * o * (one - tc * tc)
            di[j] = dc_t * g * i * (one - i)
            df[j] = dc_t * cp[j] * f * (one - f)
            dg[j] = dc_t * i * (one - g * g)
            do[j] = dh_t * tc * o * (one - o)
            dcn[j] = dc_t * f


def lstm_backward_numpy(dh, dy, dc, c_prev, gates, tanh_c, dz):
    H = tanh_c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    di, df, dg, do = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
    np.add(dh, dy, out=do)                       # dh_t, held in do for now
    np.multiply(tanh_c, tanh_c, out=dg)
    np.subtract(1, dg, out=dg)
    dg *= o
    dg *= do
    dc += dg                                     # dc_t = dc + dh_t o (1 - tanh(c)^2)
    do *= tanh_c                                 # do = dh_t tanh(c_t)
    np.multiply(dc, g, out=di)
    np.multiply(dc, c_prev, out=df)
    np.multiply(dc, i, out=dg)
    dc *= f                                      # dc_{t-1}
    # every gate's derivative in two passes over the whole row: (1 - a)(a + t) with t = 0 for a
    # sigmoid gate (a (1 - a)) and t = 1 for tanh ((1 - a)(1 + a) = 1 - a^2)
    _, shift = _np_gate_affine(("sigmoid", "sigmoid", "tanh", "sigmoid"), H, gates.dtype)
    dz *= 1 - gates
    dz *= gates + (1 - 2 * shift)


# --------------------------------------------------------------------------- GRU, reset after

@jit
def gru_forward_numba(ax, ah, b_hn, h_prev, gates, un, h):
    """One GRU step, torch's form. ax = x_t W_ih^T + b_ih (+ b_hh for r, z), ah = h_{t-1} W_hh^T,
    both (b, 3H), b_hn (H,). Writes gates (b, 3H) = r|z|n, un = ah_n + b_hn, and
    h = (1 - z) n + z h_prev, with n = tanh(ax_n + r un)."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        xr, xz, xn = ax[n, :H], ax[n, H:2 * H], ax[n, 2 * H:]
        hr, hz, hn_ = ah[n, :H], ah[n, H:2 * H], ah[n, 2 * H:]
        gr, gz, gn = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:]
        hp, u_n, h_n = h_prev[n], un[n], h[n]
        for j in range(H):
            r = _sigmoid(xr[j] + hr[j])
            z = _sigmoid(xz[j] + hz[j])
            u = hn_[j] + b_hn[j]
            nj = _tanh(xn[j] + r * u)
            gr[j], gz[j], gn[j], u_n[j] = r, z, nj, u
            h_n[j] = (one - z) * nj + z * hp[j]


def gru_forward_numpy(ax, ah, b_hn, h_prev, gates, un, h):
    H = h.shape[1]
    np.add(ax[:, :2 * H], ah[:, :2 * H], out=gates[:, :2 * H])
    _np_sigmoid(gates[:, :2 * H], gates[:, :2 * H])
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    np.add(ah[:, 2 * H:], b_hn, out=un)
    np.multiply(r, un, out=n)
    n += ax[:, 2 * H:]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)        # h = n + z (h_prev - n)
    h *= z
    h += n


@jit
def gru_backward_numba(dh_carry, dh_rec, dy, h_prev, gates, un, da, du):
    """One GRU step backwards (reset after). dh_t = dh_carry + dh_rec + dy, where dh_carry =
    dh_{t+1} z_{t+1} (the direct path) and dh_rec = du_{t+1} W_hh. Writes da (b, 3H), the
    gradient of the input-side pre-activations r|z|n, du (b, 3H), of the hidden side r|z|un,
    and dh_carry = dh_t z (for step t-1)."""
    N, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for n in range(N):
        gr, gz, gn = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:]
        ar, az, an = da[n, :H], da[n, H:2 * H], da[n, 2 * H:]
        ur, uz, un_ = du[n, :H], du[n, H:2 * H], du[n, 2 * H:]
        dc, dr_, dyn, hp, u_n = dh_carry[n], dh_rec[n], dy[n], h_prev[n], un[n]
        for j in range(H):
            r, z, nj = gr[j], gz[j], gn[j]
            dh_t = dc[j] + dr_[j] + dyn[j]
            d_an = dh_t * (one - z) * (one - nj * nj)
            d_az = dh_t * (hp[j] - nj) * z * (one - z)
            d_ar = d_an * u_n[j] * r * (one - r)
            ar[j], az[j], an[j] = d_ar, d_az, d_an
            ur[j], uz[j], un_[j] = d_ar, d_az, d_an * r
            dc[j] = dh_t * z


def gru_backward_numpy(dh_carry, dh_rec, dy, h_prev, gates, un, da, du):
    H = h_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dh_t = dh_carry + dh_rec
    dh_t += dy
    d_an = da[:, 2 * H:]
    np.multiply(dh_t, 1 - z, out=d_an)
    d_an *= 1 - n * n
    np.subtract(h_prev, n, out=da[:, H:2 * H])
    da[:, H:2 * H] *= dh_t
    da[:, H:2 * H] *= z * (1 - z)
    np.multiply(d_an, un, out=da[:, :H])
    da[:, :H] *= r * (1 - r)
    du[:, :2 * H] = da[:, :2 * H]
    np.multiply(d_an, r, out=du[:, 2 * H:])
    np.multiply(dh_t, z, out=dh_carry)


# --------------------------------------------------------------------------- GRU, reset before

@jit
def gru_reset_update_forward_numba(ax, ah_rz, h_prev, gates, rh):
    """First half of a reset-before GRU step: r|z = sigma(ax_rz + ah_rz) into gates[:, :2H]
    (ax (b, 3H), ah_rz = h_{t-1} W_h[rz]^T (b, 2H)), and rh = r * h_prev (b, H)."""
    N, H = h_prev.shape
    for n in range(N):
        xr, xz, hr, hz = ax[n, :H], ax[n, H:2 * H], ah_rz[n, :H], ah_rz[n, H:]
        gr, gz, hp, rhn = gates[n, :H], gates[n, H:2 * H], h_prev[n], rh[n]
        for j in range(H):
            r = _sigmoid(xr[j] + hr[j])
            gr[j], gz[j] = r, _sigmoid(xz[j] + hz[j])
            rhn[j] = r * hp[j]


def gru_reset_update_forward_numpy(ax, ah_rz, h_prev, gates, rh):
    H = h_prev.shape[1]
    np.add(ax[:, :2 * H], ah_rz, out=gates[:, :2 * H])
    _np_sigmoid(gates[:, :2 * H], gates[:, :2 * H])
    np.multiply(gates[:, :H], h_prev, out=rh)


@jit
def gru_candidate_forward_numba(ax, ah_n, h_prev, gates, h):
    """Second half: n = tanh(ax_n + ah_n) with ah_n = (r h_{t-1}) W_hn^T (b, H), into
    gates[:, 2H:]; h = (1 - z) n + z h_prev."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        xn, gz, gn, a_n, hp, hn = ax[n, 2 * H:], gates[n, H:2 * H], gates[n, 2 * H:], ah_n[n], h_prev[n], h[n]
        for j in range(H):
            nj = _tanh(xn[j] + a_n[j])
            z = gz[j]
            gn[j] = nj
            hn[j] = (one - z) * nj + z * hp[j]


def gru_candidate_forward_numpy(ax, ah_n, h_prev, gates, h):
    H = h.shape[1]
    z, n = gates[:, H:2 * H], gates[:, 2 * H:]
    np.add(ax[:, 2 * H:], ah_n, out=n)
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n


@jit
def gru_candidate_backward_numba(dh_carry, dh_rec, dy, h_prev, gates, da):
    """First half of a reset-before GRU step backwards: dh_t = dh_carry + dh_rec + dy;
    writes da[:, H:] = d(pre-activations) of z and n, and dh_carry = dh_t z."""
    N, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for n in range(N):
        gz, gn, az, an = gates[n, H:2 * H], gates[n, 2 * H:], da[n, H:2 * H], da[n, 2 * H:]
        dc, dr_, dyn, hp = dh_carry[n], dh_rec[n], dy[n], h_prev[n]
        for j in range(H):
            z, nj = gz[j], gn[j]
            dh_t = dc[j] + dr_[j] + dyn[j]
            an[j] = dh_t * (one - z) * (one - nj * nj)
            az[j] = dh_t * (hp[j] - nj) * z * (one - z)
            dc[j] = dh_t * z


def gru_candidate_backward_numpy(dh_carry, dh_rec, dy, h_prev, gates, da):
    H = h_prev.shape[1]
    z, n = gates[:, H:2 * H], gates[:, 2 * H:]
    dh_t = dh_carry + dh_rec
    dh_t += dy
    np.multiply(dh_t, 1 - z, out=da[:, 2 * H:])
    da[:, 2 * H:] *= 1 - n * n
    np.subtract(h_prev, n, out=da[:, H:2 * H])
    da[:, H:2 * H] *= dh_t
    da[:, H:2 * H] *= z * (1 - z)
    np.multiply(dh_t, z, out=dh_carry)


@jit
def gru_reset_backward_numba(d_rh, h_prev, gates, da, dh_carry):
    """Second half: from d_rh = da_n W_hn (the gradient of r * h_prev), da[:, :H] =
    d_rh h_prev r (1 - r) (the reset gate's pre-activation) and dh_carry += d_rh r."""
    N, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for n in range(N):
        gr, ar, d, hp, dc = gates[n, :H], da[n, :H], d_rh[n], h_prev[n], dh_carry[n]
        for j in range(H):
            r = gr[j]
            ar[j] = d[j] * hp[j] * r * (one - r)
            dc[j] += d[j] * r


def gru_reset_backward_numpy(d_rh, h_prev, gates, da, dh_carry):
    H = h_prev.shape[1]
    r = gates[:, :H]
    np.multiply(d_rh, h_prev, out=da[:, :H])
    da[:, :H] *= r * (1 - r)
    dh_carry += d_rh * r


# --------------------------------------------------------------------------- the backend's pick

_module = globals()
for _name in KERNELS:
    _module[_name] = pick(_module[_name + "_numba"], _module[_name + "_numpy"])
del _module, _name
