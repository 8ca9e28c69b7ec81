"""Optimizers and learning-rate schedules (``gn.optim``), updating exactly as torch's do."""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .regularization import l1_penalty, l2_penalty
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "l1_penalty", "l2_penalty"]
