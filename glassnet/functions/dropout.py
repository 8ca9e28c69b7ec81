"""Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p)."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import rng, xp


class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element (or per channel for ``channelwise``)."""

    def forward(self, x, p=0.5, channelwise=False):
        # channelwise (Dropout2d): one draw per (sample, channel), broadcast over the spatial dims
        mask_shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
        keep = rng().random(mask_shape, dtype=x.dtype) >= p if x.dtype.kind == "f" else \
            rng().random(mask_shape) >= p
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)   # p = 1 drops everything, as torch
        self.scaled_mask = keep * x.dtype.type(scale)
        return x * self.scaled_mask

    def backward(self, dy):
        return dy * self.scaled_mask  # y is linear in x with slope m / (1 - p)
