"""RMSprop: divide the gradient by a running root-mean-square of its recent values."""
from __future__ import annotations

from ..backend import xp
from ..kernels import optim as kernels
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""torch's formulation:

        g = grad + weight_decay * p
        s = alpha s + (1 - alpha) g^2
        d = sqrt(s - a^2) + eps  with a = alpha a + (1 - alpha) g   if centered,  else sqrt(s) + eps
        b = momentum b + g / d;  p = p - lr b     if momentum > 0,  else  p = p - lr g / d

    ``foreach``: accepted for torch's signature; the update is the same either way.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False, foreach=None):
        if lr < 0 or eps < 0 or momentum < 0 or alpha < 0:
            raise ValueError(f"RMSprop: invalid lr={lr}, alpha={alpha}, eps={eps} or momentum={momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize,
                                      foreach=foreach))

    def _update(self, p, g, state, group):
        alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        # g = grad + wd p;  s = alpha s + (1 - alpha) g^2;  d = sqrt(s - a^2) + eps or sqrt(s) + eps;
        # b = mu b + g / d, p -= lr b  (momentum)  or  p -= lr g / d
        kernels.rmsprop(p, g, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                        lr, alpha, eps, group["weight_decay"], group["momentum"], group["maximize"])
