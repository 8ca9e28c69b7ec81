"""How ``functions/loss.py``'s cross-entropy over class indices runs fast: one pass per row.

The math (checked against ``tests/functions/reference_loss.py``: ``cross_entropy``,
``cross_entropy_backward``, in ``tests/kernels/test_loss_kernels.py``), for logits x (R, C),
class indices t (R,), class weights w (C,) (ones when None) and label smoothing eps:

    p_r    = softmax(x_r) = exp(x_r - m_r) / sum_c exp(x_rc - m_r),   m_r = max_c x_rc
    q_r    = (1 - eps) w[t_r] onehot(t_r) + (eps / C) w      (q_r = 0 when t_r == ignore_index)
    loss_r = -sum_c q_rc log p_rc
           = (1 - eps) w[t_r] (lse_r - x_r,t_r) + (eps / C) sum_c w_c (lse_r - x_rc),
             lse_r = m_r + log sum_c exp(x_rc - m_r)
    total  = sum_r w[t_r] over the rows not ignored        (the 'mean' denominator, torch's rule)
    dx_r   = (p_r sum_c q_rc - q_r) up_r                   (p_r - onehot(t_r) when w = 1, eps = 0)

The forward keeps p for the backward, which is then one pass with no exponential. The
compiled forward is three passes: one compiled walk per row for its max and the shift
x - m, NumPy's exp over the whole array in place, and a second compiled walk per row for the
sum (in float64), the division and the loss. The exp stays NumPy's because ``math.exp`` in
Numba is a scalar libm call (no vector math library here), which with many classes per row
made an all-compiled forward slower than NumPy's. NumPy alone makes a pass over the whole
array per step (max, subtract, exp, sum, divide, gather) and pays its per-call cost for each,
which is most of the time at the benchmarks' small sizes (128 x 10).
"""
from __future__ import annotations

import math

from ..backend import xp
from . import jit, pick

# Numba has no float16 arithmetic: other floating dtypes take the NumPy twin
_COMPILED_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def _weights(w, C):
    return xp.ones(C) if w is None else xp.asarray(w, dtype=xp.float64)


def _check_targets(t, C, ignore_index, where):
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"{where}: target {int(t[bad][0])} is out of bounds for {C} classes")


# -- NumPy twins ----------------------------------------------------------------------------------
def cross_entropy_numpy(x, t, w=None, ignore_index=-100, smoothing=0.0):
    """-> (loss (R,) in x's dtype, p = softmax(x) (R, C), total weight of the rows not ignored)."""
    R, C = x.shape
    _check_targets(t, C, ignore_index, "cross_entropy")
    keep = t != ignore_index
    safe_t = xp.where(keep, t, 0)
    m = x.max(axis=1, keepdims=True)
    p = xp.subtract(x, m)
    xp.exp(p, out=p)
    s = p.sum(axis=1, keepdims=True)
    p /= s
    lse = (m + xp.log(s))[:, 0]
    w_t = (xp.ones(R, x.dtype) if w is None else w.astype(x.dtype, copy=False)[safe_t]) * keep
    loss = (1 - smoothing) * w_t * (lse - x[xp.arange(R), safe_t])
    if smoothing:
        wc = xp.ones(C, x.dtype) if w is None else w.astype(x.dtype, copy=False)
        loss += (smoothing / C) * (lse * wc.sum() - x @ wc) * keep
    return loss.astype(x.dtype, copy=False), p, float(w_t.sum())


def cross_entropy_backward_numpy(p, t, w=None, ignore_index=-100, smoothing=0.0, up=1.0):
    """dx = (p sum_c q_c - q) up per row; ``up`` a scalar or one value per row."""
    R, C = p.shape
    up = xp.asarray(up, dtype=p.dtype).reshape(-1, 1)
    keep = t != ignore_index
    safe_t = xp.where(keep, t, 0)
    w_t = (xp.ones(R, p.dtype) if w is None else w.astype(p.dtype, copy=False)[safe_t]) * keep
    rows = xp.arange(R)
    if smoothing:
        wc = xp.ones(C, p.dtype) if w is None else w.astype(p.dtype, copy=False)
        q_sum = (1 - smoothing) * w_t + (smoothing / C) * wc.sum() * keep
        dx = p * q_sum[:, None] - (smoothing / C) * wc * keep[:, None]
        dx[rows, safe_t] -= (1 - smoothing) * w_t
        dx *= up
        return dx
    scale = up * w_t[:, None]                              # (p - onehot(t)) w[t] up
    dx = p * scale
    dx[rows, safe_t] -= scale[:, 0]
    return dx


