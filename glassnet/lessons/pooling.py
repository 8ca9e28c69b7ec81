"""Pooling on the notes' 4x4 examples: max, average, min, sum and global, window by window."""
from __future__ import annotations

import numpy as np

from ..nn import functional as F
from ._util import t
from .board import fmt
from .registry import lesson


def _pool_windows(board, x, k, s, label, reduce_name, out):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            patch = x[i * s:i * s + k, j * s:j * s + k]
            board.show(f"{label}[{i},{j}]: rows {i * s}-{i * s + k - 1}, cols {j * s}-{j * s + k - 1}",
                       f"{reduce_name}{{{', '.join(fmt(v) for v in patch.ravel())}}} = {fmt(out[i, j])}")


@lesson("pooling-kinds", "Max, average, min, sum and global pooling on the notes' 4x4 feature map",
        ("001", "CNN"), ("002", "3.5 Pooling"), ("003", "Pooling layer 8"))
def pooling_kinds(board):
    x = np.array([[1, 4, 2, 1], [5, 8, 3, 4], [7, 6, 4, 5], [1, 3, 1, 2]], float)
    board.show("feature map", x)
    xt = t(x[None, None])
    board.note("001 labels this slide '2x2 filters (stride 1)' but then computes (4 - 2)/2 + 1 = 2, i.e. "
               "stride 2 (stride 1 would give 3x3). glassnet uses stride 2, as the computation does.")
    results = {
        "max": F.max_pool2d(xt, 2, 2), "average": F.avg_pool2d(xt, 2, 2),
        "min": F.min_pool2d(xt, 2, 2), "sum": F.sum_pool2d(xt, 2, 2),
    }
    for name, y in results.items():
        board.step(f"{name} pooling, 2x2, stride 2")
        _pool_windows(board, x, 2, 2, name, {"max": "max", "average": "mean", "min": "min", "sum": "sum"}[name],
                      y.numpy()[0, 0])
        board.values[name] = y.numpy()[0, 0]
    board.compare("max-pool output size", results["max"].shape[-1], "2", key="size")
    board.step("Global pooling: one number per feature map")
    gmax = F.adaptive_max_pool2d(xt, 1)
    gavg = F.adaptive_avg_pool2d(xt, 1)
    board.show("global max", gmax.numpy().ravel()[0], key="global_max")
    board.show("global average", gavg.numpy().ravel()[0], key="global_avg")
    board.step("With stride 1 (what the slide's label says)")
    y1 = F.max_pool2d(xt, 2, 1)
    board.show("max pool 2x2, stride 1 (3x3)", y1.numpy()[0, 0], key="max_stride1")
    board.say("Pooling layers have no parameters (\"Zilch\"): nothing to learn, and the depth is unchanged.")


@lesson("max-pool-windows", "Max pooling window by window: mz_00 = 5, mz_01 = 7",
        ("004", "Image Example: Max Pooling Annotation"))
def max_pool_windows(board):
    x = np.array([[1, 2, 6, 7], [-4, 5, 0, 1], [1, 3, 1, 1], [3, 3, 2, 1]], float)
    board.show("O", x)
    y = F.max_pool2d(t(x[None, None]), 2, 2).numpy()[0, 0]
    _pool_windows(board, x, 2, 2, "mz", "max", y)
    board.compare("mz_00", y[0, 0], "5", key="mz00")
    board.compare("mz_01", y[0, 1], "7", key="mz01")
    board.show("whole output", y, key="y")
    board.step("Backward: the gradient goes to each window's maximum")
    xt = t(x[None, None], requires_grad=True)
    F.max_pool2d(xt, 2, 2).sum().backward()
    board.show("d(sum of outputs)/dO", xt.grad.numpy()[0, 0], key="grad")
