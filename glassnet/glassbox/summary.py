"""``gn.summary``: a model's layers with output sizes and parameter counts (the notes' table)."""
from __future__ import annotations

import sys

from ..autograd import grad_mode
from ..backend import get_default_dtype, xp
from ..tensor import Tensor

_SHORT = {"Conv1d": "conv", "Conv2d": "conv", "Linear": "fc", "MaxPool1d": "pool", "MaxPool2d": "pool",
          "AvgPool1d": "pool", "AvgPool2d": "pool", "MinPool2d": "pool", "SumPool2d": "pool",
          "AdaptiveAvgPool2d": "pool", "AdaptiveMaxPool2d": "pool", "GlobalAvgPool2d": "pool",
          "GlobalMaxPool2d": "pool", "BatchNorm1d": "bn", "BatchNorm2d": "bn", "LayerNorm": "ln",
          "RNN": "rnn", "LSTM": "lstm", "GRU": "gru", "Embedding": "embed"}


def _shape_text(out) -> str:
    """Per-sample output size the way the notes write it: H x W x C for images, else the dims."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, Tensor):
        return "?"
    dims = out.shape[1:]
    if len(dims) == 3:  # (C, H, W) -> H x W x C
        dims = (dims[1], dims[2], dims[0])
    return "x".join(str(d) for d in dims) if dims else "1"


def _pairs(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def dropped_by_stride(module, input_shape) -> tuple | None:
    """Rows/columns the stride leaves unread when (W - F + 2P)/S + 1 is not an integer, per spatial dim.

    For a sliding-window layer (conv or pool without ceil_mode) on an input of spatial size W, the
    windows start at 0, S, 2S, ... and the last full window ends at floor((W + 2P - D(F-1) - 1)/S) S
    + D(F-1); the remainder (W + 2P - D(F-1) - 1) mod S input rows (or columns) are never read. The
    layer floors the output size, as torch does; this only reports what the flooring drops.
    Returns None for other layers, or when nothing is dropped.
    """
    kernel = getattr(module, "kernel_size", None)
    stride = getattr(module, "stride", None)
    padding = getattr(module, "padding", 0)
    if kernel is None or stride is None or isinstance(padding, str) or getattr(module, "ceil_mode", False):
        return None
    spatial = tuple(input_shape[2:])
    n = len(spatial)
    if n == 0:
        return None
    try:
        k, s = _pairs(kernel, n), _pairs(stride, n)
        p, d = _pairs(padding, n), _pairs(getattr(module, "dilation", 1), n)
        dropped = tuple((w + 2 * pi - di * (ki - 1) - 1) % si for w, ki, si, pi, di in zip(spatial, k, s, p, d))
    except TypeError:
        return None
    return dropped if any(dropped) else None


class SummaryRow:
    def __init__(self, name, path, kind, output, output_shape, weights, biases, params, dropped=None):
        self.name, self.path, self.kind = name, path, kind
        self.output, self.output_shape = output, output_shape
        self.weights, self.biases, self.params = weights, biases, params
        self.dropped = dropped     # per spatial dim: input rows/cols the stride never reads (None: all read)


class Summary:
    """The table ``gn.summary`` returns; ``str()`` renders it.

    Attributes:
        rows: one ``SummaryRow`` per layer, in call order (name, path, kind, output,
            output_shape, weights, biases, params).
        total_params, trainable_params: counts over the whole model (shared parameters once).
    """

    def __init__(self, model_name, input_shape, rows, total, trainable):
        self.model_name, self.input_shape, self.rows = model_name, input_shape, rows
        self.total_params, self.trainable_params = total, trainable

    def __str__(self) -> str:
        header = ("layer", "module", "type", "output", "weights", "biases", "parameters")
        body = [(r.name + (" *" if r.dropped else ""), r.path, r.kind, r.output, f"{r.weights:,}",
                 f"{r.biases:,}", f"{r.params:,}") for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
        right = {4, 5, 6}

        def fmt(cells):
            return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths)))

        rule = "-" * len(fmt(header))
        lines = [f"{self.model_name}  input {tuple(self.input_shape)}", rule, fmt(header), rule]
        lines += [fmt(row) for row in body]
        lines += [rule, f"Total parameters: {self.total_params:,}",
                  f"Trainable parameters: {self.trainable_params:,}",
                  f"Non-trainable parameters: {self.total_params - self.trainable_params:,}"]
        for r in self.rows:
            if r.dropped:
                what = " and ".join(f"the last {n} {axis}" for n, axis in
                                    zip(r.dropped[-2:] if len(r.dropped) >= 2 else r.dropped,
                                        ("row(s)", "column(s)") if len(r.dropped) >= 2 else ("position(s)",)) if n)
                lines.append(f"* {r.name}: (W - F + 2P)/S + 1 is not an integer; the layer floors it (as torch) "
                             f"and never reads {what} of its input")
        return "\n".join(lines)

    __repr__ = __str__


def summary(model, input_shape, dtype=None, input=None, verbose=None) -> Summary:
    """Run one forward pass on zeros of ``input_shape`` (batch included, e.g. (1, 3, 227, 227))
    and tabulate each leaf layer: output size, weights, biases, parameters.

    The table is printed, as Keras' ``model.summary()`` and torchinfo's ``summary`` do, and
    returned as a ``Summary`` (its repr is the table, its ``rows`` the numbers). As torchinfo:
    ``verbose=None`` prints in scripts and stays quiet at an interactive prompt, where the
    returned value is displayed anyway; ``verbose=0`` never prints, ``1`` always does.

    No gradient is recorded and the model's mode is restored afterwards. A shape mismatch
    raises ``ShapeError`` naming the layer where shapes first disagree.
    ``input`` may be given instead for models whose input is not a float tensor (token ids).
    """
    leaves = [(path, m) for path, m in model.named_modules() if not any(True for _ in m.children())]
    rows, handles, counters = [], [], {}

    def record(path):
        def hook(module, args, out):
            first_in = args[0] if args else None
            dropped = (dropped_by_stride(module, tuple(first_in.shape))
                       if isinstance(first_in, Tensor) and first_in.ndim >= 3 else None)
            kind = type(module).__name__
            short = _SHORT.get(kind, kind.lower())
            counters[short] = counters.get(short, 0) + 1
            weights = sum(p.numel() for n, p in module.named_parameters(recurse=False) if "bias" not in n)
            biases = sum(p.numel() for n, p in module.named_parameters(recurse=False) if "bias" in n)
            first = out[0] if isinstance(out, (tuple, list)) else out
            shape = tuple(first.shape) if isinstance(first, Tensor) else None
            rows.append(SummaryRow(f"{short}{counters[short]}", path or type(model).__name__, kind,
                                   _shape_text(out), shape, weights, biases, weights + biases, dropped))
        return hook

    for path, m in leaves:
        handles.append(m.register_forward_hook(record(path)))
    was_training = model.training
    model.eval()
    try:
        x = input if input is not None else Tensor._wrap(xp.zeros(tuple(input_shape), dtype or get_default_dtype()))
        with grad_mode.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    shape = input_shape if input is None else tuple(input.shape)
    result = Summary(type(model).__name__, shape, rows, total, trainable)
    if verbose is None:
        verbose = 0 if hasattr(sys, "ps1") else 1
    if verbose:
        print(result)
    return result
