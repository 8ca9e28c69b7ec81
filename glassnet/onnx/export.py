"""``gn.onnx.export``: a glassnet model as an ONNX file, for inference runtimes (onnxruntime, ...)."""
from __future__ import annotations

import os
import pathlib
import tempfile

from ..autograd import no_grad
from ..backend import xp
from ..tensor import Tensor
from . import layers, ops
from .graph import ExportError, Graph
from .trace import LayerCall, Tracer, flatten_tensors

DEFAULT_OPSET = 17

_ONNX_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7, "bool": 9,
               "float16": 10, "float64": 11}


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("gn.onnx.export needs the onnx package: pip install 'glassnet[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def _is_layer(module) -> bool:
    return type(module) in layers.CONVERTERS


def _value_info(onnx, name, tensor, dynamic: dict):
    shape = [dynamic.get(axis, size) for axis, size in enumerate(tensor.shape)]
    return onnx.helper.make_tensor_value_info(name, _ONNX_TYPES[tensor.dtype.name], shape)


def _dynamic(dynamic_axes, name):
    axes = (dynamic_axes or {}).get(name, {})
    if isinstance(axes, (list, tuple)):
        return {int(a): f"{name}_dim{a}" for a in axes}
    return {int(a): str(label) for a, label in axes.items()}


def build_graph(model, example_inputs, input_names, output_names, opset: int):
    """Trace ``model`` on ``example_inputs`` and convert the calls: (graph, inputs, outputs)."""
    parameter_names = {id(p): k for k, p in model.named_parameters()}
    parameter_names.update({id(b): k for k, b in model.named_buffers()})
    graph = Graph(opset, parameter_names)
    for tensor, name in zip(example_inputs, input_names):
        graph.name(tensor, name)
    with no_grad(), Tracer(_is_layer) as trace:
        output = model(*example_inputs)
    for call in trace.calls:
        if isinstance(call, LayerCall):
            names = layers.CONVERTERS[type(call.module)](graph, call.module, call)
        else:
            names = ops.convert(graph, call)
        for tensor, name in zip(call.outputs, names):
            graph.name(tensor, name)
    outputs = flatten_tensors(output)
    if not output_names:
        output_names = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    if len(output_names) != len(outputs):
        raise ExportError(f"gn.onnx.export: output_names has {len(output_names)} names, the model returns "
                          f"{len(outputs)} tensors")
    for tensor, name in zip(outputs, output_names):
        source = graph.names.get(id(tensor))
        if source is None:
            raise ExportError(f"gn.onnx.export: output '{name}' does not depend on the traced operations "
                              f"(a constant, or computed outside glassnet's operations)")
        graph.node("Identity", [source], outputs=[name])
    return graph, outputs, list(output_names)


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version: int = DEFAULT_OPSET, do_constant_folding: bool = True, verbose: bool = False):
    """Write ``model`` as an ONNX file, shaped like ``torch.onnx.export``.

    The model runs once on ``args`` (a Tensor, or a tuple of them) in eval mode (dropout off,
    batch norm on running statistics); every supported layer it calls becomes its ONNX
    operator(s) and every operation between layers (residual additions, concatenations,
    reshapes, indexing) its ONNX counterpart, so any model built from these layers exports,
    not only a Sequential. Parameters are stored under their state_dict keys.

    Supported layers: Linear; Conv1d/Conv2d (stride, padding incl. 'same'/'valid', dilation,
    groups, padding modes); MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvg/MaxPool2d, Global pools,
    MinPool2d (as -maxpool(-x)), SumPool2d (as avgpool x area, padding counted); BatchNorm1d/2d;
    LayerNorm; ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softplus, GELU, SiLU, Softmax, LogSoftmax;
    Flatten; Dropout (identity); Embedding; RNN, LSTM, GRU (any number of layers, bidirectional,
    batch_first, without bias, with or without initial states). Between layers: arithmetic,
    matmul, reshape/flatten/view, permute/transpose, indexing and slicing, cat, stack, expand,
    pad, sum/mean/max/min, exp/log/sqrt/abs/clamp, and the functional forms (F.relu, F.softmax,
    F.linear, F.conv2d/F.conv1d, F.embedding, F.adaptive_*_pool2d, ...).

    Args:
        model: a ``gn.nn.Module``.
        args: example input: a Tensor (or array) or a tuple of them; its shapes are recorded.
        f: path of the ``.onnx`` file to write (atomically).
        input_names / output_names: names of the graph's inputs and outputs (default
            "input" / "input_1", ..., and "output" / "output_0", ...).
        dynamic_axes: {name: {axis: label}} or {name: [axes]}: axes left free in the file,
            e.g. {"input": {0: "batch"}, "output": {0: "batch"}}.
        opset_version: ONNX opset (17 to 21; LayerNorm needs 17).
        do_constant_folding, verbose: accepted for torch compatibility.

    Returns None; raises ExportError naming the layer or operation that has no ONNX form.
    Needs the ``onnx`` package (``pip install glassnet[onnx]``); runs ``onnx.checker`` on the result.
    """
    onnx = _require_onnx()
    from onnx import helper, numpy_helper

    if not 17 <= int(opset_version) <= 21:
        raise ValueError(f"gn.onnx.export: opset_version must be between 17 and 21, got {opset_version}")
    inputs = args if isinstance(args, (tuple, list)) else (args,)
    inputs = tuple(t if isinstance(t, Tensor) else Tensor(xp.asarray(t)) for t in inputs)
    if input_names is None:
        input_names = ["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]
    if len(input_names) != len(inputs):
        raise ExportError(f"gn.onnx.export: input_names has {len(input_names)} names for {len(inputs)} inputs")
    was_training = model.training
    model.eval()
    try:
        graph, outputs, output_names = build_graph(model, inputs, list(input_names), output_names,
                                                   int(opset_version))
    finally:
        model.train(was_training)
    nodes = [helper.make_node(op, ins, outs, name=f"{op}_{i}", **attrs)
             for i, (op, ins, outs, attrs) in enumerate(graph.nodes)]
    used = {name for _, ins, _, _ in graph.nodes for name in ins}
    initializers = [numpy_helper.from_array(xp.ascontiguousarray(a), name)
                    for name, a in graph.initializers.items() if name in used]
    onnx_graph = helper.make_graph(
        nodes, type(model).__name__,
        [_value_info(onnx, n, t, _dynamic(dynamic_axes, n)) for n, t in zip(input_names, inputs)],
        [_value_info(onnx, n, t, _dynamic(dynamic_axes, n)) for n, t in zip(output_names, outputs)],
        initializers)
    proto = helper.make_model(onnx_graph, producer_name="glassnet",
                              opset_imports=[helper.make_opsetid("", int(opset_version))])
    proto.ir_version = min(proto.ir_version, 9)   # readable by onnxruntime releases of the last years
    onnx.checker.check_model(proto, full_check=True)
    path = pathlib.Path(f)
    directory = path.parent if str(path.parent) else pathlib.Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(proto.SerializeToString())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if verbose:
        print(helper.printable_graph(onnx_graph))