# -- compiled twins -------------------------------------------------------------------------------
@jit
def _shift_rows(x, shifted, m):
    """m_r = max_c x_rc;  shifted_rc = x_rc - m_r."""
    R, C = x.shape
    for r in range(R):
        top = x[r, 0]
        for c in range(1, C):
            top = max(top, x[r, c])
        m[r] = top
        for c in range(C):
            shifted[r, c] = x[r, c] - top


@jit
def _normalise_rows(x, t, w, ignore_index, smoothing, p, m, loss):
    """p holds exp(x - m) on entry and softmax(x) on return; loss_r as in the module docstring."""
    R, C = x.shape
    keep_t = 1.0 - smoothing
    share = smoothing / C
    total = 0.0
    for r in range(R):
        tr = t[r]
        if tr == ignore_index or tr < 0 or tr >= C:       # out of range: the wrapper raises
            loss[r] = 0.0
            continue
        s = 0.0
        for c in range(C):
            s += p[r, c]
        inv = p.dtype.type(1.0 / s)
        for c in range(C):
            p[r, c] *= inv
        lse = m[r] + math.log(s)
        wt = w[tr]
        value = keep_t * wt * (lse - x[r, tr])
        if smoothing != 0.0:
            spread = 0.0
            for c in range(C):
                spread += w[c] * (lse - x[r, c])
            value += share * spread
        loss[r] = value
        total += wt
    return total


@jit
def _cross_entropy_backward_rows(p, t, w, ignore_index, smoothing, up, dx):
    R, C = p.shape
    keep_t = 1.0 - smoothing
    share = smoothing / C
    w_sum = 0.0
    for c in range(C):
        w_sum += w[c]
    zero = dx.dtype.type(0)
    for r in range(R):
        tr = t[r]
        if tr == ignore_index or tr < 0 or tr >= C:
            for c in range(C):
                dx[r, c] = zero
            continue
        u = up[r] if up.size == R else up[0]
        wt = w[tr]
        if smoothing == 0.0:
            a = dx.dtype.type(wt * u)
            for c in range(C):
                dx[r, c] = p[r, c] * a
            dx[r, tr] -= a
        else:
            q_sum = keep_t * wt + share * w_sum
            for c in range(C):
                dx[r, c] = (p[r, c] * q_sum - share * w[c]) * u
            dx[r, tr] -= keep_t * wt * u


def cross_entropy_compiled(x, t, w=None, ignore_index=-100, smoothing=0.0):
    """Cross-entropy over class indices (module docstring), one compiled walk per row."""
    if x.dtype not in _COMPILED_DTYPES or t.dtype.kind not in "iu":
        return cross_entropy_numpy(x, t, w, ignore_index, smoothing)
    R, C = x.shape
    x = xp.ascontiguousarray(x)
    p, m, loss = xp.empty_like(x), xp.empty(R, x.dtype), xp.empty(R, x.dtype)
    _shift_rows(x, p, m)
    xp.exp(p, out=p)         # NumPy's vectorised exp: Numba's math.exp is a scalar call per element
    total = _normalise_rows(x, t, _weights(w, C), int(ignore_index), float(smoothing), p, m, loss)
    _check_targets(t, C, ignore_index, "cross_entropy")
    return loss, p, total


def cross_entropy_backward_compiled(p, t, w=None, ignore_index=-100, smoothing=0.0, up=1.0):
    """dx = (p sum_c q_c - q) up per row (module docstring), one compiled pass."""
    if p.dtype not in _COMPILED_DTYPES or t.dtype.kind not in "iu":
        return cross_entropy_backward_numpy(p, t, w, ignore_index, smoothing, up)
    dx = xp.empty_like(p)
    _cross_entropy_backward_rows(p, t, _weights(w, p.shape[1]), int(ignore_index), float(smoothing),
                                 xp.asarray(up, dtype=xp.float64).reshape(-1), dx)
    return dx


cross_entropy = pick(cross_entropy_compiled, cross_entropy_numpy)
cross_entropy_backward = pick(cross_entropy_backward_compiled, cross_entropy_backward_numpy)
