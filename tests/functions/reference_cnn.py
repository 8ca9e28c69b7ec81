"""Textbook forms for pooling and batch norm that tests/functions/reference.py does not hold
(kept apart so that file's sections stay with their owners): each written as the notes
state it, loops over windows and channels, in float64."""
import numpy as np


def batch_norm_eval(x, gamma, beta, mean, var, eps):
    """(y, dx_of): y = gamma (x - mean) / sqrt(var + eps) + beta with fixed (running)
    statistics, a per-channel affine map, so dx = gamma dy / sqrt(var + eps)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    g = gamma.reshape(shape) / np.sqrt(var.reshape(shape) + eps)
    y = (x - mean.reshape(shape)) * g + beta.reshape(shape)
    return y, lambda dy: dy * g
