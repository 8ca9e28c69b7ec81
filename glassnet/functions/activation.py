"""Activation functions, each with its derivative written beside it."""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..backend import xp
from ..kernels import activation as kernels


class ReLU(Function):
    """y = max(0, x)"""

    def forward(self, x):
        self.y = kernels.relu(x)                 # max(0, x), one pass (kernels/activation.py)
        return self.y

    def backward(self, dy):
        # slope 1 where x > 0, else 0 (0 at x == 0, as torch): dx = dy * (y > 0)
        return kernels.relu_backward(dy, self.y)


class LeakyReLU(Function):
    """y = x if x > 0 else a x"""

    def forward(self, x, negative_slope=0.01):
        self.slope = xp.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, dy):
        return dy * self.slope  # slope 1 or a


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1)"""

    def forward(self, x, alpha=1.0):
        self.positive = x > 0
        self.negative_part = alpha * xp.expm1(xp.minimum(x, 0))  # alpha(e^x - 1), never overflowing
        self.alpha = alpha
        return xp.where(self.positive, x, self.negative_part)

    def backward(self, dy):
        # dy/dx = 1 for x > 0, alpha e^x = y + alpha for x <= 0
        return dy * xp.where(self.positive, 1, self.negative_part + self.alpha).astype(dy.dtype, copy=False)


def sigmoid(x):
    """1 / (1 + e^-x) without overflow for large |x| (uses e^x for x < 0)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)"""

    def forward(self, x):
        self.y = sigmoid(x)
        return self.y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)  # sigma' = sigma (1 - sigma)


class Tanh(Function):
    """y = tanh x"""

    def forward(self, x):
        self.y = xp.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y * self.y)  # tanh' = 1 - tanh^2


class Softplus(Function):
    """y = (1/beta) ln(1 + e^(beta x)), and y = x where beta x > threshold (as torch)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        bx = beta * x
        self.linear = bx > threshold
        # ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|): no overflow
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        self.sig = sigmoid(bx)
        return xp.where(self.linear, x, soft)

    def backward(self, dy):
        # d/dx (1/beta) ln(1 + e^(beta x)) = sigmoid(beta x); 1 on the linear part
        return dy * xp.where(self.linear, 1, self.sig).astype(dy.dtype, copy=False)


_erf = xp.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is exact (GELU is off the hot paths)


class GELU(Function):
    """y = x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses torch's tanh form."""

    def forward(self, x, approximate="none"):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            self.t = xp.tanh(k * (x + 0.044715 * x ** 3))
            return 0.5 * x * (1 + self.t)
        self.cdf = (0.5 * (1 + _erf(x / math.sqrt(2)).astype(x.dtype))).astype(x.dtype)
        return x * self.cdf

    def backward(self, dy):
        x = self.x
        if self.approximate == "tanh":
            # y = x/2 (1 + t), t = tanh(u), u = k (x + 0.044715 x^3)
            # dy/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2)
            k = math.sqrt(2 / math.pi)
            return dy * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t ** 2) * k * (1 + 3 * 0.044715 * x ** 2))
        # d/dx x Phi(x) = Phi(x) + x phi(x), phi the normal density
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return dy * (self.cdf + x * pdf)


class SiLU(Function):
    """y = x sigmoid(x)"""

    def forward(self, x):
        self.x, self.s = x, sigmoid(x)
        return x * self.s

    def backward(self, dy):
        # d/dx x s(x) = s + x s (1 - s)
        return dy * (self.s * (1 + self.x * (1 - self.s)))
