"""The notes' experiments, runnable: ``glassnet experiment NAME`` (each prints its numbers and
writes its figure; ``python -m glassnet.experiments.figures`` regenerates every committed figure).

Importing this package is cheap: the experiment modules load only when one runs.
"""
from __future__ import annotations

import importlib

# command-line name -> module in this package; each module has run(out=..., log=print) -> dict
EXPERIMENTS = {
    "vanishing-gradients": "vanishing_gradients",
    "activations": "activations",
    "batch-norm": "batch_norm",
    "dropout": "dropout",
    "exploding-gradients": "exploding_gradients",
    "optimizers": "optimizers",
}


def module(name: str):
    """The experiment module for a command-line name (e.g. 'batch-norm')."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENTS[name]}")


def default_output(name: str) -> str:
    return f"{EXPERIMENTS[name]}.png"
