"""How ``functions/activation.py``'s ReLU runs fast: one pass each way.

The math (checked against ``tests/functions/reference.py``: ``relu``, ``relu_backward``, in
``tests/kernels/test_cnn_kernels.py``):

    y = max(0, x)          dx = dy where y > 0, else 0 (0 at x == 0, as torch)

NumPy's backward is two passes and a temporary (the mask ``y > 0``, then the product); the
compiled twin is one pass over memory in whatever order y is stored (channel-major after a
convolution), writing dx in that order. Arrays that are not dense in one order, or dy and y
in different orders, take the NumPy twin.

ReLU and max pooling commute (max(0, max over a window) = max over the window of max(0, .)),
so conv -> ReLU -> pool could run ReLU on the pooled, four times smaller, tensor; a
define-by-run library only sees the calls in the order the model makes them, so glassnet
does not reorder them (a model author may write pool -> ReLU for the same numbers).
"""
from __future__ import annotations

from ..backend import xp
from . import jit, pick
from .layout import flat


# max(0, x) against a zero of x's own dtype: a Python 0 costs NumPy a promotion step per call,
# which shows at batch-1 sizes (and a 0-d zero of another dtype would promote the result).
_ZEROS = {xp.dtype(t): xp.zeros((), t) for t in (xp.float32, xp.float64)}


def relu_numpy(x):
    zero = _ZEROS.get(x.dtype)
    return xp.maximum(x, 0 if zero is None else zero)


def relu_backward_numpy(dy, y):
    return dy * (y > 0)


@jit
def _relu_flat(x, y):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        y[i] = v if v > zero or v != v else zero      # a NaN stays NaN, as np.maximum and torch


@jit
def _relu_backward_flat(dy, y, dx):
    zero = dy.dtype.type(0)
    for i in range(dy.size):
        dx[i] = dy[i] if y[i] > zero else zero


#: Below this many elements the forward takes NumPy's single call: there the compiled path's
#: layout checks and dispatch cost more than all of ``np.maximum`` (batch-1 inference's
#: activations); the backward's NumPy form is two passes and loses at every size.
SMALL = 1024


def relu_compiled(x):
    """y = max(0, x) in x's memory order, one compiled pass (NaN stays NaN, as np.maximum)."""
    if x.size < SMALL:
        return relu_numpy(x)
    out = xp.empty_like(x)
    xf, of = flat(x), flat(out)
    if xf is None or of is None or x.dtype.kind != "f":
        return relu_numpy(x)
    _relu_flat(xf, of)
    return out


def relu_backward_compiled(dy, y):
    """dx = dy * (y > 0) in one compiled pass, when dy and y share a dense memory order."""
    if dy.shape != y.shape or dy.strides != y.strides or dy.dtype != y.dtype:
        return relu_backward_numpy(dy, y)
    dx = xp.empty_like(dy)
    dyf, yf, dxf = flat(dy), flat(y), flat(dx)
    if dyf is None or yf is None or dxf is None or dy.dtype.kind != "f":
        return relu_backward_numpy(dy, y)
    _relu_backward_flat(dyf, yf, dxf)
    return dx


relu = pick(relu_compiled, relu_numpy)
relu_backward = pick(relu_backward_compiled, relu_backward_numpy)
