"""What the experiments share: the digits split, a quiet Trainer, and saving a figure."""
from __future__ import annotations

from .. import backend, data
from ..training import Trainer


def digits_split(train_size=None, seed: int = 0):
    """(train, validation) TensorDatasets from the embedded digits: a seeded 80/20 split
    (the same one ``glassnet train`` uses), the training part cut to ``train_size`` if given."""
    X, y = data.load_digits()
    train, val = data.random_split(data.TensorDataset(X, y), [0.8, 0.2], generator=seed)
    if train_size is not None:
        train = data.Subset(train, list(range(train_size)))
    return train, val


def quiet_trainer(model, optimizer, loss_fn, **kwargs) -> Trainer:
    return Trainer(model, optimizer, loss_fn, progress=False, verbose=False, **kwargs)


def seeded(seed: int) -> None:
    backend.manual_seed(seed)


def save_figure(draw, out, log) -> bool:
    """Call ``draw(plt)`` -> Figure and save it to ``out``; without matplotlib say how to get it."""
    try:
        from ..plot._figure import close, pyplot
        plt = pyplot("glassnet experiment")
    except ImportError as error:
        log(f"({error})")
        return False
    fig = draw(plt)
    fig.savefig(out, dpi=110)
    close(fig)
    log(f"saved {out}")
    return True
