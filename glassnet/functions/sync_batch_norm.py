"""Batch normalisation whose statistics span every rank's batch (SyncBatchNorm's primitive).

Rank r holds n_r of the N = sum_r n_r values per channel. Forward: each rank sends its
(n_r, mean_r, M2_r = sum (x - mean_r)^2) and every rank combines them (Chan's parallel
variance, exact in float64 and free of the cancellation of E[x^2] - E[x]^2):

    mu  = sum_r n_r mean_r / N
    var = sum_r (M2_r + n_r (mean_r - mu)^2) / N          (biased, for the normalisation)

Backward: with the losses of all ranks summed (DDP then averages the parameters'
gradients), dL/dx on rank r has the batch-norm form of ``normalization.BatchNorm`` with
the two per-channel sums taken over all N values, so they are all-reduced first:

    dx = gamma inv_std (dy - sum_all(dy) / N - xc inv_std^2 sum_all(dy xc) / N)
    dgamma = inv_std sum_local(dy xc)      dbeta = sum_local(dy)     (local: DDP sums them)

as torch's SyncBatchNorm (torch/nn/modules/_functions.py).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp


class SyncBatchNorm(Function):
    """x: (n_r, C, *) on each rank   gamma, beta: (C,) or None   ->   y: (n_r, C, *)

    ``gather(array) -> (world, *array.shape)`` and ``all_reduce(array) -> array`` (sum) are the
    collectives, passed in so that this file stays arrays in, arrays out.
    """

    def forward(self, x, gamma=None, beta=None, running_mean=None, running_var=None,
                momentum=0.1, eps=1e-5, gather=None, all_reduce=None):
        C = x.shape[1]
        self.axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, C) + (1,) * (x.ndim - 2)
        n = x.size // C if C else 0
        x64 = x.astype(xp.float64, copy=False)
        mean_r = x64.mean(axis=self.axes) if n else xp.zeros(C)
        m2_r = ((x64 - mean_r.reshape(bshape)) ** 2).sum(axis=self.axes)
        stats = gather(xp.concatenate([[float(n)], mean_r, m2_r]))       # (world, 1 + 2C)
        counts, means, m2s = stats[:, :1], stats[:, 1:1 + C], stats[:, 1 + C:]
        N = counts.sum()
        if N <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel across all ranks when "
                             f"training, got {int(N)}")
        mu = (counts * means).sum(axis=0) / N
        var = (m2s + counts * (means - mu) ** 2).sum(axis=0) / N
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mu).astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * var * (N / (N - 1))).astype(running_var.dtype)
        self.N, self.all_reduce = N, all_reduce
        self.xc = x - mu.astype(x.dtype).reshape(bshape)
        self.inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype).reshape(bshape)
        self.scale = self.inv_std if gamma is None else gamma.reshape(bshape) * self.inv_std
        y = self.xc * self.scale
        if beta is not None:
            y += beta.reshape(bshape)
        return y

    def backward(self, dy):
        xc, axes, inv_std, scale = self.xc, self.axes, self.inv_std, self.scale
        C = dy.shape[1]
        sum_dy = dy.sum(axis=axes, keepdims=True)              # local dL/dbeta
        sum_dy_xc = (dy * xc).sum(axis=axes, keepdims=True)    # local dL/dgamma / inv_std
        dx = dgamma = dbeta = None
        if self.needs_input_grad[0]:
            # the same two sums over every rank's values, in one message
            both = self.all_reduce(xp.concatenate([sum_dy.reshape(C), sum_dy_xc.reshape(C)]))
            all_dy = both[:C].reshape(sum_dy.shape).astype(dy.dtype)
            all_dy_xc = both[C:].reshape(sum_dy.shape).astype(dy.dtype)
            N = dy.dtype.type(self.N)
            dx = dy * scale
            dx -= xc * (scale * inv_std * inv_std * all_dy_xc / N)
            dx -= scale * all_dy / N
        if self.needs_input_grad[1]:
            dgamma = (inv_std * sum_dy_xc).reshape(C)
        if self.needs_input_grad[2]:
            dbeta = sum_dy.reshape(C)
        return dx, dgamma, dbeta, None, None
