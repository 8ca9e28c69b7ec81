"""Pooling, ReLU and batch-norm kernels, both twins called directly, against the textbook
forms in tests/functions/reference.py (float64), in C order and channel-major; and a speed
guard per compiled kernel against its NumPy twin (a silent fall-back to scalar code is
slower than NumPy's whole-array passes)."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet import kernels
from glassnet.kernels import activation as A
from glassnet.kernels import normalization as BN
from glassnet.kernels import pooling as P

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)


def _channel_major(a):
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


POOLS = [  # (shape, kernel, stride, pads, dilation)
    ((2, 3, 6, 8), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1)),      # a row and a column no window covers
    ((2, 2, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((1, 2, 9, 8), (3, 2), (1, 2), (1, 0, 1, 1), (2, 1)),
]


def _out(shape, kernel, stride, pads, dilation):
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                 for n, k, s, d, lo, hi in zip(shape[2:], kernel, stride, dilation, pads[::2], pads[1::2]))


@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", POOLS)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("largest", [True, False])
def test_max_pool_twins_match_windows(shape, kernel, stride, pads, dilation, layout, largest):
    r = np.random.default_rng(0)
    x = r.standard_normal(shape)
    x[0, 0, :2, :2] = 0.5                                      # a tie: the first position wins
    x[-1, -1] = np.maximum(x[-1, -1], 0)                         # ReLU's zeros: ties everywhere
    if layout != "C":
        x = _channel_major(x)
    out = _out(shape, kernel, stride, pads, dilation)
    y_ref, dx_of = ref.max_pool2d_by_windows(x, kernel, stride, pads, dilation, largest)
    dy = r.standard_normal(y_ref.shape)
    for forward in (P.max_pool2d_numpy, P.max_pool2d_compiled):
        for track in (True, False):
            y, arg = forward(x, kernel, stride, pads, dilation, out, largest, track)
            np.testing.assert_array_equal(y, y_ref)
            if track:                                        # torch's indices from either twin's arg
                np.testing.assert_array_equal(P.max_pool2d_arg(x, arg, kernel, stride, pads, dilation, out, largest),
                                              P.max_pool2d_numpy(x, kernel, stride, pads, dilation, out, largest)[1])
            if not any(pads):                                # y keeps x's layout
                assert y.strides == np.empty_like(x, shape=y.shape).strides
            if track:
                dx = P.max_pool2d_backward(dy, arg, P.describe(x), kernel, stride, pads, dilation, out)
                np.testing.assert_allclose(dx, dx_of(dy), rtol=1e-15)


@pytest.mark.parametrize("shape, kernel, stride, pads", [((2, 3, 6, 8), (2, 2), (2, 2), (0, 0, 0, 0)),
                                                         ((2, 2, 7, 6), (3, 2), (2, 1), (1, 1, 0, 1))])
def test_window_sum_matches_windows(shape, kernel, stride, pads):
    r = np.random.default_rng(1)
    x = _channel_major(r.standard_normal(shape))
    out = _out(shape, kernel, stride, pads, (1, 1))
    y_ref, dx_of = ref.avg_pool2d_by_windows(x, kernel, stride, pads, 1)
    np.testing.assert_allclose(P.window_sum(x, kernel, stride, pads, out), y_ref, rtol=1e-13)
    dy = r.standard_normal(y_ref.shape)
    np.testing.assert_allclose(P.window_sum_backward(dy, P.describe(x), kernel, stride, pads, out), dx_of(dy),
                               rtol=1e-13)


@pytest.mark.parametrize("small", [True, False], ids=["below-SMALL", "compiled-loop"])
@pytest.mark.parametrize("layout", ["C", "channel-major", "2-d"])
def test_relu_twins_match_reference(layout, small):
    r = np.random.default_rng(2)
    if small:
        x = r.standard_normal((3, 4) if layout == "2-d" else (2, 3, 4, 5))
    else:
        x = r.standard_normal((40, 64) if layout == "2-d" else (4, 5, 8, 16))
    assert (x.size < A.SMALL) == small
    x.flat[:3] = 0.0                                          # the kink: slope 0 there, as torch
    dy = r.standard_normal(x.shape)
    if layout == "channel-major":
        x, dy = _channel_major(x), _channel_major(dy)
    for relu, backward in ((A.relu_numpy, A.relu_backward_numpy), (A.relu_compiled, A.relu_backward_compiled)):
        y = relu(x)
        np.testing.assert_array_equal(y, ref.relu(x))
        assert y.strides == x.strides                        # the layout is kept
        dx = backward(dy, y)
        np.testing.assert_array_equal(dx, ref.relu_backward(dy, x))
        assert dx.strides == x.strides


def test_relu_twins_keep_nan():
    """A NaN passes through ReLU (as np.maximum and torch), so a diverged loss shows as NaN."""
    for n in (3, A.SMALL):                                    # NumPy's call, and the compiled loop
        x = np.full(n, 2.0, np.float32)
        x[:2] = np.nan, -1.0
        for relu in (A.relu_numpy, A.relu_compiled):
            y = relu(x)
            assert np.isnan(y[0]) and y[1] == 0 and (y[2:] == 2).all()


BN_TWINS = [(BN.batch_stats_numpy, BN.affine_numpy, BN.channel_sums_numpy, BN.input_grad_numpy),
            (BN.batch_stats_compiled, BN.affine_compiled, BN.channel_sums_compiled, BN.input_grad_compiled)]


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("twin", [0, 1])
def test_batch_norm_twins_match_formula(shape, twin):
    """The steps, composed as functions/normalization.py composes them, give the formula's y
    and the chain rule's dx, dgamma, dbeta."""
    stats, affine, sums, input_grad = BN_TWINS[twin]
    r = np.random.default_rng(3)
    x, dy = 2 + 3 * r.standard_normal(shape), r.standard_normal(shape)
    C, eps = shape[1], 1e-5
    gamma, beta = r.standard_normal(C), r.standard_normal(C)
    bshape = (1, C) + (1,) * (len(shape) - 2)
    m = x.size // C
    mu, var, centered = stats(x)
    inv_std = 1 / np.sqrt(var + eps)
    scale = gamma.reshape(bshape) * inv_std
    np.testing.assert_allclose(affine(centered, scale, beta.reshape(bshape)), ref.batch_norm_train(x, gamma, beta, eps),
                               rtol=1e-10, atol=1e-12)
    s1, s2 = sums(dy, centered)
    dx = input_grad(dy, centered, scale, scale * inv_std ** 2 * s2 / m, scale * s1 / m)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_backward(x, gamma, eps, dy)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((inv_std * s2).reshape(C), dgamma_ref, rtol=1e-10)
    np.testing.assert_allclose(s1.reshape(C), dbeta_ref, rtol=1e-10)


