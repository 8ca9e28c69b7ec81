"""Elementwise functions of one tensor: float64 gradchecks off their kinks, values against NumPy."""
import numpy as np
import pytest

import glassnet as gn

# (name, fn, numpy reference, input range): inputs kept where the function is smooth
UNARY = [
    ("exp", lambda t: t.exp(), np.exp, None),
    ("log", lambda t: t.log(), np.log, (0.2, 3.0)),
    ("sqrt", lambda t: t.sqrt(), np.sqrt, (0.2, 3.0)),
    ("abs", lambda t: t.abs(), np.abs, "away"),
    ("sin", lambda t: t.sin(), np.sin, None),
    ("cos", lambda t: t.cos(), np.cos, None),
    ("clamp_both", lambda t: t.clamp(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), None),
    ("clamp_min", lambda t: t.clamp(min=0.3), lambda a: np.clip(a, 0.3, None), None),
    ("clamp_max", lambda t: gn.clamp(t, max=-0.2), lambda a: np.clip(a, None, -0.2), None),
    ("gn_exp_log", lambda t: gn.log(gn.exp(t)), lambda a: a, None),
    ("gn_sqrt_abs", lambda t: gn.sqrt(gn.abs(t)), lambda a: np.sqrt(np.abs(a)), "away"),
]
SHAPES = [(5,), (2, 3, 2)]


def _input(rng, shape, domain):
    if domain == "away":
        return rng.tensor(*shape, away_from_zero=True)
    if domain is None:
        x = rng.tensor(*shape)
        # keep off the clamp bounds (+-0.5, 0.3, -0.2) so finite differences stay on one side
        a = x.numpy()
        for bound in (-0.5, 0.5, 0.3, -0.2):
            a[np.abs(a - bound) < 0.01] += 0.05
        return x
    return rng.tensor(*shape, low=domain[0], high=domain[1])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, fn, ref, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradcheck(name, fn, ref, domain, shape, rng):
    assert gn.gradcheck(fn, (_input(rng, shape, domain),))


@pytest.mark.parametrize("name, fn, ref, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_values(name, fn, ref, domain, rng):
    x = _input(rng, (4, 3), domain)
    np.testing.assert_allclose(fn(x).numpy(), ref(x.numpy()), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name, fn, ref, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_keeps_float32(name, fn, ref, domain):
    x = gn.tensor([[0.5, 1.5], [2.0, 0.7]], requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == gn.float32 and x.grad.dtype == gn.float32


def test_abs_gradient_at_zero_is_zero_like_torch():
    x = gn.tensor([0.0, -2.0, 3.0], dtype=gn.float64, requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -1.0, 1.0])


def test_clamp_bounds_are_inclusive_for_the_gradient_like_torch():
    x = gn.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=gn.float64, requires_grad=True)
    y = x.clamp(-0.5, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [-0.5, -0.5, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])
