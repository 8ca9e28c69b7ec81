"""The notes' toy CNN (004): forward to 0.332 and backward to the centre weight of the first filter,
link by link, with the sign of dJ/dtheta reconciled."""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..nn import functional as F
from ._util import t, windows
from .registry import lesson

X = [[0, 2, 0, 0, 2], [0, 0, 0, 2, 0], [2, 1, 2, 0, 0], [2, 2, 1, 1, 0], [1, 2, 2, 1, 0]]
F1 = [[-1, 0, -1], [1, 1, -1], [-1, 1, -1]]
F2 = [[-1, -1, 0], [0, 1, 1], [-1, 0, 1]]


def build():
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1).double()
    fc = nn.Linear(2, 1).double()
    conv.load_state_dict({"weight": np.array([[F1], [F2]], float), "bias": np.array([1.0, 0.0])})
    fc.load_state_dict({"weight": np.array([[-1.0, 0.2]]), "bias": np.array([0.3])})
    return conv, fc


def forward(conv, fc, x):
    z = conv(x)
    rz = F.relu(z)
    mz = F.max_pool2d(rz, 3)
    fz = fc(mz.flatten(1))
    y = F.sigmoid(fz)
    return z, rz, mz, fz, y


@lesson("cnn-toy", "The toy CNN: conv (stride 2, padding 1), ReLU, 3x3 max pool, sigmoid; dJ/dtheta_11 = 1.336",
        ("004", "Image Example: Choosing our Hyperparameters"), ("004", "Image Example: Max Pooling"),
        ("004", "Image Example: Fully Connected"), ("004", "Image Example: Backpropagation"))
