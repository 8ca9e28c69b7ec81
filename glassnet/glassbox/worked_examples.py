"""The notes' worked examples, replayed by the library itself (``glassnet explain``)."""
from __future__ import annotations

import math

from .. import nn
from ..tensor import tensor
from .explain import explain

SIGMOID_CHAIN_SETUP = """\
The notes' worked example: a chain 1 -> 1 -> 2 -> 1 of sigmoid units s(z) = 1 / (1 + e^-z), no biases.
  input x = 1.0, weights 0.2 (x -> h1), [0.2, 0.4] (h1 -> h2), [0.1, 0.2] (h2 -> y)
  target t = 0
  loss L = binary cross-entropy, natural log: L = -[t ln y + (1 - t) ln(1 - y)], so with t = 0, L = -ln(1 - y)
"""


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


def notes_sigmoid_network_text() -> str:
    """What ``glassnet explain`` prints: the setup (input, weights, target, which loss), every
    value of the forward and backward pass, and the loss worked out by hand from the output."""
    explanation = notes_sigmoid_network()
    y = float(explanation.steps[-1].output.reshape(-1)[0])        # the last sigmoid's output
    by_hand = (f"by hand: L = -ln(1 - {y:.4f}) = {-math.log(1 - y):.4f}   (natural log; with log10, "
               f"as some texts write it: -log10(1 - {y:.4f}) = {-math.log10(1 - y):.4f})")
    return "\n".join([SIGMOID_CHAIN_SETUP, str(explanation), "", by_hand])
