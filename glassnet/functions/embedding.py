"""Embedding lookup: row selection from a table, and its scatter-add adjoint."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


class Embedding(Function):
    """y = W[idx]        idx: integer array (*)   W: (V, D)   ->   y: (*, D)

    ``padding_idx``: that row's gradient is kept at zero (torch's semantics).
    """

    def forward(self, idx, W, padding_idx=None):
        self.idx, self.shape, self.padding_idx = idx, W.shape, padding_idx
        return W[idx]

    def backward(self, dy):
        # y[p] = W[idx[p]]: each output row is one table row, so dW[v] = sum_{p: idx[p] = v} dy[p]
        # (a scatter-add: rows looked up several times collect every contribution)
        if not self.needs_input_grad[1]:
            return None, None
        V, D = self.shape
        idx, dy = self.idx.reshape(-1), dy.reshape(-1, D)
        if idx.size > 4 * V:     # many lookups into a small table: a one-hot GEMM beats add.at
            onehot = xp.zeros((idx.size, V), dy.dtype)
            onehot[xp.arange(idx.size), idx] = 1
            dW = onehot.T @ dy
        else:
            dW = xp.zeros((V, D), dy.dtype)
            xp.add.at(dW, idx, dy)
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0
        return None, dW
