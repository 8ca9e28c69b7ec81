"""Shape and indexing: reshape, permute, expand, indexing, cat, stack, where, pad."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import layout as stored
from ._broadcast import unbroadcast


class Reshape(Function):
    """y = x viewed with another shape (same elements, same order)."""

    def forward(self, x, shape):
        self.shape = x.shape
        self.storage = stored.storage_of(x)            # dx is handed back stored as x was
        return x.reshape(shape)

    def backward(self, dy):
        # reshaping is a relabelling: undo it
        return stored.store_like(dy.reshape(self.shape), self.storage)


class Permute(Function):
    """y = x with its axes reordered; transpose is the two-axis case."""

    def forward(self, x, dims):
        self.inverse = tuple(int(i) for i in xp.argsort(dims))
        return x.transpose(dims)

    def backward(self, dy):
        return dy.transpose(self.inverse)  # the adjoint of a permutation is its inverse


class Expand(Function):
    """y = x broadcast to ``shape`` (a view, no copy)."""

    def forward(self, x, shape):
        self.shape = x.shape
        return xp.broadcast_to(x, shape)

    def backward(self, dy):
        return unbroadcast(dy, self.shape)


def _is_basic(index) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis (no repeated elements)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(Function):
    """y = x[index] for basic and advanced (integer-array, boolean) indices."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        self.storage = stored.storage_of(x)            # dx is handed back stored as x was
        return x[index]

    def backward(self, dy):
        # each y element is one x element: scatter dy back to where it came from,
        # adding where an integer index picks the same element more than once
        dx = stored.zeros_stored_like(self.shape, self.dtype, self.storage)
        if _is_basic(self.index):
            dx[self.index] = dy
        else:
            xp.add.at(dx, self.index, dy)
        return dx


class Cat(Function):
    """y = the inputs joined along ``dim``."""

    def forward(self, *xs, dim=0):
        self.dim = dim
        self.bounds = xp.cumsum([x.shape[dim] for x in xs])[:-1]
        return xp.concatenate(xs, axis=dim)

    def backward(self, dy):
        return tuple(xp.split(dy, self.bounds, axis=self.dim))


class Stack(Function):
    """y = the inputs stacked along a new axis ``dim``."""

    def forward(self, *xs, dim=0):
        self.dim = dim
        return xp.stack(xs, axis=dim)

    def backward(self, dy):
        return tuple(xp.moveaxis(dy, self.dim, 0))


class Where(Function):
    """y = a where cond else b (cond carries no gradient)."""

    def forward(self, cond, a, b):
        self.cond, self.a_shape, self.b_shape = cond, a.shape, b.shape
        return xp.where(cond, a, b)

    def backward(self, dy):
        zero = xp.zeros((), dy.dtype)
        da = unbroadcast(xp.where(self.cond, dy, zero), self.a_shape) if self.needs_input_grad[1] else None
        db = unbroadcast(xp.where(self.cond, zero, dy), self.b_shape) if self.needs_input_grad[2] else None
        return None, da, db


_NUMPY_PAD_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Function):
    """y = x padded on its last dims; ``pad`` is torch's (left, right, top, bottom, ...) tuple.

    A negative width crops instead (constant mode, as torch): y = x[crop] padded by the
    positive widths.
    """

    def forward(self, x, pad, mode="constant", value=0.0):
        widths, crop = [(0, 0)] * x.ndim, [slice(None)] * x.ndim
        for i in range(len(pad) // 2):
            axis, (lo, hi) = x.ndim - 1 - i, (pad[2 * i], pad[2 * i + 1])
            widths[axis] = (max(lo, 0), max(hi, 0))
            crop[axis] = slice(max(-lo, 0), x.shape[axis] - max(-hi, 0))
        self.crop, self.in_shape = tuple(crop), x.shape
        x = x[self.crop]
        self.widths, self.mode, self.shape = widths, mode, x.shape
        if mode == "constant":
            return xp.pad(x, widths, mode="constant", constant_values=value)
        return xp.pad(x, widths, mode=_NUMPY_PAD_MODE[mode])

    def backward(self, dy):
        if self.mode == "constant":
            # constant padding only adds new entries: the gradient is the un-padded window
            dx = dy[tuple(slice(lo, lo + n) for (lo, _), n in zip(self.widths, self.shape))].copy()
        else:
            # reflect / replicate / circular copy input entries into the border: sum each copy's
            # gradient back onto its source by pushing a running index map through the same padding
            n = 1
            for s in self.shape:
                n *= s
            source = xp.pad(xp.arange(n).reshape(self.shape), self.widths, mode=_NUMPY_PAD_MODE[self.mode])
            dx = xp.bincount(source.ravel(), weights=dy.ravel(), minlength=n).reshape(self.shape)
            dx = dx.astype(dy.dtype, copy=False)
        if self.shape != self.in_shape:   # cropped entries did not reach y: zero gradient
            full = xp.zeros(self.in_shape, dy.dtype)
            full[self.crop] = dx
            dx = full
        return dx
