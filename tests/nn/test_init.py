"""nn.init: bounds and standard deviations of each distribution (torch's formulas), orthogonality."""
import math

import numpy as np
import pytest

import glassnet as gn

init = gn.nn.init


def _param(*shape):
    return gn.nn.Parameter(gn.zeros(*shape))


def _fans(shape):
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


SHAPES = [(200, 300), (64, 32, 3, 3)]   # dense (out, in) and conv (out, in, kh, kw)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, kwargs, kind, spread", [
    # spread: the bound of a uniform draw, or the std of a normal one, from torch's formulas
    ("xavier_uniform_", {}, "uniform", lambda fi, fo: math.sqrt(6 / (fi + fo))),
    ("xavier_uniform_", {"gain": 2.0}, "uniform", lambda fi, fo: 2 * math.sqrt(6 / (fi + fo))),
    ("xavier_normal_", {}, "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ("xavier_normal_", {"gain": 0.5}, "normal", lambda fi, fo: 0.5 * math.sqrt(2 / (fi + fo))),
    ("kaiming_uniform_", {}, "uniform", lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fi)),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, "uniform", lambda fi, fo: 1 / math.sqrt(fi)),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, "uniform",
     lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fo)),
    ("kaiming_normal_", {}, "normal", lambda fi, fo: math.sqrt(2 / fi)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}, "normal", lambda fi, fo: 5 / 3 / math.sqrt(fo)),
    ("kaiming_normal_", {"a": 0.2, "nonlinearity": "leaky_relu"}, "normal",
     lambda fi, fo: math.sqrt(2 / (1 + 0.04)) / math.sqrt(fi)),
])
def test_fan_based_init_distribution(name, kwargs, kind, spread, shape):
    gn.manual_seed(0)
    w = _param(*shape)
    assert getattr(init, name)(w, **kwargs) is w
    values, s = w.numpy(), spread(*_fans(shape))
    assert abs(values.mean()) < 5 * s / math.sqrt(values.size)
    if kind == "uniform":
        assert np.abs(values).max() <= s and np.abs(values).max() > 0.99 * s
        np.testing.assert_allclose(values.std(), s / math.sqrt(3), rtol=0.03)
    else:
        np.testing.assert_allclose(values.std(), s, rtol=0.03)
    assert w.dtype == gn.float32 and w.requires_grad and w.grad_fn is None


def test_uniform_normal_and_constants():
    gn.manual_seed(1)
    w = _param(100, 100)
    init.uniform_(w, -0.3, 0.7)
    assert w.numpy().min() >= -0.3 and w.numpy().max() < 0.7
    np.testing.assert_allclose(w.numpy().mean(), 0.2, atol=0.01)
    init.normal_(w, mean=2.0, std=0.5)
    np.testing.assert_allclose([w.numpy().mean(), w.numpy().std()], [2.0, 0.5], rtol=0.03)
    init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.numpy()).max() <= 0.5
    for fill, value in [(init.zeros_, 0.0), (init.ones_, 1.0), (lambda t: init.constant_(t, 0.25), 0.25)]:
        fill(w)
        assert (w.numpy() == value).all()
    init.eye_(w)
    np.testing.assert_array_equal(w.numpy(), np.eye(100))


def test_same_seed_same_draw():
    a, b = _param(4, 5), _param(4, 5)
    gn.manual_seed(7)
    init.kaiming_uniform_(a)
    gn.manual_seed(7)
    init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    gn.manual_seed(0)
    w = _param(*shape)
    init.orthogonal_(w, gain=gain)
    q = w.numpy().reshape(shape[0], -1).astype(np.float64) / gain
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T          # orthonormal columns, or rows when wide
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)


def test_calculate_gain_matches_torchs_table():
    assert init.calculate_gain("linear") == 1.0 and init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_init_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 2 dims, got shape \(5,\)"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(_param(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="orthogonal_: needs at least 2 dims"):
        init.orthogonal_(_param(3))
