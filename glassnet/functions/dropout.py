"""Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p)."""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..backend import rng, xp


def bernoulli_keep(shape, p: float):
    """A boolean mask, each entry True with probability 1 - p, from glassnet's generator.

    Uniform 32-bit integers compared with p * 2^32: the same distribution as
    ``uniform() >= p`` (to 2^-32), at about two thirds of the cost of drawing floats.
    """
    n = math.prod(shape)
    bits = rng().bit_generator.random_raw((n + 1) // 2).view(xp.uint32)[:n]
    return (bits >= xp.uint32(min(round(p * 2.0 ** 32), 2 ** 32 - 1))).reshape(shape)


class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element (or per channel for ``channelwise``)."""

    def forward(self, x, p=0.5, channelwise=False):
        # channelwise (Dropout2d): one draw per (sample, channel), broadcast over the spatial dims
        mask_shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)   # p = 1 drops everything, as torch
        self.scaled_mask = bernoulli_keep(mask_shape, p) * x.dtype.type(scale)
        return x * self.scaled_mask

    def backward(self, dy):
        return dy * self.scaled_mask  # y is linear in x with slope m / (1 - p)
