"""Loss functions. Each returns the reduced loss; ``reduction`` is 'mean', 'sum' or 'none'.

The cross-entropy family is fused with its (log-)softmax: the combined gradient
``softmax(x) - target`` is both cheaper and more accurate than chaining two backwards.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import loss as kernels
from .activation import sigmoid
from .softmax import log_softmax


def _reduce(elementwise, reduction, denominator=None):
    if reduction == "none":
        return elementwise
    total = elementwise.sum()
    if reduction == "sum":
        return xp.asarray(total)
    n = elementwise.size if denominator is None else denominator
    return xp.asarray(total / n, dtype=elementwise.dtype)


def _reduce_backward(dy, shape, reduction, dtype, denominator=None):
    """dL/d(elementwise loss): dy itself for 'none', broadcast for 'sum', divided by n for 'mean'."""
    if reduction == "none":
        return dy
    if reduction == "sum":
        return xp.broadcast_to(dy, shape)
    n = 1
    for s in shape:
        n *= s
    return xp.broadcast_to(dy / (n if denominator is None else denominator), shape).astype(dtype, copy=False)


class MSELoss(Function):
    """l_i = (x_i - t_i)^2"""

    def forward(self, x, t, reduction="mean"):
        self.diff, self.reduction = x - t, reduction
        return _reduce(self.diff * self.diff, reduction)

    def backward(self, dy):
        # dl/dx = 2 (x - t),  dl/dt = -2 (x - t)
        g = 2 * self.diff * _reduce_backward(dy, self.diff.shape, self.reduction, self.diff.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class L1Loss(Function):
    """l_i = |x_i - t_i|"""

    def forward(self, x, t, reduction="mean"):
        diff = x - t
        self.sign, self.reduction = xp.sign(diff), reduction
        return _reduce(xp.abs(diff), reduction)

    def backward(self, dy):
        # dl/dx = sign(x - t)
        g = self.sign * _reduce_backward(dy, self.sign.shape, self.reduction, self.sign.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class BCELoss(Function):
    """l_i = -w_i [t_i ln x_i + (1 - t_i) ln(1 - x_i)], each log clamped at -100 (as torch)."""

    def forward(self, x, t, weight=None, reduction="mean"):
        self.x, self.t, self.weight, self.reduction = x, t, weight, reduction
        with xp.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    def backward(self, dy):
        # dl/dx = (x - t) / (x (1 - x)), the denominator floored at 1e-12 as torch does
        # dl/dt = ln(1 - x) - ln x
        x, t = self.x, self.t
        up = _reduce_backward(dy, x.shape, self.reduction, x.dtype)
        if self.weight is not None:
            up = up * self.weight
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = up * (x - t) / xp.maximum((1 - x) * x, 1e-12)
        if self.needs_input_grad[1]:
            with xp.errstate(divide="ignore"):
                dt = up * (xp.maximum(xp.log1p(-x), -100) - xp.maximum(xp.log(x), -100))
        return dx, dt, None


class BCEWithLogitsLoss(Function):
    """l_i = -w_i [p t_i ln s(x_i) + (1 - t_i) ln(1 - s(x_i))], s = sigmoid, p = pos_weight.

    Computed as (1 - t) x + (1 + (p - 1) t) softplus(-x), which never takes the log of 0.
    """

    def forward(self, x, t, weight=None, pos_weight=None, reduction="mean"):
        self.x, self.t, self.weight, self.pos_weight, self.reduction = x, t, weight, pos_weight, reduction
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # ln(1 + e^-x)
        if pos_weight is None:
            loss = (1 - t) * x + softplus_neg
        else:
            loss = (1 - t) * x + (1 + (pos_weight - 1) * t) * softplus_neg
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    def backward(self, dy):
        # dl/dx = s(x) (p t + 1 - t) - p t      (= s(x) - t when p = 1)
        x, t, p = self.x, self.t, self.pos_weight
        up = _reduce_backward(dy, x.shape, self.reduction, x.dtype)
        if self.weight is not None:
            up = up * self.weight
        s = sigmoid(x)
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = up * (s - t) if p is None else up * (s * (p * t + 1 - t) - p * t)
        if self.needs_input_grad[1]:
            # d/dt [(1 - t) x + (1 + (p - 1) t) softplus(-x)] = -x + (p - 1) softplus(-x)
            softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
            dt = up * (-x if p is None else -x + (p - 1) * softplus_neg)
        return dx, dt, None, None


def _per_row_result(per_row, input_shape, reduction, denominator):
    """A per-prediction loss (rows,) as the caller asked: unreduced in the input's sample shape,
    summed, or divided by ``denominator`` (the number, or summed weight, of counted targets)."""
    if reduction == "none":
        return per_row.reshape(_sample_shape(input_shape))
    return _reduce(per_row, reduction, denominator)


def _per_row_upstream(dy, reduction, denominator):
    """dL/d(loss of each row), shaped (rows, 1) or scalar to broadcast over (rows, C)."""
    if reduction == "none":
        return dy.reshape(-1, 1)
    if reduction == "sum":
        return dy
    # every prediction ignored: the loss is 0/0 = nan but, as in torch, the gradient is 0
    return dy / denominator if denominator else xp.zeros_like(dy)


def _class_last(x):
    """(N, C, d1, ..., dk) -> (N d1 ... dk, C): the class axis last, one row per prediction."""
    if x.ndim <= 2:
        return x.reshape(-1, x.shape[-1])
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _class_back(g, shape):
    """Inverse of ``_class_last``."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.moveaxis(g.reshape(moved), -1, 1)


