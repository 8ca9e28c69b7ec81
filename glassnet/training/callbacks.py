"""Early stopping: stop when a monitored value stops improving, keep the best weights."""
from __future__ import annotations

import math


class EarlyStopping:
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a history key, e.g. 'val_loss' or 'val_accuracy'.
        patience: epochs without improvement before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: 'min', 'max', or 'auto' (max for names containing 'acc', else min).
        restore_best_weights: at the stop, load the weights of the best epoch back.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch, self.wait, self.best_state = -1, 0, None

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float, model) -> bool:
        """Record this epoch's value; True means: stop now."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), int(state["best_epoch"]), int(state["wait"])
