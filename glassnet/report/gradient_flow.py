"""Per-layer gradient sizes during training, for the gradient-flow picture.

After every backward pass (before clipping), ``LayerGradients.add`` reads each weight's
gradient g and keeps, for the current epoch,

    mean |g|  averaged over the epoch's steps      (how much the layer learns, typically)
    max  |g|  the largest over the epoch's steps   (the spikes that clipping would catch)

``epoch_record()`` hands them to the Trainer's history as flat keys
``grad_mean/<parameter>`` and ``grad_max/<parameter>`` (one number per epoch each, so
checkpoints store them like the loss) and starts the next epoch. Biases are left out, as
in the usual gradient-flow plot: a layer's learning shows in its weights.

Cost per step: one |g| pass over every weight, far less than the backward that made g.
"""
from __future__ import annotations

from ..backend import xp

MEAN, MAX = "grad_mean/", "grad_max/"


def tracked(name: str) -> bool:
    """The parameters whose gradients are recorded: weights, not biases."""
    return "bias" not in name.rsplit(".", 1)[-1]


class LayerGradients:
    """Accumulates mean and max |grad| per weight over one epoch's steps."""

    def __init__(self):
        self._sums: dict[str, float] = {}
        self._maxes: dict[str, float] = {}
        self._steps = 0

    def add(self, named_parameters) -> None:
        """Read the gradients now held by ``named_parameters`` (pairs of name, Parameter)."""
        for name, p in named_parameters:
            if p.grad is None or not tracked(name):
                continue
            a = xp.abs(p.grad._data)
            self._sums[name] = self._sums.get(name, 0.0) + float(a.mean())
            self._maxes[name] = max(self._maxes.get(name, 0.0), float(a.max()) if a.size else 0.0)
        self._steps += 1

    def epoch_record(self) -> dict:
        """{'grad_mean/<name>': mean over steps of mean |g|, 'grad_max/<name>': max |g|}, then reset."""
        record = {}
        for name, total in self._sums.items():
            record[MEAN + name] = total / max(self._steps, 1)
            record[MAX + name] = self._maxes[name]
        self.__init__()
        return record


def from_history(history: dict):
    """(layer names, mean |g| per layer per epoch, max |g| per layer per epoch) from a history.

    Returns names in the order the model registered them and two arrays of shape
    (epochs, layers); epochs where a layer was not recorded hold NaN.
    """
    names = [k[len(MEAN):] for k in history if k.startswith(MEAN)]
    epochs = max((len(history[MEAN + n]) for n in names), default=0)
    means = xp.full((epochs, len(names)), xp.nan)
    maxes = xp.full((epochs, len(names)), xp.nan)
    for j, n in enumerate(names):
        m, M = history[MEAN + n], history.get(MAX + n, [])
        means[epochs - len(m):, j] = m          # right-aligned: a resumed run's last epochs
        maxes[epochs - len(M):, j] = M
    return names, means, maxes
