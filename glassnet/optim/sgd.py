"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    r"""p <- p - lr * v, with (torch's formulation):

        g = grad + weight_decay * p
        b = g                                   (first step)
        b = momentum * b + (1 - dampening) * g  (later steps)
        v = g + momentum * b  if nesterov  else  b      (v = g when momentum = 0)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update(self, p, g, state, group):
        wd, momentum = group["weight_decay"], group["momentum"]
        if wd:
            g = g + wd * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g if group["dampening"] else g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= group["lr"] * g
