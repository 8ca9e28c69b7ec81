"""The training loop (``gn.Trainer``), early stopping and metrics."""
from .callbacks import EarlyStopping
from .metrics import accuracy_counts
from .trainer import Trainer, TrainingError

__all__ = ["Trainer", "TrainingError", "EarlyStopping", "accuracy_counts"]
