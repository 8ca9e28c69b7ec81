"""``gn.explain``: one forward and backward step, every intermediate shown as a worked example.

For each layer in call order it records what went in and came out (for a Linear layer
the output is the pre-activation z; for an activation layer, a = f(z)), and after the
backward pass the gradients: dL/d(output) (dz for a Linear layer, da for an
activation), and dL/dW, dL/db for the layer's parameters. Recurrent layers are shown
time step by time step: h_t, and dL/dy_t, the gradient reaching each step's output from
the layers above (BPTT inside the layer adds what flows back from later steps).
"""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor
from .recurrent_stack import replay_stack
from .recurrent_steps import replay, replayable


class Step:
    """One layer's record: ``inputs``, ``output``, ``grad_output`` and ``param_grads`` (ndarrays)."""

    def __init__(self, path, module, inputs, output):
        self.path, self.module = path, module
        self.kind = type(module).__name__
        self.inputs, self.output = inputs, output
        self.grad_output = None
        self.params = {n: p._data.copy() for n, p in module.named_parameters(recurse=False)}
        self.param_grads = {}
        self.replay = None          # recurrent layers: the step-by-step replay (recurrent_steps.py)
        self.extras = []            # (label, array) lines shown under the output: mu, sigma, x_hat, mask, ...
        self.back_extras = []       # (label, array) lines shown in the backward pass


def _fmt(a, precision):
    a = xp.asarray(a)
    if a.ndim == 0:
        return f"{float(a):.{precision}f}"
    return xp.array2string(a, precision=precision, suppress_small=True, separator=", ",
                           max_line_width=100, threshold=60)


def _recurrent_record(module, args, out):
    """What the replay needs: time-major input, initial state, the final-state tensors."""
    x = _time_major(args[0]._data, module)
    hx = args[1] if len(args) > 1 else None
    h0 = c0 = None          # (num_layers * directions, N, H), as the layer received them
    if isinstance(hx, tuple):
        h0, c0 = hx[0]._data, hx[1]._data
    elif isinstance(hx, Tensor):
        h0 = hx._data
    states = out[1] if isinstance(out, tuple) else None
    finals = list(states) if isinstance(states, tuple) else ([states] if states is not None else [])
    for f in finals:
        if f.requires_grad:
            f.retain_grad()
    return {"x": x.copy(), "h0": h0, "c0": c0, "finals": finals}


def _replay(step, output):
    record = step.recurrent
    dy = step.grad_output if step.grad_output is not None else xp.zeros(step.output.shape, step.output.dtype)
    finals = [None if f.grad is None else f.grad._data for f in record["finals"]]
    dh_n = finals[0] if finals else None
    dc_n = finals[1] if len(finals) > 1 else None
    if replayable(step.module):
        first = (lambda a: None if a is None else a[0])
        result = replay(step.module, record["x"], first(record["h0"]), first(record["c0"]),
                        _time_major(dy, step.module), first(dh_n), first(dc_n))
        replayed = result["h"]
    else:   # stacked and/or bidirectional (recurrent_stack.py)
        result = replay_stack(step.module, record["x"], record["h0"], record["c0"], _time_major(dy, step.module),
                              dh_n, dc_n)
        replayed = result["output"]
    result["max_difference"] = float(xp.abs(replayed - _time_major(step.output, step.module)).max())
    # the replay checks itself: a layer called with lengths= (padded steps frozen), which a
    # forward hook cannot see, would not match; then only the recorded outputs are shown
    tolerance = 1e-4 if step.output.dtype == xp.float32 else 1e-9
    return result if result["max_difference"] <= tolerance else None


def _time_major(sequence, module):
    """(T, N, H) view of a recurrent layer's (N, T, H) or (T, N, H) output."""
    return sequence.swapaxes(0, 1) if getattr(module, "batch_first", False) else sequence


def _line(label, value, precision):
    """'    label = value' with continuation lines of a matrix aligned under its first row."""
    head = f"    {label:<18} = "
    return head + _fmt(value, precision).replace("\n", "\n" + " " * len(head))


