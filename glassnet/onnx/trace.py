"""Record one forward pass of a model as the list of calls an ONNX graph is built from.

Two kinds of call are recorded, in the order they run:

* a call of a layer glassnet knows how to export (``Linear``, ``Conv2d``, ``LSTM``, ... : the
  keys of ``layers.CONVERTERS``) -- one record, the layer's own settings; whatever the layer
  does inside is not recorded;
* every other differentiable operation (``Function.apply``: ``x + y``, ``gn.cat``, ``reshape``,
  indexing, ``F.relu``...) run outside such a layer -- one record with the operation's inputs
  and options.

So a ResNet's ``out + identity``, an Inception block's ``cat`` and a user's own ``forward``
code are captured as torch's tracer captures them, while layers keep their parameters
together. Recording patches ``Module.__call__`` and ``Function.apply`` for the duration of
one forward pass only (``with Tracer(...)``), and keeps every recorded tensor alive so that
``id()`` names stay unique.
"""
from __future__ import annotations

from ..autograd.function import RecordedApplies
from ..nn.module import Module
from ..tensor import Tensor


def flatten_tensors(value) -> list:
    """The Tensors in ``value`` (a Tensor or nested tuples/lists of them), in order; None is skipped."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flatten_tensors(v)]
    return []


class LayerCall:
    def __init__(self, module, args, kwargs, output):
        self.module, self.args, self.kwargs, self.output = module, args, kwargs, output
        self.outputs = flatten_tensors(output)


class OpCall:
    def __init__(self, function, inputs, options, output):
        self.function, self.inputs, self.options, self.output = function, inputs, options, output
        self.outputs = flatten_tensors(output)


class Tracer:
    """``with Tracer(is_layer) as trace: model(x)`` leaves the calls in ``trace.calls``."""

    def __init__(self, is_layer):
        self.is_layer = is_layer   # module -> bool: record it as one call (a known layer)
        self.calls = []
        self.depth = 0             # > 0 while inside a recorded layer

    def __enter__(self):
        tracer = self
        self._module_call = Module.__call__
        original_call = self._module_call

        def traced_call(module, *args, **kwargs):
            if tracer.depth or not tracer.is_layer(module):
                return original_call(module, *args, **kwargs)
            tracer.depth += 1
            try:
                output = original_call(module, *args, **kwargs)
            finally:
                tracer.depth -= 1
            tracer.calls.append(LayerCall(module, args, kwargs, output))
            return output

        def op_call(cls, inputs, options, output):
            if not tracer.depth:      # an operation outside the layers recorded whole
                tracer.calls.append(OpCall(cls, inputs, options, output))

        self._applies = RecordedApplies(op_call)
        Module.__call__ = traced_call
        self._applies.__enter__()
        return self

    def __exit__(self, *exc):
        Module.__call__ = self._module_call
        self._applies.__exit__(*exc)
        return False
