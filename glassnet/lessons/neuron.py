"""The neuron and the 1 -> 1 -> 2 -> 1 sigmoid chain (002 "Numerical Problem 1"), forward, loss,
every gradient by the chain rule beside autograd's, and one gradient-descent update."""
from __future__ import annotations

import math

import numpy as np

from .. import nn, optim
from ..nn import functional as F
from ._util import t
from .registry import lesson


@lesson("neuron", "One neuron: z = w.x + b, a = g(z)",
        ("002", "1 MATHEMATICAL MODEL OF NEURON"), ("002", "Numerical Problem 1"))
def neuron(board):
    board.say("A neuron is nn.Linear(n, 1) followed by an activation. The notes' first layer of Numerical "
              "Problem 1 is such a neuron: one input x = 1, weight w = 0.2, no bias, sigmoid.")
    layer = nn.Linear(1, 1, bias=False).double()
    layer.load_state_dict({"weight": np.array([[0.2]])})
    x = t([[1.0]])
    z = layer(x)
    a = F.sigmoid(z)
    board.step("Activation potential and activation value")
    board.compare("z = w.x + b", z, "0.2", key="z")
    board.compare("a = sigmoid(z)", a, "0.55", key="a")
    board.step("A neuron with three inputs")
    board.say("With x = [1, 2, 3], w = [0.5, -0.25, 0.1] and b = 0.2 (values chosen here; the notes give "
              "none): z = 0.5 - 0.5 + 0.3 + 0.2.")
    layer3 = nn.Linear(3, 1).double()
    layer3.load_state_dict({"weight": np.array([[0.5, -0.25, 0.1]]), "bias": np.array([0.2])})
    z3 = layer3(t([[1.0, 2.0, 3.0]]))
    board.show("z", z3, key="z3")
    board.show("a = sigmoid(z)", F.sigmoid(z3), key="a3")
    board.show("a = relu(z)", F.relu(z3), key="a3_relu")


@lesson("sigmoid-chain", "The 1-1-2-1 sigmoid chain: forward, loss, backward by the chain rule, one update",
        ("002", "Numerical Problem 1"), ("002", "2.2 BACKWARD PROPAGATION"))
def sigmoid_chain(board):
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Sigmoid(),
                          nn.Linear(1, 2, bias=False), nn.Sigmoid(),
                          nn.Linear(2, 1, bias=False), nn.Sigmoid()).double()
    model.load_state_dict({"0.weight": np.array([[0.2]]), "2.weight": np.array([[0.2], [0.4]]),
                           "4.weight": np.array([[0.1, 0.2]])})
    W1, W2, W3 = model[0].weight, model[2].weight, model[4].weight
    x, y_true = t([[1.0]]), t([[0.0]])
    board.note("The notes' text says (x, y) = (10, 0) and w = 0.1 for layer 1, but its arithmetic (and its "
               "figure) use x = 1 and w = 0.2 (\"1 * 0.2\"); glassnet follows the arithmetic. "
               f"With x = 10, w = 0.1 the first activation would be sigmoid(1) = "
               f"{F.sigmoid(t(10.0) * 0.1).item():.4f}.")
    board.step("Forward pass (no biases, sigmoid everywhere)")
    z1 = model[0](x)
    a1 = model[1](z1)
    z2 = model[2](a1)
    a2 = model[3](z2)
    z3 = model[4](a2)
    y = model[5](z3)
    for v in (z1, a1, z2, a2, z3, y):
        v.retain_grad()
    board.compare("z1 = 0.2 * 1", z1, "0.2", key="z1")
    board.compare("a1 = sigmoid(z1)", a1, "0.55", key="a1")
    board.compare("z2 = [0.2, 0.4] * a1", z2, "0.11 0.22", key="z2")
    board.compare("a2 = sigmoid(z2)", a2, "0.53 0.55", key="a2")
    board.compare("z3 = [0.1, 0.2] . a2", z3, "0.163", key="z3",
                  why="the notes multiply the rounded activations 0.53 and 0.55 (0.053 + 0.110 = 0.163); "
                      "with the unrounded ones z3 = 0.1637")
    board.compare("y_hat = sigmoid(z3)", y, "0.54", key="y_hat")
    board.show("at four decimals", f"a1 = {a1.item():.4f}, a2 = [{a2.numpy()[0, 0]:.4f}, "
                                   f"{a2.numpy()[0, 1]:.4f}], y_hat = {y.item():.4f}")

    board.step("Loss: binary cross-entropy against y = 0")
    loss = nn.BCELoss()(y, y_true)
    loss.backward()
    board.compare("C = -ln(1 - y_hat)", loss, "0.337242168", key="loss_ln",
                  why="the notes take log base 10; glassnet's BCELoss, like torch's, uses the natural log "
                      "(log10 gives the same loss divided by ln 10 = 2.3026)")
    log10_loss = loss.item() / math.log(10)
    board.compare("C in log10", log10_loss, "0.337", key="loss_log10",
                  why="the notes evaluate log10 at the rounded y_hat = 0.54 (0.33724); at y_hat = "
                      f"{y.item():.4f} it is {log10_loss:.4f}")
    rounded = -math.log10(1 - round(y.item(), 2))
    board.compare("C in log10 at y_hat = 0.54", rounded, "0.337242168", key="loss_log10_rounded")

    board.step("Backward pass by the chain rule (the notes' equations (1)-(9)), beside autograd")
    board.say("dy_hat = dC/dy_hat = (y_hat - y) / (y_hat (1 - y_hat));  dz = da * a (1 - a);  dW = dz a_prev;  "
              "da_prev = dz W.")
    dy = (y - y_true) / (y * (1 - y))
    dz3 = dy * y * (1 - y)
    dW3 = dz3 * a2
    da2 = dz3 * W3
    dz2 = da2 * a2 * (1 - a2)
    dW2 = (dz2 * a1).T
    da1 = (dz2 * W2.T).sum()
    dz1 = da1 * a1 * (1 - a1)
    dW1 = dz1 * x
    rows = [("dC/dy_hat", dy, y.grad, "dy_hat"), ("dz3 = dy_hat * y_hat(1 - y_hat)", dz3, z3.grad, "dz3"),
            ("dW3 = dz3 * a2", dW3, W3.grad, "dW3"), ("da2 = dz3 * W3", da2, a2.grad, "da2"),
            ("dz2 = da2 * a2(1 - a2)", dz2, z2.grad, "dz2"), ("dW2 = dz2 * a1", dW2, W2.grad, "dW2"),
            ("da1 = sum_j dz2_j W2_j", da1, a1.grad, "da1"), ("dz1 = da1 * a1(1 - a1)", dz1, z1.grad, "dz1"),
            ("dW1 = dz1 * x", dW1, W1.grad, "dW1")]
    for label, by_hand, by_autograd, key in rows:
        hand = np.asarray(by_hand.detach().numpy()).ravel()
        auto = np.asarray(by_autograd.numpy()).ravel()
        if not np.allclose(hand, auto, rtol=1e-10, atol=1e-12):
            raise AssertionError(f"{label}: chain rule {hand} but autograd {auto}")
        board.show(label, f"{' '.join(f'{v:.4f}' for v in hand)}   (autograd: "
                          f"{' '.join(f'{v:.4f}' for v in auto)})")
        board.values[key] = auto.copy()
    board.note("dz3 = y_hat - y = 0.5408: the sigmoid's derivative cancels the BCE's denominator, which is why "
               "frameworks fuse them (BCEWithLogitsLoss).")

    board.step("One gradient-descent update, w = w - alpha dw")
    alpha = 0.5
    board.say(f"The notes name no learning rate; alpha = {alpha} here, with glassnet's optim.SGD.")
    opt = optim.SGD(model.parameters(), lr=alpha)
    opt.step()
    board.show("W1", W1, key="W1_new")
    board.show("W2", W2.T, key="W2_new")
    board.show("W3", W3, key="W3_new")
    with_new = nn.BCELoss()(model(x), y_true)
    board.show("loss after the update", with_new, key="loss_after")


