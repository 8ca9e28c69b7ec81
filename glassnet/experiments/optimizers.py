"""SGD, SGD with momentum and Adam on one problem: the digits MLP, same init, same batches.

    SGD:       W <- W - lr g
    momentum:  v <- mu v + g;   W <- W - lr v          (torch's form; mu = 0.9)
    Adam:      m <- b1 m + (1 - b1) g;  s <- b2 s + (1 - b2) g^2;
               W <- W - lr m_hat / (sqrt(s_hat) + eps)  (hats: divided by 1 - b^t)

SGD and momentum share one learning rate, so the difference between them is the momentum
alone (with mu = 0.9 a steady gradient moves W up to 1 / (1 - mu) = 10 times further per
step); Adam runs at its usual 1e-3. Measured: the training loss at every step (smoothed),
validation accuracy per epoch, and the first step at which the smoothed loss falls below
``TARGET``.
"""
from __future__ import annotations

import time

from .. import models, nn, optim
from ..plot.curves import smooth
from ._common import digits_split, quiet_trainer, save_figure, seeded

TARGET = 0.1


def optimizers(params, lr: float):
    return {f"SGD lr {lr:g}": lambda: optim.SGD(params(), lr=lr),
            f"SGD + momentum 0.9, lr {lr:g}": lambda: optim.SGD(params(), lr=lr, momentum=0.9),
            "Adam lr 0.001": lambda: optim.Adam(params(), lr=1e-3)}


def run(out: str = "optimizers.png", epochs: int = 15, lr: float = 0.01, seed: int = 0, log=print) -> dict:
    started = time.perf_counter()
    train, val = digits_split(seed=seed)
    log(f"MLP 64 -> 128 -> 64 -> 10 on the digits, batch 32, {epochs} epochs, the same init and batches")
    results = {}
    holder = {}
    for name, make in optimizers(lambda: holder["model"].parameters(), lr).items():
        seeded(seed)
        holder["model"] = model = models.mlp(64, (128, 64), 10)
        trainer = quiet_trainer(model, make(), nn.CrossEntropyLoss())
        h = trainer.fit(train, epochs=epochs, batch_size=32, val_data=val)
        smoothed = smooth(h["step_loss"], 0.95)
        reached = next((s + 1 for s, v in enumerate(smoothed) if v < TARGET), None)
        results[name] = {"step_loss": h["step_loss"], "smoothed": list(smoothed), "val_accuracy": h["val_accuracy"],
                         "steps_to_target": reached, "steps_per_epoch": len(h["step_loss"]) // epochs}
        log(f"  {name:>30}: loss after 1 epoch {h['loss'][0]:.3f}, after {epochs} {h['loss'][-1]:.4f}; "
            f"smoothed loss < {TARGET} at step {reached if reached else 'never'}; "
            f"validation accuracy {100 * h['val_accuracy'][-1]:.1f}%")
    log(f"{time.perf_counter() - started:.0f}s")
    save_figure(lambda plt: _draw(plt, results), out, log)
    return results


def _draw(plt, results):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    for k, (name, r) in enumerate(results.items()):
        steps = range(1, len(r["step_loss"]) + 1)
        loss_ax.semilogy(steps, r["step_loss"], color=f"C{k}", alpha=0.15, linewidth=0.6)
        loss_ax.semilogy(steps, r["smoothed"], color=f"C{k}", label=name)
        epochs = range(1, len(r["val_accuracy"]) + 1)
        acc_ax.plot(epochs, [100 * a for a in r["val_accuracy"]], "o-", markersize=3, color=f"C{k}", label=name)
    loss_ax.axhline(TARGET, color="grey", linestyle=":", linewidth=1)
    loss_ax.set(xlabel="step", ylabel="training loss", title="training loss per step (faint) and smoothed")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy")
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
