"""Which activation trains a deep network? The notes' ranking, measured.

Notes 000_f1a626c8fa66bc36.txt ("Which activation function should you use?") rank
ELU > Leaky ReLU > ReLU > tanh > sigma, because sigma' <= 1/4 (each sigmoid layer passes
back at most a quarter of the gradient: the product over many layers vanishes), tanh' <= 1,
ReLU' is 1 or 0 (a unit whose input stays negative is "dead": no gradient, no learning),
and leaky ReLU / ELU keep a gradient for negative inputs.

The same deep MLP (``DEPTH`` hidden layers of ``WIDTH`` units, torch's default init) is
trained on the digits with each activation, from the same seed and the same He init
(var W = 2 / fan_in; with torch's default init, whose variance is a third of that, this
deep ReLU net does not train at all: the signal shrinks layer by layer), with plain SGD (no
momentum, no adaptive step: an optimizer that rescales each gradient, like Adam, would hide
how small it is). Measured: training loss per epoch, validation accuracy, the mean |grad| of
the first layer's weights (from the Trainer's gradient-flow history), and the share of
hidden units that output 0 (ReLU) or stay negative (the others) for every training sample.
"""
from __future__ import annotations

import time

from .. import nn, optim
from ..autograd import no_grad
from ..backend import xp
from ._common import digits_split, quiet_trainer, save_figure, seeded

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU, "leaky ReLU": nn.LeakyReLU, "ELU": nn.ELU}
NOTES_RANKING = ["ELU", "leaky ReLU", "ReLU", "tanh", "sigmoid"]
DEPTH, WIDTH = 8, 64


def deep_mlp(activation):
    layers, width = [], 64
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH), activation()]
        width = WIDTH
    layers.append(nn.Linear(width, 10))
    for layer in layers:
        if isinstance(layer, nn.Linear):        # He init for all: var(W) = 2 / fan_in
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def inactive_share(model, X) -> float:
    """Share of hidden units whose output is <= 0 for every sample of X (dead, for a ReLU)."""
    outputs = []
    handles = [m.register_forward_hook(lambda mod, i, out: outputs.append(out.numpy() > 0))
               for m in model.modules() if isinstance(m, tuple(ACTIVATIONS.values()))]
    with no_grad():
        model(X)
    for h in handles:
        h.remove()
    never = [(~active.any(axis=0)).sum() for active in outputs]
    return float(sum(never) / sum(a.shape[1] for a in outputs))


def run(out: str = "activations.png", epochs: int = 20, lr: float = 0.05, seed: int = 0, log=print) -> dict:
    started = time.perf_counter()
    train, val = digits_split(seed=seed)
    X_train = train.dataset.tensors[0][xp.asarray(train.indices)]
    results = {}
    log(f"{DEPTH} hidden layers x {WIDTH} units, SGD lr {lr}, batch 32, {epochs} epochs on the digits")
    for name, activation in ACTIVATIONS.items():
        seeded(seed)
        model = deep_mlp(activation)
        trainer = quiet_trainer(model, optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss())
        history = trainer.fit(train, epochs=epochs, batch_size=32, val_data=val)
        model.eval()
        results[name] = {
            "loss": history["loss"], "val_accuracy": history["val_accuracy"],
            "first_layer_grad": history["grad_mean/0.weight"],
            "inactive": inactive_share(model, X_train),
        }
        r = results[name]
        log(f"  {name:>10}: loss {r['loss'][0]:.3f} -> {r['loss'][-1]:.3f}   validation accuracy "
            f"{100 * r['val_accuracy'][-1]:5.1f}%   first-layer mean |grad| epoch 1 {r['first_layer_grad'][0]:.1e}, "
            f"last {r['first_layer_grad'][-1]:.1e}   hidden units never positive {100 * r['inactive']:.1f}%")
    measured = sorted(results, key=lambda n: results[n]["loss"][-1])
    log(f"ranking by final training loss: {' > '.join(measured)}")
    by_accuracy = sorted(results, key=lambda n: -results[n]["val_accuracy"][-1])
    log(f"ranking by validation accuracy: {' > '.join(by_accuracy)}")
    log(f"the notes' ranking:             {' > '.join(NOTES_RANKING)}"
        f"  ({'holds' if measured == NOTES_RANKING else 'does not hold exactly'} in this run)")
    log(f"{time.perf_counter() - started:.0f}s")
    save_figure(lambda plt: _draw(plt, results, lr), out, log)
    return {"results": results, "ranking": measured, "notes_ranking": NOTES_RANKING}


def _draw(plt, results, lr):
    fig, (loss_ax, grad_ax, dead_ax) = plt.subplots(1, 3, figsize=(15, 4.2))
    for k, (name, r) in enumerate(results.items()):
        epochs = range(1, len(r["loss"]) + 1)
        loss_ax.semilogy(epochs, r["loss"], color=f"C{k}", label=f"{name} ({100 * r['val_accuracy'][-1]:.0f}% val)")
        grad_ax.semilogy(epochs, r["first_layer_grad"], color=f"C{k}", label=name)
    names = list(results)
    dead_ax.bar(names, [100 * results[n]["inactive"] for n in names], color=[f"C{k}" for k in range(len(names))])
    loss_ax.set(xlabel="epoch", ylabel="training loss", title=f"{DEPTH}-hidden-layer MLP, SGD lr {lr}")
    grad_ax.set(xlabel="epoch", ylabel="mean |dL/dW| of the first layer", title="gradient reaching the first layer")
    dead_ax.set(ylabel="% of hidden units", title="units never positive on the training set (dead, for ReLU)")
    loss_ax.legend(fontsize=8)
    grad_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
