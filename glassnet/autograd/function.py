"""The contract every differentiable primitive follows.

A primitive subclasses :class:`Function` and writes two methods side by side:

* ``forward(self, *arrays, **options)`` takes ``ndarray`` inputs (``None`` for an
  absent optional input such as a bias) and returns an ``ndarray`` or a tuple of them.
  It saves on ``self`` whatever ``backward`` needs, named as in the math.
* ``backward(self, *grads)`` takes dL/d(output) for each output and returns
  dL/d(input) for each input (``None`` where ``self.needs_input_grad[i]`` is False).

``backward`` must return arrays it does not keep: the engine hands a fresh array
(one that is not a view and was not returned twice) to a leaf's ``.grad`` without
copying, and optimizers then update ``.grad`` in place.

``Function.apply(*tensors, **options)`` runs the forward on the tensors' arrays and,
when gradients are enabled and some input requires one, records the call as a node
of the graph that :mod:`glassnet.autograd.engine` walks in reverse.
"""
from __future__ import annotations

from . import grad_mode

_tensor_class = None  # set by glassnet.tensor once Tensor exists (tensor.py imports this module)
_NO_GRADS = [(False,) * n for n in range(8)]
_new = object.__new__   # Function subclasses take no constructor arguments


class Function:
    needs_input_grad: tuple = ()
    parents: tuple = ()

    def forward(self, *arrays, **options):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        # This runs once per operation, so it is kept lean: per-op Python overhead is what
        # separates a NumPy framework from raw NumPy on small tensors.
        Tensor = _tensor_class
        node = _new(cls)
        record = False
        if grad_mode._enabled:
            needs = tuple([isinstance(t, Tensor) and t.requires_grad for t in inputs])
            record = True in needs
        if not record:  # inference / constants: run the forward, record nothing
            n = len(inputs)
            node.needs_input_grad = _NO_GRADS[n] if n < 8 else (False,) * n
            out = node.forward(*[t._data if isinstance(t, Tensor) else t for t in inputs], **options)
            wrap = Tensor._wrap
            if type(out) is tuple:
                return tuple([wrap(o) for o in out])
            return wrap(out)
        node.needs_input_grad = needs
        out = node.forward(*[t._data if isinstance(t, Tensor) else t for t in inputs], **options)
        node.parents = inputs
        if type(out) is tuple:
            results = tuple([Tensor._wrap(o) for o in out])
            node.output_meta = [(o.shape, o.dtype) for o in out]
            for i, r in enumerate(results):
                if r._data.dtype.kind in "fc":  # integer outputs (indices) carry no gradient
                    r.requires_grad, r.grad_fn, r._output_index = True, node, i
            return results
        result = Tensor._wrap(out)
        node.output_meta = None
        result.requires_grad, result.grad_fn = True, node
        return result

    def release(self) -> None:
        """Drop the saved arrays and the links to the inputs once backward has used them."""
        self.__dict__.clear()
        self.released = True

    @property
    def name(self) -> str:
        return type(self).__name__


class RecordedApplies:
    """``with RecordedApplies(on_call): ...`` calls ``on_call(cls, inputs, options, output)`` after
    every outermost ``Function.apply`` in the block has run (applies made inside another
    apply, by a Function built from others, run unrecorded). Both of glassnet's recorders are
    built on it: ``gn.compile`` (``compile.py``, a forward pass replayed as straight-line code)
    and the ONNX tracer (``onnx/trace.py``). ``Function.apply`` is patched for the block only
    and restored on leaving it, whatever happens inside."""

    def __init__(self, on_call):
        self.on_call = on_call
        self.depth = 0            # > 0 while an apply of the block runs

    def __enter__(self):
        recorder, on_call = self, self.on_call
        self._apply = Function.__dict__["apply"]
        original_apply = self._apply.__func__

        def recorded_apply(cls, *inputs, **options):
            if recorder.depth:
                return original_apply(cls, *inputs, **options)
            recorder.depth += 1
            try:
                output = original_apply(cls, *inputs, **options)
            finally:
                recorder.depth -= 1
            on_call(cls, inputs, options, output)
            return output

        Function.apply = classmethod(recorded_apply)
        return self

    def __exit__(self, *exc):
        Function.apply = self._apply
        return False
