"""Training curves from a ``Trainer`` history: loss and metric, train and validation."""
from __future__ import annotations

from ..backend import xp
from ._figure import axes


def smooth(values, weight: float = 0.9):
    """Exponential moving average with bias correction (TensorBoard's smoothing):

        m_t = weight * m_{t-1} + (1 - weight) * v_t,    shown: m_t / (1 - weight^t)

    so the first points are not dragged toward zero.
    """
    values = xp.asarray(values, dtype=xp.float64)
    out = xp.empty_like(values)
    m = 0.0
    for t, v in enumerate(values, start=1):
        m = weight * m + (1 - weight) * v
        out[t - 1] = m / (1 - weight ** t)
    return out


def training_curves(history: dict, metric: str = "accuracy", smoothing: float = 0.9, ax=None):
    """Loss (left) and ``metric`` (right) per epoch, training and validation.

    The loss panel also shows every step's training loss ('step_loss'), faint, and its
    smoothed curve (``smooth``), placed on the epoch axis (step s of E epochs of S steps
    sits at epoch s / S). Without the metric in the history only the loss panel is drawn.

    Args:
        history: ``Trainer.history`` (or ``fit``'s return value).
        ax: None, or one Axes (loss only) / two Axes (loss, metric) to draw into.
    Returns:
        the matplotlib Figure.
    """
    if "loss" not in history:
        raise ValueError(f"training_curves: the history has no 'loss' (keys: {sorted(history)[:8]})")
    panels = 2 if metric in history and (ax is None or not _is_single(ax)) else 1
    fig, (loss_ax, *rest) = axes("gn.plot.training_curves", ax, panels, (11, 4) if panels == 2 else (6, 4))
    epochs = xp.arange(1, len(history["loss"]) + 1)
    steps = history.get("step_loss") or []
    if len(steps) > len(epochs):
        at = xp.arange(1, len(steps) + 1) * len(epochs) / len(steps)     # steps on the epoch axis
        loss_ax.plot(at, steps, color="C0", alpha=0.2, linewidth=0.6, label="train loss per step")
        loss_ax.plot(at, smooth(steps, smoothing), color="C0", linewidth=1, label=f"smoothed ({smoothing})")
    loss_ax.plot(epochs, history["loss"], "o-", color="C0", markersize=3, label="train loss per epoch")
    if "val_loss" in history:
        loss_ax.plot(epochs[-len(history["val_loss"]):], history["val_loss"], "s-", color="C1", markersize=3,
                     label="validation loss")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    if min(min(history["loss"]), min(steps, default=1.0)) > 0:
        loss_ax.set_yscale("log")
    loss_ax.legend(fontsize=8)
    if rest:
        metric_ax = rest[0]
        metric_ax.plot(epochs, history[metric], "o-", color="C0", markersize=3, label=f"train {metric}")
        if f"val_{metric}" in history:
            metric_ax.plot(epochs[-len(history[f"val_{metric}"]):], history[f"val_{metric}"], "s-",
                           color="C1", markersize=3, label=f"validation {metric}")
        metric_ax.set(xlabel="epoch", ylabel=metric, title=metric)
        metric_ax.legend(fontsize=8)
    if ax is None:
        fig.tight_layout()
    return fig


def _is_single(ax) -> bool:
    return not isinstance(ax, (list, tuple)) and not hasattr(ax, "flat")
