"""Elementwise arithmetic and matmul: float64 gradchecks with broadcasting, values against NumPy."""
import operator

import numpy as np
import pytest

import glassnet as gn

BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
          "pow": operator.pow}
# pairs of shapes that broadcast: equal, trailing, size-1 axes on both sides, a 0-d operand
SHAPE_PAIRS = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((3, 1), (1, 4)), ((2, 1, 4), (3, 1)),
               ((3, 4), ()), ((), (3, 4))]


def _operands(rng, op, sa, sb):
    a = rng.tensor(*sa, low=0.5, high=2.0) if op == "pow" else rng.tensor(*sa)
    b = rng.tensor(*sb, away_from_zero=True) if op == "div" else rng.tensor(*sb)
    return a, b


@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_gradcheck(op, sa, sb, rng):
    a, b = _operands(rng, op, sa, sb)
    assert gn.gradcheck(BINARY[op], (a, b))


@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_values_and_grad_shapes(op, sa, sb, rng):
    a, b = _operands(rng, op, sa, sb)
    y = BINARY[op](a, b)
    np.testing.assert_allclose(y.numpy(), BINARY[op](a.numpy(), b.numpy()), rtol=1e-14)
    y.sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape   # broadcast axes summed away


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("scalar", [2, 1.5])
def test_scalar_on_either_side_gradcheck(op, scalar, rng):
    x = rng.tensor(3, 4, low=0.5, high=2.0)
    assert gn.gradcheck(lambda t: BINARY[op](t, scalar), (x,))
    assert gn.gradcheck(lambda t: BINARY[op](scalar, t), (x,))


def test_neg_gradcheck(rng):
    assert gn.gradcheck(lambda t: -t, (rng.tensor(2, 3),))


def test_pow_exponent_gradient_is_zero_at_zero_base_like_torch():
    a = gn.tensor([0.0, 2.0], dtype=gn.float64, requires_grad=True)
    b = gn.tensor([2.0, 3.0], dtype=gn.float64, requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 8 * np.log(2)])
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 12.0])


def test_pow_base_gradient_is_zero_for_exponent_zero_like_torch():
    a = gn.tensor([0.0, 2.0], dtype=gn.float64, requires_grad=True)
    (a ** 0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])


MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
                 ((2, 1, 3, 4), (3, 4, 2)), ((5, 4), (2, 4, 3))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(sa, sb, rng):
    a, b = rng.tensor(*sa), rng.tensor(*sb)
    assert gn.gradcheck(lambda x, y: x @ y, (a, b))
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-14)


def test_matmul_functions_agree(rng):
    a, b = rng.tensor(2, 3), rng.tensor(3, 4)
    for y in (gn.matmul(a, b), a.matmul(b), a.mm(b), a.numpy() @ b):
        np.testing.assert_allclose(np.asarray(y), a.numpy() @ b.numpy(), rtol=1e-14)


def test_gradient_accumulates_when_an_input_is_used_twice(rng):
    x = rng.tensor(3)
    (x * x + x).sum().backward()          # d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 1, rtol=1e-14)


def test_comparisons_return_bool_tensors_without_grad(rng):
    a, b = rng.tensor(3), rng.tensor(3)
    for r in (a < b, a <= b, a > b, a >= b, a == b, a != b, a > 0):
        assert r.dtype == gn.bool_ and not r.requires_grad
