"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""
from __future__ import annotations

import math

from ..backend import xp
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), torch's formulation:

        g = grad + weight_decay * p          (L2 penalty folded into the gradient)
        m = beta1 m + (1 - beta1) g          (first moment)
        v = beta2 v + (1 - beta2) g^2        (second moment)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    ``amsgrad`` keeps the running maximum of v instead of v in the denominator.
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: invalid lr={lr}, eps={eps} or betas={betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if wd:
            if self.decoupled:
                p *= 1 - lr * wd          # AdamW: decay the weights directly, not through g
            else:                         # g = grad + wd * p
                g = xp.add(g, xp.multiply(p, wd, out=self._tmp(p, 2)), out=self._tmp(p, 2))
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self._tmp(p)
        m *= beta1                        # m = beta1 m + (1 - beta1) g
        m += xp.multiply(g, 1 - beta1, out=tmp)
        v *= beta2                        # v = beta2 v + (1 - beta2) g^2
        sq = xp.multiply(g, g, out=tmp)
        sq *= 1 - beta2
        v += sq
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = xp.sqrt(v, out=self._tmp(p, 1))   # sqrt(v / (1 - beta2^t)) + eps
        denom /= math.sqrt(1 - beta2 ** t)
        denom += eps
        step = xp.divide(m, denom, out=tmp)       # p -= lr / (1 - beta1^t) * m / denom
        step *= lr / (1 - beta1 ** t)
        p -= step


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019):
    p = p (1 - lr * weight_decay) before the Adam step, instead of adding wd * p to g."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
