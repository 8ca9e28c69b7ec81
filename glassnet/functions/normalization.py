"""Normalisation primitives: batch norm (statistics per channel) and layer norm (per sample).

Both standardise x with a mean and a variance and then apply a learned affine map:

    x_hat = (x - mu) / sqrt(var + eps)          y = gamma * x_hat + beta

(001_0ad103dc23bd7991.txt, "Batch normalization", writes z^N = ((z - m_z) / s_z) gamma + beta and
then says gamma and beta "shift the mean and standard deviation respectively": it is the other
way round, beta sets the output's mean and gamma its standard deviation, as its next line says.)

When mu and var are the statistics of x itself (batch norm in training, layer norm
always) they depend on x, and the backward has the well-known compact form derived
in :class:`BatchNorm.backward`. When they are constants (batch norm in eval mode,
using the running statistics) the layer is a per-channel affine map.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import normalization as kernels


def _standardize_backward(dx_hat, x_hat, inv_std, axes, m):
    """dL/dx given dL/dx_hat, for x_hat = (x - mean(x)) / sqrt(var(x) + eps) over ``axes`` (m values).

    With dx_hat = dL/dx_hat, and mu, var the mean and biased variance over the m values:
        dL/dvar = sum(dx_hat * (x - mu)) * -1/2 (var + eps)^(-3/2)
        dL/dmu  = -inv_std * sum(dx_hat)               (the dvar/dmu term is 0: sum(x - mu) = 0)
        dL/dx   = dx_hat * inv_std + dL/dvar * 2 (x - mu) / m + dL/dmu / m
    and writing (x - mu) = x_hat / inv_std the three terms collapse to
        dx = (1/m) * inv_std * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    """
    s1 = dx_hat.sum(axis=axes, keepdims=True)
    s2 = (dx_hat * x_hat).sum(axis=axes, keepdims=True)
    return (inv_std / m) * (m * dx_hat - s1 - x_hat * s2)


class BatchNorm(Function):
    """Batch normalisation over every axis except the channel axis 1.

    x: (N, C, *)   gamma, beta: (C,) or None   running_mean, running_var: (C,) or None
    ->  y: (N, C, *)

    training:  mu, var = mean and biased variance of x over (N, *) for each channel (m values),
               y = gamma * (x - mu) / sqrt(var + eps) + beta, and, in place, as torch:
                   running_mean <- (1 - momentum) * running_mean + momentum * mu
                   running_var  <- (1 - momentum) * running_var  + momentum * var * m / (m - 1)
               (the running variance is the unbiased estimate; the normalisation uses the biased one)
    eval:      the same map with mu, var = running_mean, running_var: y = x * scale + shift,
               a per-channel affine map.
    """

    def forward(self, x, gamma=None, beta=None, running_mean=None, running_var=None,
                training=False, momentum=0.1, eps=1e-5):
        C = x.shape[1]
        self.m = x.size // C if C else 0
        bshape = (1, C) + (1,) * (x.ndim - 2)         # per-channel values broadcast over N and *
        self.gamma = None if gamma is None else gamma.reshape(bshape)
        self.training = training
        if training:
            # mean and biased variance per channel; ``centered`` is the kernel's record of x - mu
            mu, var, self.centered = kernels.batch_stats(x)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mu.reshape(C).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var.reshape(C) * (self.m / (self.m - 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
        else:
            mu = running_mean.reshape(bshape).astype(x.dtype, copy=False)
            var = running_var.reshape(bshape).astype(x.dtype, copy=False)
            self.centered = kernels.center(x, mu)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
        # y = gamma x_hat + beta = (x - mu) * (gamma inv_std) + beta: one per-channel factor,
        # so one pass over x; x_hat itself is never stored (the backward works from x - mu)
        self.scale = self.inv_std if gamma is None else self.gamma * self.inv_std
        return kernels.affine(self.centered, self.scale, None if beta is None else beta.reshape(bshape))

    def backward(self, dy):
        inv_std, scale, m = self.inv_std, self.scale, self.m
        dx = dgamma = dbeta = None
        # per-channel sums over (N, *), computed once: they give dbeta and dgamma, and the
        # training-mode dx needs exactly these two. With x_hat = (x - mu) inv_std,
        # sum(dy x_hat) = inv_std sum(dy (x - mu)): the per-channel inv_std factors out.
        sum_dy, sum_dy_xc = kernels.channel_sums(dy, self.centered)   # sum(dy), sum(dy (x - mu))
        if self.needs_input_grad[0]:
            # eval mode: y = x * scale + const per channel, so dx = dy * scale. Training mode:
            # _standardize_backward with dx_hat = gamma dy (gamma factors out of both sums):
            #   dx = (gamma inv_std / m) (m dy - sum(dy) - x_hat sum(dy x_hat))
            #      = dy scale - (x - mu) (scale inv_std^2 / m) sum(dy (x - mu)) - (scale / m) sum(dy)
            k1 = scale * inv_std * inv_std * sum_dy_xc / m if self.training else None
            k2 = scale * sum_dy / m if self.training else None
            dx = kernels.input_grad(dy, self.centered, scale, k1, k2)
        C = dy.shape[1]
        if self.needs_input_grad[1]:
            dgamma = (inv_std * sum_dy_xc).reshape(C)    # dL/dgamma = sum(dy x_hat)
        if self.needs_input_grad[2]:
            dbeta = sum_dy.reshape(C)                    # dL/dbeta  = sum(dy)
        return dx, dgamma, dbeta, None, None           # running statistics get no gradient


class LayerNorm(Function):
    """Layer normalisation over the last ``k`` axes of each sample.

    x: (*, D1..Dk)   gamma, beta: (D1..Dk) or None   ->   y: (*, D1..Dk)

    mu, var = mean and biased variance of each sample's m = D1*...*Dk values;
    y = gamma * (x - mu) / sqrt(var + eps) + beta, with gamma and beta elementwise.
    """

    def forward(self, x, gamma=None, beta=None, k=1, eps=1e-5):
        self.axes = tuple(range(x.ndim - k, x.ndim))
        self.lead = tuple(range(x.ndim - k))           # the axes gamma and beta are shared over
        self.m = 1
        for d in x.shape[x.ndim - k:]:
            self.m *= d
        mu = x.mean(axis=self.axes, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=self.axes, keepdims=True)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
        self.x_hat = xc * self.inv_std
        self.gamma = gamma
        y = self.x_hat if gamma is None else self.x_hat * gamma
        if beta is not None:
            y = y + beta
        return y

    def backward(self, dy):
        # same derivation as batch norm (see _standardize_backward), reduced over the last k axes;
        # gamma varies along those axes, so dx_hat = dy * gamma is formed explicitly
        x_hat = self.x_hat
        dx = dgamma = dbeta = None
        if self.needs_input_grad[0]:
            dx_hat = dy if self.gamma is None else dy * self.gamma
            dx = _standardize_backward(dx_hat, x_hat, self.inv_std, self.axes, self.m)
        if self.needs_input_grad[1]:
            dgamma = (dy * x_hat).sum(axis=self.lead)
        if self.needs_input_grad[2]:
            dbeta = dy.sum(axis=self.lead)
        return dx, dgamma, dbeta
