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
  ``h_{t-1} W_hh^T`` produce, so the GEMMs write them with no copy. The LSTM's and the
  (reset-after) GRU's forward kernels take the input side in ``gates`` and overwrite it
  with the activated gates (one buffer, so each step reads and writes the same memory).
* How the activated gates sit in ``gates`` is each twin's own business (only the same
  twin's backward reads them; ``stored_gates`` gives them back as rows in torch's order):
  the compiled kernels keep the rows; the NumPy twins store G contiguous (b, H) blocks,
  gate-major, because NumPy's elementwise calls run several times faster on contiguous
  blocks than on the column slices of a row. The gradients the GEMMs read (``dz``, ``da``,
  ``du``) are rows in both.
* Inside a compiled kernel each gate is a 1-D slice of its row (``a[n, H:2*H]``) and the
  inner loop runs over j < H on those slices: indexing the gates with a stride inside one
  loop made LLVM fall back to scalar code, silently (only timing shows it; the speed
  guard in the tests catches it).
* Kernels write into arrays the caller owns (``out`` arguments, named after the math:
  ``gates``, ``c``, ``h``, ``dz``); the compiled ones allocate nothing per step (the NumPy
  twins allocate their hot gate blocks).
* The products over the whole sequence, ``project_steps`` (x_t W_ih^T + b for every t) and
  ``sum_over_steps`` (every weight and bias gradient summed over t), are one BLAS product
  each under both backends (nothing to compile): the bias rides in the product as a column
  of ones appended to the inputs (to x when they are narrower than half the gates, which
  saves a pass over the (T*N, G*H) result; always in the gradients' sum, which stacks
  [x | h | 1] anyway).

Numerics:

* sigma(a) is computed as (1 + tanh(a/2)) / 2, which never overflows (no exp of a large
  argument), so a saturated gate gives exactly 0 or 1 and no warning.