def cnn_toy(board):
    conv, fc = build()
    x = t(np.array(X, float)[None, None])
    board.show("image x (0 white, 1 grey, 2 black), label y* = 1", np.array(X, float))
    board.say("K = 2 filters, F = 3, S = 2, P = 1: output (5 - 3 + 2)/2 + 1 = 3, so each map is 3x3.")
    z, rz, mz, fz, y = forward(conv, fc, x)
    for v in (z, rz, mz, fz, y):
        v.retain_grad()
    padded = F.pad(x, (1, 1, 1, 1)).numpy()[0, 0]
    board.step("Convolution with F1 and bias b1 = 1")
    board.show("F1", np.array(F1, float))
    windows(board, padded, F1, z.numpy()[0, 0], stride=2, bias=1.0, label="z1", padded=True)
    board.compare("z1", z.numpy()[0, 0], "-1 1 1; 2 0 -2; -2 1 1", key="z1")
    board.step("Convolution with F2 and bias b2 = 0")
    board.show("F2", np.array(F2, float))
    windows(board, padded, F2, z.numpy()[0, 1], stride=2, label="z2", padded=True)
    board.compare("z2", z.numpy()[0, 1], "2 2 0; 5 1 -3; 1 0 -1", key="z2")
    board.step("ReLU")
    board.compare("Rz1", rz.numpy()[0, 0], "0 1 1; 2 0 0; 0 1 1", key="rz1")
    board.compare("Rz2", rz.numpy()[0, 1], "2 2 0; 5 1 0; 1 0 0", key="rz2")
    board.step("3x3 max pooling: one number per map")
    board.compare("mz1", mz.numpy()[0, 0, 0, 0], "2", key="mz1")
    board.compare("mz2", mz.numpy()[0, 1, 0, 0], "5", key="mz2")
    board.step("Fully connected: Fz = w0 + w1 mz1 + w2 mz2 = 0.3 - 1*2 + 0.2*5")
    board.compare("Fz", fz, "-0.7", key="fz")
    board.compare("y = sigmoid(Fz)", y, "0.332", key="y")
    target = t([[1.0]])
    loss = F.binary_cross_entropy(y, target)
    loss.backward()
    board.show("loss = BCE(y, 1) = -ln y", loss, key="loss")

    board.step("Backward to theta_11 of F1 (the centre weight), link by link")
    yv, fzv = y.item(), fz.item()
    w1 = fc.weight.numpy()[0, 0]
    pos = np.unravel_index(np.argmax(rz.numpy()[0, 0]), (3, 3))
    x_at = padded[pos[0] * 2 + 1, pos[1] * 2 + 1]
    links = [("dL/dy = -y*/y - (1 - y*)/(y - 1)", y.grad.item(), "dy"),
             ("dy/dFz = y (1 - y)", yv * (1 - yv), "dy_dfz"),
             ("dFz/dmz1 = w1", w1, "dfz_dmz1"),
             (f"dmz1/dRz1 = 1 at the max, Rz1[{pos[0]},{pos[1]}]", 1.0, "dmz_drz"),
             (f"dRz1/dz1 = 1 since z1[{pos[0]},{pos[1]}] = {z.numpy()[0, 0][pos]:g} > 0", 1.0, "drz_dz"),
             (f"dz1/dtheta_11 = x_pad[{pos[0] * 2 + 1},{pos[1] * 2 + 1}]", x_at, "dz_dtheta")]
    product = 1.0
    for label, value, key in links:
        board.show(label, value, key=key)
        product *= value
    autograd = conv.weight.grad.numpy()[0, 0, 1, 1]
    board.show("product of the links", product, key="chain")
    board.show("autograd's conv.weight.grad[0, 0, 1, 1]", autograd, key="dtheta11")
    if abs(product - autograd) > 1e-12:
        raise AssertionError(f"chain {product} != autograd {autograd}")
    board.say("Every other window of z1 drops out: the max pool passes gradient only to Rz1[1,0], and the ReLU "
              "blocks the windows where z1 <= 0 (the centre 0 included).")
    board.show("dL/dz1 (autograd)", z.grad.numpy()[0, 0], key="dz1")
    board.show("dL/dF1 (autograd)", conv.weight.grad.numpy()[0, 0], key="dF1")
    board.compare("dJ/dtheta_11", autograd, "-1.336",
                  why="the notes' cost J = y* log y + (1 - y*) log(1 - y) has no minus sign (it is the "
                      "log-likelihood, to be maximised); glassnet's BCE loss is -J, so its gradient is +1.336")
    board.compare("|dJ/dtheta_11|", abs(autograd), "1.336", key="abs_grad")

    board.step("The update: which way does theta_11 move?")
    lam = 0.1
    board.say(f"One step with learning rate lambda = {lam}. glassnet's SGD: theta <- theta - lambda dL/dtheta "
              "= theta - 1.336 lambda. The notes write theta <- theta + 1.336 lambda, i.e. gradient descent "
              "on their J, which lowers the likelihood of the right label.")
    ys = {}
    for name, sign in (("glassnet (SGD on BCE)", -1.0), ("the notes' update", +1.0)):
        c2, f2 = build()
        with_grad = c2.weight.grad
        assert with_grad is None
        state = c2.state_dict()
        w = state["weight"].numpy().copy()
        w[0, 0, 1, 1] += sign * lam * abs(autograd)
        c2.load_state_dict({"weight": w, "bias": state["bias"].numpy()})
        y_new = forward(c2, f2, x)[-1].item()
        ys[name] = y_new
        board.show(f"y after {name}", f"theta_11 = {w[0, 0, 1, 1]:.4f}, y = {y_new:.4f} (was {yv:.4f})")
    board.values["y_after_sgd"] = ys["glassnet (SGD on BCE)"]
    board.values["y_after_notes"] = ys["the notes' update"]
    board.say("glassnet's step moves y toward the label 1; the notes' step moves it away. Note too: update all "
              "weights before recomputing Fz (the notes' last line); optim.SGD does exactly that.")
    opt = optim.SGD(list(conv.parameters()) + list(fc.parameters()), lr=lam)
    opt.step()
    board.show("y after a full SGD step on every weight", forward(conv, fc, x)[-1], key="y_after_full_step")