@lesson("cost-functions", "Cost functions: the mean squared error, binary and categorical cross-entropy",
        ("002", "2.2 BACKWARD PROPAGATION"), ("000", "Binary-crossentropy vs categorical-crossentropy"))
def cost_functions(board):
    board.step("Regression: 002 writes C = sum_i (y_hat_i - y_i) / m")
    y_hat, y = t([3.0, 1.0]), t([2.0, 2.0])
    board.show("y_hat", y_hat)
    board.show("y", y)
    mean_error = ((y_hat - y).sum() / 2).item()
    mse = F.mse_loss(y_hat, y)
    board.show("the notes' formula, sum(y_hat - y)/m", mean_error, key="mean_error")
    board.show("F.mse_loss = sum((y_hat - y)^2)/m", mse, key="mse")
    board.note("002's regression cost has lost its square: errors of +1 and -1 cancel to a cost of 0 for a "
               "model that is wrong on both samples. The mean squared error (F.mse_loss, torch's) is what "
               "regression minimises; the notes' own toy CNN in 001 uses L = 1/2 sum (y - y_hat)^2.")
    board.step("Binary cross-entropy: BCE(t, o) = -(t log o + (1 - t) log(1 - o))")
    o, tt = t([0.9, 0.2, 0.6]), t([1.0, 0.0, 1.0])
    bce = F.binary_cross_entropy(o, tt)
    board.show("o", o)
    board.show("t", tt)
    board.show("F.binary_cross_entropy (mean over the 3)", bce, key="bce")
    board.step("Categorical cross-entropy: CCE(t, o) = -sum_x t(x) log o(x), with one-hot t")
    logits = t([[2.0, 0.5, -1.0]])
    p = F.softmax(logits, dim=1)
    cce = F.cross_entropy(logits, t([0]).long())
    board.show("o = softmax(logits)", p, key="p")
    board.show("F.cross_entropy(logits, class 0) = -log o(0)", cce, key="cce")
    board.note("000 labels -sum_t y_t log(y_hat_t) 'Binary crossentropy'; with one-hot y over several classes "
               "it is the categorical cross-entropy (its own next heading). glassnet's F.cross_entropy takes "
               "logits and applies the softmax itself; F.binary_cross_entropy takes probabilities.")
