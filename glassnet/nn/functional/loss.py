"""Losses: mse, l1, binary cross-entropy (probabilities or logits), cross-entropy, nll."""
from __future__ import annotations

from ...backend import xp
from ...errors import ShapeError
from ...functions import loss as L
from ...tensor import Tensor

__all__ = ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _as_target(target, like):
    """Targets may be Tensors, arrays or lists; float targets take the input's dtype."""
    if not isinstance(target, Tensor):
        target = Tensor._wrap(xp.asarray(target))
    if target.dtype.kind == "f" and target.dtype != like.dtype:
        target = target.to(like.dtype)
    return target


def _check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ShapeError(f"{name}: target shape {tuple(target.shape)} must equal input shape "
                         f"{tuple(input.shape)}")


def mse_loss(input, target, reduction: str = "mean"):
    """mean / sum of (x - t)^2"""
    _check_reduction("mse_loss", reduction)
    target = _as_target(target, input)
    _check_same_shape("mse_loss", input, target)
    return L.MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input, target, reduction: str = "mean"):
    """mean / sum of |x - t|"""
    _check_reduction("l1_loss", reduction)
    target = _as_target(target, input)
    _check_same_shape("l1_loss", input, target)
    return L.L1Loss.apply(input, target, reduction=reduction)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """-[t ln x + (1 - t) ln(1 - x)] for probabilities x in [0, 1]."""
    _check_reduction("binary_cross_entropy", reduction)
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    x = input._data
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1] "
                         f"(got values in [{x.min():.4g}, {x.max():.4g}]); for raw scores use "
                         "binary_cross_entropy_with_logits")
    w = None if weight is None else _as_target(weight, input)._data
    return L.BCELoss.apply(input, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """-[p t ln s(x) + (1 - t) ln(1 - s(x))], s = sigmoid: the stable way to train a binary classifier."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    w = None if weight is None else _as_target(weight, input)._data
    pw = None if pos_weight is None else _as_target(pos_weight, input)._data
    return L.BCEWithLogitsLoss.apply(input, target, weight=w, pos_weight=pw, reduction=reduction)


def _check_class_targets(name, input, target, ignore_index):
    """Shapes (N, C, d...) vs (N, d...), and every index in [0, C) unless ignored."""
    C = input.shape[0] if input.ndim == 1 else input.shape[1]
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ShapeError(f"{name}: for input of shape {tuple(input.shape)} (class dim {0 if input.ndim == 1 else 1} "
                         f"of size {C}) class-index targets must have shape {expected}, got {tuple(target.shape)}")
    t = target._data
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].reshape(-1)[0])} is out of bounds for {C} classes "
                         f"(valid: 0..{C - 1}, or ignore_index={ignore_index})")
    return C


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Softmax cross-entropy between logits and class indices or class probabilities.

    input: (N, C), (N, C, d1, ...) or (C,) logits.
    target: int64 class indices (N,), (N, d1, ...) or (); or float probabilities shaped like input.
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _as_target(target, input)
    if target.dtype.kind in "iu":
        C = _check_class_targets("cross_entropy", input, target, ignore_index)
    else:
        _check_same_shape("cross_entropy (probability targets)", input, target)
        C = input.shape[0] if input.ndim == 1 else input.shape[1]
    w = None
    if weight is not None:
        w = _as_target(weight, input)._data
        if w.shape != (C,):
            raise ShapeError(f"cross_entropy: weight must have shape ({C},), got {tuple(w.shape)}")
    return L.CrossEntropyLoss.apply(input, target, weight=w, ignore_index=ignore_index,
                                    reduction=reduction, label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities (e.g. from log_softmax) at class indices."""
    _check_reduction("nll_loss", reduction)
    target = _as_target(target, input)
    C = _check_class_targets("nll_loss", input, target, ignore_index)
    w = None
    if weight is not None:
        w = _as_target(weight, input)._data
        if w.shape != (C,):
            raise ShapeError(f"nll_loss: weight must have shape ({C},), got {tuple(w.shape)}")
    return L.NLLLoss.apply(input, target, weight=w, ignore_index=ignore_index, reduction=reduction)
