"""Errors glassnet raises at its public boundary."""
from __future__ import annotations


class LayerError(Exception):
    """An error that names the layer it happened in.

    Whoever detects it may pass ``module=``; otherwise ``Module.__call__`` of the innermost
    module that sees it attaches itself (so errors raised by ``nn.functional``, which knows no
    layer, still name one). As the error passes up through ``Module.__call__`` of each
    enclosing module, the path from the outermost module is filled in, so the message names
    the layer as ``model.features.3``.
    """

    def __init__(self, detail: str, module=None):
        super().__init__(detail)
        self.detail, self.module, self.path = detail, module, None

    def __str__(self) -> str:
        if self.module is None:
            return self.detail
        name = f"layer '{self.path}' " if self.path else "layer "
        return f"{name}{_short_repr(self.module)}: {self.detail}"


class ShapeError(LayerError, ValueError):
    """An input's shape does not fit a layer."""


class InputTypeError(LayerError, TypeError):
    """An input of the wrong kind for a layer: not a Tensor, or of a dtype it cannot take."""


def _short_repr(module) -> str:
    return f"{type(module).__name__}({module.extra_repr()})"


class CheckpointError(ValueError):
    """The file is not a readable checkpoint (corrupt, truncated, of an unsupported or unsafe format)."""
