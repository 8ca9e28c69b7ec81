"""Cross-correlation on the notes' small images, window by window: which input patch, the products,
the sum, beside glassnet's F.conv2d / F.conv1d output."""
from __future__ import annotations

import numpy as np

from ..nn import functional as F
from ._util import t, windows
from .registry import lesson


def _conv(x, k, stride=1, padding=0, bias=None):
    """glassnet's conv2d on one single-channel image and one kernel -> (padded input, output map)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    b = None if bias is None else t([bias])
    y = F.conv2d(t(x[None, None]), t(k[None, None]), b, stride=stride, padding=padding)
    padded = F.pad(t(x), (padding,) * 4).numpy() if padding else x
    return padded, y.numpy()[0, 0]


@lesson("conv-intro", "Cross-correlation of a 3x3 input with a 2x2 kernel: 19, 25, 37, 43",
        ("002", "3.1 CONVOLUTION OPERATION"))
def conv_intro(board):
    x = np.arange(9.0).reshape(3, 3)
    k = [[0, 1], [2, 3]]
    board.say("A 'convolution' layer computes a cross-correlation: the kernel is not flipped.")
    board.show("input", x)
    board.show("kernel", np.asarray(k, float))
    xp_, y = _conv(x, k)
    board.step("Window by window (stride 1, no padding)")
    windows(board, xp_, k, y)
    board.compare("output", y, "19 25; 37 43", key="y")
    board.say(f"Output size (n_h - f_h + 1) x (n_w - f_w + 1) = {y.shape[0]} x {y.shape[1]}.")


@lesson("conv-slash-filters", "The '/' and '\\' filters on a 3x3 '/' image, ReLU, 2x2 max pool",
        ("000", "Convolutional Neural Networks - CNN"))
def conv_slash(board):
    image = [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]]
    fwd = [[-1, 1], [1, -1]]
    back = [[1, -1], [-1, 1]]
    board.note("The transcript's middle image row reads '-1 1 1'; the notes' own products (4 and 4 for the "
               "2nd and 3rd neurons) need '-1 1 -1', a clean '/', which is what glassnet uses.")
    board.show("input '/'", np.asarray(image, float))
    for name, k, notes_map, notes_relu, notes_pool, key in (
            ("forward filter '/'", fwd, "-2 4; 4 -2", "0 4; 4 0", "4", "fwd"),
            ("backward filter '\\'", back, "2 -4; -4 2", "2 0; 0 2", "2", "back")):
        board.step(name)
        board.show("kernel", np.asarray(k, float))
        xp_, y = _conv(image, k)
        windows(board, xp_, k, y)
        board.compare("feature map", y, notes_map, key=f"{key}_map")
        r = F.relu(t(y))
        board.compare("ReLU", r, notes_relu, key=f"{key}_relu")
        m = F.max_pool2d(r[None, None], 2)
        board.compare("2x2 max pool", m.numpy().ravel(), notes_pool, key=f"{key}_pool")
    board.say("The '/' filter answers 4, the '\\' filter 2: a perceptron on these two numbers can tell the "
              "slashes apart (the notes' w0 = -3 neuron; its other weights are not in the transcript).")


@lesson("conv-vertical-edge", "The vertical-edge filter on the 6x6 edge image: 0 30 30 0",
        ("001", "Why Convolutions?"))
def conv_vertical_edge(board):
    x = np.array([[10, 10, 10, 0, 0, 0]] * 6, float)
    k = [[1, 0, -1]] * 3
    board.show("input", x)
    board.show("kernel", np.asarray(k, float))
    xp_, y = _conv(x, k)
    board.step("Window by window (first row of outputs; the other rows repeat it)")
    windows(board, xp_, k, y, limit=4)
    board.compare("feature map", y, "; ".join(["0 30 30 0"] * 4), key="y")
    board.say("The bright column pair in the middle is the edge; the same 9 weights found it at every position "
              "(parameter sharing), and each output saw only 9 of the 36 inputs (sparse connections).")


@lesson("conv-5x5-window", "The first window of a 3x3 vertical-edge kernel on a 5x5 image: 6",
        ("001", "What is a Convolution Neural Network?"))
def conv_5x5_window(board):
    x = np.array([[7, 2, 3, 3, 8], [4, 5, 3, 8, 4], [3, 3, 2, 8, 4], [2, 8, 7, 2, 7], [5, 4, 4, 5, 4]], float)
    k = [[1, 0, -1]] * 3
    board.note("The transcript cuts the kernel to '1 0 -1 / 1 0 -...' and writes the last three products as "
               "'3x1 + 3x1 + 2x1', which would sum to 22; the notes' 6 needs the third column's weights to be "
               "-1, i.e. the vertical-edge kernel [[1, 0, -1]] * 3, which glassnet uses.")
    board.show("input", x)
    xp_, y = _conv(x, k)
    windows(board, xp_, k, y, limit=1)
    board.compare("first output", y[0, 0], "6", key="y00")
    board.show("whole feature map", y, key="y")


@lesson("conv-3x3-bias", "A 3x3 input, a 2x2 kernel and bias 2: the 2x2 map -1 2 0 1",
        ("001", "What is a Convolution?"))
def conv_3x3_bias(board):
    x = [[2, 2, 1], [3, 1, -1], [4, 3, 2]]
    k = [[1, -1], [-1, 0]]
    board.show("input", np.asarray(x, float))
    board.show("kernel", np.asarray(k, float))
    xp_, y = _conv(x, k, bias=2.0)
    windows(board, xp_, k, y, bias=2.0)
    board.compare("feature map", y, "-1 2; 0 1", key="y")


_IMG6 = [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
         [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]
_DIAG = [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
_VERT = [[-1, 1, -1]] * 3


@lesson("conv-6x6-stride", "Two filters on the 6x6 image, at stride 1 and stride 2",
        ("002", "3.1 CONVOLUTION OPERATION"), ("002", "3.2 STRIDE"))
def conv_6x6_stride(board):
    board.show("input", np.asarray(_IMG6, float))
    for name, k, key in (("filter 1 (diagonal)", _DIAG, "f1"), ("filter 2 (vertical)", _VERT, "f2")):
        board.step(f"{name}, stride 1 (the notes' figure with these maps is missing from the transcript)")
        board.show("kernel", np.asarray(k, float))
        _, y = _conv(_IMG6, k)
        board.show("feature map (4x4)", y, key=f"{key}_s1")
    board.step("Filter 1 at stride 2")
    xp_, y2 = _conv(_IMG6, _DIAG, stride=2)
    windows(board, xp_, _DIAG, y2, stride=2)
    board.compare("stride-2 map", y2, "3 -1; 3 1", key="f1_s2",
                  why="only the first entry matches any stride-2 window of this image: the windows at columns "
                      "2-4 and rows 2-4 give -3, -3 and 0 (products above); the notes' -1, 3, 1 are not "
                      "stride-2 placements of this filter")
    board.note("(6 - 3)/2 + 1 = 2.5 is not an integer: the last column and row of windows would run off the "
               "image, so the layer (as torch) floors to 2 and never reads the 6th row and column. The notes' "
               "size formula here reads (n + f + s)/s; it should be (n - f + s)/s = (n - f)/s + 1.")


@lesson("conv-rgb", "Three input channels, three kernel slices and a bias: 308 - 498 + 164 + 1 = -25",
        ("001", "What is a Convolution? Multi Channel"))
def conv_rgb(board):
    red = [[156, 155, 156, 158, 158], [153, 154, 157, 159, 159], [149, 151, 155, 158, 159],
           [146, 146, 149, 153, 158], [145, 143, 143, 148, 158]]
    green = [[167, 166, 167, 169, 169], [164, 165, 168, 170, 170], [160, 162, 166, 169, 170],
             [156, 156, 159, 163, 168], [155, 153, 153, 158, 168]]
    blue = [[163, 162, 163, 165, 165], [160, 161, 164, 166, 166], [156, 158, 162, 165, 166],
            [155, 155, 158, 162, 167], [154, 152, 152, 157, 167]]
    kernels = [[[-1, -1, 1], [0, 1, -1], [0, 1, 1]], [[1, 0, 0], [1, -1, -1], [1, 0, -1]],
               [[0, 1, 1], [0, 1, 0], [1, -1, 1]]]
    board.say("The figure shows the top-left 5x5 of each channel (the rest is '...'), zero-padded by 1. Only "
              "the top-left output is given, so glassnet computes the layer on that crop and compares it.")
    x = t(np.array([red, green, blue], float)[None])
    w = t(np.array(kernels, float)[None])
    out = F.conv2d(x, w, t([1.0]), padding=1)
    per_channel = F.conv2d(x, t(np.array(kernels, float)[:, None]), None, padding=1, groups=3)
    padded = F.pad(x, (1, 1, 1, 1)).numpy()[0]
    for c, (name, notes) in enumerate((("red", "308"), ("green", "-498"), ("blue", "164"))):
        board.step(f"Channel {c + 1} ({name}) with kernel slice {c + 1}")
        windows(board, padded[c], kernels[c], per_channel.numpy()[0, c], limit=1, label=name, padded=True)
        board.compare(f"{name} contribution", per_channel.numpy()[0, c, 0, 0], notes, key=f"{name}")
    board.step("Sum over channels plus the bias (one output per filter, not one per channel)")
    board.compare("output[0,0]", out.numpy()[0, 0, 0, 0], "-25", key="y00")
    board.say("The notes' line '164 + 1 = -25' is the last term of 308 + (-498) + 164 + 1.")


_SHARP_IMG = [[105, 102, 100, 97, 96], [103, 99, 103, 101, 102], [101, 98, 104, 102, 100],
              [99, 101, 106, 104, 99], [104, 104, 104, 100, 98]]
_SHARPEN = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]


@lesson("conv-sharpen", "The sharpen kernel with padding 1, at stride 1 and stride 2: 320",
        ("001", "What is a Convolution? Padding"), ("001", "What is a Convolution? Stride=2"))
def conv_sharpen(board):
    board.show("image", np.asarray(_SHARP_IMG, float))
    board.show("kernel (sharpen)", np.asarray(_SHARPEN, float))
    for stride in (1, 2):
        board.step(f"Padding 1, stride {stride}")
        xp_, y = _conv(_SHARP_IMG, _SHARPEN, stride=stride, padding=1)
        windows(board, xp_, _SHARPEN, y, stride=stride, limit=2, padded=True)
        board.compare("first output", y[0, 0], "320", key=f"y00_s{stride}")
        board.show(f"output ({y.shape[0]}x{y.shape[1]})", y, key=f"y_s{stride}")
    board.note("The stride-2 figure's image shows extra values (101, 99, ...) to the right of the 5x5 image; "
               "they look like a transcription artefact, and glassnet uses the same 5x5 image for both strides.")


@lesson("conv-padded-179", "A 4x4 image padded by 1 and a 3x3 kernel: 179",
        ("003", "Convolution operation"))
def conv_padded_179(board):
    image = [[50, 60, 10, 50], [180, 119, 237, 180], [180, 119, 233, 200], [50, 60, 10, 50]]
    k = [[1, 0, 1], [1, 0, 1], [1, 0, 1]]
    board.show("image", np.asarray(image, float))
    board.show("kernel", np.asarray(k, float))
    xp_, y = _conv(image, k, padding=1)
    board.show("padded image", xp_)
    windows(board, xp_, k, y, limit=1, padded=True)
    board.compare("output[0,0]", y[0, 0], "179", key="y00")
    board.note("The transcript calls 179 'the central value'; its products use the padded rows 0-2 and columns "
               "0-2, so it is the top-left output.")
    board.show("whole output (4x4, same size: P = (F - 1)/2)", y, key="y")


@lesson("weighted-average-1d", "A 1-D weighted average s_t = sum_a x_(t-a) w_a (the aeroplane sensor)",
        ("001", "CNN"))
def weighted_average(board):
    w = np.array([0.01, 0.01, 0.02, 0.02, 0.04, 0.4, 0.5])     # w_-6 ... w_0
    x = np.array([1.00, 1.10, 1.20, 1.40, 1.70, 1.80, 1.90, 2.10, 2.20, 2.40, 2.50, 2.70])
    board.say("w_-6..w_0 = " + " ".join(f"{v:g}" for v in w) + "; x_0..x_11 = " + " ".join(f"{v:.2f}" for v in x))
    board.say("s_t = x_t w_0 + x_(t-1) w_-1 + ... + x_(t-6) w_-6 is F.conv1d with the weights in the order "
              "w_-6..w_0 (cross-correlation lines w_-6 up with x_(t-6)).")
    s = F.conv1d(t(x[None, None]), t(w[None, None])).numpy()[0, 0]
    for i, st in enumerate(s):
        terms = " + ".join(f"{a:.2f}*{b:g}" for a, b in zip(x[i:i + 7], w))
        board.show(f"s_{i + 6}", f"{terms} = {st:.4f}")
    notes = ["1.80", "1.96", "2.11", "2.16", "2.28", "2.42"]
    whys = {0: "0.01 + 0.011 + 0.024 + 0.028 + 0.068 + 0.72 + 0.95 = 1.811; the notes' 1.80 is 0.011 low",
            1: "the notes truncate 1.967 to 1.96 instead of rounding",
            3: "the notes' last three values do not follow from the table's x and w (each is 0.11-0.15 low); "
               "glassnet's are the sums shown above",
            4: "as s_9", 5: "as s_9"}
    for i, (st, n) in enumerate(zip(s, notes)):
        board.compare(f"s_{i + 6}", st, n, why=whys.get(i))
    board.values["s"] = s


@lesson("image-kernels", "Laplacian, Gaussian (1/159) and Sobel kernels on a small image",
        ("003", "Filters"), ("001", "Examples of 2D Convolution applied to images"))
def image_kernels(board):
    laplace4 = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float)
    laplace8 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float)
    gauss = np.array([[2, 4, 5, 4, 2], [4, 9, 12, 9, 4], [5, 12, 15, 12, 5], [4, 9, 12, 9, 4], [2, 4, 5, 4, 2]], float)
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    image = np.zeros((7, 7))
    image[:, 4:] = 10.0                       # a vertical edge: dark left, bright right
    image[2:5, 1:3] = 10.0                    # and a small bright blob
    board.show("image", image)
    board.step("Gaussian blur: the weights sum to 159, so dividing by 159 keeps the brightness")
    total = t(gauss).sum()
    board.compare("sum of the Gaussian's weights", total, "159", key="gauss_sum")
    _, blurred = _conv(image, gauss / 159.0, padding=2)
    board.show("blurred (padding 2)", blurred, key="blurred", digits=2)
    board.step("Laplacian: the weights sum to 0, so flat regions give 0 and edges stand out")
    for name, k, key in (("4-neighbour Laplacian", laplace4, "laplace4"), ("8-neighbour Laplacian", laplace8,
                                                                           "laplace8")):
        board.show(f"sum of the {name}'s weights", t(k).sum())
        _, y = _conv(image, k, padding=1)
        board.show(f"{name} response", y, key=key)
    board.step("Sobel: horizontal change (x) and vertical change (y)")
    _, gx = _conv(image, sobel_x, padding=1)
    _, gy = _conv(image, sobel_x.T, padding=1)
    board.show("Sobel X response", gx, key="sobel_x")
    board.show("Sobel Y response", gy, key="sobel_y")
    board.show("gradient magnitude sqrt(Gx^2 + Gy^2)", np.sqrt(gx ** 2 + gy ** 2), key="sobel_mag", digits=2)
    board.note("001's sharpen kernel [[0,-1,0],[-1,5,-1],[0,-1,0]] is the identity plus the 4-neighbour "
               "Laplacian; its edge-detection kernel [[1,1,1],[1,-8,1],[1,1,1]] is the 8-neighbour Laplacian "
               "negated. The zero padding makes the borders respond as if the image were dark outside.")
