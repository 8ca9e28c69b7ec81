"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from ..backend import xp
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
        wd, momentum, dampening = group["weight_decay"], group["momentum"], group["dampening"]
        if wd:                                              # g = grad + wd * p
            g = xp.add(g, xp.multiply(p, wd, out=self._tmp(p, 1)), out=self._tmp(p, 1))
        v = g
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:                                           # b = momentum b + (1 - dampening) g
                buf *= momentum
                buf += xp.multiply(g, 1 - dampening, out=self._tmp(p, 2)) if dampening else g
            v = buf
            if group["nesterov"]:                           # v = g + momentum b
                v = xp.add(g, xp.multiply(buf, momentum, out=self._tmp(p, 2)), out=self._tmp(p, 2))
        p -= xp.multiply(v, group["lr"], out=self._tmp(p))
