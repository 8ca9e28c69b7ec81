"""Textbook forms of the optimizers' updates (torch's formulations), written for reading.

Each function takes the parameter, its gradient and the state before a step and returns the
new values, one equation a line, never in place. ``tests/kernels/test_optim_kernels.py``
checks both twins of ``glassnet/kernels/optim.py`` against them. Plain NumPy only.
"""
from __future__ import annotations

import numpy as np


def sgd(p, g, b, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
        first=False):
    """-> (p, b). b is None when momentum is 0."""
    if maximize:
        g = -g
    d = g + weight_decay * p
    if momentum == 0:
        return p - lr * d, b
    b = d if first else momentum * b + (1 - dampening) * d
    v = d + momentum * b if nesterov else b
    return p - lr * v, b


def adam(p, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False, maximize=False):
    """-> (p, m, v, vmax). vmax is None without amsgrad; t counts steps from 1."""
    if maximize:
        g = -g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    if vmax is not None:
        vmax = np.maximum(vmax, v)
        v_hat = vmax / (1 - beta2 ** t)
    else:
        v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v, vmax


def rmsprop(p, g, s, a, b, lr, alpha, eps, weight_decay=0.0, momentum=0.0, maximize=False):
    """-> (p, s, a, b). a is None unless centered, b None unless momentum > 0."""
    if maximize:
        g = -g
    g = g + weight_decay * p
    s = alpha * s + (1 - alpha) * g ** 2
    if a is not None:
        a = alpha * a + (1 - alpha) * g
        d = np.sqrt(s - a ** 2) + eps
    else:
        d = np.sqrt(s) + eps
    if b is not None:
        b = momentum * b + g / d
        return p - lr * b, s, a, b
    return p - lr * g / d, s, a, b


def adagrad(p, g, s, lr_t, eps, weight_decay=0.0, maximize=False):
    """-> (p, s)."""
    if maximize:
        g = -g
    g = g + weight_decay * p
    s = s + g ** 2
    return p - lr_t * g / (np.sqrt(s) + eps), s
