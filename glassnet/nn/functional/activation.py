"""Activation functions: relu, leaky_relu, elu, sigmoid, tanh, softplus, softmax, log_softmax, gelu, silu."""
from __future__ import annotations

from ...functions import activation as A
from ...functions import softmax as S

__all__ = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "softmax", "log_softmax",
           "gelu", "silu"]


def relu(input, inplace: bool = False):
    """max(0, x)"""
    return A.ReLU.apply(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x"""
    return A.LeakyReLU.apply(input, negative_slope=negative_slope)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha (e^x - 1)"""
    return A.ELU.apply(input, alpha=alpha)


def sigmoid(input):
    """1 / (1 + e^-x)"""
    return A.Sigmoid.apply(input)


def tanh(input):
    return A.Tanh.apply(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """(1/beta) ln(1 + e^(beta x)); linear where beta x > threshold."""
    return A.Softplus.apply(input, beta=beta, threshold=threshold)


def _dim(input, dim):
    if dim is None:  # torch's legacy implicit choice: dim 0 for 0-, 1- and 3-D input, else 1
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return dim % max(input.ndim, 1)


def softmax(input, dim=None, dtype=None):
    """e^(x_i) / sum_j e^(x_j) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return S.Softmax.apply(input, dim=_dim(input, dim))


def log_softmax(input, dim=None, dtype=None):
    """x_i - log sum_j e^(x_j) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return S.LogSoftmax.apply(input, dim=_dim(input, dim))


def gelu(input, approximate: str = "none"):
    """x Phi(x); ``approximate='tanh'`` for the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return A.GELU.apply(input, approximate=approximate)


def silu(input, inplace: bool = False):
    """x sigmoid(x)"""
    return A.SiLU.apply(input)
