"""Elementwise arithmetic and matrix product, with broadcasting."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ._broadcast import unbroadcast


class Add(Function):
    """y = a + b"""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, dy):
        # dy/da = dy/db = 1: the gradient passes through, summed over broadcast axes
        da = unbroadcast(dy, self.a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dy, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Sub(Function):
    """y = a - b"""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, dy):
        # dy/da = 1, dy/db = -1
        da = unbroadcast(dy, self.a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-dy, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Mul(Function):
    """y = a * b"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, dy):
        # dy/da = b, dy/db = a
        da = unbroadcast(dy * self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dy * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, dy):
        # dy/da = 1/b, dy/db = -a/b^2
        da = unbroadcast(dy / self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-dy * self.a / (self.b * self.b), self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """y = a ** b"""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, dy):
        # dy/da = b a^(b-1);  dy/db = a^b ln a  (defined where a > 0; torch gives 0 where a == 0 and b >= 0)
        # a^0 is constant, so dy/da = 0 where b == 0, also at a == 0 where b a^(b-1) is 0 * inf (as torch)
        da = db = None
        if self.needs_input_grad[0]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                g = xp.where(self.b == 0, 0, dy * self.b * self.a ** (self.b - 1))
            da = unbroadcast(g.astype(dy.dtype, copy=False), self.a.shape)
        if self.needs_input_grad[1]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                log_a = xp.where(self.a > 0, xp.log(xp.where(self.a > 0, self.a, 1)), xp.nan)
                g = xp.where((self.a == 0) & (self.b >= 0), 0, dy * self.y * log_a)
            db = unbroadcast(g.astype(dy.dtype, copy=False), self.b.shape)
        return da, db


class Neg(Function):
    """y = -x"""

    def forward(self, x):
        return -x

    def backward(self, dy):
        return -dy


class MatMul(Function):
    """y = a @ b with NumPy's matmul rules (1-D promotion, batch broadcasting).

    a: (..., n, k)   b: (..., k, m)   ->   y: (..., n, m)
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, dy):
        # y[n,m] = sum_k a[n,k] b[k,m]  =>  da = dy @ b^T,  db = a^T @ dy  (summed over broadcast batch axes)
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a          # promote 1-D operands as matmul does
        b2 = b[:, None] if b.ndim == 1 else b
        dy2 = dy
        if b.ndim == 1:   # restore b's column axis first: for vector @ vector dy is 0-d
            dy2 = xp.expand_dims(dy2, -1)
        if a.ndim == 1:
            dy2 = xp.expand_dims(dy2, -2)
        da = db = None
        if self.needs_input_grad[0]:
            g = dy2 @ xp.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                g = g.reshape(g.shape[:-2] + (g.shape[-1],))
            da = unbroadcast(g, a.shape)
        if self.needs_input_grad[1]:
            g = xp.swapaxes(a2, -1, -2) @ dy2
            if b.ndim == 1:
                g = g.reshape(g.shape[:-1])
            db = unbroadcast(g, b.shape)
        return da, db
