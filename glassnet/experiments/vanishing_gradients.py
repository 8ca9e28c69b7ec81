"""Why vanilla RNNs forget: ||dL/dh_k|| against k, for an RNN, an LSTM and a GRU.

Task: read T random symbols and name the *first* one at the end (chance = 1/K). The
loss sits at step T; its gradient must travel back to step 0. Through a vanilla RNN,
dh_t/dh_{t-1} = diag(1 - h_t^2) W, so ||dL/dh_k|| <= (gamma * lambda)^(T-k) ||dL/dh_T||
with lambda the largest singular value of W and gamma = max tanh' = 1: the norm shrinks
geometrically when gamma * lambda < 1 (or explodes when it is > 1). The LSTM's cell state
has the highway dc_t/dc_{t-1} = f_t, so with open forget gates the gradient survives.

Each model is trained at several lengths T (accuracy against T), then unrolled step by
step with its cell at the longest T to read dL/dh_k for every k (retain_grad on each h_k).
"""
from __future__ import annotations

import math
import time

from .. import backend, nn, optim
from ..backend import xp
from ..tensor import Tensor, stack

SYMBOLS = 4
HIDDEN = 32


def make_batch(batch: int, T: int, gen):
    """One-hot sequences (batch, T, K) of random symbols; the target is the first symbol."""
    ids = gen.integers(0, SYMBOLS, (batch, T))
    x = xp.eye(SYMBOLS, dtype=xp.float32)[ids]
    return Tensor._wrap(x), Tensor._wrap(ids[:, 0].astype(xp.int64))


class Recall(nn.Module):
    """Recurrent layer (batch_first) -> Linear on the last step."""

    def __init__(self, cell: str):
        super().__init__()
        self.cell = cell
        self.rnn = getattr(nn, cell)(SYMBOLS, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, SYMBOLS)
        if cell == "LSTM":  # forget-gate bias 1 (Jozefowicz et al., 2015): start with the highway open
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p.numpy()[HIDDEN:2 * HIDDEN] = 1.0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def train(model, T: int, steps: int, seed: int):
    gen = xp.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, y = make_batch(64, T, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = make_batch(512, T, gen)
    with __import__("glassnet").no_grad():
        return float((model(x).argmax(1).numpy() == y.numpy()).mean())


def gradient_norms(model, T: int, seed: int):
    """||dL/dh_k|| (mean over the batch) for k = 0..T-1, unrolling the layer's cell."""
    kind = model.cell
    cell = getattr(nn, f"{kind}Cell")(SYMBOLS, HIDDEN)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in model.rnn.state_dict().items()})
    x, y = make_batch(256, T, xp.random.default_rng(seed))
    h = Tensor._wrap(xp.zeros((256, HIDDEN), xp.float32))
    c = Tensor._wrap(xp.zeros((256, HIDDEN), xp.float32))
    hs = []
    for t in range(T):
        if kind == "LSTM":
            h, c = cell(x[:, t], (h, c))
        else:
            h = cell(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    loss = nn.functional.cross_entropy(model.fc(hs[-1]), y)
    loss.backward()
    return [float(xp.linalg.norm(hk.grad.numpy(), axis=1).mean()) for hk in hs]


def run(out: str = "vanishing_gradients.png", steps=None, lengths=(5, 10, 20, 40), seed: int = 0,
        log=print) -> dict:
    steps = steps or 300
    backend.manual_seed(seed)
    started = time.perf_counter()
    results = {"lengths": list(lengths), "accuracy": {}, "grad_norms": {}, "decay_per_step": {}}
    for kind in ("RNN", "LSTM", "GRU"):
        accs = []
        for T in lengths:
            model = Recall(kind)
            accs.append(train(model, T, steps, seed + T))
        results["accuracy"][kind] = accs
        norms = gradient_norms(model, lengths[-1], seed)      # the model trained at the longest T
        results["grad_norms"][kind] = norms
        # geometric rate: fit log ||dL/dh_k|| = a + k log r over the sequence
        ks = xp.arange(len(norms))
        slope = xp.polyfit(ks, xp.log(xp.maximum(norms, 1e-30)), 1)[0]
        results["decay_per_step"][kind] = float(math.exp(-slope))
        log(f"{kind:>4}: accuracy " + "  ".join(f"T={T}: {a:.2f}" for T, a in zip(lengths, accs))
            + f"   | ||dL/dh_k|| k=0: {norms[0]:.2e}, k={len(norms) // 2}: {norms[len(norms) // 2]:.2e}, "
              f"k={len(norms) - 1}: {norms[-1]:.2e}  (x{results['decay_per_step'][kind]:.3f} per step back)")
    log(f"chance accuracy {1 / SYMBOLS:.2f}; {time.perf_counter() - started:.0f}s")
    _plot(results, out, log)
    return results


def _plot(results, out, log) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("(matplotlib is not installed: pip install 'glassnet[plot]' for the picture)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for kind, norms in results["grad_norms"].items():
        left.semilogy(range(len(norms)), norms, marker=".", label=kind)
        right.plot(results["lengths"], results["accuracy"][kind], marker="o", label=kind)
    T = len(next(iter(results["grad_norms"].values())))
    left.set(xlabel="time step k", ylabel="||dL/dh_k||", title=f"gradient reaching step k (loss at step {T - 1})")
    right.axhline(1 / SYMBOLS, color="grey", linestyle="--", label="chance")
    right.set(xlabel="sequence length T", ylabel="accuracy", title="recall the first symbol", ylim=(0, 1.05))
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    log(f"saved {out}")