# -- speed guards -----------------------------------------------------------------------------
compiled_only = pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")




@compiled_only
def test_compiled_max_pool_is_faster_than_its_twin():
    x = _channel_major(np.random.default_rng(4).standard_normal((64, 8, 28, 28)).astype(np.float32))
    g = ((2, 2), (2, 2), (0, 0, 0, 0), (1, 1), (14, 14))
    assert faster(lambda: P.max_pool2d_compiled(x, *g, True, True), lambda: P.max_pool2d_numpy(x, *g, True, True))
    dy = _channel_major(np.random.default_rng(8).standard_normal((64, 8, 14, 14)).astype(np.float32))
    arg_c, arg_n = P.max_pool2d_compiled(x, *g)[1], P.max_pool2d_numpy(x, *g)[1]
    assert faster(lambda: P.max_pool2d_backward_compiled(dy, arg_c, P.describe(x), *g),
                   lambda: P.max_pool2d_backward_numpy(dy, arg_n, P.describe(x), *g))


@compiled_only
def test_compiled_relu_is_faster_than_its_twin():
    x = _channel_major(np.random.default_rng(5).standard_normal((64, 8, 28, 28)).astype(np.float32))
    dy = _channel_major(np.random.default_rng(6).standard_normal(x.shape).astype(np.float32))
    y = A.relu_numpy(x)
    assert faster(lambda: A.relu_compiled(x), lambda: A.relu_numpy(x))
    assert faster(lambda: A.relu_backward_compiled(dy, y), lambda: A.relu_backward_numpy(dy, y))


@compiled_only
def test_compiled_batch_norm_is_faster_than_its_twin():
    r = np.random.default_rng(7)
    x, dy = r.standard_normal((256, 512)).astype(np.float32), r.standard_normal((256, 512)).astype(np.float32)
    scale = np.ones((1, 512), np.float32)

    def steps(stats, affine, sums, input_grad):
        mu, var, centered = stats(x)
        affine(centered, scale, None)
        s1, s2 = sums(dy, centered)
        input_grad(dy, centered, scale, s2, s1)
    assert faster(lambda: steps(*BN_TWINS[1]), lambda: steps(*BN_TWINS[0]))


