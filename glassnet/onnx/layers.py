"""ONNX for each layer glassnet exports as a whole: one converter per module class.

A converter gets the graph, the module (its settings and parameters) and the recorded call
(input tensors, with their traced shapes), emits ONNX nodes, and returns the names of the
call's output tensors in order. Layers not listed here are traced through: whatever they do
inside is recorded operation by operation (see ``ops.py``).
"""
from __future__ import annotations

import math

from .. import nn
from ..backend import xp
from .graph import ExportError


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _input(g, call, i=0):
    return g.value(call.args[i])


def linear(g, m, call):
    x = call.args[0]
    W = g.weight(m.weight)
    if x.ndim == 2:    # Gemm: y = x W^T + b in one node
        inputs = [g.value(x), W] + ([g.weight(m.bias)] if m.bias is not None else [])
        return [g.node("Gemm", inputs, transB=1)]
    y = g.node("MatMul", [g.value(x), g.node("Transpose", [W], perm=[1, 0])])
    return [g.node("Add", [y, g.weight(m.bias)]) if m.bias is not None else y]


def _conv_pads(m, n):
    """ONNX pads [begin_1..begin_n, end_1..end_n] for a convolution's padding setting."""
    if m.padding == "valid":
        return [0] * (2 * n)
    if m.padding == "same":   # as torch: total d(k - 1), the extra one on the end side
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    return list(m.padding) * 2


def conv(g, m, call):
    n = len(m.kernel_size)
    x = _input(g, call)
    pads = _conv_pads(m, n)
    if m.padding_mode != "zeros" and any(pads):
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[m.padding_mode]
        if mode == "wrap" and g.opset < 19:
            raise ExportError(f"gn.onnx.export: Conv{n}d(padding_mode='circular') needs opset_version >= 19 "
                              f"(ONNX's Pad mode 'wrap'), got {g.opset}")
        x = g.node("Pad", [x, g.ints([0, 0] + pads[:n] + [0, 0] + pads[n:])], mode=mode)
        pads = [0] * (2 * n)
    inputs = [x, g.weight(m.weight)] + ([g.weight(m.bias)] if m.bias is not None else [])
    return [g.node("Conv", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
                   dilations=list(m.dilation), group=m.groups)]


def _pool_geometry(m, n):
    return (list(_tuple(m.kernel_size, n)), list(_tuple(m.stride, n)), list(_tuple(m.padding, n)) * 2)


def _check_ceil(m, call, n, kernel, stride, pads, dilation=None):
    """torch drops a last window that would start in the right padding (ceil_mode); ONNX keeps it.
    Refuse the rare geometry where the two differ rather than export different output sizes."""
    if not getattr(m, "ceil_mode", False):
        return
    dilation = dilation or [1] * n
    for size, out, k, s, p, d in zip(call.args[0].shape[-n:], call.outputs[0].shape[-n:], kernel, stride,
                                     pads[:n], dilation):
        onnx_out = math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1
        if onnx_out != out:
            raise ExportError(f"gn.onnx.export: {type(m).__name__} with ceil_mode=True gives {out} outputs along "
                              f"an axis where ONNX's pooling gives {onnx_out} (a last window starting in the "
                              f"padding); use ceil_mode=False or other padding")


def max_pool(g, m, call, negate=False):
    n = 1 if isinstance(m, nn.MaxPool1d) else 2
    if m.return_indices:
        raise ExportError(f"gn.onnx.export: {type(m).__name__}(return_indices=True) is not exported")
    kernel, stride, pads = _pool_geometry(m, n)
    dilation = list(_tuple(m.dilation, n))
    _check_ceil(m, call, n, kernel, stride, pads, dilation)
    x = _input(g, call)
    if negate:   # min pooling: min over a window = -max(-x)
        x = g.node("Neg", [x])
    y = g.node("MaxPool", [x], kernel_shape=kernel, strides=stride, pads=pads, dilations=dilation,
               ceil_mode=int(m.ceil_mode))
    return [g.node("Neg", [y]) if negate else y]


def min_pool(g, m, call):
    return max_pool(g, m, call, negate=True)


