"""The dropout kernel, both twins called directly, against the textbook form in
tests/functions/reference_loss.py (float64, and float32 at float32 tolerances) over a grid of
shapes and probabilities; the twins draw the same mask from the same bits; a speed guard for
the compiled kernel against its NumPy twin."""
import pathlib
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from glassnet.functions.dropout import uniform_bits
from glassnet.kernels import dropout as D

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference_loss as ref  # noqa: E402
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

TWINS = [("numpy", D.dropout_numpy, D.dropout_backward_numpy),
         ("compiled", D.dropout_compiled, D.dropout_backward_compiled)]
SHAPES = [(1,), (7,), (3, 5), (2, 3, 4, 5), (64, 257)]


def _bits(shape, seed):
    return np.random.default_rng(seed).integers(0, 2 ** 32, shape, dtype=np.uint32)


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_dropout_twins_match_the_textbook(twin, shape, dtype, p):
    _, forward, backward = twin
    r = np.random.default_rng(1)
    x, dy = r.standard_normal(shape).astype(dtype), r.standard_normal(shape).astype(dtype)
    u = _bits(shape, 2)
    y, mask = forward(x, u, p)
    uniform = u.astype(np.float64) / 2 ** 32            # u >= p 2^32  <=>  u / 2^32 >= p (p 2^32 is rounded)
    tol = dict(rtol=1e-15, atol=0) if dtype == np.float64 else dict(rtol=1e-6, atol=0)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.dropout(x.astype(np.float64), uniform, p), **tol)
    dx = backward(dy, mask, p)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref.dropout(dy.astype(np.float64), uniform, p), **tol)


def test_the_twins_agree_bit_for_bit_and_the_compiled_mask_is_bytes():
    r = np.random.default_rng(3)
    x, dy, u = r.standard_normal((33, 65)).astype(np.float32), r.standard_normal((33, 65)).astype(np.float32), \
        _bits((33, 65), 4)
    (y_n, m_n), (y_c, m_c) = D.dropout_numpy(x, u, 0.3), D.dropout_compiled(x, u, 0.3)
    np.testing.assert_array_equal(y_c, y_n)
    np.testing.assert_array_equal(D.dropout_backward_compiled(dy, m_c, 0.3), D.dropout_backward_numpy(dy, m_n, 0.3))
    if kernels.BACKEND == "numba":
        assert m_c.dtype == np.bool_


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_dropout_keeps_nan_and_takes_other_layouts(twin):
    x = np.asfortranarray(np.random.default_rng(5).standard_normal((6, 4)))
    x[0, 0] = np.nan
    u = _bits((6, 4), 6)
    u[0, 0] = 0                                         # dropped: NaN * 0 stays NaN, as torch
    y, mask = twin[1](x, u, 0.5)
    assert np.isnan(y[0, 0])
    keep = u / 2 ** 32 >= 0.5
    np.testing.assert_allclose(y[1:], np.where(keep, 2 * x, 0.0)[1:], rtol=1e-15)


def test_a_seed_fixes_the_mask_whichever_twin_runs():
    gn.manual_seed(7)
    x = gn.randn(16, 32, requires_grad=True)
    gn.manual_seed(8)
    y1 = gn.nn.functional.dropout(x, 0.4).numpy()
    gn.manual_seed(8)
    u = uniform_bits((16, 32))
    np.testing.assert_array_equal(y1, D.dropout_numpy(x.numpy(), u, 0.4)[0])


# -- speed guard ------------------------------------------------------------------------------
@pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")
def test_compiled_dropout_is_faster_than_its_twin():
    r = np.random.default_rng(9)
    x, dy, u = r.standard_normal((256, 512)).astype(np.float32), r.standard_normal((256, 512)).astype(np.float32), \
        _bits((256, 512), 10)

    def step(forward, backward):
        _, mask = forward(x, u, 0.2)
        backward(dy, mask, 0.2)
    assert faster(lambda: step(*TWINS[1][1:]), lambda: step(*TWINS[0][1:]))


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_float16_takes_the_numpy_twin_and_stays_float16(twin):
    x, u = np.ones((3, 4), np.float16), _bits((3, 4), 11)
    y, mask = twin[1](x, u, 0.5)
    assert y.dtype == twin[2](x, mask, 0.5).dtype == np.float16
    np.testing.assert_array_equal(y, np.where(u / 2 ** 32 >= 0.5, 2.0, 0.0))