# -- batch norm over (N, C, *): the compiled steps on every layout ---------------------------
import reference_cnn as ref_cnn  # noqa: E402  (tests/functions/reference_cnn.py)

BN_SHAPES = [(16, 5), (7, 3), (4, 3, 5, 6), (3, 2, 7), (5, 4, 1, 9), (2, 6, 3, 3), (1, 3, 4, 4),
             (6, 4, 1), (5, 3, 1, 1), (3, 4, 2, 2), (4, 3, 8)]      # short rows: every route of _kernel_view


def _bn_case(shape, layout, dy_layout, dtype):
    r = np.random.default_rng(sum(shape))
    x, dy = 2 + 3 * r.standard_normal(shape), r.standard_normal(shape)
    if layout == "channel-major" and len(shape) == 4:
        x = _channel_major(x)
    if len(shape) == 4 and dy_layout == "channel-major":
        dy = _channel_major(dy)
    if dy_layout == "broadcast":                              # what y.sum().backward() sends
        dy = np.broadcast_to(np.float64(0.5), shape)
    C = shape[1]
    return x.astype(dtype), dy.astype(dtype), r.standard_normal(C), r.standard_normal(C)


BN_TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-4, atol=2e-5)}


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dy_layout", ["C", "channel-major", "broadcast"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("twin", [0, 1])
def test_batch_norm_steps_match_formula_on_every_layout(shape, layout, dy_layout, dtype, twin):
    """Training mode, composed as functions/normalization.py composes the steps: y against the
    formula, dx against the chain rule through mu and var, dgamma and dbeta against their sums;
    the compiled steps store y and dx in x's order."""
    stats, affine, sums, input_grad = BN_TWINS[twin]
    x, dy, gamma, beta = _bn_case(shape, layout, dy_layout, dtype)
    C, eps, tol = shape[1], 1e-5, BN_TOL[dtype]
    bshape = (1, C) + (1,) * (len(shape) - 2)
    m = x.size // C
    mu, var, centered = stats(x)
    assert mu.dtype == dtype and var.dtype == dtype
    inv_std = 1 / np.sqrt(var + dtype(eps))
    scale = gamma.reshape(bshape).astype(dtype) * inv_std
    y = affine(centered, scale, beta.reshape(bshape).astype(dtype))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, ref.batch_norm_train(x64, gamma, beta, eps), **tol)
    s1, s2 = sums(dy, centered)
    dx = input_grad(dy, centered, scale, scale * inv_std ** 2 * s2 / m, scale * s1 / m)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_backward(x64, gamma, eps, dy.astype(np.float64))
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose((inv_std * s2).reshape(C), dgamma_ref, **tol)
    np.testing.assert_allclose(s1.reshape(C), dbeta_ref, **tol)
    assert y.dtype == dtype and dx.dtype == dtype
    if twin == 1 and isinstance(centered, tuple):              # the compiled kernels keep x's order
        assert y.strides == x.strides and dx.strides == x.strides


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("twin", [0, 1])
def test_batch_norm_eval_steps_match_formula(shape, layout, dtype, twin):
    """Eval mode: the running statistics fixed, y an affine map per channel, dx = dy * scale."""
    center = (BN.center_numpy, BN.center_compiled)[twin]
    _, affine, sums, input_grad = BN_TWINS[twin]
    x, dy, gamma, beta = _bn_case(shape, layout, "C", dtype)
    C, eps, tol = shape[1], 1e-3, BN_TOL[dtype]
    r = np.random.default_rng(1)
    mean, var = r.standard_normal(C), r.uniform(0.5, 2.0, C)
    bshape = (1, C) + (1,) * (len(shape) - 2)
    centered = center(x, mean.reshape(bshape).astype(dtype))
    scale = (gamma / np.sqrt(var + eps)).reshape(bshape).astype(dtype)
    y = affine(centered, scale, beta.reshape(bshape).astype(dtype))
    y_ref, dx_of = ref_cnn.batch_norm_eval(x.astype(np.float64), gamma, beta, mean, var, eps)
    np.testing.assert_allclose(y, y_ref, **tol)
    np.testing.assert_allclose(input_grad(dy, centered, scale, None, None), dx_of(dy.astype(np.float64)), **tol)
    s1, s2 = sums(dy, centered)
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(s1.reshape(C), dy.astype(np.float64).sum(axis=axes), **tol)
    np.testing.assert_allclose(s2.reshape(C), (dy * (x.astype(np.float64) - mean.reshape(bshape))).sum(axis=axes),
                               **tol)


