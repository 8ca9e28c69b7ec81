"""The contract every differentiable primitive follows.

A primitive subclasses :class:`Function` and writes two methods side by side:

* ``forward(self, *arrays, **options)`` takes ``ndarray`` inputs (``None`` for an
  absent optional input such as a bias) and returns an ``ndarray`` or a tuple of them.
  It saves on ``self`` whatever ``backward`` needs, named as in the math.
* ``backward(self, *grads)`` takes dL/d(output) for each output and returns
  dL/d(input) for each input (``None`` where ``self.needs_input_grad[i]`` is False).

``Function.apply(*tensors, **options)`` runs the forward on the tensors' arrays and,
when gradients are enabled and some input requires one, records the call as a node
of the graph that :mod:`glassnet.autograd.engine` walks in reverse.
"""
from __future__ import annotations

from . import grad_mode


class Function:
    needs_input_grad: tuple = ()
    parents: tuple = ()

    def forward(self, *arrays, **options):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        from ..tensor import Tensor  # the tensor module imports functions, so import late

        node = cls()
        arrays = []
        needs = []
        for t in inputs:
            if isinstance(t, Tensor):
                arrays.append(t._data)
                needs.append(t.requires_grad)
            else:
                arrays.append(t)
                needs.append(False)
        record = grad_mode._enabled and any(needs)
        node.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        out = node.forward(*arrays, **options)
        if type(out) is tuple:
            results = tuple(Tensor._wrap(o) for o in out)
            if record:
                node.parents = inputs
                node.output_meta = [(o.shape, o.dtype) for o in out]
                for i, r in enumerate(results):
                    if r._data.dtype.kind in "fc":  # integer outputs (indices) carry no gradient
                        r.requires_grad, r.grad_fn, r._output_index = True, node, i
            return results
        result = Tensor._wrap(out)
        if record:
            node.parents = inputs
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
