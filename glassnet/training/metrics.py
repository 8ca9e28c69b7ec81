"""Metrics computed from a batch's model output and target."""
from __future__ import annotations

from ..backend import xp


def predicted_classes(output, target):
    """Class predictions from logits: argmax over the class axis.

    (N, C) -> argmax over C; (N, T, C) with target (N, T) -> over the last axis;
    (N, C, d...) with target (N, d...) -> over axis 1 (torch's layout);
    (N,) or (N, 1) with float targets -> binary, logit > 0.
    """
    if target.dtype.kind == "f":
        return (output > 0).astype(target.dtype).reshape(target.shape)
    if output.ndim == target.ndim + 1:
        axis = -1 if output.shape[:-1] == target.shape else 1
        return output.argmax(axis=axis)
    raise ValueError(f"accuracy: cannot match output of shape {output.shape} to target of shape {target.shape}")


def accuracy_counts(output, target, ignore_index: int = -100):
    """(number correct, number counted) for a batch; targets equal to ``ignore_index`` are skipped."""
    pred = predicted_classes(output, target)
    valid = target != ignore_index if target.dtype.kind in "iu" else xp.ones(target.shape, bool)
    return int(((pred == target) & valid).sum()), int(valid.sum())
