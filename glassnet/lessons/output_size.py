"""The output-size formula (W - F + 2P)/S + 1 on each of the notes' cases, beside the size a glassnet
layer actually produces (which floors, as torch does, when the formula is not an integer)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import nn
from ..backend import xp
from ..tensor import Tensor
from .registry import lesson


def _layer_size(layer, size: int, channels: int = 1) -> int:
    x = Tensor._wrap(xp.zeros((1, channels, size, size), xp.float32))
    return int(layer(x).shape[-1])


def _formula(w: int, f: int, p: int, s: int) -> Fraction:
    return Fraction(w - f + 2 * p, s) + 1


# (where, input W, filter F, padding P, stride S, kind, the notes' answer or None)
CASES = [
    ("004 'Hyperparameters, S': 5x5, F 3, S 1", 5, 3, 0, 1, "conv", "3"),
    ("004 'Hyperparameters, S': 5x5, F 3, S 2", 5, 3, 0, 2, "conv", "2"),
    ("004 'Hyperparameters, S': 5x5, F 3, S 3 ('Oops?')", 5, 3, 0, 3, "conv", None),
    ("004 'Choosing our Hyperparameters': 5x5, F 3, S 2, P 1", 5, 3, 1, 2, "conv", "3"),
    ("001 'Multi Channel': 5x5x3, F 3, S 2, P 1", 5, 3, 1, 2, "conv", "3"),
    ("001 'Some terminologies': 8x8, F 3", 8, 3, 0, 1, "conv", "6"),
    ("001 'Some terminologies': 8x8, F 3, P 1", 8, 3, 1, 1, "conv", "8"),
    ("002 '3.3.1 Types of Convolutions': same, 6x6, F 3, P 1", 6, 3, 1, 1, "conv", "6"),
    ("002 '3.3.1 Types of Convolutions': valid, 6x6, F 3", 6, 3, 0, 1, "conv", "4"),
    ("002 '3.2 STRIDE': 6x6, F 3, S 2", 6, 3, 0, 2, "conv", "2"),
    ("001 'Why Convolutions?': 32x32x3, F 5", 32, 5, 0, 1, "conv", "28"),
    ("001 'AlexNet: Dimension Calculations': 227, F 11, S 4", 227, 11, 0, 4, "conv", "55"),
    ("001 'Numericals': AlexNet pool 1, 55, F 3, S 2", 55, 3, 0, 2, "pool", "27"),
    ("001 'Numericals': AlexNet pool 2, 27, F 3, S 2", 27, 3, 0, 2, "pool", "13"),
    ("001 'CNN': 4x4 max pool, 2x2, S 2", 4, 2, 0, 2, "pool", "2"),
    ("004 'Max Pooling': toy CNN 3x3 pool on 3x3", 3, 3, 0, 3, "pool", "1"),
]


@lesson("output-size", "Output size (W - F + 2P)/S + 1 on every case in the notes, beside the layer's",
        ("001", "What does the stride S do?"), ("003", "Convolution Operation"),
        ("004", "Image Example: Hyperparameters, K, F, S"), ("002", "3.3 PADDING"))
def output_size(board):
    board.say("For each case glassnet builds the layer (nn.Conv2d or nn.MaxPool2d), runs a zero image through "
              "it and reads the output width; the formula is evaluated exactly, as a fraction.")
    sizes, formulas = [], []
    for where, w, f, p, s, kind, notes in CASES:
        layer = nn.Conv2d(1, 1, f, stride=s, padding=p) if kind == "conv" else nn.MaxPool2d(f, stride=s, padding=p)
        got = _layer_size(layer, w)
        exact = _formula(w, f, p, s)
        sizes.append(got)
        formulas.append(float(exact))
        text = f"({w} - {f} + 2*{p})/{s} + 1 = {exact}" + ("" if exact.denominator == 1 else f" = {float(exact):.4g}")
        board.step(where)
        board.show("formula", text)
        if exact.denominator != 1:
            board.note(f"Not an integer: the last window would run off the input. The layer floors to {got} "
                       f"(as torch), dropping the last {(w - f + 2 * p) % s} row(s) and column(s) of the input; "
                       f"003 says the result 'should be an integer', and gn.summary marks such a layer.")
        if w == 55 and f == 3:
            board.note("001 writes this one as 'Output Size = (55-3) + 1 = 26/2 + 1 = 27': the division by the "
                       "stride is misplaced in the first step; (55 - 3)/2 + 1 = 27.")
        if notes is None:
            board.show(f"{kind} layer output", got)
        else:
            board.compare(f"{kind} layer output", got, notes)
    board.values["sizes"] = np.array(sizes)
    board.values["formulas"] = np.array(formulas)
    board.step("Padding that keeps the size (stride 1): P = (F - 1)/2")
    for f in (3, 5, 7):
        p = (f - 1) // 2
        board.show(f"F = {f}, P = {p}", f"32 -> {_layer_size(nn.Conv2d(1, 1, f, padding=p), 32)}")


@lesson("cnn-39x39", "Three conv layers on a 39x39x3 image: 7 x 7 x 40 = 1960 features",
        ("002", "3.7 COMPLETE CONVOLUTIONAL NEURAL NETWORK"))
def cnn_39x39(board):
    net = nn.Sequential(nn.Conv2d(3, 10, 3, stride=1), nn.Conv2d(10, 20, 5, stride=2),
                        nn.Conv2d(20, 40, 5, stride=2), nn.Flatten())
    x = Tensor._wrap(xp.zeros((1, 3, 39, 39), xp.float32))
    shapes = []
    for i, layer in enumerate(net):
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
        if i < 3:
            c = layer
            board.show(f"layer {i + 1}: {c.out_channels} filters {c.kernel_size[0]}x{c.kernel_size[1]}, "
                       f"stride {c.stride[0]}", f"{x.shape[2]} x {x.shape[3]} x {x.shape[1]}")
    board.values["shapes"] = shapes
    board.compare("flattened length fed to the fully connected layer", x.shape[1], "1960", key="features")
    board.note("The notes' solution is missing from the transcript (a figure); 1960 = 7 x 7 x 40 is the "
               "standard answer. Layer 1: (39 - 3)/1 + 1 = 37; layer 2: (37 - 5)/2 + 1 = 17; "
               "layer 3: (17 - 5)/2 + 1 = 7.")