def test_batch_norm_strided_input_takes_the_numpy_steps():
    """A view that is neither C-ordered nor channel-major has no (A, C, B, L) view: the compiled
    steps hand it to the NumPy twin, with the same numbers."""
    x = np.random.default_rng(2).standard_normal((4, 3, 6, 8))[:, :, ::2, 1:]
    mu, var, centered = BN.batch_stats_compiled(x)
    assert not isinstance(centered, tuple)
    np.testing.assert_allclose(mu.ravel(), x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var.ravel(), x.var(axis=(0, 2, 3)), rtol=1e-12)


@compiled_only
@pytest.mark.parametrize("shape, layout", [((16, 32, 16, 16), "channel-major"), ((16, 32, 16, 16), "C"),
                                           ((256, 512, 1), "C")])    # (N, C, 1): once 16x slower
def test_compiled_batch_norm_nd_is_faster_than_its_twin(shape, layout):
    r = np.random.default_rng(9)
    x = r.standard_normal(shape).astype(np.float32)
    dy = r.standard_normal(x.shape).astype(np.float32)
    if layout != "C":
        x, dy = _channel_major(x), _channel_major(dy)
    scale = np.ones((1, shape[1]) + (1,) * (len(shape) - 2), np.float32)

    def steps(stats, affine, sums, input_grad):
        mu, var, centered = stats(x)
        affine(centered, scale, None)
        s1, s2 = sums(dy, centered)
        input_grad(dy, centered, scale, s2, s1)
    assert faster(lambda: steps(*BN_TWINS[1]), lambda: steps(*BN_TWINS[0]))


# -- max pooling, any window: both backward twins from either forward's record -------------
POOLS_ANY = POOLS + [  # (shape, kernel, stride, pads, dilation); ceil_mode is extra bottom/right padding
    ((2, 3, 11, 11), (2, 2), (2, 2), (0, 1, 0, 1), (1, 1)),     # 2x2, ceil_mode on an odd size
    ((2, 2, 8, 9), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),       # stride 1: every x in up to 9 windows
    ((1, 3, 9, 10), (3, 3), (2, 2), (1, 2, 1, 2), (1, 1)),      # ceil_mode with padding
    ((2, 2, 10, 10), (3, 2), (3, 3), (0, 0, 0, 0), (2, 2)),     # dilation, stride > kernel
    ((3, 2, 1, 13), (1, 3), (1, 2), (0, 0, 1, 1), (1, 1)),      # 1-d (H = 1)
    ((3, 2, 1, 12), (1, 2), (1, 2), (0, 0, 0, 0), (1, 1)),      # 1-d tiling
    ((2, 2, 7, 7), (7, 7), (1, 1), (0, 0, 0, 0), (1, 1)),       # one window: the global max
]


@pytest.mark.parametrize("shape, kernel, stride, pads, dilation", POOLS_ANY)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_backward_twins_match_windows(shape, kernel, stride, pads, dilation, layout, dtype):
    """Each backward twin, given either forward twin's arg-max record, routes dy to the window
    reference's maxima (in float32 the only arithmetic is the sum where windows overlap)."""
    r = np.random.default_rng(sum(shape) + kernel[0])
    x = r.standard_normal(shape)
    x[-1, -1] = np.maximum(x[-1, -1], 0)                         # ReLU's zeros: ties everywhere
    if layout != "C":
        x = _channel_major(x)
    x = x.astype(dtype)
    out = _out(shape, kernel, stride, pads, dilation)
    y_ref, dx_of = ref.max_pool2d_by_windows(x.astype(np.float64), kernel, stride, pads, dilation)
    dy = r.standard_normal(y_ref.shape).astype(dtype)
    dx_ref = dx_of(dy.astype(np.float64))
    for forward in (P.max_pool2d_numpy, P.max_pool2d_compiled):
        y, arg = forward(x, kernel, stride, pads, dilation, out)
        np.testing.assert_array_equal(y, y_ref.astype(dtype))
        for backward in (P.max_pool2d_backward_numpy, P.max_pool2d_backward_compiled):
            dx = backward(dy, arg, P.describe(x), kernel, stride, pads, dilation, out)
            assert dx.dtype == dtype and dx.shape == x.shape
            tol = dict(rtol=1e-15) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)   # overlaps add
            np.testing.assert_allclose(dx, dx_ref, **tol)
            if backward is P.max_pool2d_backward_compiled and P._scatter_pays(kernel, stride, pads, dilation):
                assert dx.strides == x.strides                       # the compiled scatter stores dx as x is


