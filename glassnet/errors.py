"""Errors glassnet raises at its public boundary."""
from __future__ import annotations


class ShapeError(ValueError):
    """An input's shape does not fit a layer.

    The layer that detects the mismatch raises it with ``module=self``; as the error
    passes up through ``Module.__call__`` of each enclosing module, the path from the
    outermost module is filled in, so the message names the layer as ``model.features.3``.
    """

    def __init__(self, detail: str, module=None):
        super().__init__(detail)
        self.detail, self.module, self.path = detail, module, None

    def __str__(self) -> str:
        if self.module is None:
            return self.detail
        name = f"layer '{self.path}' " if self.path else "layer "
        return f"{name}{_short_repr(self.module)}: {self.detail}"


def _short_repr(module) -> str:
    return f"{type(module).__name__}({module.extra_repr()})"


class CheckpointError(ValueError):
    """The file is not a readable checkpoint (corrupt, truncated, of an unsupported or unsafe format)."""
