"""Activation functions and their derivatives, measured with autograd (000 "A Quick Note on
Vanishing Gradients problem", 002 "2.2 BACKWARD PROPAGATION", 004 "Image Example: Backpropagation")."""
from __future__ import annotations

import numpy as np

from ..nn import functional as F
from ._util import t
from .registry import lesson

_ACTIVATIONS = {
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "relu": F.relu,
    "leaky_relu (0.01)": lambda z: F.leaky_relu(z, 0.01),
    "elu (alpha 1)": lambda z: F.elu(z, 1.0),
}


def _slopes(fn, z):
    zt = t(z, requires_grad=True)
    fn(zt).sum().backward()
    return zt.grad.numpy()


@lesson("activation-slopes", "Activation functions: maximum slopes 0.25 and 1, and the notes' ranking",
        ("000", "A Quick Note on Vanishing Gradients problem"), ("001", "Vanishing Gradient"))
def activation_slopes(board):
    z = np.linspace(-6.0, 6.0, 12001)   # includes z = 0 exactly
    board.say("Each derivative is autograd's, on 12,001 points from -6 to 6 (the inputs' grad after "
              "backward of f(z).sum(), since each output depends on its own input only).")
    board.step("Largest slope of each activation")
    rows = {}
    for name, fn in _ACTIVATIONS.items():
        d = _slopes(fn, z)
        rows[name] = d
        board.show(f"max f'(z), {name}", float(d.max()), key=f"max_{name.split()[0]}")
    board.compare("sigmoid: max slope", rows["sigmoid"].max(), "0.25", key="max_sigmoid_check")
    board.compare("tanh: max slope", rows["tanh"].max(), "1", key="max_tanh_check")
    board.say("Through k sigmoid layers the gradient shrinks by at least 0.25^k (0.25^10 = "
              f"{0.25 ** 10:.2e}); tanh can pass a slope of 1 but only at z = 0.")
    board.step("Slope for negative inputs: what the ranking ELU > leaky ReLU > ReLU > tanh > sigmoid rests on")
    for zq in (-3.0, -0.5):
        i = int(np.argmin(np.abs(z - zq)))
        board.show(f"f'({zq:g})", "   ".join(f"{n.split()[0]} {rows[n][i]:.4f}" for n in _ACTIVATIONS))
        board.values[f"slopes_at_{zq:g}"] = np.array([rows[n][i] for n in _ACTIVATIONS])
    board.say("ReLU's slope is 0 for every z < 0 (a unit stuck there learns nothing: the 'dying ReLU'); "
              "leaky ReLU keeps 0.01 there; ELU keeps alpha e^z and is smooth at 0, with outputs that "
              "average nearer 0. sigmoid and tanh saturate at both ends.")
    board.note("The ranking is the notes' empirical advice (it appears in 000 without measurements); glassnet "
               "shows the slopes it rests on, not a proof of the order.")


@lesson("tanh-derivative", "The tanh derivative: 1 - tanh^2(z), not (1 - tanh^2)/(1 + tanh^2)",
        ("000", "Softmax detour"))
def tanh_derivative(board):
    board.say("000 writes d tanh(x)/dx = (1 - tanh^2 x)/(1 + tanh^2 x) in the RNN backward after the softmax "
              "detour. autograd's slope at a few points, beside 1 - tanh^2 and the notes' formula:")
    zs = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    d = _slopes(F.tanh, zs)
    th = F.tanh(t(zs)).numpy()
    board.show("z", zs, key="z")
    board.show("autograd d tanh/dz", d, key="autograd")
    board.show("1 - tanh^2 z", 1 - th ** 2, key="textbook")
    notes_formula = (1 - th ** 2) / (1 + th ** 2)
    board.compare("autograd at z = 0.5", d[3], f"{notes_formula[3]:.4f}", key="at_half",
                  why="000's formula divides by 1 + tanh^2 z, which is not the derivative: tanh' = "
                      "1/cosh^2 = 1 - tanh^2 (it agrees with the notes only at z = 0)")
    board.compare("autograd at z = 0", d[2], f"{notes_formula[2]:.4f}", key="at_zero")


@lesson("relu-at-zero", "ReLU'(0): 1 in one file, 0 in another; glassnet (as torch) uses 0",
        ("002", "2.2 BACKWARD PROPAGATION"), ("004", "Image Example: Backpropagation"))
def relu_at_zero(board):
    zs = np.array([-1.0, 0.0, 1.0])
    d = _slopes(F.relu, zs)
    board.show("z", zs)
    board.show("autograd relu'(z)", d, key="slopes")
    board.compare("relu'(0) vs 002 (g' = 1 if z >= 0)", d[1], "1", key="at_zero",
                  why="ReLU has no derivative at 0; 002 picks 1, torch and glassnet pick 0 (so do 004's toy CNN, "
                      "\"1 if z > 0, 0 otherwise\")")
    board.compare("relu'(0) vs 004 (1 if z > 0)", d[1], "0")
    board.say("It matters in the toy CNN: z1 has a 0 at its centre, and 004 drops it from the gradient "
              "(\"a consequence of the ReLU derivative being undefined at 0\"), as glassnet does.")
