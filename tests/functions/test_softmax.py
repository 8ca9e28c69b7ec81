"""Softmax and log-softmax: float64 gradchecks, parity with torch, stability."""
import warnings

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_core import ACTIVATION_CASES

CASES = [c for c in ACTIVATION_CASES if c[1] in ("softmax", "log_softmax")]
IDS = [c[0] for c in CASES]


def _check(got, case, key):
    np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name, fn, module, kwargs, shape", CASES, ids=IDS)
def test_softmax_gradcheck(name, fn, module, kwargs, shape, rng):
    x = rng.tensor(*shape)
    assert gn.gradcheck(lambda t: getattr(F, fn)(t, **kwargs), (x,))


@pytest.mark.parametrize("name, fn, module, kwargs, shape", CASES, ids=IDS)
def test_softmax_matches_torch(name, fn, module, kwargs, shape, fixtures):
    case = fixtures[name]
    for make in (lambda x: getattr(F, fn)(x, **kwargs), getattr(gn.nn, module)(**kwargs),
                 lambda x: getattr(x, fn)(kwargs["dim"])):
        x = gn.tensor(case["x"], requires_grad=True)
        y = make(x)
        y.backward(gn.tensor(case["dy"]))
        _check(y, case, "y")
        _check(x.grad, case, "dx")


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_rows_sum_to_one(dim, rng):
    y = F.softmax(rng.tensor(3, 4, requires_grad=False), dim=dim)
    np.testing.assert_allclose(y.numpy().sum(axis=dim), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [gn.float32, gn.float64])
def test_softmax_is_stable_for_huge_logits(dtype):
    x = gn.tensor([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = F.softmax(x, dim=1)
        logp = F.log_softmax(x, dim=1)
        (p.sum() + logp[:, :2].sum()).backward()
    assert p.dtype == logp.dtype == x.grad.dtype == dtype
    np.testing.assert_allclose(p.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    np.testing.assert_allclose(logp.numpy(), [[0, -1000, -2000], [-np.log(3)] * 3], rtol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


def test_softmax_implicit_dim_follows_torch_legacy_rule(rng):
    # torch (with a deprecation warning): dim 0 for 0-, 1- and 3-d input, else dim 1
    x = rng.tensor(2, 3, 4, requires_grad=False)
    np.testing.assert_array_equal(F.softmax(x).numpy(), F.softmax(x, dim=0).numpy())
    x = rng.tensor(2, 3, requires_grad=False)
    np.testing.assert_array_equal(F.log_softmax(x).numpy(), F.log_softmax(x, dim=1).numpy())


def test_softmax_dtype_argument_casts_first():
    x = gn.tensor([1.0, 2.0, 3.0])
    assert F.softmax(x, dim=0, dtype=gn.float64).dtype == gn.float64
    assert F.softmax(x, dim=0).dtype == gn.float32


def test_log_softmax_is_log_of_softmax(rng):
    x = rng.tensor(4, 5, requires_grad=False)
    np.testing.assert_allclose(F.log_softmax(x, 1).numpy(), np.log(F.softmax(x, 1).numpy()), rtol=1e-12)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), np.log(np.exp(x.numpy()).sum(1)), rtol=1e-12)


def test_logsumexp_gradcheck(rng):
    x = rng.tensor(3, 4)
    assert gn.gradcheck(lambda t: t.logsumexp(1), (x,))
    assert gn.gradcheck(lambda t: t.logsumexp(0, keepdim=True), (x,))
