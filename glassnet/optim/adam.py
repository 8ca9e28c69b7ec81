"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""
from __future__ import annotations

from ..backend import xp
from ..kernels import optim as kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), torch's formulation:

        g = grad + weight_decay * p          (L2 penalty folded into the gradient)
        m = beta1 m + (1 - beta1) g          (first moment)
        v = beta2 v + (1 - beta2) g^2        (second moment)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    ``amsgrad`` keeps the running maximum of v instead of v in the denominator.
    ``foreach`` / ``fused``: accepted for torch's signature; the update is the same either way.
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 foreach=None, fused=None):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: invalid lr={lr}, eps={eps} or betas={betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      foreach=foreach, fused=fused))

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        # g = grad + wd p (Adam) or p = p (1 - lr wd) (AdamW);  m = beta1 m + (1 - beta1) g;
        # v = beta2 v + (1 - beta2) g^2;  p -= lr / (1 - beta1^t) m / (sqrt(v / (1 - beta2^t)) + eps)
        kernels.adam(p, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), state["step"],
                     group["lr"], beta1, beta2, group["eps"], group["weight_decay"], self.decoupled,
                     group["maximize"], tmp=self._tmp)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019):
    p = p (1 - lr * weight_decay) before the Adam step, instead of adding wd * p to g."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
                 foreach=None, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize, foreach, fused)
