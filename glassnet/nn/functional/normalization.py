"""Normalisation: batch norm and layer norm, with torch's argument order and checks."""
from __future__ import annotations

from ...errors import ShapeError
from ...functions.normalization import BatchNorm, LayerNorm

__all__ = ["batch_norm", "layer_norm"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel of input (N, C, *) with batch statistics or running ones.

    y = weight * (x - mu) / sqrt(var + eps) + bias, per channel c.
    ``training=True``: mu and var are the batch's mean and biased variance over (N, *), and
    ``running_mean`` / ``running_var`` (C,), if given, are updated in place with ``momentum``
    (the variance entering unbiased, as torch). ``training=False``: mu, var = the running ones.
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, *), got shape {tuple(input.shape)}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ShapeError(f"batch_norm: {name} should have shape ({C},), one value per channel of "
                             f"input of shape {tuple(input.shape)}, but has shape {tuple(t.shape)}")
    if training:
        per_channel = input.shape[0]
        for d in input.shape[2:]:
            per_channel *= d
        if per_channel == 1:   # the variance of one value is 0: torch refuses rather than return 0/eps
            raise ValueError(f"Expected more than 1 value per channel when training, "
                             f"got input size {tuple(input.shape)}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    else:
        if eps < 0.0:
            raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation "
                               "mode (training=False)")
    return BatchNorm.apply(input, weight, bias, running_mean, running_var,
                           training=bool(training), momentum=momentum, eps=eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims of input (*, *normalized_shape).

    y = weight * (x - mu) / sqrt(var + eps) + bias, with mu and the biased var taken over
    each sample's last len(normalized_shape) dims; weight and bias have shape normalized_shape.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise ShapeError(f"layer_norm: given normalized_shape={shape}, expected input with shape "
                         f"(*, {', '.join(map(str, shape))}), but got input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} should have shape {shape} (normalized_shape), "
                             f"but has shape {tuple(t.shape)}")
    return LayerNorm.apply(input, weight, bias, k=k, eps=eps)