@compiled_only
def test_compiled_max_pool_scatter_is_faster_than_its_twin():
    x = _channel_major(np.random.default_rng(10).standard_normal((32, 16, 28, 28)).astype(np.float32))
    g = ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), (14, 14))
    arg = P.max_pool2d_numpy(x, *g)[1]
    dy = _channel_major(np.random.default_rng(11).standard_normal((32, 16, 14, 14)).astype(np.float32))
    assert faster(lambda: P.max_pool2d_backward_compiled(dy, arg, P.describe(x), *g),
                   lambda: P.max_pool2d_backward_numpy(dy, arg, P.describe(x), *g))


# -- average / sum pooling's scatter: both twins ------------------------------------------
SUMS = [  # (shape, kernel, stride, pads)
    ((2, 3, 6, 8), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((2, 2, 7, 6), (3, 2), (2, 1), (1, 1, 0, 1)),
    ((2, 3, 11, 11), (2, 2), (2, 2), (0, 1, 0, 1)),          # ceil_mode on an odd size
    ((1, 2, 9, 10), (3, 3), (2, 2), (1, 2, 1, 2)),           # padding and ceil_mode
    ((2, 2, 8, 8), (5, 5), (3, 3), (2, 2, 2, 2)),
    ((2, 2, 7, 9), (3, 3), (1, 1), (1, 1, 1, 1)),            # stride 1: the twin in both modes
    ((3, 2, 1, 13), (1, 3), (1, 2), (0, 0, 1, 1)),           # 1-d
]


@pytest.mark.parametrize("shape, kernel, stride, pads", SUMS)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_window_sum_backward_twins_match_windows(shape, kernel, stride, pads, layout, dtype):
    r = np.random.default_rng(sum(shape))
    x = r.standard_normal(shape)
    if layout != "C":
        x = _channel_major(x)
    x = x.astype(dtype)
    out = _out(shape, kernel, stride, pads, (1, 1))
    y_ref, dx_of = ref.avg_pool2d_by_windows(x.astype(np.float64), kernel, stride, pads, 1)
    tol = dict(rtol=1e-13) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for forward in (P.window_sum_numpy, P.window_sum_compiled):
        y = forward(x, kernel, stride, pads, out)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, y_ref, **tol)
    dy = r.standard_normal(y_ref.shape).astype(dtype)
    for backward in (P.window_sum_backward_numpy, P.window_sum_backward_compiled):
        dx = backward(dy, P.describe(x), kernel, stride, pads, out)
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx, dx_of(dy.astype(np.float64)), **tol)


@compiled_only
def test_compiled_window_sum_and_scatter_are_faster_than_their_twins():
    g = ((2, 2), (2, 2), (0, 1, 0, 1), (14, 14))                 # 2x2, ceil_mode on 27x27
    x = _channel_major(np.random.default_rng(15).standard_normal((32, 16, 27, 27)).astype(np.float32))
    big = ((3, 3), (2, 2), (1, 1, 1, 1), (14, 14))               # 3x3 / stride 2, padded
    x28 = _channel_major(np.random.default_rng(16).standard_normal((32, 16, 28, 28)).astype(np.float32))
    assert faster(lambda: P.window_sum_compiled(x28, *big), lambda: P.window_sum_numpy(x28, *big))
    dy = _channel_major(np.random.default_rng(12).standard_normal((32, 16, 14, 14)).astype(np.float32))
    assert faster(lambda: P.window_sum_backward_compiled(dy, P.describe(x), *g),
                   lambda: P.window_sum_backward_numpy(dy, P.describe(x), *g))


# -- adaptive max pooling: both twins against torch's windows ------------------------------
ADAPTIVE = [  # (shape, out)
    ((2, 3, 16, 16), (1, 1)),        # global: the compiled pass
    ((2, 2, 13, 11), (2, 1)),        # large windows of unequal sizes
    ((1, 3, 17, 17), (2, 2)),        # overlapping (17 / 2): row 8 and column 8 in two windows
    ((2, 2, 7, 5), (3, 2)),          # small overlapping windows: the NumPy twin in both modes
    ((2, 2, 6, 6), (6, 6)),          # one value per window
]