* tanh in the compiled kernels: libm's ``tanh`` is a scalar call that costs more than the
  whole step's arithmetic, so float32 uses a rational minimax approximation (odd degree-13
  numerator over even degree-6 denominator, the coefficients of Eigen's
  ``generic_fast_tanh_float``; abs. error < 4e-7, about 3 float32 ulps near 1) that LLVM
  vectorises; float64 uses tanh(|a|) = (1 - e) / (1 + e), e = exp(-2|a|) (abs. error
  ~1e-16, exact enough for float64 gradient checks). The NumPy twins call ``np.tanh``, and
  the LSTM's and GRU's take sigma(a) = 1 / (1 + exp(-a)) (``np.exp`` is vectorised where
  ``np.tanh`` may not be; exp's overflow and underflow give exactly 0 and 1, silenced).
* Loops are serial and compiled with NumPy's error model (a division otherwise stays
  scalar). Of ``fastmath`` they take contraction only (``_CONTRACT``): a * b + c as one
  fused multiply-add, rounded once, so the rational tanh's chain of them runs faster and no
  less exact (the README's benchmark section has the figures); reassociation and
  approximate reciprocals stay off (the full set was slower).
"""
from __future__ import annotations

import math

import numpy as np

from . import BACKEND, jit, pick
from ..threads import use_blas

#: the one fast-math flag the step kernels take: a * b + c as one fused multiply-add (one
#: rounding instead of two, so no less exact; the rational tanh is a chain of them)
_CONTRACT = {"contract"}

__all__ = ["StepOrder", "project_steps", "sum_over_steps", "stored_gates",
           "rnn_tanh_forward", "rnn_tanh_backward", "rnn_relu_forward", "rnn_relu_backward",
           "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
           "gru_reset_update_forward", "gru_candidate_forward",
           "gru_candidate_backward", "gru_reset_backward"]

#: every kernel name; each has a ``_numba`` and a ``_numpy`` twin
KERNELS = tuple(__all__[4:])


# --------------------------------------------------------------------------- step order

class StepOrder:
    """The map between the caller's (T, N, ...) layout and the order the time loop walks.

    Without ``lengths`` the walk is the caller's order (reversed in time when
    ``reverse``). With ``lengths`` (N,) the batch is sorted by decreasing length, so
    ``sizes[t]`` (the number of sequences alive at step t) are the first rows; a reversed
    sequence is flipped within its own length, so it starts at its last valid step.
    """

    def __init__(self, T, N, lengths, reverse):
        use_blas()     # many short products, one per step: BLAS threads, not lanes (kernels/lanes.py)
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

    def gather_grad(self, dy):
        """``gather`` for the outputs' gradient, which only the step kernels read: the NumPy
        twins read strided rows as fast as contiguous ones, so under the NumPy backend a
        strided view (the gradient of a batch_first output) is passed on uncopied. It starts
        every backward pass, which takes BLAS threads back as the forward pass did."""
        use_blas()
        if self.order is None and BACKEND != "numba":
            return dy[::-1] if self.reverse else dy
        return self.gather(dy)

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


# --------------------------------------------------------------------------- every step at once

def _folds_bias(I, GH):
    """Whether the bias rides in the matrix product as a column of ones appended to the inputs:
    that copies the (T*N, I) inputs once to save a pass over the (T*N, G*H) result, which pays
    when the inputs are the narrower of the two."""
    return I < GH // 2


def _with_ones(X2):
    """[X | 1]: the (rows, I) inputs with a column of ones appended, (rows, I + 1)."""
    rows, I = X2.shape
    X1 = np.empty((rows, I + 1), X2.dtype)
    X1[:, :I] = X2
    X1[:, I] = 1
    return X1


def project_steps(X, W, b=None):
    """A_t = X_t W^T + b for every step t: (T, N, I) -> (T, N, G*H), one matrix product over
    the steps stacked as (T*N, I) rows (the input side of every step: it does not depend on
    h). With a bias and narrow inputs the bias is the product's last column, [X | 1] [W | b]^T.
    Checked through the primitives against reference.py's loops (test_recurrent_kernels.py)."""
    T, N, I = X.shape
    X2 = X.reshape(T * N, I)
    if b is None:
        A = X2 @ W.T
    elif _folds_bias(I, W.shape[0]):
        A = _with_ones(X2) @ np.concatenate([W, b[:, None]], axis=1).T
    else:
        A = X2 @ W.T
        A += b
    return A.reshape(T, N, -1)


def sum_over_steps(dA, inputs, bias=False):
    """([sum_t dA_t^T X_t for X in inputs], sum_t of dA_t's rows): the gradients of weights and a
    bias that every step shares, as ONE matrix product over the stacked steps,

        dA^T [X_1 | X_2 | ... | 1]      (T*N rows; the column of ones only when ``bias``)

    cut into its blocks: dA (T, N, GH), each X (T, N, I_k) or None (its gradient not wanted:
    None comes back). One product reads dA once for all the weights (an LSTM's W_ih, W_hh and
    bias together) and runs BLAS on a wider result than separate ones would.
    Checked against the per-step sums in ``tests/kernels/test_recurrent_kernels.py``."""
    T, N, GH = dA.shape
    wanted = [X for X in inputs if X is not None]
    widths = [X.shape[-1] for X in wanted]
    if not wanted and not bias:
        return [None] * len(inputs), None
    if len(wanted) == 1 and not bias:
        stacked = wanted[0].reshape(T * N, widths[0])
    else:
        stacked = np.empty((T * N, sum(widths) + bias), np.result_type(dA, *wanted))
        col = 0
        for X, width in zip(wanted, widths):
            stacked[:, col:col + width] = X.reshape(T * N, width)
            col += width
        if bias:
            stacked[:, col] = 1
    sums = dA.reshape(T * N, GH).T @ stacked                   # (GH, sum of widths [+ 1])
    grads, col = [], 0
    for X in inputs:
        if X is None:
            grads.append(None)
            continue
        width = X.shape[-1]
        grads.append(np.ascontiguousarray(sums[:, col:col + width]))
        col += width
    return grads, (sums[:, col].copy() if bias else None)


