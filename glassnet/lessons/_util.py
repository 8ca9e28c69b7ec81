"""Small helpers the lessons share: float64 tensors, and convolution shown window by window."""
from __future__ import annotations

import numpy as np

from ..tensor import tensor as _make_tensor
from ..backend import float64
from .board import Board, fmt


def t(values, requires_grad: bool = False):
    """A float64 glassnet tensor (lessons compute in float64 so their 4th decimal is exact)."""
    return _make_tensor(np.asarray(values, dtype=np.float64), dtype=float64, requires_grad=requires_grad)


def _factor(v) -> str:
    """A factor of a product as written by hand: negatives in parentheses, 2*(-1)."""
    text = fmt(v, 2)
    return f"({text})" if text.startswith("-") else text


def windows(board: Board, x_padded, kernel, out, stride: int = 1, bias: float = 0.0, limit: int | None = None,
            label: str = "y", padded: bool = False) -> None:
    """Show each output of a 2-D cross-correlation: the input patch, the products, their sum.

    ``x_padded`` is the (already padded) input and ``out`` glassnet's output map; the products are
    formed here only to be shown, and each window's sum is checked against glassnet's output.
    """
    x = np.asarray(x_padded, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    y = np.asarray(out, dtype=np.float64)
    kh, kw = k.shape
    shown = 0
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            if limit is not None and shown >= limit:
                board.say(f"... and so on for the remaining {y.size - shown} windows.")
                return
            patch = x[i * stride:i * stride + kh, j * stride:j * stride + kw]
            products = " + ".join(f"{_factor(a)}*{_factor(b)}" for a, b in zip(patch.ravel(), k.ravel()))
            total = float((patch * k).sum()) + bias
            if abs(total - y[i, j]) > 1e-9 * max(1.0, abs(total)):
                raise AssertionError(f"window ({i}, {j}): products sum to {total}, glassnet's map has {y[i, j]}")
            tail = f" + bias {fmt(bias, 2)}" if bias else ""
            where = "padded rows" if padded else "rows"
            board.show(f"{label}[{i},{j}]: {where} {i * stride}-{i * stride + kh - 1}, "
                       f"cols {j * stride}-{j * stride + kw - 1}",
                       f"{products}{tail} = {fmt(y[i, j], 4)}")
            shown += 1
