"""Exploding gradients in a recurrent net, and the two ways to clip them.

Backpropagation through time multiplies one Jacobian per step: for h_t = relu(W_hh h_{t-1}
+ W_ih x_t + b), dh_t/dh_{t-1} = diag(relu'(z_t)) W_hh, so ||dL/dh_0|| can grow like
lambda^T where lambda is W_hh's largest singular value (notes 001_0ad103dc23bd7991.txt,
"Exploding Gradient": "we multiply a large number together at every time step, and it
leads to infinity"). The task: read T numbers, output their mean (MSE). W_hh starts as
``SCALE`` times the identity (each unit keeps a running sum, with zero biases), so
lambda = SCALE > 1: through every active unit the gradient grows by SCALE per step back,
and as training moves the weights it explodes.

Three runs of plain SGD from the same weights and batches:
  * no clipping;
  * clipping by value, ``clip_grad_value_(params, c)``: every component into [-c, c]
    (this changes the gradient's direction);
  * clipping by norm, ``clip_grad_norm_(params, m)``: g <- g * m / ||g|| when ||g|| > m
    (same direction, bounded length).
The notes' "Gradient clipping" section describes both at once (it normalises by the L2
norm, then speaks of keeping each value in [-0.7, 0.7]); they are different methods, and
glassnet has one function for each, as torch does.
Measured: the gradient norm before clipping and the loss at every step.
"""
from __future__ import annotations

import math
import time

from .. import nn, optim
from ..backend import xp
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ..tensor import Tensor
from ._common import save_figure, seeded

T, HIDDEN, SCALE = 40, 32, 1.05


class MeanReader(nn.Module):
    """ReLU RNN (batch_first) -> Linear on the last state: one number out per sequence."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, HIDDEN, nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(HIDDEN, 1)
        self.rnn.weight_hh_l0.numpy()[...] = SCALE * xp.eye(HIDDEN)       # every unit feeds itself x SCALE
        self.rnn.bias_hh_l0.numpy()[...] = 0
        self.rnn.bias_ih_l0.numpy()[...] = 0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def batches(steps: int, seed: int, batch: int = 32):
    gen = xp.random.default_rng(seed)
    for _ in range(steps):
        x = gen.uniform(-1, 1, (batch, T, 1)).astype(xp.float32)
        yield Tensor._wrap(x), Tensor._wrap(x.mean(axis=1))


def train(clip: str, steps: int, lr: float, seed: int, value: float, norm: float):
    seeded(seed)
    model = MeanReader()
    opt = optim.SGD(model.parameters(), lr=lr)
    losses, norms = [], []
    for x, y in batches(steps, seed):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        total = float(clip_grad_norm_(model.parameters(), math.inf))    # max_norm inf: measure only
        losses.append(loss.item())
        norms.append(total)
        if not (math.isfinite(total) and math.isfinite(losses[-1])):
            break                                                         # the weights are gone
        if clip == "value":
            clip_grad_value_(model.parameters(), value)
        elif clip == "norm":
            clip_grad_norm_(model.parameters(), norm)
        opt.step()
    return losses, norms


def run(out: str = "exploding_gradients.png", steps: int = 300, lr: float = 0.01, clip_value: float = 0.1,
        clip_norm: float = 1.0, seed: int = 0, log=print) -> dict:
    started = time.perf_counter()
    log(f"ReLU RNN, {HIDDEN} units, W_hh = {SCALE} x identity, T = {T}: output the mean of T numbers; "
        f"SGD lr {lr}, {steps} steps of 32")
    results = {}
    for clip, label in (("none", "no clipping"), ("value", f"clip by value {clip_value:g}"),
                        ("norm", f"clip by norm {clip_norm:g}")):
        losses, norms = train(clip, steps, lr, seed, clip_value, clip_norm)
        finite = [n for n in norms if math.isfinite(n)]
        diverged = len(losses) < steps or not math.isfinite(losses[-1])
        results[label] = {"loss": losses, "grad_norm": norms, "diverged": diverged}
        end = f"diverged at step {len(losses)} (loss {losses[-1]:.3g})" if diverged else \
            f"final loss {sum(losses[-20:]) / 20:.4f} (mean of the last 20 steps)"
        log(f"  {label:>17}: gradient norm at step 1 {norms[0]:.3g}, largest {max(finite):.3g}; {end}")
    log(f"  (predicting 0 everywhere gives loss {1 / (3 * T):.4f}: the variance of the mean of {T} uniform(-1, 1))")
    log(f"{time.perf_counter() - started:.0f}s")
    save_figure(lambda plt: _draw(plt, results), out, log)
    return results


def _draw(plt, results):
    fig, (norm_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    for k, (label, r) in enumerate(results.items()):
        steps = range(1, len(r["loss"]) + 1)
        norm_ax.semilogy(steps, xp.minimum(r["grad_norm"], 1e30), color=f"C{k}", label=label)
        loss_ax.semilogy(steps, xp.minimum(r["loss"], 1e30), color=f"C{k}",
                         label=label + (" (diverged)" if r["diverged"] else ""))
    loss_ax.axhline(1 / (3 * T), color="grey", linestyle=":", label="predict 0")
    norm_ax.set(xlabel="step", ylabel="||dL/dW|| before clipping", title=f"gradient norm (W_hh = {SCALE} x identity)")
    loss_ax.set(xlabel="step", ylabel="training loss (MSE)", title="loss")
    norm_ax.legend(fontsize=8)
    loss_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
