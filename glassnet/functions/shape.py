"""Shape and indexing: reshape, permute, expand, indexing, cat, stack, where, pad."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ._broadcast import unbroadcast


class Reshape(Function):
    """y = x viewed with another shape (same elements, same order)."""

    def forward(self, x, shape):
        self.shape = x.shape
        # An input stored in another order than C's (a convolution's channel-major output) is
        # copied to be reshaped; its gradient goes back in that same memory order, so the
        # pooling and ReLU backward passes below see one layout (on mixed layouts NumPy
        # iterates in short rows: LeNet's second pooling backward ran 2x slower).
        self.order = None if x.flags.c_contiguous else _memory_order(x)
        return x.reshape(shape)

    def backward(self, dy):
        dx = dy.reshape(self.shape)  # reshaping is a relabelling: undo it
        if self.order is None:
            return dx
        out = xp.empty(tuple(self.shape[a] for a in self.order), dy.dtype).transpose(xp.argsort(self.order))
        out[...] = dx
        return out


def _memory_order(x):
    """x's axes from the largest stride to the smallest: the order its elements are stored in."""
    return tuple(int(a) for a in xp.argsort([-abs(s) for s in x.strides], kind="stable"))


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


def _axes_by_stride(x):
    """x's axes from the slowest-varying to the fastest in memory."""
    return tuple(sorted(range(x.ndim), key=lambda a: -abs(x.strides[a])))


class GetItem(Function):
    """y = x[index] for basic and advanced (integer-array, boolean) indices."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        # dx is laid out in x's axis order (a view's strides, e.g. a time-major LSTM output
        # seen batch-first), so whoever produced x reads its gradient the way it wrote x
        self.axes = None if x.flags.c_contiguous else _axes_by_stride(x)
        return x[index]

    def backward(self, dy):
        # each y element is one x element: scatter dy back to where it came from,
        # adding where an integer index picks the same element more than once
        if self.axes is None:
            dx = xp.zeros(self.shape, self.dtype)
        else:
            dx = xp.zeros([self.shape[a] for a in self.axes], self.dtype).transpose(xp.argsort(self.axes))
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
