"""A recurrent layer replayed step by step in the textbook equations, for ``gn.explain``.

The layers in :mod:`glassnet.nn` run a whole sequence as one fused primitive, so the
per-step values of backpropagation through time (the gradient dL/dh_t that reaches each
step from the loss *and* from every later step) never exist as tensors. This module
re-runs a recorded single-layer, one-directional RNN / LSTM / GRU with elementary
operations on copies of its weights:

    RNN:   h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
    LSTM:  i, f, g, o = sigma, sigma, tanh, sigma of (x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
           c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
    GRU:   r, z = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr), ... (z likewise)
           n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
           h_t = (1 - z) * n + z * h_{t-1}

then backpropagates the same output gradients the real backward pass received. Every
h_t, c_t and gate is an ordinary tensor, so its total gradient is read with
``retain_grad``. The replay's outputs and weight gradients must equal the fused layer's:
``replay`` reports the largest difference, so the explanation checks itself.
"""
from __future__ import annotations

from ..autograd import grad_mode
from ..backend import xp
from ..tensor import Tensor


def _leaf(array):
    return Tensor._wrap(array.copy()).requires_grad_(True)


def _gates(x_t, h, W_ih, W_hh, b_ih, b_hh):
    z = x_t @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        z = z + b_ih + b_hh
    return z


def cell_step(module, x_t, h, c, W_ih, W_hh, b_ih, b_hh):
    """One time step of ``module``'s cell in elementary operations -> (h_t, c_t, gates).

    Shared by the single-layer replay below and the stacked / bidirectional one
    (recurrent_stack.py), so the textbook equations are written once.
    """
    kind = type(module).__name__
    H = W_hh.shape[1]
    if kind == "LSTM":
        z = _gates(x_t, h, W_ih, W_hh, b_ih, b_hh)
        i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        return o * c.tanh(), c, [i, f, g, o]
    if kind == "GRU":
        gx = x_t @ W_ih.T + (b_ih if b_ih is not None else 0)
        gh = h @ W_hh.T + (b_hh if b_hh is not None else 0)
        r = (gx[:, :H] + gh[:, :H]).sigmoid()
        u = (gx[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()     # torch's z, the update gate
        if getattr(module, "reset_after", True):       # torch's form: r scales W_hn h + b_hn
            n = (gx[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
        else:                                           # Cho et al.: r scales h before W_hn
            b_hn = b_hh[2 * H:] if b_hh is not None else 0
            n = (gx[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hn).tanh()
        return (1 - u) * n + u * h, c, [r, u, n]
    z = _gates(x_t, h, W_ih, W_hh, b_ih, b_hh)
    return (z.relu() if getattr(module, "nonlinearity", "tanh") == "relu" else z.tanh()), c, []


def replay(module, x, h0, c0, dy, dh_n, dc_n):
    """Re-run ``module`` (time-major x (T, N, I)) and backpropagate dy (T, N, H), dh_n, dc_n.

    Returns a dict of per-step arrays, each (T, N, H): 'h', 'dh' (total dL/dh_t), and for an
    LSTM 'c', 'dc', 'gates' (T, 4, N, H: i, f, g, o); for a GRU 'gates' (T, 3, N, H: r, z, n);
    plus 'param_grads' by weight name and 'max_difference' from the fused layer's outputs.
    """
    kind = type(module).__name__
    p = {name: _leaf(t._data) for name, t in module.named_parameters()}
    W_ih, W_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    b_ih, b_hh = p.get("bias_ih_l0"), p.get("bias_hh_l0")
    T, N = x.shape[0], x.shape[1]
    H = W_hh.shape[1]
    dtype = W_hh.dtype
    h = Tensor._wrap(xp.zeros((N, H), dtype) if h0 is None else h0)
    c = Tensor._wrap(xp.zeros((N, H), dtype) if c0 is None else c0)
    hs, cs, gates = [], [], []
    with grad_mode.enable_grad():
        for t in range(T):
            h, c, step_gates = cell_step(module, Tensor._wrap(x[t]), h, c, W_ih, W_hh, b_ih, b_hh)
            if kind == "LSTM":
                c.retain_grad()
                cs.append(c)
            if step_gates:
                gates.append(step_gates)
            h.retain_grad()
            hs.append(h)
        proxy = sum((hs[t] * Tensor._wrap(dy[t])).sum() for t in range(T))
        if dh_n is not None:
            proxy = proxy + (hs[-1] * Tensor._wrap(dh_n)).sum()
        if dc_n is not None and cs:
            proxy = proxy + (cs[-1] * Tensor._wrap(dc_n)).sum()
        proxy.backward()
    out = {"h": xp.stack([t._data for t in hs]), "dh": xp.stack([t.grad._data for t in hs]),
           "param_grads": {name: t.grad._data for name, t in p.items() if t.grad is not None}}
    if cs:
        out["c"] = xp.stack([t._data for t in cs])
        out["dc"] = xp.stack([t.grad._data for t in cs])
    if gates:
        out["gates"] = xp.stack([xp.stack([g._data for g in step]) for step in gates])
    return out


def replayable(module) -> bool:
    """Single-layer, one-directional RNN / LSTM / GRU: what ``replay`` writes out."""
    return (type(module).__name__ in ("RNN", "LSTM", "GRU") and getattr(module, "num_layers", 1) == 1
            and not getattr(module, "bidirectional", False))
