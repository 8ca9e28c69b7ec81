"""Which memory order an activation is in, and flat views that follow it.

The rules themselves are written once in ``kernels/convolution.py``'s docstring: a
convolution returns its (N, C, H, W) output as a view of a channel-major (C, N, H, W)
array, element-wise ops keep that order, and every backward hands its gradient back in
its input's order. Compiled kernels loop over *planes*: they see an activation as a
contiguous (P, H, W) array of P = N*C image planes in whatever order memory holds them,
and write their outputs in that same order.
"""
from __future__ import annotations

from ..backend import xp


def is_channel_major(x) -> bool:
    """Whether x (N, C, H, W) is stored as (C, N, H, W), as convolution outputs are."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(1, 0, 2, 3).flags.c_contiguous


def describe(x):
    """(shape, channel_major): what a gradient for x must look like, for a backward pass
    that builds dx from scratch."""
    return tuple(x.shape), is_channel_major(x)


def as_planes(x):
    """(planes (P, H, W) contiguous, channel_major): x's image planes in memory order
    (a view when x is C-ordered or channel-major, else a C-ordered copy)."""
    if is_channel_major(x):
        t = x.transpose(1, 0, 2, 3)
        return t.reshape(-1, *x.shape[2:]), True
    x = xp.ascontiguousarray(x)
    return x.reshape(-1, *x.shape[2:]), False


def new_planes(N, C, H, W, dtype, channel_major, zero=False):
    """(array (N, C, H, W) laid out channel-major or not, its planes (P, H, W) view)."""
    make = xp.zeros if zero else xp.empty
    if channel_major:
        a = make((C, N, H, W), dtype)
        return a.transpose(1, 0, 2, 3), a.reshape(-1, H, W)
    a = make((N, C, H, W), dtype)
    return a, a.reshape(-1, H, W)


def flat(a):
    """A 1-d view of a dense array in memory order, or None when a is not dense."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim == 4 and a.transpose(1, 0, 2, 3).flags.c_contiguous:
        return a.transpose(1, 0, 2, 3).reshape(-1)
    if a.flags.f_contiguous:
        return a.T.reshape(-1)
    return None


# -- a gradient stored the way its input was -------------------------------------------------
# A primitive that relabels or picks from x (reshape, indexing) builds dx from dy; NumPy would
# hand it back C-ordered whatever order x was stored in. The backward pass that produced x
# (a pooling or ReLU after a convolution, an LSTM's time-major output seen batch-first) then
# meets two orders at once, and NumPy iterates mixed orders in short rows (LeNet's second
# pooling backward ran 2x slower). So these steps remember x's order and store dx in it.

def storage_of(x):
    """x's axes from the largest stride to the smallest (the order its elements are stored in),
    or None when x is C-ordered: what ``store_like`` and ``zeros_stored_like`` need."""
    if x.flags.c_contiguous:
        return None
    return tuple(sorted(range(x.ndim), key=lambda a: -abs(x.strides[a])))


def zeros_stored_like(shape, dtype, storage):
    """A zero array of ``shape`` stored in the axis order ``storage`` (None: C order)."""
    if storage is None:
        return xp.zeros(shape, dtype)
    return xp.zeros([shape[a] for a in storage], dtype).transpose(xp.argsort(storage))


def store_like(a, storage):
    """a's values in an array stored in the axis order ``storage`` (None: a itself)."""
    if storage is None:
        return a
    out = xp.empty(tuple(a.shape[i] for i in storage), a.dtype).transpose(xp.argsort(storage))
    out[...] = a
    return out


def by_channel(a):
    """a (N, C, *) as a C-ordered 4-d view (A, C, B, L) of its memory, channel c being
    [:, c, :, :]: (N, C, 1, L) when a is C-ordered, (1, C, N, L) when it is channel-major
    (L = the product of the trailing sizes). None when a is neither (no view exists)."""
    if a.ndim < 3:
        return None
    N, C = a.shape[:2]
    L = 1
    for n in a.shape[2:]:
        L *= n
    if a.flags.c_contiguous:
        return a.reshape(N, C, 1, L)
    if is_channel_major(a):
        return a.transpose(1, 0, 2, 3).reshape(1, C, N, L)
    return None
