"""Winograd F(2x2, 3x3) (kernels/winograd.py), both twins of every tile transform, against the
textbook forms in tests/functions/reference.py: float64 over a grid of shapes, paddings, odd
sizes, input layouts and block splits; float32 against the GEMM path's own float32 error;
the rule that picks the path; and a speed guard on the compiled transforms."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet import kernels
from glassnet.functions.convolution import rot180
from glassnet.kernels import conv_shifts
from glassnet.kernels import convolution as K
from glassnet.kernels import winograd as Wg

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

TRANSFORMS = ("input_tiles", "output_tiles", "grad_tiles", "input_grad_tiles")

GRID = [  # (N, C, K, H, W, pads (top, bottom, left, right))
    (2, 3, 4, 6, 5, (1, 1, 1, 1)),
    (2, 2, 3, 7, 8, (0, 0, 0, 0)),
    (3, 4, 2, 5, 6, (2, 1, 0, 2)),
    (1, 1, 1, 3, 3, (0, 0, 0, 0)),        # one tile, one output
    (2, 3, 2, 4, 4, (2, 2, 2, 2)),
    (5, 2, 3, 9, 4, (1, 0, 0, 1)),         # odd output height, even width
    (1, 5, 4, 3, 10, (0, 2, 1, 0)),
]


@pytest.fixture(params=["compiled", "numpy"])
def twin(request, monkeypatch):
    """Run winograd.forward/backward on one twin set of the transforms."""
    for name in TRANSFORMS:
        monkeypatch.setattr(Wg, name, getattr(Wg, f"{name}_{request.param}"))
    return request.param


def _channel_major(a):
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _case(case, dtype=np.float64, seed=0):
    N, C, Kc, H, W, pads = case
    r = np.random.default_rng(seed)
    x, w, b = r.standard_normal((N, C, H, W)), r.standard_normal((Kc, C, 3, 3)), r.standard_normal(Kc)
    OH, OW = H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2
    dy = r.standard_normal((N, Kc, OH, OW))
    return [a.astype(dtype) for a in (x, w, b, dy)], (OH, OW)


@pytest.mark.parametrize("case", GRID)
@pytest.mark.parametrize("layout", ["c_order", "channel_major"])
@pytest.mark.parametrize("block_bytes", [None, 1])
@pytest.mark.parametrize("lanes", [1, 3])
def test_winograd_matches_textbook_forms(case, layout, block_bytes, lanes, twin, monkeypatch):
    if block_bytes is not None:
        monkeypatch.setattr(Wg, "BLOCK_BYTES", block_bytes)           # one image per block
    (x, w, b, dy), out = _case(case)
    pads = case[5]
    xs = _channel_major(x) if layout == "channel_major" else x
    y = Wg.forward(xs, w, b, pads, out, lanes=lanes).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(y, ref.conv2d_by_windows(x, w, b, (1, 1), pads, (1, 1), 1), rtol=1e-12, atol=1e-12)
    dx, dW = Wg.backward(np.ascontiguousarray(dy.transpose(1, 0, 2, 3)), xs, x.shape, w, pads, True, True,
                         lanes=lanes)
    np.testing.assert_allclose(dW, ref.conv2d_weight_grad_by_windows(x, dy, w.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref.conv2d_input_grad_full(dy, w, x.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-12)
    assert dx.transpose(1, 0, 2, 3).flags.c_contiguous                # channel-major, as every path's dx
    dx_alone, none = Wg.backward(np.ascontiguousarray(dy.transpose(1, 0, 2, 3)), None, x.shape, w, pads, True, False,
                                 lanes=lanes)
    assert none is None
    np.testing.assert_array_equal(dx_alone, dx)


def test_winograd_float32_error_is_of_the_gemm_paths_order(twin):
    """In float32, against the float64 textbook sums: Winograd's transforms add and subtract
    (and G halves) before the products, so its rounding error is larger than a GEMM's, but
    of the same order; measured here on a 32-channel 3x3 layer with padding 1."""
    (x, w, b, dy), out = _case((2, 32, 8, 8, 8, (1, 1, 1, 1)), np.float32, seed=3)
    w *= np.float32(1 / 17)                                          # He-like scale: y ~ x in size
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    pads = (1, 1, 1, 1)
    want = (ref.conv2d_by_windows(x64, w64, b64, (1, 1), pads, (1, 1), 1),
            ref.conv2d_input_grad_full(dy64, w64, x.shape, (1, 1), pads, (1, 1), 1),
            ref.conv2d_weight_grad_by_windows(x64, dy64, w.shape, (1, 1), pads, (1, 1), 1))
    geometry = (x.shape, w.shape, 1, pads, (1, 1), (1, 1), out)
    gemm = K.Conv2dSteps(geometry)
    assert not gemm.winograd or kernels.BACKEND == "numba"
    gemm.winograd, gemm.shifts = False, False                         # the im2col GEMM path
    dyn = dy                                                          # (N, K, OH, OW) C-ordered
    g = (gemm.forward(x, w, b), gemm.input_grad(dyn, rot180(w)), gemm.weight_grad(dyn))
    y = Wg.forward(x, w, b, pads, out).transpose(1, 0, 2, 3)
    dx, dW = Wg.backward(np.ascontiguousarray(dy.transpose(1, 0, 2, 3)), x, x.shape, w, pads, True, True)
    for name, got, base, exact in zip(("y", "dx", "dW"), (y, dx, dW), g, want):
        assert got.dtype == np.float32
        err, base_err = np.abs(got - exact).max(), np.abs(base - exact).max()
        scale = np.abs(exact).max()
        assert err <= 4 * base_err, f"{name}: Winograd error {err:.2e}, GEMM's {base_err:.2e}"
        assert err <= 1e-5 * scale, f"{name}: Winograd error {err:.2e} against values up to {scale:.2e}"


@pytest.mark.parametrize("keep_input, input_grad_too", [(True, True), (True, False), (False, True)])
def test_conv2d_steps_on_the_winograd_path(keep_input, input_grad_too, monkeypatch):
    """Through Conv2dSteps with the path forced on: y, dW alone, dx alone, dW with dx."""
    monkeypatch.setattr(Wg, "worth_it", lambda C, O, kernel, stride, dilation, groups, pads, N:
                        Wg.applies(kernel, stride, dilation, groups, pads))
    (x, w, b, dy), out = _case((3, 4, 5, 7, 6, (1, 2, 0, 1)), seed=7)
    pads = (1, 2, 0, 1)
    steps = K.Conv2dSteps((x.shape, w.shape, 1, pads, (1, 1), (1, 1), out), keep_input, input_grad_too)
    assert steps.winograd and not steps.shifts
    np.testing.assert_allclose(steps.forward(_channel_major(x), w, b),
                               ref.conv2d_by_windows(x, w, b, (1, 1), pads, (1, 1), 1), rtol=1e-12, atol=1e-12)
    dyc = _channel_major(dy)
    if keep_input:
        np.testing.assert_allclose(steps.weight_grad(dyc),
                                   ref.conv2d_weight_grad_by_windows(x, dy, w.shape, (1, 1), pads, (1, 1), 1),
                                   rtol=1e-12, atol=1e-12)
    if input_grad_too:
        dx = steps.input_grad(dyc, rot180(w))
        assert dx.shape == x.shape and dx.transpose(1, 0, 2, 3).flags.c_contiguous
        np.testing.assert_allclose(dx, ref.conv2d_input_grad_full(dy, w, x.shape, (1, 1), pads, (1, 1), 1),
                                   rtol=1e-12, atol=1e-12)


def test_the_rule_picks_winograd_only_where_it_measuredfaster():
    cifar = dict(kernel=(3, 3), stride=(1, 1), dilation=(1, 1), groups=1, pads=(1, 1, 1, 1), N=64, threads=1)
    for C, O in ((32, 32), (32, 64), (64, 64)):                       # cifar_cnn's layers past the input
        assert Wg.worth_it(C, O, backend="numba", **cifar)
        assert not Wg.worth_it(C, O, backend="numpy", **cifar)        # the twins lose to the GEMM paths
    assert not Wg.worth_it(3, 32, backend="numba", **cifar)           # RGB input layer: im2col
    assert not Wg.worth_it(16, 32, backend="numba", **cifar)          # measured break-even below 32
    assert not Wg.worth_it(32, 16, backend="numba", **cifar)
    other = dict(cifar, backend="numba")
    assert not Wg.worth_it(32, 32, **dict(other, kernel=(5, 5)))
    assert not Wg.worth_it(32, 32, **dict(other, stride=(2, 2)))
    assert not Wg.worth_it(32, 32, **dict(other, dilation=(2, 1)))
    assert not Wg.worth_it(32, 32, **dict(other, groups=2))
    assert not Wg.worth_it(32, 32, **dict(other, pads=(3, 3, 3, 3)))
    # on two threads in lanes, one image a lane at least; one image takes the shifted rows' BLAS threads
    assert Wg.worth_it(32, 32, **dict(other, threads=2))
    assert Wg.worth_it(32, 32, **dict(other, threads=2, N=2))
    assert not Wg.worth_it(32, 32, **dict(other, threads=2, N=1))
    assert Wg.worth_it(32, 32, **dict(other, threads=1, N=1))
    assert not Wg.worth_it(32, 32, **dict(other, N=0))


def test_conv2d_steps_follow_the_rule(one_blas_thread):
    geometry = ((64, 32, 16, 16), (64, 32, 3, 3), 1, (1, 1, 1, 1), (1, 1), (1, 1), (16, 16))
    steps = K.Conv2dSteps(geometry)
    assert steps.winograd == (kernels.BACKEND == "numba")
    assert steps.shifts == (not steps.winograd)                        # else the shifted rows, as before
    assert conv_shifts.worth_it(32, 64, 3, 3, (1, 1), 64)


def test_the_rule_reads_the_thread_count_now(one_blas_thread):
    import glassnet as gn
    one_image = dict(kernel=(3, 3), stride=(1, 1), dilation=(1, 1), groups=1, pads=(1, 1, 1, 1), N=1, backend="numba")
    assert Wg.worth_it(32, 32, **one_image)
    gn.set_num_threads(2)
    assert Wg.worth_it(32, 32, **one_image) == (gn.get_num_threads() == 1)


# -- speed guard ------------------------------------------------------------------------------
@pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")
def test_compiled_transforms_are_faster_than_their_twins():
    """A silent fall-back to scalar (or object-mode) code shows only in time."""
    r = np.random.default_rng(5)
    N, C, Kc, H = 4, 32, 32, 32               # 16 tiles a row: on 8 the margin is thin (short loops)
    TH = TW = H // 2
    T = N * TH * TW
    x = _channel_major(r.standard_normal((N, C, H, H)).astype(np.float32))
    planes, sc, sn = Wg._planes(x)
    V = np.empty((16, C, T), np.float32)
    M = r.standard_normal((16, Kc, T)).astype(np.float32)
    y = np.empty((Kc, N, H, H), np.float32)
    dy = r.standard_normal((Kc, N, H, H)).astype(np.float32)
    bias = np.zeros(Kc, np.float32)
    calls = {
        "input_tiles": lambda f: f(planes, sc, sn, 0, N, 1, 1, TH, TW, V),
        "output_tiles": lambda f: f(M, y, 0, TH, TW, bias),
        "grad_tiles": lambda f: f(dy, 0, N, TH, TW, M),
        "input_grad_tiles": lambda f: f(V, x.transpose(1, 0, 2, 3).copy(), 0, 1, 1, TH, TW),
    }
    for name, call in calls.items():
        compiled, twin = getattr(Wg, f"{name}_compiled"), getattr(Wg, f"{name}_numpy")
        assert faster(lambda: call(compiled), lambda: call(twin), what=f"compiled {name}", repeats=5)
