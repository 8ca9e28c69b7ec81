"""How ``functions/normalization.py``'s batch norm runs fast: per-channel sums and one affine pass.

The math (checked against ``tests/functions/reference.py``: ``batch_norm_train`` and
``batch_norm_backward``, and ``reference_cnn.batch_norm_eval``, in
``tests/kernels/test_cnn_kernels.py``), per channel c over the m values of (N, *):

    mu = sum(x) / m        var = sum((x - mu)^2) / m        (biased)
    y  = (x - mu) * scale + beta                             scale = gamma / sqrt(var + eps)
    dx = dy * scale - (x - mu) * k1 - k2                     k1, k2 per channel (see functions/)
    with the sums  sum(dy)  and  sum(dy * (x - mu))

The steps take and return ``centered``, the kernel's own record of x - mu: the NumPy twin
stores the array x - mu (the backward reads it, no subtraction again); the compiled twin
stores (x, mu) and subtracts on the fly inside its loops (no extra array written). Only the
functions in this module look inside it.

Compiled twin: for (N, C) inputs (batch norm after a Linear layer), two passes over x in
the forward (the sums, then y), two over dy in the backward (the sums, then dx), each a
loop over rows with the channels contiguous.

For (N, C, *) inputs (BatchNorm2d, BatchNorm1d on (N, C, L)) the compiled steps see x as
``layout.by_channel`` gives it, a view (A, C, B, L) of its memory whatever the order (C order
or a convolution's channel-major output: no copy), and sweep one channel at a time: the
channel's values are read from memory once and, for the variance's second pass, again
from cache. Sums run in float64 over a row of L partial sums (a row of independent
additions vectorises without reordering any one sum; a single running sum would not).
y and dx are written in x's order; a dy stored in another order is copied into x's
first. Short rows go elsewhere (see ``_kernel_view``); anything else (a strided view,
integer types) takes the NumPy twin.
"""
from __future__ import annotations

from ..backend import xp
from . import BACKEND, jit
from .layout import by_channel


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


# -- the NumPy twin -------------------------------------------------------------------------
def batch_stats_numpy(x):
    """(mu, var, centered) per channel over (N, *), mu and var shaped to broadcast against x."""
    axes = _axes(x)
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return mu, var, xc


def center_numpy(x, mu):
    """centered for a given (running) mean."""
    return x - mu


def affine_numpy(centered, scale, beta):
    """y = (x - mu) * scale + beta; beta may be None."""
    y = centered * scale
    if beta is not None:
        y += beta
    return y


def channel_sums_numpy(dy, centered):
    """(sum(dy), sum(dy * (x - mu))) per channel, shaped to broadcast."""
    axes = _axes(dy)
    return dy.sum(axis=axes, keepdims=True), (dy * centered).sum(axis=axes, keepdims=True)


def input_grad_numpy(dy, centered, scale, k1, k2):
    """dx = dy * scale - (x - mu) * k1 - k2 (k1, k2 None: dx = dy * scale)."""
    dx = dy * scale
    if k1 is not None:
        dx -= centered * k1
        dx -= k2
    return dx


# -- the compiled twin, (N, C) inputs -------------------------------------------------------
@jit
def _stats_2d(x, mu, var):
    N, C = x.shape
    for c in range(C):
        mu[c] = 0
        var[c] = 0
    for n in range(N):
        for c in range(C):
            mu[c] += x[n, c]
    for c in range(C):
        mu[c] /= N
    for n in range(N):
        for c in range(C):
            d = x[n, c] - mu[c]
            var[c] += d * d
    for c in range(C):
        var[c] /= N


@jit
def _affine_2d(x, mu, scale, beta, y):
    N, C = x.shape
    for n in range(N):
        for c in range(C):
            y[n, c] = (x[n, c] - mu[c]) * scale[c] + beta[c]


@jit
def _sums_2d(dy, x, mu, s1, s2):
    N, C = x.shape
    for c in range(C):
        s1[c] = 0
        s2[c] = 0
    for n in range(N):
        for c in range(C):
            d = dy[n, c]
            s1[c] += d
            s2[c] += d * (x[n, c] - mu[c])


@jit
def _input_grad_2d(dy, x, mu, scale, k1, k2, dx):
    N, C = x.shape
    for n in range(N):
        for c in range(C):
            dx[n, c] = dy[n, c] * scale[c] - (x[n, c] - mu[c]) * k1[c] - k2[c]


# -- the compiled twin, (N, C, *) inputs seen as (A, C, B, L) -----------------------------
@jit
def _stats_nd(x, mu, var):
    """mu[c], var[c] = mean and biased variance of x[:, c] (two passes, float64 sums)."""
    A, C, B, L = x.shape
    m = A * B * L
    row = xp.empty(L, xp.float64)
    for c in range(C):
        row[:] = 0.0
        for a in range(A):
            for b in range(B):
                for i in range(L):
                    row[i] += x[a, c, b, i]
        mean = row.sum() / m
        row[:] = 0.0
        for a in range(A):
            for b in range(B):
                for i in range(L):
                    d = x[a, c, b, i] - mean
                    row[i] += d * d
        mu[c] = mean
        var[c] = row.sum() / m


@jit
def _affine_nd(x, mu, scale, beta, y):
    A, C, B, L = x.shape
    for a in range(A):
        for c in range(C):
            m, s, t = mu[c], scale[c], beta[c]
            for b in range(B):
                for i in range(L):
                    y[a, c, b, i] = (x[a, c, b, i] - m) * s + t


