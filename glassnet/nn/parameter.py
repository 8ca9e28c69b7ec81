"""``Parameter``: a Tensor a Module registers as learnable."""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor, _array_from


class Parameter(Tensor):
    """A leaf tensor that requires grad and is picked up by ``Module.parameters()``.

    ``Parameter(t)`` shares ``t``'s storage, as in torch.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = xp.empty(0, xp.float32)
        elif isinstance(data, Tensor):
            array = data._data
        elif isinstance(data, xp.ndarray):
            array = data
        else:
            array = _array_from(data)
        self._data = array
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
