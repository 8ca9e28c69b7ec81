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
        self._weights = None          # [(name, parameter, |g| buffer)], read once per epoch
        self._sums: dict[str, float] = {}
        self._maxes: dict[str, float] = {}
        self._steps = 0

    def add(self, model) -> None:
        """Read the gradients now held by ``model``'s weights (a Module, or (name, parameter) pairs)."""
        if self._weights is None:
            pairs = model.named_parameters() if hasattr(model, "named_parameters") else model
            self._weights = [(n, p, None) for n, p in pairs if tracked(n)]
        for k, (name, p, buffer) in enumerate(self._weights):
            if p.grad is None:
                continue
            g = p.grad._data
            if buffer is None or buffer.shape != g.shape or buffer.dtype != g.dtype:
                buffer = xp.empty_like(g)
                self._weights[k] = (name, p, buffer)
            a = xp.abs(g, out=buffer)            # ufunc reductions: fewer Python layers than .mean()/.max()
            self._sums[name] = self._sums.get(name, 0.0) + float(xp.add.reduce(a, axis=None)) / max(a.size, 1)
            self._maxes[name] = max(self._maxes.get(name, 0.0), float(xp.maximum.reduce(a, axis=None)) if a.size else 0.0)
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
