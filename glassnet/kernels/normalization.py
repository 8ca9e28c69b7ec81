"""How ``functions/normalization.py``'s batch norm runs fast: per-channel sums and one affine pass.

The math (checked against ``tests/functions/reference.py``: ``batch_norm_train`` and
``batch_norm_backward``, in ``tests/kernels/test_normalization_kernels.py``), per channel c
over the m values of (N, *):

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
loop over rows with the channels contiguous. Other shapes take the NumPy twin.
"""
from __future__ import annotations

from ..backend import xp
from . import BACKEND, jit


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


def _compiled_ok(x):
    return x.ndim == 2 and x.flags.c_contiguous and x.dtype.kind == "f"


def batch_stats_compiled(x):
    if not _compiled_ok(x):
        return batch_stats_numpy(x)
    C = x.shape[1]
    mu, var = xp.empty(C, x.dtype), xp.empty(C, x.dtype)
    _stats_2d(x, mu, var)
    mu, var = mu.reshape(1, C), var.reshape(1, C)
    return mu, var, (x, mu)


def center_compiled(x, mu):
    return (x, mu) if _compiled_ok(x) else center_numpy(x, mu)


def affine_compiled(centered, scale, beta):
    if not isinstance(centered, tuple):
        return affine_numpy(centered, scale, beta)
    x, mu = centered
    C = x.shape[1]
    y = xp.empty_like(x)
    b = xp.zeros(C, x.dtype) if beta is None else beta.reshape(C).astype(x.dtype, copy=False)
    _affine_2d(x, mu.reshape(C).astype(x.dtype, copy=False), xp.ascontiguousarray(scale.reshape(C)), b, y)
    return y


def channel_sums_compiled(dy, centered):
    if not isinstance(centered, tuple) or not dy.flags.c_contiguous:
        return channel_sums_numpy(dy, _as_array(centered))
    x, mu = centered
    C = x.shape[1]
    s1, s2 = xp.empty(C, dy.dtype), xp.empty(C, dy.dtype)
    _sums_2d(dy, x, mu.reshape(C).astype(x.dtype, copy=False), s1, s2)
    return s1.reshape(1, C), s2.reshape(1, C)


def input_grad_compiled(dy, centered, scale, k1, k2):
    if not isinstance(centered, tuple) or not dy.flags.c_contiguous:
        return input_grad_numpy(dy, _as_array(centered), scale, k1, k2)
    x, mu = centered
    C = x.shape[1]
    zero = xp.zeros(C, dy.dtype)
    dx = xp.empty_like(dy)
    _input_grad_2d(dy, x, mu.reshape(C).astype(x.dtype, copy=False), xp.ascontiguousarray(scale.reshape(C)),
                   zero if k1 is None else xp.ascontiguousarray(k1.reshape(C)),
                   zero if k2 is None else xp.ascontiguousarray(k2.reshape(C)), dx)
    return dx


def _as_array(centered):
    """x - mu as an array, from either twin's record."""
    if isinstance(centered, tuple):
        x, mu = centered
        return x - mu
    return centered


if BACKEND == "numba":
    batch_stats, center, affine = batch_stats_compiled, center_compiled, affine_compiled
    channel_sums, input_grad = channel_sums_compiled, input_grad_compiled
else:
    batch_stats, center, affine = batch_stats_numpy, center_numpy, affine_numpy
    channel_sums, input_grad = channel_sums_numpy, input_grad_numpy
