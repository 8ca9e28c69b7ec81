"""Gradient flow: how much gradient reaches each layer, epoch by epoch."""
from __future__ import annotations

from ..backend import xp
from ..report.gradient_flow import from_history
from ._figure import axes

VANISHED = 1e-4


def vanished_layers(history: dict, ratio: float = VANISHED, epoch: int = -1):
    """Names of the weights whose mean |grad| in ``epoch`` (default: the last) is below ``ratio``
    times the largest layer's: the layers that have (nearly) stopped learning while others learn."""
    names, means, _ = from_history(history)
    if not names:
        return []
    row = means[epoch]
    top = xp.nanmax(row)
    return [n for n, v in zip(names, row) if not v > ratio * top]


def gradient_flow(history: dict, ax=None, ratio: float = VANISHED):
    """Mean |grad| (solid, one line per epoch, light to dark) and the last epoch's max |grad|
    (dashed) per weight, on a log scale; weights whose gradient vanished (``vanished_layers``)
    are labelled in red. Needs a history recorded by ``Trainer`` ('grad_mean/...' keys)."""
    names, means, maxes = from_history(history)
    if not names:
        raise ValueError("gn.plot.gradient_flow: the history has no 'grad_mean/<weight>' entries "
                         "(record one with gn.Trainer)")
    fig, (a,) = axes("gn.plot.gradient_flow", ax, 1, (max(6, 0.6 * len(names) + 3), 4.5))
    x = xp.arange(len(names))
    epochs = len(means)
    floor = 1e-12                                     # log scale: an exactly-zero gradient sits on the floor
    for e in range(epochs):
        shade = 0.25 + 0.75 * (e + 1) / epochs
        a.plot(x, xp.maximum(means[e], floor), "-o", markersize=3, color=(0.1, 0.3, 0.7, shade),
               linewidth=1.5 if e == epochs - 1 else 0.8, label="mean |grad|, last epoch" if e == epochs - 1 else None)
    a.plot(x, xp.maximum(maxes[-1], floor), "--^", markersize=4, color="C3", alpha=0.7, label="max |grad|, last epoch")
    a.set_yscale("log")
    crowded = len(names) > 6
    a.set_xticks(x, names, rotation=45 if crowded else 0, ha="right" if crowded else "center", fontsize=9)
    dead = set(vanished_layers(history, ratio))
    for label, name in zip(a.get_xticklabels(), names):
        if name in dead:
            label.set_color("#b00020")
            label.set_fontweight("bold")
    title = f"gradient flow over {epochs} epoch{'s' if epochs != 1 else ''} (earlier epochs lighter)"
    if dead:
        title += f"\nvanished (< {ratio:g} x the largest): {', '.join(sorted(dead, key=names.index))}"
    a.set(ylabel="|dL/dW|", title=title)
    a.legend(fontsize=8)
    if ax is None:
        fig.tight_layout()
    return fig
