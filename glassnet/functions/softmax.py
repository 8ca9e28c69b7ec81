"""Softmax and log-softmax along one dimension (log-sum-exp stabilised)."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


def log_softmax(x, dim):
    """x - logsumexp(x): subtract the max first so exp never overflows."""
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def softmax(x, dim):
    e = xp.exp(x - x.max(axis=dim, keepdims=True))
    e /= e.sum(axis=dim, keepdims=True)
    return e


class Softmax(Function):
    """y_i = e^(x_i) / sum_j e^(x_j)"""

    def forward(self, x, dim):
        self.dim = dim
        self.y = softmax(x, dim)
        return self.y

    def backward(self, dy):
        # dy_i/dx_j = y_i ([i == j] - y_j)  =>  dx = y * (dy - sum_i dy_i y_i)
        y = self.y
        return y * (dy - (dy * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - log sum_j e^(x_j)"""

    def forward(self, x, dim):
        self.dim = dim
        self.y = log_softmax(x, dim)
        return self.y

    def backward(self, dy):
        # dy_i/dx_j = [i == j] - softmax_j  =>  dx = dy - softmax * sum_i dy_i
        return dy - xp.exp(self.y) * dy.sum(axis=self.dim, keepdims=True)
