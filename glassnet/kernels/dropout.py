"""How ``functions/dropout.py`` runs fast: draw, compare, scale and mask in one pass each way.

The math (checked against ``tests/functions/reference_loss.py``: ``dropout``, in
``tests/kernels/test_dropout_kernels.py``), with u uniform 32-bit integers from glassnet's
generator (so ``gn.manual_seed`` fixes the mask, the same under both twins):

    keep_i = u_i >= p 2^32          (probability 1 - p, to 2^-32)
    y_i    = x_i keep_i / (1 - p)   (x_i * 0 where dropped, so a NaN input stays NaN, as torch)
    dx_i   = dy_i keep_i / (1 - p)

NumPy makes the boolean mask, the scaled float mask and the product in three passes and keeps
the float mask (4 bytes an element) for the backward. The compiled twin does the compare, the
scale and the product in one pass and keeps the mask as bytes; the backward is one pass.
Each twin's backward takes the mask its own forward returned. The compiled twin needs x in C
order (u is drawn in that order); other layouts, and masks broadcast over channels
(``Dropout2d``), take the NumPy twin.
"""
from __future__ import annotations

from ..backend import xp
from . import jit, pick

# Numba has no float16 arithmetic: other floating dtypes take the NumPy twin
_COMPILED_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def threshold(p: float):
    """p 2^32 as a uint32 (2^32 - 1 for p = 1, whose scale 0 drops everything anyway)."""
    return xp.uint32(min(round(p * 2.0 ** 32), 2 ** 32 - 1))


def scale_of(p: float) -> float:
    return 0.0 if p == 1 else 1.0 / (1.0 - p)


def dropout_numpy(x, u, p):
    """-> (y, mask for ``dropout_backward_numpy``); u uniform uint32 shaped like x or broadcast to it."""
    scaled_mask = (u >= threshold(p)) * x.dtype.type(scale_of(p))
    return x * scaled_mask, scaled_mask


def dropout_backward_numpy(dy, mask, p):
    return dy * mask if mask.dtype != xp.bool_ else dy * (mask * dy.dtype.type(scale_of(p)))


@jit
def _dropout_flat(x, u, thr, scale, y, keep):
    scale = x.dtype.type(scale)
    zero = x.dtype.type(0)
    for i in range(x.size):
        k = u[i] >= thr
        keep[i] = k
        y[i] = x[i] * (scale if k else zero)


@jit
def _dropout_backward_flat(dy, keep, scale, dx):
    scale = dy.dtype.type(scale)
    zero = dy.dtype.type(0)
    for i in range(dy.size):
        dx[i] = dy[i] * (scale if keep[i] else zero)


def dropout_compiled(x, u, p):
    """-> (y, keep as bool) in one compiled pass, when x is C-ordered and u has its shape."""
    if x.dtype not in _COMPILED_DTYPES or u.shape != x.shape or not x.flags.c_contiguous or not u.flags.c_contiguous:
        return dropout_numpy(x, u, p)
    y = xp.empty_like(x)
    keep = xp.empty(x.shape, xp.bool_)
    _dropout_flat(x.reshape(-1), u.reshape(-1), threshold(p), scale_of(p), y.reshape(-1), keep.reshape(-1))
    return y, keep


def dropout_backward_compiled(dy, mask, p):
    """dx = dy keep / (1 - p) in one compiled pass (for a bool mask from ``dropout_compiled``)."""
    if mask.dtype != xp.bool_ or dy.shape != mask.shape or dy.dtype not in _COMPILED_DTYPES:
        return dropout_backward_numpy(dy, mask, p)
    dy = xp.ascontiguousarray(dy)
    dx = xp.empty_like(dy)
    _dropout_backward_flat(dy.reshape(-1), mask.reshape(-1), scale_of(p), dx.reshape(-1))
    return dx


dropout = pick(dropout_compiled, dropout_numpy)
dropout_backward = pick(dropout_backward_compiled, dropout_backward_numpy)
