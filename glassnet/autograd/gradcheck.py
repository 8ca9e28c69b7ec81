"""Check hand-written backwards against float64 central finite differences."""
from __future__ import annotations

from ..backend import xp
from . import grad_mode


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree; the message names the worst entry."""


def _as_outputs(out):
    from ..tensor import Tensor
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare ``fn``'s autograd gradients with central differences.

    For a random projection ``L = sum_k <dy_k, out_k>`` of the outputs, the analytic
    dL/dx from ``backward`` must match ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)``
    for every element i of every input that requires grad, within ``atol + rtol |numeric|``.
    A random ``dy`` (not ``.sum()``) catches backwards that are wrong only off the diagonal.

    Args:
        fn: function of the tensors in ``inputs`` returning a Tensor or a tuple of them.
        inputs: a Tensor or a tuple of Tensors/values; those with ``requires_grad`` are checked
            and must be float64.
    Returns:
        True when all entries match; otherwise raises ``GradcheckError`` naming the worst
        entry (or returns False when ``raise_exception`` is False).
    """
    from ..tensor import Tensor

    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [(k, t) for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for k, t in checked:
        if t.dtype != xp.float64:
            raise TypeError(f"gradcheck: input {k} has dtype {t.dtype}; finite differences need float64")

    rng = xp.random.default_rng(seed)
    outs = _as_outputs(fn(*inputs))
    dys = [rng.standard_normal(o.shape) for o in outs]

    def projected_loss():
        with grad_mode.no_grad():
            return sum(float((o._data * dy).sum()) for o, dy in zip(_as_outputs(fn(*inputs)), dys))

    for _, t in checked:
        t.grad = None
    total = None
    for o, dy in zip(outs, dys):
        if o.requires_grad:
            term = (o * Tensor._wrap(dy)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()

    worst = (0.0, None)
    for k, t in checked:
        analytic = xp.zeros(t.shape) if t.grad is None else t.grad._data
        x = t._data
        numeric = xp.empty(x.shape)
        flat, num = x.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = projected_loss()
            flat[i] = orig - eps
            minus = projected_loss()
            flat[i] = orig
            num[i] = (plus - minus) / (2 * eps)
        excess = xp.abs(analytic - numeric) - (atol + rtol * xp.abs(numeric))
        i = int(xp.argmax(excess)) if excess.size else 0
        if excess.size and excess.reshape(-1)[i] > worst[0]:
            idx = xp.unravel_index(i, x.shape) if x.ndim else ()
            worst = (float(excess.reshape(-1)[i]),
                     f"input {k} at index {tuple(int(j) for j in idx)}: analytic "
                     f"{float(analytic.reshape(-1)[i]):.10g} vs numerical {float(numeric.reshape(-1)[i]):.10g}")
    for _, t in checked:  # leave the inputs as we found them
        t.grad = None
    if worst[1] is None:
        return True
    if raise_exception:
        raise GradcheckError(f"gradcheck failed (atol={atol}, rtol={rtol}); worst entry: {worst[1]}")
    return False
