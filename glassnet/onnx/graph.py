"""The ONNX graph under construction: nodes, initializers (weights and constants), value names.

Kept free of the ``onnx`` package: nodes are plain tuples until ``export`` turns them into
protobuf, so the converters read as lists of operations.
"""
from __future__ import annotations

import collections

from ..backend import xp
from ..tensor import Tensor


class ExportError(ValueError):
    """The model uses something ``gn.onnx.export`` cannot express in ONNX (the message says what)."""


class Graph:
    def __init__(self, opset: int, parameter_names: dict):
        self.opset = opset
        self.nodes = []                 # (op_type, inputs, outputs, attributes)
        self.initializers = {}          # name -> ndarray
        self.names = {}                 # id(Tensor) -> value name
        self.keep = []                  # the Tensors named, kept alive so their ids stay theirs
        self.parameter_names = parameter_names   # id(Parameter or buffer) -> state_dict key
        self._counts = collections.Counter()

    def fresh(self, hint: str) -> str:
        self._counts[hint] += 1
        return f"{hint}_{self._counts[hint]}"

    def node(self, op_type: str, inputs, n_outputs: int = 1, outputs=None, **attributes):
        """Append a node; returns its output name (or the list of them when n_outputs > 1)."""
        outputs = list(outputs) if outputs is not None else [self.fresh(op_type) for _ in range(n_outputs)]
        self.nodes.append((op_type, list(inputs), outputs, attributes))
        return outputs[0] if len(outputs) == 1 else outputs

    def constant(self, value, dtype=None, hint: str = "const") -> str:
        """An initializer holding ``value`` (a number, list or array)."""
        array = xp.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers[name] = array
        return name

    def ints(self, values) -> str:
        """An int64 1-d constant (shapes, axes, pads: ONNX takes these as tensors)."""
        return self.constant(xp.asarray(list(values), dtype=xp.int64), hint="ints")

    def weight(self, tensor, suffix: str = "") -> str:
        """The initializer for a model parameter or buffer, named by its state_dict key."""
        key = self.parameter_names.get(id(tensor))
        if key is None:
            return self.constant(tensor.numpy() if isinstance(tensor, Tensor) else tensor)
        name = key + suffix
        if name not in self.initializers:
            self.initializers[name] = tensor.numpy()
        return name

    def derived(self, name: str, array) -> str:
        """An initializer computed from parameters (e.g. LSTM gates reordered), under ``name``."""
        self.initializers[name] = xp.ascontiguousarray(array)
        return name

    def name(self, tensor, name: str) -> str:
        self.names[id(tensor)] = name
        self.keep.append(tensor)
        return name

    def value(self, x) -> str:
        """The graph name of ``x``: a traced tensor, a parameter, or a constant."""
        if isinstance(x, Tensor):
            known = self.names.get(id(x))
            if known is not None:
                return known
            return self.weight(x)
        return self.constant(x)
