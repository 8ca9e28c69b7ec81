"""The notes' worked toy CNN: conv (stride 2, padding 1) -> ReLU -> 3x3 max pool -> linear -> sigmoid -> BCE."""
import pathlib
import runpy

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F

X = [[0, 2, 0, 0, 2], [0, 0, 0, 2, 0], [2, 1, 2, 0, 0], [2, 2, 1, 1, 0], [1, 2, 2, 1, 0]]
F1 = [[-1, 0, -1], [1, 1, -1], [-1, 1, -1]]
F2 = [[-1, -1, 0], [0, 1, 1], [-1, 0, 1]]


def test_toy_cnn_numbers_from_the_notes():
    conv = gn.nn.Conv2d(1, 2, 3, stride=2, padding=1).double()
    conv.load_state_dict({"weight": np.array([[F1], [F2]], float), "bias": np.array([1.0, 0.0])})
    fc = gn.nn.Linear(2, 1).double()
    fc.load_state_dict({"weight": np.array([[-1.0, 0.2]]), "bias": np.array([0.3])})

    z = conv(gn.tensor(np.array(X, float)[None, None]))
    np.testing.assert_array_equal(z.numpy()[0, 0], [[-1, 1, 1], [2, 0, -2], [-2, 1, 1]])
    np.testing.assert_array_equal(z.numpy()[0, 1], [[2, 2, 0], [5, 1, -3], [1, 0, -1]])

    p = F.max_pool2d(F.relu(z), 3)
    np.testing.assert_array_equal(p.numpy().ravel(), [2, 5])

    y_hat = F.sigmoid(fc(p.flatten(1)))
    assert round(y_hat.item(), 3) == 0.332

    F.binary_cross_entropy(y_hat, gn.tensor([[1.0]], dtype=gn.float64)).backward()
    assert round(float(conv.weight.grad.numpy()[0, 0, 1, 1]), 3) == 1.336


def test_toy_cnn_example_prints_the_numbers(capsys):
    runpy.run_path(str(pathlib.Path(__file__).parents[1] / "examples" / "toy_cnn.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "max pool 3x3 -> [2. 5.]" in out
    assert "= 0.332" in out and "centre weight = 1.336" in out