class Explanation:
    """The recorded step. ``steps`` in call order, ``loss`` the scalar; ``str()`` renders it."""

    def __init__(self, steps, loss, precision, loss_extras=()):
        self.steps, self.loss, self.precision = steps, loss, precision
        self.loss_extras = list(loss_extras)    # e.g. the softmax probabilities cross-entropy scores

    def render(self) -> str:
        p = self.precision
        lines = ["Forward pass", "============"]
        for i, s in enumerate(self.steps, 1):
            lines.append(f"[{i}] {s.path} ({s.kind})")
            if i == 1:
                lines.append(_line("input", s.inputs, p))
            for name, value in s.params.items():
                lines.append(_line(name, value, p))
            label = "z (pre-activation)" if s.kind in ("Linear", "Conv1d", "Conv2d") else "a = f(z)" \
                if s.kind in _ACTIVATIONS else "output"
            if s.replay is not None:
                r = s.replay
                lines.append(f"    (replayed step by step in the textbook equations: they match the fused "
                             f"layer to {r['max_difference']:.1e})")
                names = {"LSTM": "ifgo", "GRU": "rzn"}.get(s.kind, "")
                for cell in r.get("cells", [r]):
                    if "name" in cell:
                        lines.append(f"    -- {_cell_title(cell['name'])} --")
                    order = range(len(cell["h"]))
                    for t in (reversed(order) if cell.get("name", "").endswith("reverse") else order):
                        for k, gate in enumerate(names):
                            lines.append(_line(f"{gate}[t={t}]", cell["gates"][t, k], p))
                        if "c" in cell:
                            lines.append(_line(f"c[t={t}]", cell["c"][t], p))
                        lines.append(_line(f"h[t={t}]", cell["h"][t], p))
                if "cells" in r and len(r["cells"]) > 1 and r["cells"][1]["name"].endswith("reverse"):
                    lines.append("    output[t] = [h_forward[t], h_reverse[t]] of the last layer")
            elif s.kind in _RECURRENT and s.output.ndim == 3:
                steps = _time_major(s.output, s.module)
                for t in range(len(steps)):
                    lines.append(_line(f"h[t={t}]", steps[t], p))
            else:
                lines.append(_line(label, s.output, p))
            for name, value in s.extras:
                lines.append(_line(name, value, p))
        lines.append(f"loss = {self.loss:.{p}f}")
        for name, value in self.loss_extras:
            lines.append(_line(name, value, p))
        lines += ["", "Backward pass (chain rule, last layer first)",
                  "============================================"]
        for i, s in reversed(list(enumerate(self.steps, 1))):
            lines.append(f"[{i}] {s.path} ({s.kind})")
            symbol = "dL/dz" if s.kind in ("Linear", "Conv1d", "Conv2d") else "dL/da" \
                if s.kind in _ACTIVATIONS else "dL/d(output)"
            if s.replay is not None:
                # backpropagation through time: each step's total gradient, from the loss above
                # and from every later step (dL/dh_t = dy_t + dL/dh_{t+1} dh_{t+1}/dh_t)
                r = s.replay
                for cell in reversed(r.get("cells", [r])):
                    if "name" in cell:
                        lines.append(f"    -- {_cell_title(cell['name'])}: total dL/dh_t (from above and "
                                     f"from its {'earlier' if cell['name'].endswith('reverse') else 'later'} steps) --")
                    order = range(len(cell["h"]))
                    for t in (order if cell.get("name", "").endswith("reverse") else reversed(order)):
                        lines.append(_line(f"dL/dh[t={t}]", cell["dh"][t], p))
                        if "dc" in cell:
                            lines.append(_line(f"dL/dc[t={t}]", cell["dc"][t], p))
            elif s.grad_output is not None:
                if s.kind in _RECURRENT and s.grad_output.ndim == 3:
                    # the gradient arriving at each step's output from the layers above; the
                    # recurrence adds what flows back from later steps inside the layer (BPTT)
                    steps = _time_major(s.grad_output, s.module)
                    for t in reversed(range(len(steps))):
                        lines.append(_line(f"dL/dy[t={t}]", steps[t], p))
                else:
                    lines.append(_line(symbol, s.grad_output, p))
            for name, value in s.back_extras:
                lines.append(_line(name, value, p))
            for name, g in s.param_grads.items():
                lines.append(_line(f"dL/d{name}", g, p))
        return "\n".join(lines)

    __str__ = render

    def __repr__(self) -> str:
        return self.render()


_ACTIVATIONS = {"ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax",
                "GELU", "SiLU"}
_RECURRENT = {"RNN", "LSTM", "GRU"}


def explain(model, input, target=None, loss_fn=None, precision: int = 4) -> Explanation:
    """Run one forward and backward pass of ``model`` and record every intermediate.

    Args:
        model: a Module (its leaf layers are recorded).
        input: the input batch (keep it small: every value is printed).
        target: the target for ``loss_fn``; without a loss, the backward pass starts from
            d(sum of outputs) = 1.
        loss_fn: callable (output, target) -> scalar.
    Returns:
        an ``Explanation``; ``print(gn.explain(...))`` shows the worked example.
        Parameter gradients are left in ``.grad`` as after any backward.
    """
    steps, handles = [], []
    leaves = [(path, m) for path, m in model.named_modules() if not any(True for _ in m.children())]

    def record(path):
        def hook(module, args, out):
            first = out[0] if isinstance(out, (tuple, list)) else out
            x = args[0]._data.copy() if args and isinstance(args[0], Tensor) else None
            if isinstance(first, Tensor) and first.requires_grad:
                first.retain_grad()
            step = Step(path or type(model).__name__, module, x,
                        first._data.copy() if isinstance(first, Tensor) else None)
            if type(module).__name__ in _RECURRENT and isinstance(first, Tensor) and first.ndim == 3:
                step.recurrent = _recurrent_record(module, args, out)
            if x is not None and step.output is not None:
                step.extras = _layer_extras(module, x, step.output)
            steps.append((step, first))
        return hook

    for path, m in leaves:
        handles.append(m.register_forward_hook(record(path)))
    for path, m in model.named_modules():
        if _is_residual_block(m):
            handles += _record_residual(path, m, steps)
    try:
        out = model(input)
    finally:
        for h in handles:
            h.remove()
    first = out[0] if isinstance(out, (tuple, list)) else out
    loss = loss_fn(first, target) if loss_fn is not None else first.sum()
    model.zero_grad()
    loss.backward()
    for step, tensor in steps:
        if isinstance(tensor, Tensor) and tensor.grad is not None:
            step.grad_output = tensor.grad._data
        if getattr(step, "recurrent", None) is not None:
            step.replay = _replay(step, tensor)
        if getattr(step, "block_input", None) is not None and step.block_input.grad is not None:
            step.back_extras = [("dL/dx (block input)", step.block_input.grad._data)]
        step.param_grads = {n: p.grad._data.copy() for n, p in step.module.named_parameters(recurse=False)
                            if p.grad is not None}
    return Explanation([s for s, _ in steps], float(loss.item()), precision, _loss_extras(loss_fn, first))


