"""The softmax and its Jacobian diag(p) - p p^T, computed by autograd (000 "Softmax detour")."""
from __future__ import annotations

import numpy as np

from ..autograd.functional import jacobian
from ..nn import functional as F
from ._util import t
from .registry import lesson


@lesson("softmax-jacobian", "Softmax p_i = e^a_i / sum_j e^a_j and its Jacobian diag(p) - p p^T",
        ("000", "Softmax detour"), ("001", "Gradient of loss wrt to V"))
def softmax_jacobian(board):
    a = t([1.0, 2.0, 0.5])
    board.say("The notes derive dp_i/da_j = p_i (1 - p_i) when i = j and -p_i p_j otherwise, with no numbers; "
              "here a = [1, 2, 0.5].")
    board.step("Softmax")
    e = a.exp()
    board.show("e^a", e, key="exp")
    board.show("sum_j e^a_j", e.sum(), key="sum")
    p = F.softmax(a, dim=0)
    board.show("p = softmax(a)", p, key="p")
    board.show("sum of p", p.sum())
    board.step("Jacobian by autograd: gn.autograd.functional.jacobian(softmax, a)")
    J = jacobian(lambda v: F.softmax(v, dim=0), a)
    board.show("J[i, j] = dp_i/da_j", J, key="jacobian")
    pn = p.numpy()
    formula = np.diag(pn) - np.outer(pn, pn)
    board.show("diag(p) - p p^T", formula, key="formula")
    board.show("largest |J - formula|", float(np.abs(J.numpy() - formula).max()), digits=2)
    board.show("row sums of J", J.numpy().sum(axis=1), digits=6)
    board.say("Each row sums to 0: adding the same constant to every a_j leaves p unchanged.")
    board.step("With cross-entropy: dL/da = p - y (the notes' (y_hat - y))")
    y = 1
    ta = t(a.numpy(), requires_grad=True)
    loss = F.cross_entropy(ta[None], t([y]).long())
    loss.backward()
    board.show("loss = -ln p_y (y = 1)", loss, key="ce_loss")
    board.show("dL/da by autograd", ta.grad, key="ce_grad")
    board.show("p - onehot(y)", pn - np.eye(3)[y])