@jit
def _sums_nd(dy, x, mu, s1, s2):
    """s1[c] = sum(dy[:, c]), s2[c] = sum(dy[:, c] * (x[:, c] - mu[c])), float64 sums."""
    A, C, B, L = x.shape
    r1 = xp.empty(L, xp.float64)
    r2 = xp.empty(L, xp.float64)
    for c in range(C):
        r1[:] = 0.0
        r2[:] = 0.0
        m = mu[c]
        for a in range(A):
            for b in range(B):
                for i in range(L):
                    d = dy[a, c, b, i]
                    r1[i] += d
                    r2[i] += d * (x[a, c, b, i] - m)
        s1[c] = r1.sum()
        s2[c] = r2.sum()


@jit
def _input_grad_nd(dy, x, mu, scale, k1, k2, dx):
    A, C, B, L = x.shape
    for a in range(A):
        for c in range(C):
            m, s, p, q = mu[c], scale[c], k1[c], k2[c]
            for b in range(B):
                for i in range(L):
                    dx[a, c, b, i] = dy[a, c, b, i] * s - (x[a, c, b, i] - m) * p - q


def _kernel_view(a):
    """How the compiled steps see a: ("rows", an (N, C) view) for the row kernels,
    ("channels", an (A, C, B, L) view) for the channel sweeps, or None (the NumPy twin).

    The channel sweeps read rows of L contiguous values per channel; with short rows (L < 8)
    and a C-ordered a, consecutive values of one channel sit C*L apart and the sweep crawled
    (a (256, 512, 1) input ran 16x slower than NumPy: at a 2 KiB stride the cache sets
    collide). So (N, C, 1...) inputs take the row kernels, a channel-major one sweeps each
    channel's contiguous block as one row, and other short rows keep the NumPy twin.
    """
    if a.dtype.kind != "f":
        return None
    if a.ndim == 2:
        return ("rows", a) if a.flags.c_contiguous else None
    v = by_channel(a)
    if v is None:
        return None
    A, C, B, L = v.shape
    if L >= 8:
        return "channels", v
    if A == 1:
        return "channels", v.reshape(1, C, 1, B * L)
    if B * L == 1:
        return "rows", v.reshape(A, C)
    return None


def _channels(v, C, dtype):
    """A per-channel value (broadcastable (1, C, ...) array or None) as a contiguous (C,) vector."""
    if v is None:
        return xp.zeros(C, dtype)
    return xp.ascontiguousarray(v.reshape(C), dtype=dtype)


def _like(dy, x):
    """dy's kernel view matching x's: of dy itself when stored in x's order, else of a copy
    of dy stored that way."""
    if dy.strides != x.strides:
        stored = xp.empty_like(x)
        stored[...] = dy
        dy = stored
    return _kernel_view(dy)[1]


def batch_stats_compiled(x):
    seen = _kernel_view(x)
    if seen is None:
        return batch_stats_numpy(x)
    kind, v = seen
    C = x.shape[1]
    mu, var = xp.empty(C, x.dtype), xp.empty(C, x.dtype)
    (_stats_2d if kind == "rows" else _stats_nd)(v, mu, var)
    bshape = (1, C) + (1,) * (x.ndim - 2)
    mu, var = mu.reshape(bshape), var.reshape(bshape)
    return mu, var, (x, mu)


def center_compiled(x, mu):
    return (x, mu) if _kernel_view(x) is not None else center_numpy(x, mu)


def affine_compiled(centered, scale, beta):
    if not isinstance(centered, tuple):
        return affine_numpy(centered, scale, beta)
    x, mu = centered
    C = x.shape[1]
    y = xp.empty_like(x)                           # in x's order
    kind, v = _kernel_view(x)
    args = (_channels(mu, C, x.dtype), _channels(scale, C, x.dtype), _channels(beta, C, x.dtype))
    (_affine_2d if kind == "rows" else _affine_nd)(v, *args, _kernel_view(y)[1])
    return y


def channel_sums_compiled(dy, centered):
    if not isinstance(centered, tuple):
        return channel_sums_numpy(dy, centered)
    x, mu = centered
    C = x.shape[1]
    s1, s2 = xp.empty(C, dy.dtype), xp.empty(C, dy.dtype)
    kind, v = _kernel_view(x)
    (_sums_2d if kind == "rows" else _sums_nd)(_like(dy, x), v, _channels(mu, C, x.dtype), s1, s2)
    bshape = (1, C) + (1,) * (x.ndim - 2)
    return s1.reshape(bshape), s2.reshape(bshape)


def input_grad_compiled(dy, centered, scale, k1, k2):
    if not isinstance(centered, tuple):
        return input_grad_numpy(dy, centered, scale, k1, k2)
    x, mu = centered
    C = x.shape[1]
    args = (_channels(mu, C, x.dtype), _channels(scale, C, x.dtype), _channels(k1, C, x.dtype),
            _channels(k2, C, x.dtype))
    dx = xp.empty_like(x)                          # in x's order: the gradient goes back as x came
    kind, v = _kernel_view(x)
    (_input_grad_2d if kind == "rows" else _input_grad_nd)(_like(dy, x), v, *args, _kernel_view(dx)[1])
    return dx


if BACKEND == "numba":
    batch_stats, center, affine = batch_stats_compiled, center_compiled, affine_compiled
    channel_sums, input_grad = channel_sums_compiled, input_grad_compiled
else:
    batch_stats, center, affine = batch_stats_numpy, center_numpy, affine_numpy
    channel_sums, input_grad = channel_sums_numpy, input_grad_numpy
