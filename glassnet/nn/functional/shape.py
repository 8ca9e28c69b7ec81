"""one_hot and pad."""
from __future__ import annotations

from ...backend import xp
from ...functions.shape import Pad
from ...tensor import Tensor

__all__ = ["one_hot", "pad"]


def one_hot(tensor, num_classes: int = -1):
    """Integer classes (*) -> int64 one-hot (*, num_classes)."""
    t = tensor._data if isinstance(tensor, Tensor) else xp.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        bad = int(t.min()) if t.min() < 0 else int(t.max())
        raise IndexError(f"one_hot: class index {bad} is out of range for num_classes={num_classes}")
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype(xp.int64))


def pad(input, pad, mode: str = "constant", value: float = 0.0):
    """Pad the last ``len(pad) // 2`` dims; ``pad`` = (left, right, top, bottom, ...) as torch;
    negative widths crop (constant mode).

    ``mode``: 'constant' (with ``value``), 'reflect', 'replicate' or 'circular'.
    """
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be even, got {len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {len(pad) // 2} dims to pad but input has only {input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if any(p < 0 for p in pad):
        if mode != "constant":
            raise ValueError(f"pad: negative padding (cropping) needs mode='constant', got mode={mode!r}")
        for i in range(len(pad) // 2):
            size = input.shape[input.ndim - 1 - i]
            if size + pad[2 * i] + pad[2 * i + 1] < 0 or max(-pad[2 * i], 0) + max(-pad[2 * i + 1], 0) > size:
                raise ValueError(f"pad: padding {tuple(pad)} crops dim {input.ndim - 1 - i} of size {size} "
                                 f"below zero")
    return Pad.apply(input, pad=tuple(int(p) for p in pad), mode=mode, value=value)
