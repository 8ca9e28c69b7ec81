"""Parameter counting: conv layers, AlexNet's table, the RNN's 161 weights, the RNN's shapes.
Every count is read off a glassnet layer's parameters, never typed in."""
from __future__ import annotations

from .. import nn
from .registry import lesson


def _count(module, which: str = "all") -> int:
    return sum(p.numel() for n, p in module.named_parameters()
               if which == "all" or (which == "bias") == n.endswith("bias"))


@lesson("params-conv-32x32x3", "Six 5x5 filters on a 32x32x3 image: 456 parameters, not 156",
        ("001", "Why Convolutions?"))
def params_conv_32(board):
    layer = nn.Conv2d(3, 6, 5)
    board.show("weight shape (out, in, kh, kw)", str(tuple(layer.weight.shape)))
    board.compare("parameters per filter", _count(layer) // 6, "26", key="per_filter",
                  why="the notes count 5 x 5 + 1 and forget the input depth: a filter on a 3-channel image is "
                      "5 x 5 x 3, so 75 weights + 1 bias = 76")
    board.compare("parameters, 6 filters", _count(layer), "156", key="total",
                  why="6 x 76 = 456; 156 is the count for a 1-channel (greyscale) input")
    gray = nn.Conv2d(1, 6, 5)
    board.compare("the same layer on a 1-channel image", _count(gray), "156", key="gray_total")
    board.say("The output is 28 x 28 x 6 either way; the count does not depend on the image's height and "
              "width (parameter sharing), only on F, the input depth and the number of filters.")


@lesson("params-conv-3x3x256x256", "256 filters 3x3 on 256 channels: 589,824 weights (~0.59M), 590,080 with biases",
        ("001", "What is a Convolution? Multi Channel"))
def params_conv_256(board):
    layer = nn.Conv2d(256, 256, 3)
    weights, biases = _count(layer, "weight"), _count(layer, "bias")
    board.say("#Params = M * N * W * H + M (M output channels, N input channels, kernel W x H).")
    board.show("weights M*N*W*H", weights, key="weights")
    board.show("biases M", biases, key="biases")
    board.show("parameters", weights + biases, key="params")
    board.compare("weights in millions", weights / 1e6, "0.5", key="millions",
                  why="the notes write 256*256*3*3 = '~0.5M'; it is 0.59M (589,824), 590,080 with the biases")


@lesson("params-alexnet", "AlexNet's table: output sizes and 62,378,344 parameters, from gn.summary",
        ("001", "Numericals"), ("001", "AlexNet: Dimension Calculations"))
def params_alexnet(board):
    from ..glassbox.summary import summary
    from ..models import alexnet
    table = summary(alexnet(), (1, 3, 227, 227), verbose=0)
    notes = {"conv1": ("55x55x96", "34,944"), "pool1": ("27x27x96", "0"), "conv2": ("27x27x256", "614,656"),
             "pool2": ("13x13x256", "0"), "conv3": ("13x13x384", "885,120"), "conv4": ("13x13x384", "1,327,488"),
             "conv5": ("13x13x256", "884,992"), "pool3": ("6x6x256", "0"), "fc1": ("4096", "37,752,832"),
             "fc2": ("4096", "16,781,312"), "fc3": ("1000", "4,097,000")}
    counts = {}
    for row in table.rows:
        if row.name in notes:
            size, params = notes[row.name]
            board.step(f"{row.name} ({row.kind})")
            board.show("output size (glassnet / notes)", f"{row.output} / {size}")
            if row.output != size:
                raise AssertionError(f"{row.name}: glassnet {row.output}, notes {size}")
            board.show("weights + biases", f"{row.weights:,} + {row.biases:,}")
            board.compare("parameters", row.params, params)
            counts[row.name] = row.params
    board.values["layers"] = counts
    board.step("Total")
    board.compare("total parameters", table.total_params, "62,378,344", key="total")
    board.say("fc1 alone holds 60% of the parameters: 6 x 6 x 256 = 9,216 inputs times 4,096 outputs.")


@lesson("rnn-161", "An RNN with 161 weights: n(n/2) + n + (n/2)(n/2) = 161 gives n = 14",
        ("001", "The weight W"))
def rnn_161(board):
    board.say("Inputs of length n, a hidden layer of n/2 units, 2 outputs, no biases: U is n x n/2, W is "
              "n/2 x n/2 and V is n/2 x 2. glassnet counts the weights of nn.RNN(n, n/2, bias=False) plus "
              "nn.Linear(n/2, 2, bias=False) for each even n until the count reaches 161.")
    found = None
    for n in range(2, 40, 2):
        rnn, out = nn.RNN(n, n // 2, bias=False), nn.Linear(n // 2, 2, bias=False)
        count = _count(rnn) + _count(out)
        board.show(f"n = {n}", f"{count} weights")
        if count >= 161:
            found = (n, rnn, out, count)
            break
    n, rnn, out, count = found
    board.compare("n", n, "14", key="n")
    board.compare("weights", count, "161", key="weights")
    board.show("U = weight_ih_l0 (torch stores U^T)", str(tuple(rnn.weight_ih_l0.shape)))
    board.show("W = weight_hh_l0", str(tuple(rnn.weight_hh_l0.shape)))
    board.show("V = Linear.weight (V^T)", str(tuple(out.weight.shape)))
    board.say("98 + 49 + 14 = 161. With biases (torch's default: b_ih and b_hh, 7 each, and 2 for the output) "
              f"the layers would hold {_count(nn.RNN(14, 7)) + _count(nn.Linear(7, 2))}.")


@lesson("rnn-shapes", "The RNN's shapes: 784-dim inputs, 200 hidden units, 2 classes",
        ("001", "The Hidden Layer"), ("001", "The weight W"))
def rnn_shapes(board):
    rnn, head = nn.RNN(784, 200), nn.Linear(200, 2)
    board.say("H_i = tanh(x_i U + H_(i-1) W + b); y_i = softmax(H_i V + c), with x_i a flattened 28x28 frame.")
    board.compare("n, the rows of U", rnn.weight_ih_l0.shape[1], "784", key="n")
    board.compare("d, the columns of U", rnn.weight_ih_l0.shape[0], "200", key="d")
    board.show("weight_ih_l0 shape", str(tuple(rnn.weight_ih_l0.shape)))
    board.show("weight_hh_l0 shape (W, d x d)", str(tuple(rnn.weight_hh_l0.shape)))
    board.show("head weight shape (V^T)", str(tuple(head.weight.shape)))
    board.compare("weights in U", rnn.weight_ih_l0.numel(), "156800", key="U_count")
    board.compare("weights in W", rnn.weight_hh_l0.numel(), "40000", key="W_count")
    board.compare("weights in V", head.weight.numel(), "400", key="V_count")
    board.note("torch and glassnet keep two biases, b_ih and b_hh (200 each), where the notes have one b: "
               "the sum b_ih + b_hh plays the role of b.")
    board.show("all parameters (with both biases and c)", _count(rnn) + _count(head), key="total")
