"""The affine map."""
from __future__ import annotations

from ...errors import ShapeError
from ...functions.linear import Linear

__all__ = ["linear"]


def linear(input, weight, bias=None):
    """y = x W^T + b.   input (*, in)  weight (out, in)  bias (out,)  ->  (*, out)"""
    if input.shape[-1:] != weight.shape[1:]:
        raise ShapeError(f"linear: input has {input.shape[-1] if input.ndim else 'no'} features "
                         f"(shape {tuple(input.shape)}), weight expects {weight.shape[1]} "
                         f"(weight shape {tuple(weight.shape)})")
    return Linear.apply(input, weight, bias)
