"""Reductions: sum, mean, max, min, var."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(d % ndim if ndim else 0 for d in dim)


def _expand_back(dy, shape, axes, keepdim):
    """Reinsert the reduced axes (size 1) so ``dy`` broadcasts against the input."""
    if not keepdim and shape:
        dy = xp.expand_dims(dy, axes)
    return dy


class Sum(Function):
    """y = sum_{i in dim} x_i"""

    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        return xp.asarray(x.sum(axis=self.axes, keepdims=keepdim))

    def backward(self, dy):
        # dy/dx_i = 1 for every summed element: broadcast dy back over the reduced axes
        dy = _expand_back(dy, self.shape, self.axes, self.keepdim)
        return xp.broadcast_to(dy, self.shape).copy()


class Mean(Function):
    """y = (1/n) sum_{i in dim} x_i"""

    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        self.n = 1
        for a in self.axes:
            self.n *= x.shape[a]
        return xp.asarray(x.mean(axis=self.axes, keepdims=keepdim))

    def backward(self, dy):
        # dy/dx_i = 1/n
        dy = _expand_back(dy, self.shape, self.axes, self.keepdim)
        return xp.broadcast_to(dy / self.n, self.shape).copy()


class Var(Function):
    """y = sum_i (x_i - mean)^2 / (n - correction)"""

    def forward(self, x, dim=None, keepdim=False, correction=1):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        n = 1
        for a in self.axes:
            n *= x.shape[a]
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        self.denominator = max(n - correction, 0)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.asarray((self.centered ** 2).sum(axis=self.axes, keepdims=keepdim) / self.denominator)

    def backward(self, dy):
        # dy/dx_i = 2 (x_i - mean) / (n - c); the mean's own dependence on x_i sums to zero
        dy = _expand_back(dy, self.shape, self.axes, self.keepdim)
        return (2 / self.denominator) * self.centered * dy


class MaxMin(Function):
    """y = max (or min) of x along ``dim``; with a dim it also returns the arg-max indices.

    Gradient: along a dim, it flows to the selected index only (as torch's ``max(dim)``);
    over the whole tensor, it is shared evenly among tied extremes (as torch's ``max()``).
    """

    def forward(self, x, dim=None, keepdim=False, largest=True):
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        if dim is None:
            y = x.max() if largest else x.min()
            self.mask = x == y
            return xp.asarray(y)
        dim = dim % x.ndim if x.ndim else 0
        self.dim = dim
        idx = xp.argmax(x, axis=dim, keepdims=True) if largest else xp.argmin(x, axis=dim, keepdims=True)
        y = xp.take_along_axis(x, idx, axis=dim)
        self.idx = idx
        if not keepdim:
            y, idx = xp.squeeze(y, dim), xp.squeeze(idx, dim)
        return y, idx.astype(xp.int64)

    def backward(self, dy, didx=None):
        if self.dim is None:
            return self.mask * (dy / self.mask.sum())
        if not self.keepdim:
            dy = xp.expand_dims(dy, self.dim)
        dx = xp.zeros(self.shape, dy.dtype)
        xp.put_along_axis(dx, self.idx, dy, axis=self.dim)
        return dx


class Extremum(Function):
    """y = max (or min) of x over the axes ``dim`` (an int or a tuple): torch's amax / amin.

    Unlike ``max(dim)`` there are no indices: the gradient is shared evenly among the
    entries tied for the extreme, dy / (number of ties), as torch's amax does.
    """

    def forward(self, x, dim=None, keepdim=False, largest=True):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        y = x.max(axis=self.axes, keepdims=True) if largest else x.min(axis=self.axes, keepdims=True)
        self.mask = x == y
        self.ties = self.mask.sum(axis=self.axes, keepdims=True)
        return y if keepdim else xp.asarray(xp.squeeze(y, self.axes))

    def backward(self, dy):
        # dy/dx_i = 1 / (number of ties) where x_i attains the extreme, else 0
        dy = _expand_back(dy, self.shape, self.axes, self.keepdim)
        return (self.mask * (dy / self.ties)).astype(dy.dtype, copy=False)


class LogSumExp(Function):
    """y = log sum_i exp(x_i), computed as m + log sum exp(x - m) with m = max x (no overflow)."""

    def forward(self, x, dim=None, keepdim=False):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.softmax = xp.exp(x - y)
        return y if keepdim else xp.asarray(xp.squeeze(y, self.axes))

    def backward(self, dy):
        # dy/dx_i = exp(x_i) / sum_j exp(x_j) = softmax(x)_i
        return _expand_back(dy, self.shape, self.axes, self.keepdim) * self.softmax