def avg_pool(g, m, call):
    n = 1 if isinstance(m, nn.AvgPool1d) else 2
    kernel, stride, pads = _pool_geometry(m, n)
    _check_ceil(m, call, n, kernel, stride, pads)
    divisor = getattr(m, "divisor_override", None)
    include_pad = 1 if (m.count_include_pad or divisor) else 0
    y = g.node("AveragePool", [_input(g, call)], kernel_shape=kernel, strides=stride, pads=pads,
               ceil_mode=int(m.ceil_mode), count_include_pad=include_pad)
    if divisor:   # sum / divisor = mean (padding counted) * area / divisor
        y = g.node("Mul", [y, g.constant(math.prod(kernel) / divisor, call.outputs[0].dtype)])
    return [y]


def sum_pool(g, m, call):
    # sum over a window = mean over it (zeros of the padding counted) * its area
    kernel, stride, pads = _pool_geometry(m, 2)
    y = g.node("AveragePool", [_input(g, call)], kernel_shape=kernel, strides=stride, pads=pads,
               count_include_pad=1)
    return [g.node("Mul", [y, g.constant(float(math.prod(kernel)), call.outputs[0].dtype)])]


def adaptive_pool(g, x, in_shape, out_shape, reduce_op):
    """Adaptive pooling from (H, W) to (H_out, W_out): window i spans floor(i H / H_out) ..
    ceil((i + 1) H / H_out) - 1. Mean and max over a rectangle are separable (over rows, then
    columns), so each axis is pooled on its own: one pool when the size divides evenly,
    otherwise one Slice + Reduce per output position, joined by Concat."""
    pool = {"ReduceMean": "AveragePool", "ReduceMax": "MaxPool"}[reduce_op]
    (H, W), (Ho, Wo) = in_shape[-2:], out_shape[-2:]
    if H % Ho == 0 and W % Wo == 0:
        if (Ho, Wo) == (1, 1):
            return g.node("Global" + pool, [x])
        k = [H // Ho, W // Wo]
        return g.node(pool, [x], kernel_shape=k, strides=k)
    for axis, size, out in ((2, H, Ho), (3, W, Wo)):
        if size == out:
            continue
        pieces = []
        for i in range(out):
            start, end = (i * size) // out, -((-(i + 1) * size) // out)
            piece = g.node("Slice", [x, g.ints([start]), g.ints([end]), g.ints([axis])])
            pieces.append(_reduce(g, reduce_op, piece, [axis]))
        x = g.node("Concat", pieces, axis=axis) if len(pieces) > 1 else pieces[0]
    return x


def _reduce(g, op, x, axes, keepdims=1):
    # opset 18 moved the axes of ReduceMean/ReduceMax into an input (ReduceSum moved at 13)
    if g.opset >= 18 or op == "ReduceSum":
        return g.node(op, [x, g.ints(axes)], keepdims=keepdims)
    return g.node(op, [x], axes=list(axes), keepdims=keepdims)


def adaptive_avg(g, m, call):
    return [adaptive_pool(g, _input(g, call), call.args[0].shape, call.outputs[0].shape, "ReduceMean")]


def adaptive_max(g, m, call):
    if getattr(m, "return_indices", False):
        raise ExportError("gn.onnx.export: AdaptiveMaxPool2d(return_indices=True) is not exported")
    return [adaptive_pool(g, _input(g, call), call.args[0].shape, call.outputs[0].shape, "ReduceMax")]


def batch_norm(g, m, call):
    if not m.track_running_stats or m.running_mean is None:
        raise ExportError(f"gn.onnx.export: {type(m).__name__}(track_running_stats=False) normalises with the "
                          f"batch's own statistics even in eval mode; ONNX export needs running statistics")
    C, dtype = m.num_features, call.outputs[0].dtype
    scale = g.weight(m.weight) if m.affine else g.constant(xp.ones(C, dtype))
    bias = g.weight(m.bias) if m.affine else g.constant(xp.zeros(C, dtype))
    x = call.args[0]
    xn = g.value(x)
    if x.ndim == 2:   # (N, C): give it a length-1 spatial axis, as ONNX expects (N, C, D1, ...)
        xn = g.node("Unsqueeze", [xn, g.ints([2])])
    y = g.node("BatchNormalization", [xn, scale, bias, g.weight(m.running_mean), g.weight(m.running_var)],
               epsilon=float(m.eps))
    return [g.node("Squeeze", [y, g.ints([2])]) if x.ndim == 2 else y]


def layer_norm(g, m, call):
    if g.opset < 17:
        raise ExportError(f"gn.onnx.export: LayerNorm needs opset_version >= 17 (LayerNormalization), got {g.opset}")
    shape, dtype = m.normalized_shape, call.outputs[0].dtype
    weight = getattr(m, "weight", None)
    bias = getattr(m, "bias", None)
    scale = g.weight(weight) if weight is not None else g.constant(xp.ones(shape, dtype))
    inputs = [_input(g, call), scale] + ([g.weight(bias)] if bias is not None else [])
    return [g.node("LayerNormalization", inputs, axis=-len(shape), epsilon=float(m.eps))]


def _unary(op, **fixed):
    def convert(g, m, call):
        return [g.node(op, [_input(g, call)], **{k: v(m) if callable(v) else v for k, v in fixed.items()})]
    return convert


def softplus(g, m, call):
    # torch: (1/beta) log(1 + exp(beta x)), and x itself where beta x > threshold
    x, dtype = _input(g, call), call.outputs[0].dtype
    bx = g.node("Mul", [x, g.constant(m.beta, dtype)]) if m.beta != 1 else x
    soft = g.node("Softplus", [bx])
    if m.beta != 1:
        soft = g.node("Div", [soft, g.constant(m.beta, dtype)])
    above = g.node("Greater", [bx, g.constant(m.threshold, dtype)])
    return [g.node("Where", [above, x, soft])]


def gelu(g, m, call):
    x, dtype = _input(g, call), call.outputs[0].dtype
    if m.approximate == "tanh":   # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.constant(0.044715, dtype)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.constant(math.sqrt(2 / math.pi), dtype)])])
    else:                         # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Div", [x, g.constant(math.sqrt(2), dtype)])])
    half_x = g.node("Mul", [x, g.constant(0.5, dtype)])
    return [g.node("Mul", [half_x, g.node("Add", [t, g.constant(1.0, dtype)])])]


def silu(g, m, call):
    x = _input(g, call)
    return [g.node("Mul", [x, g.node("Sigmoid", [x])])]


def _softmax_axis(m, call):
    dim = m.dim
    if dim is None:   # torch's legacy implicit choice
        dim = 0 if call.args[0].ndim in (0, 1, 3) else 1
    return dim


def flatten(g, m, call):
    x = call.args[0]
    start, end = m.start_dim % x.ndim, m.end_dim % x.ndim
    # 0 copies the input's size (keeps a dynamic batch dynamic); -1 takes what remains
    shape = [0] * start + [-1] + list(x.shape[end + 1:])
    return [g.node("Reshape", [g.value(x), g.ints(shape)])]


def identity(g, m, call):
    return [g.node("Identity", [_input(g, call)])]


def embedding(g, m, call):
    if getattr(m, "max_norm", None) is not None:
        raise ExportError("gn.onnx.export: Embedding(max_norm=...) renormalises rows while running; not exported")
    return [g.node("Gather", [g.weight(m.weight), _input(g, call)], axis=0)]


# torch's gate blocks -> ONNX's order: LSTM i f g o -> i o f c; GRU r z n -> z r h
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(array, order):
    return xp.concatenate([array.reshape(len(order), -1, *array.shape[1:])[k] for k in order], axis=0)


def recurrent(g, m, call):
    """RNN / LSTM / GRU, layer by layer: each layer one ONNX node over the whole sequence
    (both directions at once when bidirectional), its output (T, D, N, H) folded to
    (T, N, D*H) as the next layer's input; h_n (and c_n) are the layers' final states joined."""
    x = call.args[0]
    hx = call.args[1] if len(call.args) > 1 else call.kwargs.get("hx")
    if not hasattr(x, "ndim") or call.kwargs.get("lengths") is not None or (len(call.args) > 2 and call.args[2] is not None):
        raise ExportError(f"gn.onnx.export: {type(m).__name__} is exported for padded tensors without lengths "
                          f"(no PackedSequence, no lengths=)")
    mode, H, D = m.mode, m.hidden_size, 2 if m.bidirectional else 1
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    order = _GATE_ORDER[mode]
    states = [] if hx is None else (list(hx) if mode == "LSTM" else [hx])
    batched = x.ndim == 3
    xn = g.value(x)
    if not batched:   # (T, I) -> (T, 1, I)
        xn = g.node("Unsqueeze", [xn, g.ints([1])])
        states = [g.node("Unsqueeze", [g.value(s), g.ints([1])]) for s in states]
    else:
        states = [g.value(s) for s in states]
        if m.batch_first:   # ONNX's recurrent ops read (T, N, I)
            xn = g.node("Transpose", [xn], perm=[1, 0, 2])
    key = g.parameter_names.get(id(m.weight_ih_l0), "weight_ih_l0")
    base = key[:-len("weight_ih_l0")]   # the layer's state_dict prefix, e.g. "encoder."
    finals = [[] for _ in range(2 if mode == "LSTM" else 1)]
    attributes = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
    if op == "GRU":
        attributes["linear_before_reset"] = 1   # torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    if op == "RNN":
        attributes["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
    for layer in range(m.num_layers):
        W, R, B = [], [], []
        for suffix in ([""] if D == 1 else ["", "_reverse"]):
            w_ih = getattr(m, f"weight_ih_l{layer}{suffix}").numpy()
            w_hh = getattr(m, f"weight_hh_l{layer}{suffix}").numpy()
            W.append(_gates(w_ih, order))
            R.append(_gates(w_hh, order))
            if m.bias:
                b_ih = getattr(m, f"bias_ih_l{layer}{suffix}").numpy()
                b_hh = getattr(m, f"bias_hh_l{layer}{suffix}").numpy()
                B.append(xp.concatenate([_gates(b_ih, order), _gates(b_hh, order)]))
            else:
                B.append(xp.zeros(2 * len(order) * H, w_ih.dtype))
        inputs = [xn, g.derived(f"{base}W_l{layer}", xp.stack(W)), g.derived(f"{base}R_l{layer}", xp.stack(R)),
                  g.derived(f"{base}B_l{layer}", xp.stack(B))]
        if states:
            inputs.append("")   # sequence_lens: every sequence has the full length
            for s in states:
                inputs.append(g.node("Slice", [s, g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])]))
        outs = g.node(op, inputs, n_outputs=3 if op == "LSTM" else 2, **attributes)
        y = g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])          # (T, N, D, H)
        xn = g.node("Reshape", [y, g.ints([0, 0, -1])])                  # (T, N, D*H)
        for final, name in zip(finals, outs[1:]):
            final.append(name)
    hidden = [g.node("Concat", f, axis=0) if len(f) > 1 else f[0] for f in finals]
    if not batched:
        return [g.node("Squeeze", [xn, g.ints([1])])] + [g.node("Squeeze", [h, g.ints([1])]) for h in hidden]
    if m.batch_first:
        xn = g.node("Transpose", [xn], perm=[1, 0, 2])
    return [xn] + hidden