# --------------------------------------------------------------------------- scalar helpers

def _tanh_float32(a):
    """Rational approximation of tanh in float32 (Eigen's generic_fast_tanh_float)."""
    # tanh rounds to +-1 in float32 past |a| = 7.905; at 9.5 the ratio is just above 1 with
    # or without fused multiply-adds, so clamping there and then clamping the result to
    # [-1, 1] gives a saturated gate exactly 0 or 1 (a NaN fails every test and stays NaN)
    limit = np.float32(9.5)
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
    t = a * p / q
    one = np.float32(1)
    t = one if t > one else t
    return -one if t < -one else t


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

    @overload(_tanh, jit_options={"fastmath": _CONTRACT})
    def _tanh_typed(a):
        return _tanh_float32 if a == types.float32 else _tanh_float64

    @overload(_sigmoid, jit_options={"fastmath": _CONTRACT})
    def _sigmoid_typed(a):
        return _sigmoid_float32 if a == types.float32 else _sigmoid_float64


def _blocks(a, G):
    """A contiguous (b, G*H) step buffer seen as G contiguous (b, H) blocks, (G, b, H): the
    NumPy twins' gate-major layout. Always a view, never a copy that would drop the writes."""
    if not a.flags.c_contiguous:
        raise ValueError(f"recurrent kernels: expected a C-contiguous (b, {G}*H) buffer, got strides {a.strides}")
    b, GH = a.shape
    return a.reshape(G, b, GH // G)


def _gate_rows(a, G):
    """(b, G*H) rows of gates seen as (b, G, H), a[:, k] gate k of every row (a view whenever
    the rows are contiguous, which the callers' are; write only into such views)."""
    b, GH = a.shape
    return a.reshape(b, G, GH // G)


#: the NumPy twins' block order per cell: the sigmoid gates first, so they form one block
_BLOCK_ORDER = {"lstm": (0, 1, 2, 3), "gru": (0, 1, 2)}


def stored_gates_numba(gates, cell):
    """The activated gates a forward kernel stored, as (b, G*H) rows in torch's order (i|f|g|o
    or r|z|n): the compiled kernels store them so already."""
    return gates


def stored_gates_numpy(gates, cell):
    """As ``stored_gates_numba``, from the NumPy twins' gate-major blocks (a copy)."""
    order = _BLOCK_ORDER[cell]
    blocks = _blocks(gates, len(order))
    rows = np.empty_like(gates)
    for k, g in enumerate(order):
        _gate_rows(rows, len(order))[:, g] = blocks[k]
    return rows


def _np_sigmoid(a, out):
    """out = sigma(a) = (1 + tanh(a/2)) / 2, in NumPy (out may be a)."""
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _np_sigmoid_(a):
    """a = sigma(a) = 1 / (1 + exp(-a)) in place: NumPy's exp is vectorised where its tanh may
    not be (np.tanh costs about 1.6 np.exp here, float32). For a below about -88 (float32)
    exp(-a) overflows to inf and sigma is exactly 0, and for large a it underflows to 0 and
    sigma is exactly 1, as they should be: both are expected, so their warnings are silenced."""
    with np.errstate(over="ignore", under="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


# --------------------------------------------------------------------------- RNN

@jit(fastmath=_CONTRACT)
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


@jit(fastmath=_CONTRACT)
def rnn_tanh_backward_numba(dh, dy, h, dz):
    """dz = (dh + dy) * (1 - h^2): dh reaches h_t from step t+1, dy from the output y_t."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        dhn, dyn, hn, dzn = dh[n], dy[n], h[n], dz[n]
        for j in range(H):
            dzn[j] = (dhn[j] + dyn[j]) * (one - hn[j] * hn[j])


def rnn_tanh_backward_numpy(dh, dy, h, dz):
    np.multiply(h, h, out=dz)
    np.subtract(1, dz, out=dz)                  # 1 - h^2
    dz *= dh + dy


@jit(fastmath=_CONTRACT)
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


@jit(fastmath=_CONTRACT)
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

@jit(fastmath=_CONTRACT)
def lstm_forward_numba(ah, c_prev, gates, c, tanh_c, h):
    """One LSTM step. gates (b, 4H): in, the input side x_t W_ih^T + b of the pre-activations;
    out, the activated gates i|f|g|o (in place). ah = h_{t-1} W_hh^T (b, 4H). Writes
    c = f c_prev + i g, tanh_c = tanh(c), h = o tanh(c), each (b, H)."""
    N, H = c.shape
    for n in range(N):
        hi, hf, hg, ho = ah[n, :H], ah[n, H:2 * H], ah[n, 2 * H:3 * H], ah[n, 3 * H:]
        gi, gf, gg, go = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        cp, cn, tn, hn = c_prev[n], c[n], tanh_c[n], h[n]
        for j in range(H):
            i = _sigmoid(gi[j] + hi[j])
            f = _sigmoid(gf[j] + hf[j])
            g = _tanh(gg[j] + hg[j])
            o = _sigmoid(go[j] + ho[j])
            gi[j], gf[j], gg[j], go[j] = i, f, g, o
            cj = f * cp[j] + i * g
            tc = _tanh(cj)
            cn[j], tn[j], hn[j] = cj, tc, o * tc


def lstm_forward_numpy(ah, c_prev, gates, c, tanh_c, h):
    # the step's row of pre-activations is read once into hot gate-major blocks i|f|g|o
    # (NumPy's elementwise calls run several times faster on contiguous (b, H) blocks than on
    # the column slices of a (b, 4H) row), and the activated blocks are written back over it
    b, H = c.shape
    z = np.empty((4, b, H), gates.dtype)
    np.add(_gate_rows(gates, 4), _gate_rows(ah, 4), out=z.transpose(1, 0, 2))   # in the rows' order
    _np_sigmoid_(z[:2])                          # i, f
    _np_sigmoid_(z[3])                           # o
    np.tanh(z[2], out=z[2])                      # g
    i, f, g, o = z
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=tanh_c)                # i g, for now
    c += tanh_c
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)
    _blocks(gates, 4)[...] = z


@jit(fastmath=_CONTRACT)
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
    # in the forward twin's blocks i|f|g|o (contiguous (b, H) each), then one copy into dz's
    # rows, which the matrix products read
    i, f, g, o = _blocks(gates, 4)
    D = np.empty(gates.size, gates.dtype).reshape(4, *tanh_c.shape)     # di|df|dg|do
    di, df, dg, do = D
    np.add(dh, dy, out=dg)                       # dh_t, held in dg for now
    np.multiply(dg, tanh_c, out=do)              # do = dh_t tanh(c_t)
    dg *= o
    np.multiply(tanh_c, tanh_c, out=di)
    np.subtract(1, di, out=di)
    dg *= di
    dc += dg                                     # dc_t = dc + dh_t o (1 - tanh(c_t)^2)
    np.multiply(dc, g, out=di)
    np.multiply(dc, c_prev, out=df)
    np.multiply(dc, i, out=dg)
    dc *= f                                      # dc_{t-1}
    tmp = np.empty_like(dc)                      # through the activations, gate by gate
    for d, s in ((di, i), (df, f), (do, o)):
        np.subtract(1, s, out=tmp)
        tmp *= s
        d *= tmp                                 # sigmoid: s (1 - s)
    np.multiply(g, g, out=tmp)
    np.subtract(1, tmp, out=tmp)
    dg *= tmp                                    # tanh: 1 - g^2
    _gate_rows(_blocks(dz, 1)[0], 4).transpose(1, 0, 2)[...] = D     # (read in D's order: faster)


# --------------------------------------------------------------------------- GRU, reset after

@jit(fastmath=_CONTRACT)
def gru_forward_numba(ah, b_hn, h_prev, gates, un, h):
    """One GRU step, torch's form. gates (b, 3H): in, the input side x_t W_ih^T + b_ih (+ b_hh
    for r, z); out, the gates r|z|n (in place). ah = h_{t-1} W_hh^T (b, 3H), b_hn (H,).
    Writes un = ah_n + b_hn and h = (1 - z) n + z h_prev, with n = tanh(ax_n + r un)."""
    N, H = h.shape
    one = h.dtype.type(1)
    for n in range(N):
        hr, hz, hn_ = ah[n, :H], ah[n, H:2 * H], ah[n, 2 * H:]
        gr, gz, gn = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:]
        hp, u_n, h_n = h_prev[n], un[n], h[n]
        for j in range(H):
            r = _sigmoid(gr[j] + hr[j])
            z = _sigmoid(gz[j] + hz[j])
            u = hn_[j] + b_hn[j]
            nj = _tanh(gn[j] + r * u)
            gr[j], gz[j], gn[j], u_n[j] = r, z, nj, u
            h_n[j] = (one - z) * nj + z * hp[j]


def gru_forward_numpy(ah, b_hn, h_prev, gates, un, h):
    # as lstm_forward_numpy: hot gate-major blocks r|z|n, written back over the row at the end
    b, H = h.shape
    g = np.empty((3, b, H), gates.dtype)
    rows, ah = _gate_rows(gates, 3), _gate_rows(ah, 3)
    np.add(rows[:, 0], ah[:, 0], out=g[0])
    np.add(rows[:, 1], ah[:, 1], out=g[1])
    _np_sigmoid_(g[:2])                          # r, z
    r, z, n = g
    np.add(ah[:, 2], b_hn, out=un)
    np.multiply(r, un, out=n)
    n += rows[:, 2]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)                # h = n + z (h_prev - n)
    h *= z
    h += n
    _blocks(gates, 3)[...] = g


@jit(fastmath=_CONTRACT)
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
    # in the forward twin's blocks r|z|n, then one copy into each of da's and du's rows
    blocks = _blocks(gates, 3)
    r, z, n = blocks
    D = np.empty(blocks.shape, gates.dtype)      # da_r|da_z|da_n
    d_ar, d_az, d_an = D
    tmp = np.empty_like(h_prev)
    dh_t = dh_carry + dh_rec
    dh_t += dy
    np.multiply(n, n, out=d_an)
    np.subtract(1, d_an, out=d_an)
    np.subtract(1, z, out=tmp)
    d_an *= tmp
    d_an *= dh_t                                 # da_n = dh_t (1 - z)(1 - n^2)
    np.multiply(d_an, un, out=d_ar)              # dr = da_n u_n
    np.subtract(h_prev, n, out=d_az)
    d_az *= dh_t                                 # dz = dh_t (h_{t-1} - n)
    for d, s in ((d_ar, r), (d_az, z)):
        np.subtract(1, s, out=tmp)
        tmp *= s
        d *= tmp                                 # through the sigmoids: s (1 - s)
    np.multiply(dh_t, z, out=dh_carry)
    _gate_rows(_blocks(da, 1)[0], 3).transpose(1, 0, 2)[...] = D     # (read in D's order: faster)
    du_rows = _gate_rows(_blocks(du, 1)[0], 3)
    du_rows[:, 0] = d_ar
    du_rows[:, 1] = d_az
    np.multiply(d_an, r, out=du_rows[:, 2])      # du_n = da_n r


# --------------------------------------------------------------------------- GRU, reset before

@jit(fastmath=_CONTRACT)
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


@jit(fastmath=_CONTRACT)
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


@jit(fastmath=_CONTRACT)
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


@jit(fastmath=_CONTRACT)
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
for _name in KERNELS + ("stored_gates",):
    _module[_name] = pick(_module[_name + "_numba"], _module[_name + "_numpy"])
del _module, _name