@pytest.mark.parametrize("shape, out", ADAPTIVE)
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_max_pool_twins_match_windows(shape, out, layout, dtype):
    r = np.random.default_rng(sum(shape))
    x = r.standard_normal(shape)
    x[0, 0] = np.maximum(x[0, 0], 0)                             # ReLU's zeros: ties
    x[-1, -1] = 0.0                                              # all tied: the first position wins
    if layout != "C":
        x = _channel_major(x)
    x = x.astype(dtype)
    y_ref, idx_ref, dx_of = ref_cnn.adaptive_max_pool2d_by_windows(x.astype(np.float64), out)
    rows, cols = ref_cnn.adaptive_bounds(shape[2], out[0]), ref_cnn.adaptive_bounds(shape[3], out[1])
    dy = r.standard_normal(y_ref.shape).astype(dtype)
    tol = dict(rtol=1e-15) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)   # overlaps add
    twins = [(P.adaptive_max_pool2d_numpy, P.adaptive_max_pool2d_indices_numpy, P.adaptive_max_pool2d_backward_numpy),
             (P.adaptive_max_pool2d_compiled, P.adaptive_max_pool2d_indices_compiled,
              P.adaptive_max_pool2d_backward_compiled)]
    for forward, indices, backward in twins:
        y, winners = forward(x, rows, cols)
        np.testing.assert_array_equal(y, y_ref.astype(dtype))
        np.testing.assert_array_equal(indices(winners, shape[3]), idx_ref)
        dx = backward(dy, winners, rows, cols, P.describe(x))
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx, dx_of(dy.astype(np.float64)), **tol)


@compiled_only
def test_compiled_global_max_pool_is_faster_than_its_twin():
    x = _channel_major(np.random.default_rng(13).standard_normal((16, 64, 32, 32)).astype(np.float32))
    rows = cols = [(0, 32)]
    dy = np.ones((16, 64, 1, 1), np.float32)
    assert faster(lambda: P.adaptive_max_pool2d_compiled(x, rows, cols),
                   lambda: P.adaptive_max_pool2d_numpy(x, rows, cols))
    wc, wn = P.adaptive_max_pool2d_compiled(x, rows, cols)[1], P.adaptive_max_pool2d_numpy(x, rows, cols)[1]
    assert faster(lambda: P.adaptive_max_pool2d_backward_compiled(dy, wc, rows, cols, P.describe(x)),
                   lambda: P.adaptive_max_pool2d_backward_numpy(dy, wn, rows, cols, P.describe(x)))


@pytest.mark.parametrize("shape, out", ADAPTIVE + [((2, 3, 7, 7), (7, 7)), ((1, 2, 9, 4), (4, 3))])
@pytest.mark.parametrize("layout", ["C", "channel-major"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_avg_pool_twins_match_windows(shape, out, layout, dtype):
    r = np.random.default_rng(sum(shape) + 1)
    x = r.standard_normal(shape)
    if layout != "C":
        x = _channel_major(x)
    x = x.astype(dtype)
    y_ref, dx_of = ref_cnn.adaptive_avg_pool2d_by_windows(x.astype(np.float64), out)
    rows, cols = ref_cnn.adaptive_bounds(shape[2], out[0]), ref_cnn.adaptive_bounds(shape[3], out[1])
    dy = r.standard_normal(y_ref.shape).astype(dtype)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for forward, backward in ((P.adaptive_avg_pool2d_numpy, P.adaptive_avg_pool2d_backward_numpy),
                              (P.adaptive_avg_pool2d_compiled, P.adaptive_avg_pool2d_backward_compiled)):
        y = forward(x, rows, cols)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, y_ref, **tol)
        dx = backward(dy, rows, cols, P.describe(x))
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx, dx_of(dy.astype(np.float64)), **tol)


@compiled_only
def test_compiled_adaptive_avg_pool_is_faster_than_its_twin():
    x = _channel_major(np.random.default_rng(14).standard_normal((16, 128, 14, 14)).astype(np.float32))
    rows = cols = [(0, 7), (7, 14)]
    dy = _channel_major(np.ones((16, 128, 2, 2), np.float32))
    assert faster(lambda: P.adaptive_avg_pool2d_compiled(x, rows, cols),
                   lambda: P.adaptive_avg_pool2d_numpy(x, rows, cols))
    assert faster(lambda: P.adaptive_avg_pool2d_backward_compiled(dy, rows, cols, P.describe(x)),
                   lambda: P.adaptive_avg_pool2d_backward_numpy(dy, rows, cols, P.describe(x)))
