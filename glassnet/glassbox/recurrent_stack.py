"""Stacked and bidirectional recurrent layers replayed step by step, for ``gn.explain``.

Layer l of a stack reads the outputs of layer l - 1; a bidirectional layer runs a second cell
(weights ``*_reverse``) from t = T-1 down to 0 and concatenates the two hidden states at each
step, [h_fwd_t, h_bwd_t]. The replay builds that whole graph from the elementary per-step cell
(``recurrent_steps.cell_step``, the textbook equations), feeds it the output gradients the real
backward pass received, and reads every h_t's total gradient: for a lower layer that is what
arrives from the layer above at the same step plus what flows back from the neighbouring step
in its own direction (a reverse cell's "later" step is t - 1).
"""
from __future__ import annotations

from ..autograd import grad_mode
from ..backend import xp
from ..tensor import Tensor, cat
from .recurrent_steps import _leaf, cell_step


def directions(module) -> int:
    return 2 if getattr(module, "bidirectional", False) else 1


def replay_stack(module, x, h0, c0, dy, dh_n, dc_n):
    """Re-run a (possibly stacked, bidirectional) RNN / LSTM / GRU on time-major x (T, N, I).

    h0, c0, dh_n, dc_n: (num_layers * directions, N, H) or None; dy: (T, N, directions * H).
    Returns {"output": (T, N, D*H) replayed, "param_grads": {...}, "cells": [dict per (layer,
    direction), in torch's order l0, l0_reverse, l1, ...]}, each cell dict holding "name", "h", "dh"
    (T, N, H) and for an LSTM "c", "dc", "gates" (T, 4, N, H), for a GRU "gates" (T, 3, N, H).
    """
    kind = type(module).__name__
    L, D = getattr(module, "num_layers", 1), directions(module)
    p = {name: _leaf(t._data) for name, t in module.named_parameters()}
    T, N = x.shape[0], x.shape[1]
    H = module.hidden_size
    dtype = p["weight_hh_l0"].dtype
    cells = []
    with grad_mode.enable_grad():
        layer_in = [Tensor._wrap(x[t]) for t in range(T)]
        for layer in range(L):
            per_direction = []
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                k = layer * D + d
                h = Tensor._wrap(xp.zeros((N, H), dtype) if h0 is None else h0[k])
                c = Tensor._wrap(xp.zeros((N, H), dtype) if c0 is None else c0[k])
                hs, cs, gates = [None] * T, [None] * T, [None] * T
                for t in (range(T - 1, -1, -1) if d else range(T)):
                    h, c, g = cell_step(module, layer_in[t], h, c, p["weight_ih" + suffix], p["weight_hh" + suffix],
                                        p.get("bias_ih" + suffix), p.get("bias_hh" + suffix))
                    h.retain_grad()
                    hs[t] = h
                    if kind == "LSTM":
                        c.retain_grad()
                        cs[t] = c
                    gates[t] = g
                per_direction.append((suffix, hs, cs, gates))
            cells += per_direction
            layer_in = [cat([pd[1][t] for pd in per_direction], dim=1) if D > 1 else per_direction[0][1][t]
                        for t in range(T)]
        proxy = sum((layer_in[t] * Tensor._wrap(dy[t])).sum() for t in range(T))
        for k, (suffix, hs, cs, _) in enumerate(cells):
            last = 0 if suffix.endswith("_reverse") else T - 1      # a reverse cell ends at t = 0
            if dh_n is not None:
                proxy = proxy + (hs[last] * Tensor._wrap(dh_n[k])).sum()
            if dc_n is not None and kind == "LSTM":
                proxy = proxy + (cs[last] * Tensor._wrap(dc_n[k])).sum()
        proxy.backward()
    out_cells = []
    for suffix, hs, cs, gates in cells:
        rec = {"name": suffix[1:], "h": xp.stack([t._data for t in hs]),
               "dh": xp.stack([xp.zeros_like(t._data) if t.grad is None else t.grad._data for t in hs])}
        if kind == "LSTM":
            rec["c"] = xp.stack([t._data for t in cs])
            rec["dc"] = xp.stack([xp.zeros_like(t._data) if t.grad is None else t.grad._data for t in cs])
        if gates[0]:
            rec["gates"] = xp.stack([xp.stack([g._data for g in step]) for step in gates])
        out_cells.append(rec)
    return {"output": xp.stack([t._data for t in layer_in]), "cells": out_cells,
            "param_grads": {name: t.grad._data for name, t in p.items() if t.grad is not None}}
