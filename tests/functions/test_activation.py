"""Activation functions: float64 gradchecks, parity with torch (functional and module), edge cases."""
import warnings

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_core import ACTIVATION_CASES

CASES = [c for c in ACTIVATION_CASES if c[1] not in ("softmax", "log_softmax")]
IDS = [c[0] for c in CASES]


def _check(got, case, key):
    np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name, fn, module, kwargs, shape", CASES, ids=IDS)
def test_activation_gradcheck(name, fn, module, kwargs, shape, rng):
    x = rng.tensor(*shape, away_from_zero=True)
    assert gn.gradcheck(lambda t: getattr(F, fn)(t, **kwargs), (x,))


@pytest.mark.parametrize("name, fn, module, kwargs, shape", CASES, ids=IDS)
def test_activation_functional_matches_torch(name, fn, module, kwargs, shape, fixtures):
    case = fixtures[name]
    x = gn.tensor(case["x"], requires_grad=True)
    y = getattr(F, fn)(x, **kwargs)
    y.backward(gn.tensor(case["dy"]))
    _check(y, case, "y")
    _check(x.grad, case, "dx")


@pytest.mark.parametrize("name, fn, module, kwargs, shape", CASES, ids=IDS)
def test_activation_module_matches_torch(name, fn, module, kwargs, shape, fixtures):
    case = fixtures[name]
    layer = getattr(gn.nn, module)(**kwargs)
    assert list(layer.parameters()) == []
    x = gn.tensor(case["x"], requires_grad=True)
    y = layer(x)
    y.backward(gn.tensor(case["dy"]))
    _check(y, case, "y")
    _check(x.grad, case, "dx")


@pytest.mark.parametrize("fn, kwargs", sorted({(c[1], tuple(c[3].items())) for c in CASES}))
def test_activation_keeps_float32(fn, kwargs):
    x = gn.randn(3, 4, requires_grad=True)
    y = getattr(F, fn)(x, **dict(kwargs))
    y.sum().backward()
    assert y.dtype == gn.float32 and x.grad.dtype == gn.float32


@pytest.mark.parametrize("fn", ["relu", "leaky_relu", "elu"])
def test_kinked_activations_take_the_right_slope_at_zero(fn):
    # torch: relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha e^0 = 1
    x = gn.zeros(1, dtype=gn.float64, requires_grad=True)
    getattr(F, fn)(x).sum().backward()
    assert x.grad.item() == {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0}[fn]


@pytest.mark.parametrize("fn", ["sigmoid", "tanh", "softplus", "silu", "elu", "gelu"])
@pytest.mark.parametrize("dtype", [gn.float32, gn.float64])
def test_activation_finite_for_extreme_inputs(fn, dtype):
    x = gn.tensor([-1000.0, -80.0, 0.5, 80.0, 1000.0], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no overflow warnings either
        y = getattr(F, fn)(x)
        y.sum().backward()
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()


def test_sigmoid_saturates_exactly():
    y = F.sigmoid(gn.tensor([-1000.0, 0.0, 1000.0], dtype=gn.float64))
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.5, 1.0])


def test_softplus_is_linear_above_threshold():
    x = gn.tensor([30.0, 1.0], dtype=gn.float64, requires_grad=True)
    y = F.softplus(x, beta=1.0, threshold=20.0)
    y.sum().backward()
    assert y.numpy()[0] == 30.0 and x.grad.numpy()[0] == 1.0
    assert y.numpy()[1] == pytest.approx(np.log1p(np.e))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate.*'sigmoid'"):
        F.gelu(gn.zeros(2), approximate="sigmoid")


@pytest.mark.parametrize("method", ["relu", "sigmoid", "tanh"])
def test_tensor_methods_match_functional(method, rng):
    x = rng.tensor(3, 4, away_from_zero=True)
    np.testing.assert_array_equal(getattr(x, method)().numpy(), getattr(F, method)(x).numpy())
    np.testing.assert_array_equal(getattr(gn, method)(x).numpy(), getattr(F, method)(x).numpy())


def test_module_reprs_name_their_settings():
    assert repr(gn.nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(gn.nn.ELU(alpha=0.5)) == "ELU(alpha=0.5)"
    assert repr(gn.nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(gn.nn.ReLU()) == "ReLU()"
