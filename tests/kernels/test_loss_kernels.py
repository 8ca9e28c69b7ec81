"""The cross-entropy kernel, both twins called directly, against the row-by-row textbook form in
tests/functions/reference_loss.py: float64 (and float32 at float32 tolerances) over a grid of
shapes, with class weights, label smoothing and ignored rows; and a speed guard for the
compiled kernel against its NumPy twin."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet import kernels
from glassnet.kernels import loss as L

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference_loss as ref  # noqa: E402
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

TWINS = [("numpy", L.cross_entropy_numpy, L.cross_entropy_backward_numpy),
         ("compiled", L.cross_entropy_compiled, L.cross_entropy_backward_compiled)]
SHAPES = [(1, 1), (1, 5), (4, 3), (17, 10), (64, 65)]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _case(shape, dtype, weighted, ignored, seed=0):
    r = np.random.default_rng(seed)
    R, C = shape
    x = (3 * r.standard_normal(shape)).astype(dtype)
    t = r.integers(0, C, R)
    if ignored:
        t[::3] = -100
    w = r.uniform(0.5, 2.0, C) if weighted else None
    return x, t, w


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted, eps, ignored", [(False, 0.0, False), (False, 0.0, True), (True, 0.0, True),
                                                    (False, 0.1, False), (True, 0.2, True)])
def test_cross_entropy_twins_match_the_textbook(twin, shape, dtype, weighted, eps, ignored):
    _, forward, backward = twin
    x, t, w = _case(shape, dtype, weighted, ignored)
    loss, p, total = forward(x, t, w, -100, eps)
    want, want_total = ref.cross_entropy(x.astype(np.float64), t, w, -100, eps)
    assert loss.dtype == dtype and p.dtype == dtype
    np.testing.assert_allclose(loss, want, **TOL[dtype])
    assert total == pytest.approx(want_total, rel=TOL[dtype]["rtol"])
    for up in (1.0, 0.25, np.linspace(-1, 1, shape[0])):
        dx = backward(p, t, w, -100, eps, up)
        assert dx.dtype == dtype
        np.testing.assert_allclose(dx, ref.cross_entropy_backward(x.astype(np.float64), t, w, -100, eps, up),
                                   **TOL[dtype])


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_cross_entropy_twins_refuse_a_target_out_of_range(twin):
    x, t, _ = _case((4, 3), np.float64, False, False)
    t[2] = 3
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        twin[1](x, t)


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_cross_entropy_twins_keep_large_logits_finite(twin):
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4 + 1, -1e4 + 2]])
    t = np.array([0, 2])
    loss, p, _ = twin[1](x, t)
    # lse - x_t of logits near -1e4 keeps an absolute error of a few ulps of 1e4 (~2e-12)
    np.testing.assert_allclose(loss, ref.cross_entropy(x, t)[0], rtol=1e-12, atol=1e4 * 2 ** -52 * 4)
    assert np.isfinite(p).all()


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_cross_entropy_backward_leaves_the_saved_softmax_alone(twin):
    """A second backward (retain_graph) must see the same p."""
    x, t, _ = _case((5, 4), np.float64, False, False)
    _, p, _ = twin[1](x, t)
    saved = p.copy()
    twin[2](p, t, None, -100, 0.0, 0.5)
    np.testing.assert_array_equal(p, saved)


# -- speed guard ------------------------------------------------------------------------------
@pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")
def test_compiled_cross_entropy_is_faster_than_its_twin():
    x, t, _ = _case((128, 10), np.float32, False, False)

    def step(forward, backward):
        _, p, _ = forward(x, t)
        backward(p, t, None, -100, 0.0, 1.0 / 128)
    assert faster(lambda: step(*TWINS[1][1:]), lambda: step(*TWINS[0][1:]))


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_float16_logits_take_the_numpy_twin_and_stay_float16(twin):
    x, t, _ = _case((6, 4), np.float16, False, False)
    loss, p, _ = twin[1](x, t)
    assert loss.dtype == p.dtype == twin[2](p, t).dtype == np.float16
    np.testing.assert_allclose(loss, ref.cross_entropy(x.astype(np.float64), t)[0], rtol=1e-2, atol=1e-2)
