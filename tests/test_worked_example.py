"""The notes' worked example: a 1 -> 1 -> 2 -> 1 chain of sigmoid units without biases.

x = 1.0, weights 0.2 (input -> first hidden unit), [0.2, 0.4] (-> the two units of the second
hidden layer), [0.1, 0.2] (-> the output):

    h1  = sigmoid(0.2 * 1.0)                          = 0.5498
    h2  = sigmoid([0.2, 0.4] * h1)                    = [0.5275, 0.5548]
    out = sigmoid(0.1 * 0.5275 + 0.2 * 0.5548)        = 0.5408
    BCE(out, target 0) = -ln(1 - 0.5408)              = 0.7783
"""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F

WEIGHTS = ([[0.2]], [[0.2], [0.4]], [[0.1, 0.2]])   # Linear weights are (out_features, in_features)


def _network(dtype=gn.float32):
    model = gn.nn.Sequential(gn.nn.Linear(1, 1, bias=False), gn.nn.Sigmoid(),
                             gn.nn.Linear(1, 2, bias=False), gn.nn.Sigmoid(),
                             gn.nn.Linear(2, 1, bias=False), gn.nn.Sigmoid()).to(dtype)
    model.load_state_dict({f"{i}.weight": np.array(w) for i, w in zip((0, 2, 4), WEIGHTS)})
    return model


def test_worked_example_forward_values():
    model = _network()
    activations = []
    for layer in model[1::2]:     # the three Sigmoid layers
        layer.register_forward_hook(lambda m, inputs, out: activations.append(out.numpy().ravel()))
    out = model(gn.tensor([[1.0]]))
    h1, h2, y = activations
    assert round(float(h1[0]), 4) == 0.5498
    assert [round(float(v), 4) for v in h2] == [0.5275, 0.5548]
    assert round(float(y[0]), 4) == 0.5408 and out.shape == (1, 1) and out.dtype == gn.float32
    loss = F.binary_cross_entropy(out, gn.tensor([[0.0]]))
    assert round(loss.item(), 4) == 0.7783 and loss.dtype == gn.float32
    assert round(gn.nn.BCELoss()(out, gn.tensor([[0.0]])).item(), 4) == 0.7783


def test_worked_example_gradients_follow_the_chain_rule():
    model = _network(gn.float64)
    loss = F.binary_cross_entropy(model(gn.tensor([[1.0]], dtype=gn.float64)), gn.tensor([[0.0]], dtype=gn.float64))
    loss.backward()
    grads = [model[i].weight.grad.numpy() for i in (0, 2, 4)]
    assert all(np.isfinite(g).all() for g in grads)
    # by hand: sigmoid then BCE gives dL/dz3 = out - t; each sigmoid multiplies by a (1 - a)
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    w1, w2, w3 = (np.array(w) for w in WEIGHTS)
    h1 = s(w1 * 1.0)                       # (1, 1)
    h2 = s(w2 @ h1)                        # (2, 1)
    out = s(w3 @ h2)                       # (1, 1)
    dz3 = out - 0.0
    dz2 = (w3.T @ dz3) * h2 * (1 - h2)
    dz1 = (w2.T @ dz2) * h1 * (1 - h1)
    expected = [dz1 * 1.0, dz2 @ h1.T, dz3 @ h2.T]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    assert round(float(grads[2][0, 0]), 4) == round(0.5408 * 0.5275, 4)


def test_worked_example_gradcheck():
    ws = [gn.tensor(w, dtype=gn.float64, requires_grad=True) for w in WEIGHTS]
    x, t = gn.tensor([[1.0]], dtype=gn.float64), gn.tensor([[0.0]], dtype=gn.float64)

    def loss(w1, w2, w3):
        h = F.sigmoid(F.linear(F.sigmoid(F.linear(F.sigmoid(F.linear(x, w1)), w2)), w3))
        return F.binary_cross_entropy(h, t)

    assert gn.gradcheck(loss, ws)
    assert loss(*ws).item() == pytest.approx(0.7783426010864186, rel=1e-12)
