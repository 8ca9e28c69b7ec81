"""Textbook forms of the cross-entropy over class indices and of dropout, written for reading.

``tests/kernels/test_loss_kernels.py`` and ``tests/kernels/test_dropout_kernels.py`` check both
twins of ``glassnet/kernels/loss.py`` and ``glassnet/kernels/dropout.py`` against them. Plain
NumPy only, one row (or element) at a time.
"""
from __future__ import annotations

import math

import numpy as np


def softmax_row(x_r):
    """p_c = e^(x_c) / sum_k e^(x_k), written as e^(x_c - max) / sum_k e^(x_k - max)."""
    m = max(x_r)
    e = [math.exp(v - m) for v in x_r]
    s = sum(e)
    return [v / s for v in e]


def log_softmax_row(x_r):
    """log p_c = x_c - log sum_k e^(x_k) = (x_c - max) - log sum_k e^(x_k - max), finite where p_c underflows."""
    m = max(x_r)
    log_s = math.log(sum(math.exp(v - m) for v in x_r))
    return [v - m - log_s for v in x_r]


def target_row(t_r, C, w, ignore_index, eps):
    """q_c = (1 - eps) w[t] [c == t] + (eps / C) w_c; all 0 for an ignored row."""
    if t_r == ignore_index:
        return [0.0] * C
    return [(1 - eps) * w[t_r] * (c == t_r) + eps / C * w[c] for c in range(C)]


def cross_entropy(x, t, w=None, ignore_index=-100, eps=0.0):
    """-> (loss_r = -sum_c q_rc log p_rc for each row, sum of w[t_r] over the rows not ignored)."""
    R, C = x.shape
    w = [1.0] * C if w is None else list(w)
    loss, total = [], 0.0
    for r in range(R):
        log_p = log_softmax_row(list(x[r]))
        q = target_row(int(t[r]), C, w, ignore_index, eps)
        loss.append(-sum(q[c] * log_p[c] for c in range(C)))
        if t[r] != ignore_index:
            total += w[int(t[r])]
    return np.array(loss), total


def cross_entropy_backward(x, t, w=None, ignore_index=-100, eps=0.0, up=None):
    """d loss_r / dx_rc = p_rc sum_k q_rk - q_rc, times the upstream gradient of row r."""
    R, C = x.shape
    w = [1.0] * C if w is None else list(w)
    up = np.ones(R) if up is None else np.broadcast_to(np.asarray(up, dtype=float).reshape(-1), (R,))
    dx = np.zeros((R, C))
    for r in range(R):
        p = softmax_row(list(x[r]))
        q = target_row(int(t[r]), C, w, ignore_index, eps)
        for c in range(C):
            dx[r, c] = (p[c] * sum(q) - q[c]) * up[r]
    return dx


def dropout(x, u, p):
    """y_i = x_i / (1 - p) where the uniform draw u_i >= p (kept), else 0; p = 1 drops everything."""
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return np.where(u >= p, x * scale, 0.0)
