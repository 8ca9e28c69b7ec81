"""The optimizers' update kernels, both twins called directly, against the textbook equations
in tests/functions/reference_optim.py: float64 (and float32 at float32 tolerances) over a grid
of shapes and settings, in C order, Fortran order and strided views (which take the NumPy
twin); and a speed guard per compiled update against its NumPy twin."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet import kernels
from glassnet.kernels import optim as K

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference_optim as ref  # noqa: E402
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

SHAPES = [(1,), (7,), (3, 5), (2, 3, 4, 5), (1031,)]
TWINS = [("numpy", K.sgd_numpy, K.adam_numpy, K.rmsprop_numpy, K.adagrad_numpy),
         ("compiled", K.sgd_compiled, K.adam_compiled, K.rmsprop_compiled, K.adagrad_compiled)]
# float32: a few roundings (eps 6e-8) of values up to ~5 in size; a parameter that lands near 0
# keeps the absolute error of the subtraction p - lr v, hence the atol
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=4e-6)}
STEPS = 3


def _arrays(shape, dtype, layout, count, seed):
    """``count`` arrays of ``shape``: C order, Fortran order or a strided (non-dense) view."""
    r = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        a = r.standard_normal(shape).astype(dtype)
        if layout == "F":
            a = np.asfortranarray(a)
        elif layout == "strided":
            a = np.repeat(a, 2, axis=-1)[..., ::2]
        out.append(a)
    return out


def _check(got, want, dtype, what):
    np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=what)


LAYOUTS = ["C", "F", "strided"]
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov, maximize",
                         [(0.0, 0.0, 0.0, False, False), (0.9, 0.0, 0.0, False, False),
                          (0.9, 0.3, 0.01, False, True), (0.8, 0.0, 0.05, True, False)])
def test_sgd_twins_match_the_equations(twin, shape, layout, dtype, momentum, dampening, weight_decay, nesterov,
                                       maximize):
    sgd = twin[1]
    p, b = _arrays(shape, dtype, layout, 2, 1)       # b's values are overwritten on the first step
    for step in range(STEPS):
        (g,) = _arrays(shape, dtype, layout, 1, 10 + step)
        first = step == 0
        before = (p.astype(np.float64), None if first else b.astype(np.float64))
        sgd(p, g, b if momentum else None, 0.1, momentum, dampening, weight_decay, nesterov, maximize, first)
        want = ref.sgd(before[0], g.astype(np.float64), before[1], 0.1, momentum, dampening, weight_decay,
                       nesterov, maximize, first)
        _check(p, want[0], dtype, f"p, step {step}")
        if momentum:
            _check(b, want[1], dtype, f"momentum buffer, step {step}")


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay, decoupled, amsgrad, maximize",
                         [(0.0, False, False, False), (0.01, False, True, False), (0.1, True, False, True),
                          (0.1, True, True, False)])
def test_adam_twins_match_the_equations(twin, shape, layout, dtype, weight_decay, decoupled, amsgrad, maximize):
    adam = twin[2]
    p, = _arrays(shape, dtype, layout, 1, 2)
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if amsgrad else None
    for t in range(1, STEPS + 1):
        (g,) = _arrays(shape, dtype, layout, 1, 20 + t)
        before = [x if x is None else x.astype(np.float64) for x in (p, m, v, vmax)]
        adam(p, g, m, v, vmax, t, 1e-2, 0.9, 0.99, 1e-8, weight_decay, decoupled, maximize)
        want = ref.adam(before[0], g.astype(np.float64), *before[1:], t, 1e-2, 0.9, 0.99, 1e-8, weight_decay,
                        decoupled, maximize)
        for name, got, w in zip(("p", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), (p, m, v, vmax), want):
            if got is not None:
                _check(got, w, dtype, f"{name}, step {t}")


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay, momentum, centered, maximize",
                         [(0.0, 0.0, False, False), (0.01, 0.9, False, False), (0.0, 0.0, True, True),
                          (0.1, 0.5, True, False)])
def test_rmsprop_twins_match_the_equations(twin, shape, layout, dtype, weight_decay, momentum, centered, maximize):
    rmsprop = twin[3]
    p, = _arrays(shape, dtype, layout, 1, 3)
    s = np.zeros_like(p)
    a = np.zeros_like(p) if centered else None
    b = np.zeros_like(p) if momentum else None
    for step in range(STEPS):
        (g,) = _arrays(shape, dtype, layout, 1, 30 + step)
        before = [x if x is None else x.astype(np.float64) for x in (p, s, a, b)]
        rmsprop(p, g, s, a, b, 1e-2, 0.9, 1e-8, weight_decay, momentum, maximize)
        want = ref.rmsprop(before[0], g.astype(np.float64), *before[1:], 1e-2, 0.9, 1e-8, weight_decay, momentum,
                           maximize)
        for name, got, w in zip(("p", "square_avg", "grad_avg", "momentum_buffer"), (p, s, a, b), want):
            if got is not None:
                _check(got, w, dtype, f"{name}, step {step}")


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay, maximize", [(0.0, False), (0.1, True)])
def test_adagrad_twins_match_the_equations(twin, shape, layout, dtype, weight_decay, maximize):
    adagrad = twin[4]
    p, = _arrays(shape, dtype, layout, 1, 4)
    s = np.full_like(p, 0.1)
    for step in range(STEPS):
        (g,) = _arrays(shape, dtype, layout, 1, 40 + step)
        before = (p.astype(np.float64), s.astype(np.float64))
        lr_t = 0.1 / (1 + step * 0.01)
        adagrad(p, g, s, lr_t, 1e-10, weight_decay, maximize)
        want = ref.adagrad(before[0], g.astype(np.float64), before[1], lr_t, 1e-10, weight_decay, maximize)
        _check(p, want[0], dtype, f"p, step {step}")
        _check(s, want[1], dtype, f"sum, step {step}")


def test_mixed_memory_orders_take_the_numpy_twin_and_stay_right():
    """A Fortran-ordered gradient for a C-ordered parameter: same numbers as the equations."""
    r = np.random.default_rng(5)
    p, b = r.standard_normal((4, 6)), r.standard_normal((4, 6))
    g = np.asfortranarray(r.standard_normal((4, 6)))
    want = ref.sgd(p.copy(), g, b.copy(), 0.1, 0.9)
    K.sgd_compiled(p, g, b, 0.1, 0.9)
    np.testing.assert_allclose(p, want[0], rtol=1e-12)
    np.testing.assert_allclose(b, want[1], rtol=1e-12)


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_zero_weight_decay_leaves_an_infinite_parameter_infinite(twin):
    """wd = 0 adds nothing, not 0 * inf = nan (as the NumPy form, which skips the term)."""
    p = np.array([np.inf, 1.0])
    twin[1](p, np.array([1.0, 1.0]), None, 0.1)
    assert np.isinf(p[0]) and p[1] == pytest.approx(0.9)
    p = np.array([np.inf, 1.0])
    twin[4](p, np.array([1.0, 1.0]), np.zeros(2), 0.1, 1e-10)
    assert np.isinf(p[0])


# -- speed guards -----------------------------------------------------------------------------
compiled_only = pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")




@compiled_only
@pytest.mark.parametrize("nesterov", [False, True])
def test_compiled_sgd_is_faster_than_its_twin(nesterov):
    r = np.random.default_rng(6)
    p, g, b = (r.standard_normal(1 << 20).astype(np.float32) for _ in range(3))
    assert faster(lambda: K.sgd_compiled(p, g, b, 1e-6, 0.9, nesterov=nesterov),
                   lambda: K.sgd_numpy(p, g, b, 1e-6, 0.9, nesterov=nesterov))


# one pass against NumPy's five or more, each element with a square root and a division: a
# vectorised loop is several times faster than the twin, a scalar one about as fast (a loop
# with its cases' flags as branches inside stayed scalar), hence by=1.5
@compiled_only
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_compiled_adam_is_vectorised(amsgrad, weight_decay):
    r = np.random.default_rng(7)
    p, g = (r.standard_normal(1 << 20).astype(np.float32) for _ in range(2))
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if amsgrad else None
    assert faster(lambda: K.adam_compiled(p, g, m, v, vmax, 3, 1e-6, 0.9, 0.999, 1e-8, weight_decay),
                  lambda: K.adam_numpy(p, g, m, v, vmax, 3, 1e-6, 0.9, 0.999, 1e-8, weight_decay), by=1.5)


@compiled_only
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("centered, momentum", [(False, 0.0), (True, 0.0), (False, 0.9), (True, 0.9)])
def test_compiled_rmsprop_is_vectorised(centered, momentum, weight_decay):
    r = np.random.default_rng(7)
    p, g = (r.standard_normal(1 << 20).astype(np.float32) for _ in range(2))
    s = np.ones_like(p)
    a = np.zeros_like(p) if centered else None
    b = np.zeros_like(p) if momentum else None
    assert faster(lambda: K.rmsprop_compiled(p, g, s, a, b, 1e-6, 0.99, 1e-8, weight_decay, momentum),
                  lambda: K.rmsprop_numpy(p, g, s, a, b, 1e-6, 0.99, 1e-8, weight_decay, momentum), by=1.5)


@compiled_only
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_compiled_adagrad_is_vectorised(weight_decay):
    r = np.random.default_rng(7)
    p, g = (r.standard_normal(1 << 20).astype(np.float32) for _ in range(2))
    s = np.zeros_like(p)
    assert faster(lambda: K.adagrad_compiled(p, g, s, 1e-6, 1e-10, weight_decay),
                  lambda: K.adagrad_numpy(p, g, s, 1e-6, 1e-10, weight_decay), by=1.5)


def test_float16_and_zero_dimensional_parameters():
    """float16 (no Numba arithmetic) takes the NumPy twin and stays float16; a 0-d parameter
    is updated in place, not a copy of it."""
    p = np.full(5, 3.0, np.float16)
    K.sgd(p, np.ones(5, np.float16), np.empty_like(p), 0.5, 0.9, first=True)
    assert p.dtype == np.float16
    np.testing.assert_array_equal(p, 2.5)
    p, b = np.full((), 3.0), np.empty(())
    K.sgd(p, np.ones(()), b, 0.5, 0.9, first=True)
    assert p == 2.5 and b == 1.0
