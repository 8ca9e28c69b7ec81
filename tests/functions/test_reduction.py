"""Reductions: sum, mean, var/std, max/min (with and without dim): gradchecks and values."""
import numpy as np
import pytest

import glassnet as gn

DIMS = [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False), ((0, 2), True), ((-1, 1), True)]


@pytest.mark.parametrize("dim, keepdim", DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std"])
def test_reduction_gradcheck_and_values(op, dim, keepdim, rng):
    x = rng.tensor(2, 3, 4)
    assert gn.gradcheck(lambda t: getattr(t, op)(dim, keepdim), (x,))
    kw = {"ddof": 1} if op in ("var", "std") else {}
    axis = tuple(dim) if isinstance(dim, tuple) else dim
    want = getattr(np, op)(x.numpy(), axis=axis, keepdims=keepdim, **kw)
    got = getattr(x, op)(dim, keepdim)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13)


def test_var_biased_and_correction(rng):
    x = rng.tensor(5, 3)
    np.testing.assert_allclose(x.var(0, unbiased=False).numpy(), x.numpy().var(0), rtol=1e-13)
    np.testing.assert_allclose(x.var(1, correction=2).numpy(), x.numpy().var(1, ddof=2), rtol=1e-13)
    assert gn.gradcheck(lambda t: t.var(0, unbiased=False), (x,))


@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False), (2, True)], ids=str)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_returns_values_and_indices_like_torch(op, dim, keepdim, rng):
    x = rng.tensor(2, 3, 4)
    out = getattr(x, op)(dim, keepdim)
    values, indices = out                                 # unpacks as a pair ...
    assert out.values is values and out.indices is indices    # ... and has torch's field names
    arg = getattr(np, f"arg{op}")(x.numpy(), axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(indices.numpy(), arg)
    assert indices.dtype == gn.int64 and not indices.requires_grad
    np.testing.assert_array_equal(values.numpy(), getattr(np, op)(x.numpy(), axis=dim, keepdims=keepdim))
    assert gn.gradcheck(lambda t: getattr(t, op)(dim, keepdim).values, (x,))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_everything_gradcheck(op, rng):
    x = rng.tensor(3, 4)
    y = getattr(x, op)()
    assert y.shape == () and y.item() == getattr(np, op)(x.numpy())
    assert gn.gradcheck(lambda t: getattr(t, op)(), (x,))


def test_max_of_everything_shares_gradient_among_ties_like_torch():
    x = gn.tensor([1.0, 3.0, 3.0, 2.0], dtype=gn.float64, requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


def test_max_with_dim_sends_gradient_to_the_returned_index():
    x = gn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], dtype=gn.float64, requires_grad=True)
    values, indices = x.max(dim=1)
    (values * gn.tensor([2.0, 3.0], dtype=gn.float64)).sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 0], [3, 0, 0]])


def test_max_min_with_a_tensor_is_elementwise(rng):
    a, b = rng.tensor(3, 4), rng.tensor(3, 4)
    np.testing.assert_array_equal(a.max(b).numpy(), np.maximum(a.numpy(), b.numpy()))
    np.testing.assert_array_equal(a.min(b).numpy(), np.minimum(a.numpy(), b.numpy()))
    assert gn.gradcheck(lambda s, t: s.max(t), (a, b))


def test_amax_amin_argmax(rng):
    x = rng.tensor(3, 4)
    np.testing.assert_array_equal(x.amax(1).numpy(), x.numpy().max(1))
    np.testing.assert_array_equal(x.amin(0).numpy(), x.numpy().min(0))
    assert x.argmax().item() == x.numpy().argmax()
    np.testing.assert_array_equal(gn.argmax(x, 1).numpy(), x.numpy().argmax(1))


def test_reductions_of_0d_and_float32():
    s = gn.tensor(2.5, requires_grad=True)
    y = s.sum() + s.mean()
    y.backward()
    assert y.dtype == gn.float32 and s.grad.item() == 2.0
    x = gn.ones(3, 4)
    for r in (x.sum(), x.mean(), x.sum(1), x.mean(0, keepdim=True), x.var(), x.max(), x.max(1).values):
        assert r.dtype == gn.float32


def test_module_level_sum_mean(rng):
    x = rng.tensor(3, 4)
    np.testing.assert_allclose(gn.sum(x, 1).numpy(), x.numpy().sum(1))
    np.testing.assert_allclose(gn.mean(x, 0, keepdim=True).numpy(), x.numpy().mean(0, keepdims=True))
    assert x.sum(dtype=gn.float32).dtype == gn.float32


@pytest.mark.parametrize("dim, keepdim", [((0, 2), False), ((1,), True), (-1, False), (None, False)])
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_over_several_dims_gradcheck(name, dim, keepdim, rng):
    x = rng.tensor(3, 4, 5)
    assert gn.gradcheck(lambda t: getattr(t, name)(dim, keepdim), (x,))


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_match_torch_including_ties(name):
    torch = pytest.importorskip("torch")
    data = np.array([[[1.0, 3.0], [3.0, 0.0]], [[2.0, 2.0], [-1.0, 2.0]]])
    dy = np.array([0.5, -2.0])
    x = gn.tensor(data, requires_grad=True)
    getattr(x, name)((1, 2)).backward(gn.tensor(dy))
    tx = torch.tensor(data, requires_grad=True)
    getattr(tx, name)((1, 2)).backward(torch.tensor(dy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_amax_shares_the_gradient_among_ties():
    x = gn.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], dtype=gn.float64, requires_grad=True)
    x.amax(dim=(0, 1)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])
