"""Gradient clipping (against exploding gradients) and parameter-vector helpers."""
from __future__ import annotations

import math

from ..backend import xp
from ..tensor import Tensor
from . import rnn_utils as rnn  # noqa: F401 - torch's nn.utils.rnn: pack_padded_sequence, pad_packed_sequence, ...

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _with_grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """Rescale all gradients together so their joint norm is at most ``max_norm``.

    total = (sum_p ||g_p||^norm_type)^(1/norm_type);  if total > max_norm, every g is
    multiplied by max_norm / (total + 1e-6) (torch's formula). The direction of the
    update is kept; only its length is capped.

    Returns:
        the total norm before clipping, as a 0-d Tensor (so training can log it).
    """
    params = _with_grads(parameters)
    if not params:
        return Tensor._wrap(xp.asarray(0.0, xp.float32))
    dtype = params[0].grad._data.dtype
    if norm_type == math.inf:
        total = max(float(xp.abs(p.grad._data).max()) for p in params)
    else:
        total = sum(float(xp.sum(xp.abs(p.grad._data) ** norm_type)) if norm_type != 2
                    else float(xp.vdot(p.grad._data.ravel(), p.grad._data.ravel())) for p in params)
        total = total ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad._data *= dtype.type(coef)
    return Tensor._wrap(xp.asarray(total, dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    for p in _with_grads(parameters):
        xp.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters) -> Tensor:
    return Tensor._wrap(xp.concatenate([p._data.ravel() for p in parameters]))


def vector_to_parameters(vec, parameters) -> None:
    v, start = vec._data if isinstance(vec, Tensor) else vec, 0
    for p in parameters:
        n = p.numel()
        p._data[...] = v[start:start + n].reshape(p.shape)
        start += n
