"""The notes' worked examples, replayed by the library itself (``glassnet explain``)."""
from __future__ import annotations

from .. import nn
from ..tensor import tensor
from .explain import explain


def notes_sigmoid_network():
    """The chain 1 -> 1 -> 2 -> 1 of sigmoid units without biases, input 1.0, target 0:

        h1 = s(0.2 * 1.0)                  = 0.5498
        h2 = s([0.2, 0.4] * h1)            = [0.5275, 0.5548]
        y  = s(0.1 h2[0] + 0.2 h2[1])      = 0.5408
        BCE(y, 0) = -ln(1 - y)             = 0.7783
    """
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Sigmoid(),
                          nn.Linear(1, 2, bias=False), nn.Sigmoid(),
                          nn.Linear(2, 1, bias=False), nn.Sigmoid())
    model.load_state_dict({"0.weight": [[0.2]], "2.weight": [[0.2], [0.4]], "4.weight": [[0.1, 0.2]]})
    return explain(model, tensor([[1.0]]), tensor([[0.0]]), nn.BCELoss())
