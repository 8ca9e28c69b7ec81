"""Constructor argument checks shared by the layers: each error names the layer, the argument,
what it must be and what it was (``Conv2d: stride must be positive integers, got (0, 1)``).

Layers check here what torch refuses, whether torch refuses it at construction or at the first
forward (a zero stride builds in torch and fails on the first batch; here it fails at once).
"""
from __future__ import annotations

import numbers


def count(layer: str, name: str, value, minimum: int = 0) -> int:
    """An integer >= ``minimum`` (NumPy integers welcome; bools and floats are not counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{layer}: {name} must be {what}, got {value}")
    return int(value)


def sizes(layer: str, name: str, value, n: int, minimum: int) -> tuple:
    """An int or an ``n``-tuple (a 1-tuple repeats) of integers >= ``minimum``, as an ``n``-tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise ValueError(f"{layer}: {name} must be an int or a {n}-tuple, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise TypeError(f"{layer}: {name} must be integers, got {value!r}")
    if any(v < minimum for v in items):
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{layer}: {name} must be {what}, got {value!r}")
    return tuple(int(v) for v in items)


def pool_window(layer: str, n: int, kernel_size, stride, padding, dilation=1) -> None:
    """Pooling windows: kernel, stride and dilation positive, padding between 0 and half the kernel
    (torch's rule: a window must always hold at least one real input element)."""
    kernel = sizes(layer, "kernel_size", kernel_size, n, 1)
    if stride is not None:
        sizes(layer, "stride", stride, n, 1)
    sizes(layer, "dilation", dilation, n, 1)
    pads = sizes(layer, "padding", padding, n, 0)
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ValueError(f"{layer}: padding must be at most half of kernel_size, got padding={padding!r} "
                         f"with kernel_size={kernel_size!r}")


def positive_number(layer: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r} ({type(value).__name__})")
    if not value > 0:
        raise ValueError(f"{layer}: {name} must be positive, got {value}")
    return value
