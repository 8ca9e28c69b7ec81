"""The fused affine map y = x W^T + b, the building block of dense layers."""
from __future__ import annotations

from ..autograd.function import Function
from ..kernels.gemm import affine


class Linear(Function):
    """y = x @ W.T + b        x: (N, *, in)   W: (out, in)   b: (out,)   ->   y: (N, *, out)"""

    def forward(self, x, W, b=None):
        self.x, self.W = x, W
        return affine(x, W, b)          # y = x @ W.T + b   (kernels/gemm.py)

    def backward(self, dy):
        # y[n,j] = sum_i x[n,i] W[j,i] + b[j], so with dy = dL/dy:
        #   dL/dx[n,i] = sum_j dy[n,j] W[j,i]   ->  dx = dy @ W
        #   dL/dW[j,i] = sum_n dy[n,j] x[n,i]   ->  dW = dy.T @ x
        #   dL/db[j]   = sum_n dy[n,j]          ->  db = dy.sum(0)
        # (extra leading axes are flattened into n)
        x, W = self.x, self.W
        dx = dy @ W if self.needs_input_grad[0] else None
        dW = db = None
        if self.needs_input_grad[1] or self.needs_input_grad[2]:
            dy2 = dy.reshape(-1, dy.shape[-1])
            if self.needs_input_grad[1]:
                dW = dy2.T @ x.reshape(-1, x.shape[-1])
            if self.needs_input_grad[2]:
                db = dy2.sum(axis=0)
        return dx, dW, db