def _cell_title(name: str) -> str:
    """'l1_reverse' -> 'layer 1, reverse direction'."""
    layer, _, reverse = name.partition("_")
    return f"layer {layer[1:]}, {'reverse' if reverse else 'forward'} direction"


def _layer_extras(module, x, y):
    """What a layer computes between its input and output that the output alone does not show."""
    kind = type(module).__name__
    if kind.startswith("BatchNorm") and x.ndim >= 2:
        # y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps), per channel (axis 1)
        axes = tuple(i for i in range(x.ndim) if i != 1)
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        if module.training or getattr(module, "running_mean", None) is None:
            mu, var, which = x.mean(axis=axes), x.var(axis=axes), "batch"
        else:
            mu, var, which = module.running_mean._data, module.running_var._data, "running"
        sigma = xp.sqrt(var + module.eps)
        x_hat = (x - mu.reshape(shape)) / sigma.reshape(shape)
        # the output above is gamma * x_hat + beta
        return [(f"mu ({which})", mu), (f"sigma ({which}, sqrt(var + eps))", sigma), ("x_hat = (x - mu)/sigma", x_hat)]
    if kind.startswith("Dropout"):
        p = module.p
        if not module.training or p == 0:
            return [("mask", "none: evaluation mode, dropout is the identity")]
        kept = (y != 0).astype(x.dtype)
        # the output above is x * mask / (1 - p): inverted dropout, as torch
        return [(f"mask (0: dropped, p = {p})", kept), ("scale 1/(1 - p)", xp.asarray(1.0 / (1.0 - p)))]
    if kind == "Softmax":
        dim = module.dim if module.dim is not None else -1
        return [("sum of p over dim", y.sum(axis=dim))]
    if kind == "LogSoftmax":
        return [("p = exp(output)", xp.exp(y))]
    return []


def _loss_extras(loss_fn, output):
    """The probabilities behind a loss that takes logits (cross-entropy: softmax; BCE with logits: sigmoid)."""
    name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    if not isinstance(output, Tensor) or output.ndim < 1:
        return []
    z = output._data
    if name in ("CrossEntropyLoss", "cross_entropy"):
        e = xp.exp(z - z.max(axis=1 if z.ndim > 1 else 0, keepdims=True))
        return [("p = softmax(output)", e / e.sum(axis=1 if z.ndim > 1 else 0, keepdims=True))]
    if name in ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits"):
        return [("p = sigmoid(output)", 1 / (1 + xp.exp(-z)))]
    return []


def _is_residual_block(module) -> bool:
    """A ResNet block: out = relu(F(x) + shortcut(x)) with shortcut = identity or ``downsample``."""
    return hasattr(module, "downsample") and type(module).__name__ in ("BasicBlock", "Bottleneck")


def _record_residual(path, block, steps):
    """Hooks that show a residual block's addition: F(x) (its last batch norm), the shortcut, the sum."""
    seen = {}
    last_bn = getattr(block, "bn3", None) or getattr(block, "bn2")
    handles = [last_bn.register_forward_hook(lambda m, a, o: seen.__setitem__("F", o._data.copy()))]
    if block.downsample is not None:
        handles.append(block.downsample.register_forward_hook(
            lambda m, a, o: seen.__setitem__("shortcut", o._data.copy())))

    def after(module, args, out):
        x = args[0]
        if x.requires_grad:
            x.retain_grad()
        shortcut = seen.get("shortcut", x._data)
        step = Step(f"{path} (residual addition)", module, None, out._data.copy())
        step.kind = "residual addition"
        step.extras = [("F(x), the residual branch", seen["F"]),
                       ("shortcut: " + ("downsample(x)" if "shortcut" in seen else "x itself"), shortcut),
                       ("F(x) + shortcut", seen["F"] + shortcut),
                       ("relu(F(x) + shortcut)", out._data)]
        step.block_input = x
        if out.requires_grad:
            out.retain_grad()
        steps.append((step, out))
    handles.append(block.register_forward_hook(after))
    return handles
