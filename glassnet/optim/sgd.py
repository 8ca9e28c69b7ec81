"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from ..backend import xp
from ..kernels import optim as kernels
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""p <- p - lr * v, with (torch's formulation):

        g = grad + weight_decay * p             (grad negated when maximizing)
        b = g                                   (first step)
        b = momentum * b + (1 - dampening) * g  (later steps)
        v = g + momentum * b  if nesterov  else  b      (v = g when momentum = 0)

    ``foreach`` / ``fused``: accepted for torch's signature; the update is the same either way.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False,
                 foreach=None, fused=None):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                      foreach=foreach, fused=fused))

    def _update(self, p, g, state, group):
        momentum = group["momentum"]
        b = state.get("momentum_buffer")
        first = bool(momentum) and b is None
        if first:
            b = state["momentum_buffer"] = xp.empty_like(p)
        # g = grad + wd p;  b = mu b + (1 - dampening) g  (b = g first);  v = g + mu b or b;  p -= lr v
        kernels.sgd(p, g, b, group["lr"], momentum, group["dampening"], group["weight_decay"],
                    group["nesterov"], group["maximize"], first, tmp=self._tmp)
