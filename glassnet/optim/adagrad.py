"""Adagrad: step sizes shrink with the accumulated squared gradient of each parameter."""
from __future__ import annotations

from ..backend import xp
from ..kernels import optim as kernels
from .optimizer import Optimizer


class Adagrad(Optimizer):
    r"""torch's formulation:

        g = grad + weight_decay * p
        lr_t = lr / (1 + (t - 1) lr_decay)
        s = s + g^2
        p = p - lr_t g / (sqrt(s) + eps)

    ``foreach`` / ``fused``: accepted for torch's signature; the update is the same either way.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False,
                 foreach=None, fused=None):
        if lr < 0 or lr_decay < 0 or eps < 0 or initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: invalid lr={lr}, lr_decay={lr_decay}, eps={eps} "
                             f"or initial_accumulator_value={initial_accumulator_value}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize,
                                      foreach=foreach, fused=fused))

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        # g = grad + wd p;  s = s + g^2;  p -= lr_t g / (sqrt(s) + eps)
        kernels.adagrad(p, g, state["sum"], lr_t, group["eps"], group["weight_decay"], group["maximize"])
