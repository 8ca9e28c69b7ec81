"""Why vanilla RNNs forget: ||dL/dh_k|| against k, for an RNN, an LSTM and a GRU.

Task: see one of K symbols at step 0, then T - 1 blank steps, and name the symbol at the
end (chance = 1/K). The loss sits at the last step; what it says about the symbol must
travel back to step 0. Through a vanilla RNN,
dh_t/dh_{t-1} = diag(1 - h_t^2) W, so ||dL/dh_k|| <= (gamma * lambda)^(T-k) ||dL/dh_T||
with lambda the largest singular value of W and gamma = max tanh' = 1: the norm shrinks
geometrically when gamma * lambda < 1 (or explodes when it is > 1). The LSTM's cell state
has the highway dc_t/dc_{t-1} = f_t, so with open forget gates the gradient survives.

Each model is trained at several lengths T (accuracy against T); the one trained at
``probe_length`` is then unrolled step by step with its cell to read dL/dh_k for every k
(``retain_grad`` on each h_k), and dL/dc_k for the LSTM's cell state, the path the
highway runs along. A vanilla RNN can still *solve* short versions by parking the symbol
in a stable attractor of h -> tanh(W h + b), but stability is exactly what makes
dh_t/dh_k vanish (Bengio et al., 1994): its gradient decays geometrically either way.
"""
from __future__ import annotations

import math
import time

from .. import backend, nn, optim
from ..backend import xp
from ..autograd import no_grad
from ..tensor import Tensor

SYMBOLS = 4
HIDDEN = 32


def make_batch(batch: int, T: int, gen):
    """(batch, T, K): a one-hot symbol at step 0, zeros after; the target is that symbol."""
    ids = gen.integers(0, SYMBOLS, batch)
    x = xp.zeros((batch, T, SYMBOLS), xp.float32)
    x[xp.arange(batch), 0, ids] = 1
    return Tensor._wrap(x), Tensor._wrap(ids.astype(xp.int64))


class Recall(nn.Module):
    """Recurrent layer (batch_first) -> Linear on the last step."""

    def __init__(self, cell: str):
        super().__init__()
        self.cell = cell
        self.rnn = getattr(nn, cell)(SYMBOLS, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, SYMBOLS)
        if cell == "LSTM":  # forget-gate bias 3: f = sigma(3) = 0.95 at the start, the highway open
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p.numpy()[HIDDEN:2 * HIDDEN] = 3.0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def train(model, T: int, steps: int, seed: int):
    gen = xp.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        x, y = make_batch(64, T, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = make_batch(512, T, gen)
    with no_grad():
        return float((model(x).argmax(1).numpy() == y.numpy()).mean())


def gradient_norms(model, T: int, seed: int):
    """||dL/dh_k|| (mean over the batch) for k = 0..T-1, unrolling the layer's cell;
    for an LSTM also ||dL/dc_k||, returned as a second list (else None)."""
    kind = model.cell
    cell = getattr(nn, f"{kind}Cell")(SYMBOLS, HIDDEN)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in model.rnn.state_dict().items()})
    x, y = make_batch(256, T, xp.random.default_rng(seed))
    h = Tensor._wrap(xp.zeros((256, HIDDEN), xp.float32))
    c = Tensor._wrap(xp.zeros((256, HIDDEN), xp.float32))
    hs, cs = [], []
    for t in range(T):
        if kind == "LSTM":
            h, c = cell(x[:, t], (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = cell(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    loss = nn.functional.cross_entropy(model.fc(hs[-1]), y)
    loss.backward()

    def norms(states):
        return [float(xp.linalg.norm(s.grad.numpy(), axis=1).mean()) for s in states]
    # the last cell state reaches the loss only inside its own step (through h = o tanh(c)), not
    # as an output anything else reads, so its retained gradient is empty: probe c_0 .. c_{T-2}
    return norms(hs), (norms(cs[:-1]) if cs else None)


def _rate(norms):
    """Geometric factor per step back, from a least-squares fit of log ||g_k|| against k."""
    ks = xp.arange(len(norms))
    return float(math.exp(-xp.polyfit(ks, xp.log(xp.maximum(norms, 1e-30)), 1)[0]))


def run(out: str = "vanishing_gradients.png", steps=None, lengths=(10, 20, 40, 80), probe_length: int = 40,
        seed: int = 0, log=print) -> dict:
    steps = steps or 400
    started = time.perf_counter()
    results = {"lengths": list(lengths), "accuracy": {}, "grad_norms": {}, "decay_per_step": {}}
    for kind in ("RNN", "LSTM", "GRU"):
        accs = []
        for T in lengths:
            backend.manual_seed(seed)
            model = Recall(kind)
            accs.append(train(model, T, steps, seed + T))
            if T == probe_length:
                h_norms, c_norms = gradient_norms(model, T, seed)
                results["grad_norms"][kind] = h_norms
                results["decay_per_step"][kind] = _rate(h_norms)
                if c_norms is not None:
                    results["grad_norms"]["LSTM cell"] = c_norms
                    results["decay_per_step"]["LSTM cell"] = _rate(c_norms)
        results["accuracy"][kind] = accs
        log(f"{kind:>4}: accuracy " + "  ".join(f"T={T}: {a:.2f}" for T, a in zip(lengths, accs)))
    log(f"(chance {1 / SYMBOLS:.2f})  gradient reaching step k from the loss at step {probe_length - 1}:")
    for name, norms in results["grad_norms"].items():
        symbol = "dL/dc_k" if name == "LSTM cell" else "dL/dh_k"
        log(f"  {name:>9} ||{symbol}||: k=0 {norms[0]:.2e}  k={len(norms) // 2} {norms[len(norms) // 2]:.2e}  "
            f"k={len(norms) - 1} {norms[-1]:.2e}   x{results['decay_per_step'][name]:.3f} per step back, "
            f"{norms[0] / max(norms[-1], 1e-30):.1e} over {len(norms) - 1} steps")
    log(f"{time.perf_counter() - started:.0f}s")
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
    colour = {"RNN": "C0", "LSTM": "C1", "LSTM cell": "C1", "GRU": "C2"}   # one colour per model
    for name, norms in results["grad_norms"].items():
        style = "--" if name == "LSTM cell" else "-"
        label = "LSTM ||dL/dc_k|| (cell)" if name == "LSTM cell" else f"{name} ||dL/dh_k||"
        left.semilogy(range(len(norms)), norms, style, color=colour[name], marker=".", label=label)
    for kind, accs in results["accuracy"].items():
        right.plot(results["lengths"], accs, color=colour[kind], marker="o", label=kind)
    T = len(next(iter(results["grad_norms"].values())))
    left.set(xlabel="time step k", ylabel="gradient norm", title=f"gradient reaching step k (loss at step {T - 1})")
    right.axhline(1 / SYMBOLS, color="grey", linestyle="--", label="chance")
    right.set(xlabel="sequence length T", ylabel="accuracy", title="recall the symbol after T - 1 blanks",
              ylim=(0, 1.05))
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    log(f"saved {out}")
