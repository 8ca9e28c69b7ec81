"""Elementwise functions of one tensor: exp, log, sqrt, abs, clamp, sin, cos."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


class Exp(Function):
    """y = e^x"""

    def forward(self, x):
        self.y = xp.exp(x)
        return self.y

    def backward(self, dy):
        return dy * self.y  # d e^x / dx = e^x = y


class Log(Function):
    """y = ln x"""

    def forward(self, x):
        self.x = x
        return xp.log(x)

    def backward(self, dy):
        return dy / self.x  # d ln x / dx = 1/x


class Sqrt(Function):
    """y = sqrt(x)"""

    def forward(self, x):
        self.y = xp.sqrt(x)
        return self.y

    def backward(self, dy):
        return dy / (2 * self.y)  # d x^(1/2) / dx = 1 / (2 sqrt(x))


class Abs(Function):
    """y = |x|"""

    def forward(self, x):
        self.x = x
        return xp.abs(x)

    def backward(self, dy):
        return dy * xp.sign(self.x)  # d|x|/dx = sign(x), taken as 0 at 0 (as torch)


class Clamp(Function):
    """y = min(max(x, lo), hi)"""

    def forward(self, x, lo=None, hi=None):
        self.mask = xp.ones(x.shape, bool)
        if lo is not None:
            self.mask &= x >= lo
        if hi is not None:
            self.mask &= x <= hi
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, dy):
        return dy * self.mask  # slope 1 inside [lo, hi], 0 where clipped (bounds inclusive, as torch)


class Sin(Function):
    """y = sin x"""

    def forward(self, x):
        self.x = x
        return xp.sin(x)

    def backward(self, dy):
        return dy * xp.cos(self.x)


class Cos(Function):
    """y = cos x"""

    def forward(self, x):
        self.x = x
        return xp.cos(x)

    def backward(self, dy):
        return -dy * xp.sin(self.x)
