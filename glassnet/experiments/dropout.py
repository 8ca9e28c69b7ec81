"""Dropout against overfitting: a large MLP on a small training set, with and without it.

Notes 001_0ad103dc23bd7991.txt ("Dropouts") and 000_f1a626c8fa66bc36.txt: dropping each
hidden unit with probability p during training (and scaling the survivors by 1 / (1 - p),
so nothing changes at test time) keeps units from co-adapting, which reduces overfitting.

Setup: only ``TRAIN_SIZE`` training digits, an MLP with two hidden layers of 512 units
(far more parameters than samples), Adam for ``epochs`` epochs, with ``Dropout(p)`` after
each hidden layer and without. Measured per epoch: training and validation loss and
accuracy; the gap between them is the overfitting.
"""
from __future__ import annotations

import time

from .. import models, nn, optim
from ._common import digits_split, quiet_trainer, save_figure, seeded

TRAIN_SIZE = 200


def run(out: str = "dropout.png", epochs: int = 100, p: float = 0.5, seed: int = 0, log=print) -> dict:
    started = time.perf_counter()
    train, val = digits_split(train_size=TRAIN_SIZE, seed=seed)
    results = {}
    log(f"MLP 64 -> 512 -> 512 -> 10 on {len(train)} training digits ({len(val)} validation), Adam lr 1e-3, "
        f"batch 32, {epochs} epochs")
    for rate in (0.0, p):
        seeded(seed)
        model = models.mlp(64, (512, 512), 10, dropout=rate)
        trainer = quiet_trainer(model, optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss())
        h = trainer.fit(train, epochs=epochs, batch_size=32, val_data=val)
        best = min(range(epochs), key=lambda e: h["val_loss"][e])
        key = f"dropout p={rate:g}" if rate else "no dropout"
        results[key] = {"p": rate, **{k: h[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}}
        log(f"  {key:>13}: final training loss {h['loss'][-1]:.4f}, validation loss {h['val_loss'][-1]:.3f} "
            f"(lowest {h['val_loss'][best]:.3f} at epoch {best + 1}), training accuracy {100 * h['accuracy'][-1]:.1f}%, "
            f"validation accuracy {100 * h['val_accuracy'][-1]:.1f}%")
    log(f"{time.perf_counter() - started:.0f}s")
    save_figure(lambda plt: _draw(plt, results), out, log)
    return results


def _draw(plt, results):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    for k, (key, r) in enumerate(results.items()):
        epochs = range(1, len(r["loss"]) + 1)
        loss_ax.semilogy(epochs, r["loss"], "--", color=f"C{k}", label=f"{key}: training")
        loss_ax.semilogy(epochs, r["val_loss"], "-", color=f"C{k}", label=f"{key}: validation")
        acc_ax.plot(epochs, [100 * a for a in r["accuracy"]], "--", color=f"C{k}", label=f"{key}: training")
        acc_ax.plot(epochs, [100 * a for a in r["val_accuracy"]], "-", color=f"C{k}", label=f"{key}: validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title=f"{TRAIN_SIZE} training digits: loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (the gap is the overfitting)", ylim=(50, 101))
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
