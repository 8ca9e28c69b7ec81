"""The adjoint of broadcasting."""
from __future__ import annotations


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``.

    Broadcasting copies a value along new leading axes and along axes of size 1; the
    adjoint of a copy is a sum, so the gradient is summed over exactly those axes.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes).reshape(shape)
