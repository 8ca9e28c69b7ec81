"""Explicit penalty terms to add to a loss.

L2 regularisation is usually applied through the optimizer's ``weight_decay``
(for SGD, adding ``wd * p`` to the gradient is exactly the gradient of (wd/2) ||p||^2).
L1 has no optimizer switch in torch either; add its penalty to the loss:

    loss = criterion(model(x), y) + gn.optim.l1_penalty(model.parameters(), 1e-4)

Its gradient is ``l1_lambda * sign(p)``, which pushes small weights to exactly zero (sparsity).
"""
from __future__ import annotations


def l1_penalty(parameters, l1_lambda: float):
    """l1_lambda * sum_p sum |p|  (a Tensor in the graph; its gradient is l1_lambda * sign(p))."""
    total = None
    for p in parameters:
        if p.requires_grad:
            term = p.abs().sum()
            total = term if total is None else total + term
    if total is None:
        raise ValueError("l1_penalty: no parameter requires grad")
    return total * l1_lambda


def l2_penalty(parameters, l2_lambda: float):
    """(l2_lambda / 2) * sum_p ||p||^2; its gradient is l2_lambda * p, the same as SGD's weight_decay."""
    total = None
    for p in parameters:
        if p.requires_grad:
            term = (p * p).sum()
            total = term if total is None else total + term
    if total is None:
        raise ValueError("l2_penalty: no parameter requires grad")
    return total * (l2_lambda / 2)
