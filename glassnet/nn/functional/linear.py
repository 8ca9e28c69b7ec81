"""The affine map."""
from __future__ import annotations

from ...errors import ShapeError
from ...functions.linear import Linear

__all__ = ["linear"]


def linear(input, weight, bias=None):
    """y = x W^T + b.   input (*, in)  weight (out, in)  bias (out,)  ->  (*, out)"""
    x_shape, w_shape = input._data.shape, weight._data.shape   # arrays directly: this runs every call
    if not x_shape or x_shape[-1] != w_shape[1]:
        raise ShapeError(f"linear: input has {x_shape[-1] if x_shape else 'no'} features "
                         f"(shape {tuple(x_shape)}), weight expects {w_shape[1]} (weight shape {tuple(w_shape)})")
    return Linear.apply(input, weight, bias)
