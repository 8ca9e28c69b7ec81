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
    h0 = c0 = None
    if isinstance(hx, tuple):
        h0, c0 = hx[0]._data[0], hx[1]._data[0]
    elif isinstance(hx, Tensor):
        h0 = hx._data[0]
    states = out[1] if isinstance(out, tuple) else None
    finals = list(states) if isinstance(states, tuple) else ([states] if states is not None else [])
    for f in finals:
        if f.requires_grad:
            f.retain_grad()
    return {"x": x.copy(), "h0": h0, "c0": c0, "finals": finals}


def _replay(step, output):
    record = step.recurrent
    dy = step.grad_output if step.grad_output is not None else xp.zeros(step.output.shape, step.output.dtype)
    finals = [None if f.grad is None else f.grad._data[0] for f in record["finals"]]
    dh_n = finals[0] if finals else None
    dc_n = finals[1] if len(finals) > 1 else None
    result = replay(step.module, record["x"], record["h0"], record["c0"], _time_major(dy, step.module), dh_n, dc_n)
    result["max_difference"] = float(xp.abs(result["h"] - _time_major(step.output, step.module)).max())
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

    def __init__(self, steps, loss, precision):
        self.steps, self.loss, self.precision = steps, loss, precision

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
                for t in range(len(r["h"])):
                    for k, gate in enumerate(names):
                        lines.append(_line(f"{gate}[t={t}]", r["gates"][t, k], p))
                    if "c" in r:
                        lines.append(_line(f"c[t={t}]", r["c"][t], p))
                    lines.append(_line(f"h[t={t}]", r["h"][t], p))
            elif s.kind in _RECURRENT and s.output.ndim == 3:
                steps = _time_major(s.output, s.module)
                for t in range(len(steps)):
                    lines.append(_line(f"h[t={t}]", steps[t], p))
            else:
                lines.append(_line(label, s.output, p))
        lines += [f"loss = {self.loss:.{p}f}", "", "Backward pass (chain rule, last layer first)",
                  "============================================"]
        for i, s in reversed(list(enumerate(self.steps, 1))):
            lines.append(f"[{i}] {s.path} ({s.kind})")
            symbol = "dL/dz" if s.kind in ("Linear", "Conv1d", "Conv2d") else "dL/da" \
                if s.kind in _ACTIVATIONS else "dL/d(output)"
            if s.replay is not None:
                # backpropagation through time: each step's total gradient, from the loss above
                # and from every later step (dL/dh_t = dy_t + dL/dh_{t+1} dh_{t+1}/dh_t)
                r = s.replay
                for t in reversed(range(len(r["h"]))):
                    lines.append(_line(f"dL/dh[t={t}]", r["dh"][t], p))
                    if "dc" in r:
                        lines.append(_line(f"dL/dc[t={t}]", r["dc"][t], p))
            elif s.grad_output is not None:
                if s.kind in _RECURRENT and s.grad_output.ndim == 3:
                    # the gradient arriving at each step's output from the layers above; the
                    # recurrence adds what flows back from later steps inside the layer (BPTT)
                    steps = _time_major(s.grad_output, s.module)
                    for t in reversed(range(len(steps))):
                        lines.append(_line(f"dL/dy[t={t}]", steps[t], p))
                else:
                    lines.append(_line(symbol, s.grad_output, p))
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
            if replayable(module) and isinstance(first, Tensor) and first.ndim == 3:
                step.recurrent = _recurrent_record(module, args, out)
            steps.append((step, first))
        return hook

    for path, m in leaves:
        handles.append(m.register_forward_hook(record(path)))
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
        step.param_grads = {n: p.grad._data.copy() for n, p in step.module.named_parameters(recurse=False)
                            if p.grad is not None}
    return Explanation([s for s, _ in steps], float(loss.item()), precision)
