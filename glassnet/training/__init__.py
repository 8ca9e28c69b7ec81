"""The training loop (``gn.Trainer``), early stopping and metrics."""
from .callbacks import EarlyStopping
from .metrics import accuracy_counts
from .run_lock import RunLockedError
from .tbptt import TBPTT
from .trainer import Trainer, TrainingError, TrainingInterrupted

__all__ = ["Trainer", "TrainingError", "TrainingInterrupted", "RunLockedError", "TBPTT", "EarlyStopping",
           "accuracy_counts"]
