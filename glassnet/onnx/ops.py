"""ONNX for operations recorded outside known layers (``x + y``, ``gn.cat``, ``reshape``, indexing...).

One converter per ``glassnet.functions`` class name: it gets the graph and the recorded call
(the operation's inputs, options and outputs, with their traced shapes) and returns the
names of the outputs. Shapes that ONNX takes as inputs (Reshape, Expand) come from the traced
output; their leading sizes that equal the input's are written as 0 ("copy"), so a dynamic
batch stays dynamic.
"""
from __future__ import annotations

from types import SimpleNamespace

from ..backend import xp
from .graph import ExportError
from .layers import _reduce, adaptive_pool, gelu, softplus

INT64_MAX = 2**63 - 1


def _binary(op):
    return lambda g, call: [g.node(op, [g.value(a) for a in call.inputs[:2]])]


def _unary(op, **attrs):
    return lambda g, call: [g.node(op, [g.value(call.inputs[0])], **attrs)]


def _dtype(call):
    return call.outputs[0].dtype


def reshape(g, call):
    x, y = call.inputs[0], call.outputs[0]
    shape = list(y.shape)
    for i in range(min(x.ndim, y.ndim)):
        if x.shape[i] != y.shape[i]:
            break
        shape[i] = 0
    return [g.node("Reshape", [g.value(x), g.ints(shape)])]


def permute(g, call):
    return [g.node("Transpose", [g.value(call.inputs[0])], perm=[int(d) for d in call.options["dims"]])]


def expand(g, call):
    return [g.node("Expand", [g.value(call.inputs[0]), g.ints(call.outputs[0].shape)])]


def concat(g, call):
    dim = call.options.get("dim", 0) % call.outputs[0].ndim
    return [g.node("Concat", [g.value(t) for t in call.inputs], axis=dim)]


def stack(g, call):
    dim = call.options.get("dim", 0) % call.outputs[0].ndim
    parts = [g.node("Unsqueeze", [g.value(t), g.ints([dim])]) for t in call.inputs]
    return [g.node("Concat", parts, axis=dim)]


def get_item(g, call):
    """Basic indexing: slices (positive steps), integers, None and Ellipsis, as Slice, then
    Squeeze (integers drop their axis) and Unsqueeze (None adds one); one integer array on one
    axis as Gather."""
    x = call.inputs[0]
    index = call.options.get("index", call.inputs[1] if len(call.inputs) > 1 else None)
    index = index if isinstance(index, tuple) else (index,)
    arrays = [i for i in index if not (i is None or i is Ellipsis or isinstance(i, (int, slice)))]
    if arrays:
        if len(index) == 1 and xp.asarray(index[0]).dtype.kind in "iu" and xp.asarray(index[0]).ndim <= 1:
            return [g.node("Gather", [g.value(x), g.constant(xp.asarray(index[0], xp.int64))], axis=0)]
        raise ExportError("gn.onnx.export: indexing with boolean masks or several integer arrays is not exported "
                          f"(index {index!r:.80})")
    n_axes = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (x.ndim - n_axes) + index[at + 1:]
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = 0      # axis of x
    out_axis = 0  # axis of the result before squeezing
    for i in index:
        if i is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(i, int):
            starts.append(i), ends.append(i + 1 if i != -1 else INT64_MAX), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif i != slice(None):
            if i.step is not None and i.step <= 0:
                raise ExportError(f"gn.onnx.export: slices with step {i.step} are not exported")
            starts.append(0 if i.start is None else i.start)
            ends.append(INT64_MAX if i.stop is None else i.stop)
            axes.append(axis), steps.append(i.step or 1)
        axis += 1
        out_axis += 0 if isinstance(i, int) else 1
    y = g.value(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        y = g.node("Squeeze", [y, g.ints(squeeze)])
    if unsqueeze:
        y = g.node("Unsqueeze", [y, g.ints(unsqueeze)])
    if y == g.value(x):
        y = g.node("Identity", [y])
    return [y]


def _axes(call):
    x = call.inputs[0]
    dim = call.options.get("dim")
    if dim is None:
        return list(range(x.ndim))
    return [d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)]


def _reduction(op):
    def convert(g, call):
        keep = int(bool(call.options.get("keepdim", False)))
        return [_reduce(g, op, g.value(call.inputs[0]), _axes(call), keepdims=keep)]
    return convert


def extremum(g, call):
    if not call.options.get("largest", True):
        return _reduction("ReduceMin")(g, call)
    return _reduction("ReduceMax")(g, call)


def clamp(g, call):
    x, dtype = call.inputs[0], _dtype(call)
    lo = call.options.get("lo", call.inputs[1] if len(call.inputs) > 1 else None)
    hi = call.options.get("hi", call.inputs[2] if len(call.inputs) > 2 else None)
    bound = (lambda v: "" if v is None else g.constant(xp.asarray(v, dtype)))
    return [g.node("Clip", [g.value(x), bound(lo), bound(hi)])]


def softmax(op):
    return lambda g, call: [g.node(op, [g.value(call.inputs[0])],
                                   axis=int(call.options.get("dim", call.inputs[1] if len(call.inputs) > 1 else -1)))]


