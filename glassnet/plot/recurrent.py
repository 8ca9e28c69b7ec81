"""A recurrent layer's hidden state and gates over time, for one input sequence."""
from __future__ import annotations

from ..autograd import no_grad
from ..backend import xp
from ._figure import axes

GATES = {"LSTM": ("i (input)", "f (forget)", "g (candidate)", "o (output)"),
         "GRU": ("r (reset)", "z (update)", "n (candidate)"), "RNN": ()}


def _sigmoid(z):
    return 1 / (1 + xp.exp(-z))


def _layer_and_input(model, x):
    """The first RNN/LSTM/GRU in ``model`` and its input for sample 0, as a (T, input_size) array."""
    from ..nn import GRU, LSTM, RNN
    from ..tensor import Tensor
    kinds = (RNN, LSTM, GRU)
    x = x if isinstance(x, Tensor) else Tensor._wrap(xp.asarray(x, dtype=xp.float32))
    if isinstance(model, kinds):
        layer, seq = model, x.numpy()
        if seq.ndim == 3:
            seq = seq[:, 0] if not layer.batch_first else seq[0]
        return layer, seq
    layer = next((m for m in model.modules() if isinstance(m, kinds)), None)
    if layer is None:
        raise ValueError(f"gn.plot.recurrent_states: {type(model).__name__} has no RNN, LSTM or GRU layer")
    seen = []
    handle = layer.register_forward_hook(lambda mod, inputs, out: seen.append(inputs[0].numpy().copy()))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(x if x.ndim > 2 else x.reshape(1, *x.shape))
    finally:
        model.train(was_training)
        handle.remove()
    seq = seen[0]
    return layer, (seq[0] if layer.batch_first else seq[:, 0])


def recurrent_trace(model_or_layer, x):
    """Replay one sequence through the first recurrent layer in the textbook equations:

        RNN:  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        LSTM: i, f, g, o = sigma, sigma, tanh, sigma (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
              c_t = f * c_{t-1} + i * g,     h_t = o * tanh(c_t)
        GRU:  r, z = sigma(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
              n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

    Returns {'kind', 'h': (T, H), 'c': (T, H) for an LSTM, 'gates': {name: (T, H)},
    'max_difference': largest |h_t - the fused layer's output|} (a self-check: near 0).
    Only the first layer's first direction is replayed.
    """
    layer, seq = _layer_and_input(model_or_layer, x)
    kind = type(layer).__name__
    p = {k: v.numpy().astype(xp.float64) for k, v in layer.named_parameters()}
    W_ih, W_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    b_ih = p.get("bias_ih_l0", xp.zeros(W_ih.shape[0]))
    b_hh = p.get("bias_hh_l0", xp.zeros(W_hh.shape[0]))
    H = W_hh.shape[1]
    h, c = xp.zeros(H), xp.zeros(H)
    hs, cs, gates = [], [], {name: [] for name in GATES[kind]}
    for x_t in seq.astype(xp.float64):
        if kind == "LSTM":
            z = W_ih @ x_t + b_ih + W_hh @ h + b_hh
            i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), xp.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
            c = f * c + i * g
            h = o * xp.tanh(c)
            cs.append(c)
            values = (i, f, g, o)
        elif kind == "GRU":
            gx, gh = W_ih @ x_t + b_ih, W_hh @ h + b_hh
            r, u = _sigmoid(gx[:H] + gh[:H]), _sigmoid(gx[H:2 * H] + gh[H:2 * H])
            if getattr(layer, "reset_after", True):
                n = xp.tanh(gx[2 * H:] + r * gh[2 * H:])
            else:                                   # reset before the product: W_hn (r * h) + b_hn
                n = xp.tanh(gx[2 * H:] + W_hh[2 * H:] @ (r * h) + b_hh[2 * H:])
            h = (1 - u) * n + u * h
            values = (r, u, n)
        else:
            z = W_ih @ x_t + b_ih + W_hh @ h + b_hh
            h = xp.maximum(z, 0) if getattr(layer, "nonlinearity", "tanh") == "relu" else xp.tanh(z)
            values = ()
        hs.append(h)
        for name, v in zip(GATES[kind], values):
            gates[name].append(v)
    from ..tensor import Tensor
    with no_grad():
        fused = layer(Tensor._wrap(seq.reshape(1, *seq.shape) if layer.batch_first else seq.reshape(seq.shape[0], 1, -1)))[0]
    fused = fused.numpy()[0] if layer.batch_first else fused.numpy()[:, 0]
    trace = {"kind": kind, "h": xp.array(hs), "gates": {k: xp.array(v) for k, v in gates.items()},
             "max_difference": float(xp.abs(fused[:, :H] - xp.array(hs)).max())}
    if cs:
        trace["c"] = xp.array(cs)
    return trace


def recurrent_states(model_or_layer, x, ax=None, max_units: int = 32):
    """Heat maps over time (x axis) and units (y axis) for one input: each gate, the LSTM's
    cell state c_t and the hidden state h_t (first ``max_units`` units). ``ax``: None or one
    Axes per panel (LSTM 6, GRU 4, RNN 1). Returns the Figure."""
    trace = recurrent_trace(model_or_layer, x)
    panels = list(trace["gates"].items())
    if "c" in trace:
        panels.append(("c (cell state)", trace["c"]))
    panels.append(("h (hidden state)", trace["h"]))
    fig, grid = axes("gn.plot.recurrent_states", ax, len(panels), (2.6 * len(panels) + 1, 3.8))
    for a, (name, values) in zip(grid, panels):
        values = values[:, :max_units].T                # (units, T): time runs left to right
        bounded = name[0] in "ifozr" and "cell" not in name
        image = a.imshow(values, aspect="auto", interpolation="nearest",
                         cmap="viridis" if bounded else "RdBu_r",
                         vmin=0 if bounded else -max(1e-9, abs(values).max()),
                         vmax=1 if bounded else max(1e-9, abs(values).max()))
        a.set(title=name, xlabel="time step t")
        fig.colorbar(image, ax=a, fraction=0.05)
    grid[0].set_ylabel("unit")
    fig.suptitle(f"{trace['kind']} gates and states over time for one input", fontsize=10)
    if ax is None:
        fig.tight_layout()
    return fig
