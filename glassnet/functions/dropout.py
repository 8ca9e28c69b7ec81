"""Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p)."""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..backend import rng, xp
from ..kernels import dropout as kernels


def uniform_bits(shape):
    """Uniform 32-bit integers from glassnet's generator, one per mask entry.

    Compared with p * 2^32 they give ``uniform() >= p`` (to 2^-32) at about two thirds of the
    cost of drawing floats.
    """
    n = math.prod(shape)
    return rng().bit_generator.random_raw((n + 1) // 2).view(xp.uint32)[:n].reshape(shape)


class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element (or per channel for ``channelwise``)."""

    def forward(self, x, p=0.5, channelwise=False):
        # channelwise (Dropout2d): one draw per (sample, channel), broadcast over the spatial dims
        mask_shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
        self.p = p
        # m = [u >= p 2^32] for uniform u;  y = x m / (1 - p)   (p = 1 drops everything, as torch)
        y, self.mask = kernels.dropout(x, uniform_bits(mask_shape), p)
        return y

    def backward(self, dy):
        return kernels.dropout_backward(dy, self.mask, self.p)  # y is linear in x with slope m / (1 - p)