def pad(g, call):
    x = call.inputs[0]
    widths = list(call.options.get("pad", call.inputs[1] if len(call.inputs) > 1 else ()))
    mode = call.options.get("mode", "constant")
    value = call.options.get("value", 0.0)
    # torch lists (left, right) pairs from the last axis backwards; ONNX all begins, then all ends
    begins, ends = [0] * x.ndim, [0] * x.ndim
    for k in range(len(widths) // 2):
        begins[x.ndim - 1 - k], ends[x.ndim - 1 - k] = widths[2 * k], widths[2 * k + 1]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    inputs = [g.value(x), g.ints(begins + ends)]
    if onnx_mode == "constant":
        inputs.append(g.constant(xp.asarray(value or 0.0, _dtype(call))))
    return [g.node("Pad", inputs, mode=onnx_mode)]


def adaptive(op):
    def convert(g, call):
        return [adaptive_pool(g, g.value(call.inputs[0]), call.inputs[0].shape, call.outputs[0].shape, op)]
    return convert


def activation(name):
    def convert(g, call):
        x, o = g.value(call.inputs[0]), call.options
        if name == "LeakyReLU":
            return [g.node("LeakyRelu", [x], alpha=float(o.get("negative_slope", 0.01)))]
        if name == "ELU":
            return [g.node("Elu", [x], alpha=float(o.get("alpha", 1.0)))]
        if name == "SiLU":
            return [g.node("Mul", [x, g.node("Sigmoid", [x])])]
        # GELU and Softplus are compositions: reuse the layer converters with the call's settings
        as_layer_call = SimpleNamespace(args=[call.inputs[0]], outputs=call.outputs)
        if name == "GELU":
            return gelu(g, SimpleNamespace(approximate=o.get("approximate", "none")), as_layer_call)
        if name == "Softplus":
            settings = SimpleNamespace(beta=o.get("beta", 1.0), threshold=o.get("threshold", 20.0))
            return softplus(g, settings, as_layer_call)
        return [g.node({"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}[name], [x])]
    return convert


def linear(g, call):
    x, W = call.inputs[0], call.inputs[1]
    b = call.inputs[2] if len(call.inputs) > 2 else None
    y = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(W)], perm=[1, 0])])
    return [g.node("Add", [y, g.value(b)]) if b is not None else y]


def conv2d(g, call):
    """F.conv2d / F.conv1d called directly (a Conv1d runs as a Conv2d of height 1); padding
    arrives as (top, bottom, left, right), ONNX wants (top, left, bottom, right)."""
    x, W = call.inputs[0], call.inputs[1]
    b = call.inputs[2] if len(call.inputs) > 2 else None
    o = call.options
    top, bottom, left, right = o.get("padding", (0, 0, 0, 0))
    inputs = [g.value(x), g.value(W)] + ([g.value(b)] if b is not None else [])
    return [g.node("Conv", inputs, kernel_shape=list(W.shape[2:]), strides=list(o.get("stride", (1, 1))),
                   pads=[top, left, bottom, right], dilations=list(o.get("dilation", (1, 1))),
                   group=int(o.get("groups", 1)))]


def embedding(g, call):
    return [g.node("Gather", [g.value(call.inputs[1]), g.value(call.inputs[0])], axis=0)]


def dropout(g, call):   # only reached in training mode; export runs the model in eval mode
    return [g.node("Identity", [g.value(call.inputs[0])])]


CONVERTERS = {
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Pow": _binary("Pow"), "MatMul": _binary("MatMul"), "Where": lambda g, c: [g.node(
        "Where", [g.value(t) for t in c.inputs[:3]])],
    "Neg": _unary("Neg"), "Exp": _unary("Exp"), "Log": _unary("Log"), "Sqrt": _unary("Sqrt"),
    "Abs": _unary("Abs"), "Sin": _unary("Sin"), "Cos": _unary("Cos"), "Clamp": clamp,
    "ReLU": activation("ReLU"), "Sigmoid": activation("Sigmoid"), "Tanh": activation("Tanh"),
    "LeakyReLU": activation("LeakyReLU"), "ELU": activation("ELU"), "SiLU": activation("SiLU"),
    "GELU": activation("GELU"), "Softplus": activation("Softplus"),
    "Softmax": softmax("Softmax"), "LogSoftmax": softmax("LogSoftmax"),
    "Reshape": reshape, "Permute": permute, "Expand": expand, "GetItem": get_item,
    "Cat": concat, "Stack": stack, "Pad": pad,
    "Sum": _reduction("ReduceSum"), "Mean": _reduction("ReduceMean"), "MaxMin": extremum,
    "AdaptiveAvgPool2d": adaptive("ReduceMean"), "AdaptiveMaxPool2d": adaptive("ReduceMax"),
    "Linear": linear, "Conv2d": conv2d, "Embedding": embedding, "Dropout": dropout,
}


def convert(g, call):
    name = call.function.__name__
    converter = CONVERTERS.get(name)
    if converter is None:
        raise ExportError(f"gn.onnx.export: no ONNX form for the operation '{name}' "
                          f"(glassnet.functions.{name}) called outside a supported layer; supported "
                          f"operations: {', '.join(sorted(CONVERTERS))}")
    return converter(g, call)

