"""Batch normalization: the same MLP with and without it, at two learning rates.

Notes 001_0ad103dc23bd7991.txt ("Loss with and without Batch normalization", "Model
accuracy affected by Batch normalization") show a figure (missing from the transcript)
and say that with batch norm the validation loss improves, learning is more stable and the
validation accuracy is higher. Here: a 4-hidden-layer ReLU MLP on the digits (torch's
default init) trained with plain SGD at a small and a large learning rate, each with
``BatchNorm1d`` after every Linear (before the ReLU) and without. Measured: training and validation loss per epoch, validation accuracy.
"""
from __future__ import annotations

import time

from .. import nn, optim
from ._common import digits_split, quiet_trainer, save_figure, seeded

HIDDEN = (128, 128, 128, 128)
ACTIVATION = nn.ReLU


def mlp(batch_norm: bool):
    layers, width = [], 64
    for h in HIDDEN:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(ACTIVATION())
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def run(out: str = "batch_norm.png", epochs: int = 20, learning_rates=(0.05, 0.5), seed: int = 0, log=print) -> dict:
    started = time.perf_counter()
    train, val = digits_split(seed=seed)
    results = {}
    log(f"ReLU MLP {' -> '.join(map(str, (64, *HIDDEN, 10)))}, SGD, batch 32, {epochs} epochs on the digits")
    for lr in learning_rates:
        for bn in (False, True):
            seeded(seed)
            model = mlp(bn)
            trainer = quiet_trainer(model, optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss())
            h = trainer.fit(train, epochs=epochs, batch_size=32, val_data=val)
            key = f"lr {lr:g}, {'with' if bn else 'without'} batch norm"
            results[key] = {"lr": lr, "batch_norm": bn, "loss": h["loss"], "val_loss": h["val_loss"],
                            "val_accuracy": h["val_accuracy"]}
            log(f"  {key:>32}: training loss {h['loss'][-1]:.3f}   validation loss {h['val_loss'][-1]:.3f}   "
                f"validation accuracy after 5 epochs {100 * h['val_accuracy'][min(4, epochs - 1)]:5.1f}%, "
                f"after {epochs} {100 * h['val_accuracy'][-1]:5.1f}%")
    log(f"{time.perf_counter() - started:.0f}s")
    save_figure(lambda plt: _draw(plt, results), out, log)
    return results


def _draw(plt, results):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    rates = sorted({r["lr"] for r in results.values()})
    for key, r in results.items():
        colour = f"C{rates.index(r['lr'])}"
        style = "-" if r["batch_norm"] else "--"
        epochs = range(1, len(r["loss"]) + 1)
        loss_ax.semilogy(epochs, r["loss"], style, color=colour, alpha=0.45)
        loss_ax.semilogy(epochs, r["val_loss"], style, color=colour, marker=".", label=key)
        acc_ax.plot(epochs, [100 * a for a in r["val_accuracy"]], style, color=colour, marker=".", label=key)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="validation loss (dots), training loss (faint)")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="solid: with BatchNorm1d, dashed: without")
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