CONVERTERS = {
    nn.Linear: linear,
    nn.Conv1d: conv, nn.Conv2d: conv,
    nn.MaxPool1d: max_pool, nn.MaxPool2d: max_pool, nn.MinPool2d: min_pool,
    nn.AvgPool1d: avg_pool, nn.AvgPool2d: avg_pool, nn.SumPool2d: sum_pool,
    nn.AdaptiveAvgPool2d: adaptive_avg, nn.AdaptiveMaxPool2d: adaptive_max,
    nn.GlobalAvgPool2d: adaptive_avg, nn.GlobalMaxPool2d: adaptive_max,
    nn.BatchNorm1d: batch_norm, nn.BatchNorm2d: batch_norm, nn.LayerNorm: layer_norm,
    nn.ReLU: _unary("Relu"), nn.Sigmoid: _unary("Sigmoid"), nn.Tanh: _unary("Tanh"),
    nn.LeakyReLU: _unary("LeakyRelu", alpha=lambda m: float(m.negative_slope)),
    nn.ELU: _unary("Elu", alpha=lambda m: float(m.alpha)),
    nn.Softplus: softplus, nn.GELU: gelu, nn.SiLU: silu,
    nn.Softmax: lambda g, m, call: [g.node("Softmax", [_input(g, call)], axis=_softmax_axis(m, call))],
    nn.LogSoftmax: lambda g, m, call: [g.node("LogSoftmax", [_input(g, call)], axis=_softmax_axis(m, call))],
    nn.Flatten: flatten, nn.Identity: identity,
    nn.Dropout: identity, nn.Dropout1d: identity, nn.Dropout2d: identity,   # exported in eval mode
    nn.Embedding: embedding,
    nn.RNN: recurrent, nn.LSTM: recurrent, nn.GRU: recurrent,
}
