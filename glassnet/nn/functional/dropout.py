"""Dropout, element-wise and channel-wise."""
from __future__ import annotations

from ...functions.dropout import Dropout

__all__ = ["dropout", "dropout1d", "dropout2d"]


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when not training."""
    _check_p(p)
    if not training or p == 0:
        return input
    return Dropout.apply(input, p=p)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels: input (N, C, H, W) or (C, H, W); one draw per channel."""
    _check_p(p)
    if not training or p == 0:
        return input
    if input.ndim == 3:  # unbatched (C, H, W): channels lead
        return Dropout.apply(input.unsqueeze(0), p=p, channelwise=True).squeeze(0)
    return Dropout.apply(input, p=p, channelwise=True)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    return dropout2d(input, p, training)