def _sample_shape(shape):
    """The shape of an unreduced per-prediction loss for an input of ``shape``."""
    if len(shape) == 1:
        return ()
    return (shape[0],) + tuple(shape[2:])


def _target_weights(t, C, weight, ignore_index, label_smoothing, dtype):
    """Per-row weights q (rows, C) with loss_r = -sum_c q[r, c] log p[r, c], and the 'mean' denominator.

    Class-index targets t (rows,):  q[r, c] = (1 - eps) w[t_r] [c == t_r] + (eps / C) w[c],
    rows with t_r == ignore_index get q = 0, and 'mean' divides by sum_r w[t_r] (torch's rule).
    """
    rows = t.shape[0]
    keep = t != ignore_index
    safe_t = xp.where(keep, t, 0)
    w = xp.ones(C, dtype) if weight is None else weight.astype(dtype, copy=False)
    w_t = w[safe_t] * keep
    q = xp.zeros((rows, C), dtype)
    q[xp.arange(rows), safe_t] = (1 - label_smoothing) * w_t
    if label_smoothing:
        q += (label_smoothing / C) * w * keep[:, None]
    return q, w_t.sum()


class CrossEntropyLoss(Function):
    """Softmax cross-entropy from raw logits.

    x: (N, C) or (N, C, d1, ...) or (C,)  logits.
    t: class indices (N,) / (N, d1, ...) / (), or class probabilities shaped like x.
    loss_r = -sum_c q[r, c] log softmax(x_r)_c, with q the (weighted, smoothed) target.
    """

    def forward(self, x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        self.shape, self.reduction = x.shape, reduction
        logits = _class_last(x)
        C = logits.shape[1]
        if t.dtype.kind in "iu":
            # class indices: q_r = (1 - eps) w[t_r] onehot(t_r) + (eps / C) w, and q_r = 0 for an ignored row,
            # loss_r = -sum_c q_rc log p_rc with p_r = softmax(x_r); 'mean' divides by sum_r w[t_r]
            self.target, self.q = (t.reshape(-1), weight, ignore_index, label_smoothing), None
            per_row, self.p, self.denominator = kernels.cross_entropy(logits, *self.target)
            return _per_row_result(per_row, x.shape, reduction, self.denominator)
        log_p = log_softmax(logits, 1)                 # class probabilities
        q = _class_last(t).astype(x.dtype, copy=False)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / C
        # dq/dt = (1 - eps) w, kept for the target's gradient
        self.dq_dt = (1 - label_smoothing) * (1 if weight is None else weight)
        if weight is not None:
            q = q * weight
        self.q, self.log_p, self.denominator = q, log_p, logits.shape[0]
        return _per_row_result(-(q * log_p).sum(axis=1), x.shape, reduction, self.denominator)

    def backward(self, dy):
        # loss_r = -sum_c q_c log p_c with p = softmax(x_r):  d loss_r / dx_c = p_c sum_k q_k - q_c
        # (for a one-hot q this is the textbook p - onehot(t))
        # probability targets: d loss_r / dt_c = -(1 - eps) w_c log p_c
        up = _per_row_upstream(dy, self.reduction, self.denominator)
        if self.q is None:              # class indices
            dx = kernels.cross_entropy_backward(self.p, *self.target, up) if self.needs_input_grad[0] else None
            return (None if dx is None else _class_back(dx, self.shape)), None, None
        q, p = self.q, xp.exp(self.log_p)
        dx = dt = None
        if self.needs_input_grad[0]:
            g = p * q.sum(axis=1, keepdims=True) - q
            g *= up
            dx = _class_back(g.astype(p.dtype, copy=False), self.shape)
        if self.needs_input_grad[1]:   # only float (probability) targets can require grad
            dt = _class_back((-self.dq_dt * self.log_p * up).astype(p.dtype, copy=False), self.shape)
        return dx, dt, None


class NLLLoss(Function):
    """loss_r = -w[t_r] x[r, t_r] for log-probabilities x (N, C) / (N, C, d1, ...) and indices t."""

    def forward(self, x, t, weight=None, ignore_index=-100, reduction="mean"):
        self.shape, self.reduction = x.shape, reduction
        logp = _class_last(x)
        q, self.denominator = _target_weights(t.reshape(-1), logp.shape[1], weight, ignore_index, 0.0, x.dtype)
        self.q = q
        return _per_row_result(-(q * logp).sum(axis=1), x.shape, reduction, self.denominator)

    def backward(self, dy):
        # d loss_r / dx[r, c] = -q[r, c]  (q: the weight of the target class, 0 elsewhere)
        up = _per_row_upstream(dy, self.reduction, self.denominator)
        return _class_back((-self.q * up).astype(self.q.dtype, copy=False), self.shape), None, None
