"""The direct sums (kernels/conv_direct.py, on kernels/microkernel.py's register block) against
the textbook forms in tests/functions/reference.py, in float64, over kernel sizes, paddings,
channel counts around the 4-channel blocks, runs of one and several 16-position blocks, and
batch splits; through ``Conv2dSteps`` and ``nn.Conv2d`` against the GEMM paths; gradcheck; the
rule; and speed guards against the same sums as NumPy passes per tap."""
import pathlib
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from glassnet.functions.convolution import rot180
from glassnet.kernels import blas, conv_direct as D
from glassnet.kernels import convolution as K

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

compiled_only = pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")

GRID = [  # (N, C, O, H, W, kh, kw, pads (top, bottom, left, right))
    (3, 1, 6, 9, 8, 5, 5, (2, 2, 2, 2)),
    (2, 2, 4, 7, 9, 3, 3, (1, 1, 1, 1)),
    (2, 3, 8, 6, 6, 3, 3, (0, 2, 1, 0)),
    (1, 1, 2, 5, 7, 5, 5, (0, 0, 0, 0)),
    (4, 6, 8, 10, 10, 5, 5, (1, 3, 4, 0)),
    (2, 2, 3, 6, 7, 2, 4, (1, 0, 3, 2)),
    (2, 5, 7, 9, 11, 3, 3, (1, 1, 1, 1)),     # 7 channels: a 4-row block and three single rows
    (2, 3, 5, 18, 21, 2, 3, (0, 1, 2, 0)),    # runs of several 16-position blocks, a partial last one
    (3, 1, 1, 4, 6, 4, 1, (3, 0, 0, 0)),
]


def _case(case, seed=0):
    N, C, O, H, W, kh, kw, pads = case
    r = np.random.default_rng(seed)
    OH, OW = H + pads[0] + pads[1] - kh + 1, W + pads[2] + pads[3] - kw + 1
    x, Wt, b = r.standard_normal((N, C, H, W)), r.standard_normal((O, C, kh, kw)), r.standard_normal(O)
    return x, Wt, b, r.standard_normal((N, O, OH, OW)), (OH, OW)


@compiled_only
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", GRID)
def test_sums_match_textbook_forms(case, threads):
    x, Wt, b, dy, (OH, OW) = _case(case)
    pads = case[-1]
    xpad = np.ascontiguousarray(np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:])).transpose(1, 0, 2, 3))
    dyc = np.ascontiguousarray(dy.transpose(1, 0, 2, 3))
    y = D.forward(xpad, Wt, b, OH, OW, threads).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(y, ref.conv2d_by_windows(x, Wt, b, (1, 1), pads, (1, 1), 1), rtol=1e-12, atol=1e-12)
    dW = D.weight_grad(xpad, dyc, Wt.shape, threads)
    np.testing.assert_allclose(dW, ref.conv2d_weight_grad_by_windows(x, dy, Wt.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-11)
    dx = D.input_grad(dyc, Wt, pads, threads).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(dx, ref.conv2d_input_grad_full(dy, Wt, x.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-12)


@compiled_only
@pytest.mark.parametrize("case", GRID)
def test_conv2d_steps_take_the_direct_path_and_match_textbook_forms(case):
    x, Wt, b, dy, (OH, OW) = _case(case, seed=1)
    N, C, O, H, W, kh, kw, pads = case
    geometry = ((N, C, H, W), (O, C, kh, kw), 1, pads, (1, 1), (1, 1), (OH, OW))
    steps = K.Conv2dSteps(geometry)
    assert steps.direct and not (steps.shifts or steps.winograd)
    np.testing.assert_allclose(steps.forward(x, Wt, b), ref.conv2d_by_windows(x, Wt, b, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(steps.weight_grad(dy),
                               ref.conv2d_weight_grad_by_windows(x, dy, Wt.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(steps.input_grad(dy, rot180(Wt)),
                               ref.conv2d_input_grad_full(dy, Wt, x.shape, (1, 1), pads, (1, 1), 1),
                               rtol=1e-12, atol=1e-12)


@compiled_only
def test_float32_weight_sums_within_a_sums_rounding():
    """The weight sums add in another order than the textbook's: float32 stays within a float32
    sum's bound of the float64 textbook sum, as the GEMM's does."""
    x, Wt, b, dy, (OH, OW) = _case((16, 1, 6, 28, 28, 5, 5, (2, 2, 2, 2)), seed=2)
    x32, dy32 = x.astype(np.float32), dy.astype(np.float32)
    xpad = np.ascontiguousarray(np.pad(x32, ((0, 0), (0, 0), (2, 2), (2, 2))).transpose(1, 0, 2, 3))
    dW = D.weight_grad(xpad, np.ascontiguousarray(dy32.transpose(1, 0, 2, 3)), Wt.shape, 2)
    want = ref.conv2d_weight_grad_by_windows(x32.astype(np.float64), dy32.astype(np.float64), Wt.shape,
                                             (1, 1), (2, 2, 2, 2), (1, 1), 1)
    terms = 16 * 28 * 28
    bound = terms * np.finfo(np.float32).eps * ref.conv2d_weight_grad_by_windows(
        np.abs(x32).astype(np.float64), np.abs(dy32).astype(np.float64), Wt.shape, (1, 1), (2, 2, 2, 2), (1, 1), 1)
    assert dW.dtype == np.float32
    assert np.all(np.abs(dW - want) <= bound)


@compiled_only
def test_shares_on_blas_threads_give_the_one_thread_result():
    if blas.available() < 2:
        pytest.skip("no OpenBLAS pool to run shares on")
    x, Wt, b, dy, (OH, OW) = _case((7, 1, 6, 12, 12, 5, 5, (2, 2, 2, 2)), seed=3)
    xpad = np.ascontiguousarray(np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))).transpose(1, 0, 2, 3))
    dyc = np.ascontiguousarray(dy.transpose(1, 0, 2, 3))
    calls = []
    real_run = blas.run

    def counting_run(fn, lanes, wait=False):
        calls.append(lanes)
        return real_run(fn, lanes, wait)

    one = D.forward(xpad, Wt, b, OH, OW, 1), D.weight_grad(xpad, dyc, Wt.shape, 1)
    blas.run = counting_run
    try:
        two = D.forward(xpad, Wt, b, OH, OW, 2), D.weight_grad(xpad, dyc, Wt.shape, 2)
    finally:
        blas.run = real_run
    assert calls == [2, 2]
    np.testing.assert_array_equal(two[0], one[0])            # each image summed by the same loop
    np.testing.assert_allclose(two[1], one[1], rtol=1e-13)   # dW: two partial sums added


def test_shares_split_the_batch_into_whole_images():
    assert D._shares(7, 2) == [(0, 3), (3, 7)]
    assert D._shares(2, 2) == [(0, 1), (1, 2)]
    assert D._shares(5, 1) == [(0, 5)]


@compiled_only
def test_nn_conv2d_on_the_direct_path_matches_the_gemm_path(monkeypatch):
    """LeNet's first layer in float32, forward and every gradient, against im2col."""
    gn.manual_seed(0)
    conv = gn.nn.Conv2d(1, 6, 5, padding=2)
    x = np.random.default_rng(4).standard_normal((8, 1, 28, 28)).astype(np.float32)

    def run():
        xt = gn.from_numpy(x.copy()).requires_grad_(True)
        conv.zero_grad()
        y = conv(xt)
        (y * y).sum().backward()
        return y.numpy().copy(), xt.grad.numpy().copy(), conv.weight.grad.numpy().copy(), conv.bias.grad.numpy().copy()

    calls = []
    real = D.forward
    monkeypatch.setattr(D, "forward", lambda *a: calls.append(1) or real(*a))
    direct = run()
    assert calls                                           # the direct path ran
    monkeypatch.setattr(D, "worth_it", lambda *args: False)
    gemm = run()
    for a, b_ in zip(direct, gemm):
        np.testing.assert_allclose(a, b_, rtol=2e-5, atol=2e-5 * np.abs(b_).max())


@compiled_only
@pytest.mark.parametrize("opts", [dict(padding=1), dict(padding=(2, 0)), {}])
def test_gradcheck_on_the_direct_path(opts, monkeypatch):
    calls = []
    real = D.forward
    monkeypatch.setattr(D, "forward", lambda *a: calls.append(1) or real(*a))
    r = np.random.default_rng(8)
    x, w, b = (gn.from_numpy(r.standard_normal(s)).requires_grad_(True) for s in ((2, 2, 6, 5), (3, 2, 3, 3), (3,)))
    assert gn.gradcheck(lambda x, w, b: gn.nn.functional.conv2d(x, w, b, **opts), (x, w, b))
    assert calls


@pytest.mark.parametrize("C, O", [(1, 6), (32, 32)])
def test_float16_takes_a_gemm_path(C, O):
    """Numba has no float16 arithmetic: a float16 layer the rule would give the direct sums
    (1 -> 6) or Winograd (32 -> 32, 3x3) runs on a GEMM path and stays float16."""
    conv = gn.nn.Conv2d(C, O, 3, padding=1).to(gn.float16)
    x = gn.from_numpy(np.random.default_rng(9).standard_normal((2, C, 8, 8)).astype(np.float16)).requires_grad_(True)
    y = conv(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == conv.weight.grad.dtype == gn.float16
    assert not D.worth_it(1, 6, 5, 5, (1, 1), (1, 1), 1, (2, 2, 2, 2), np.float16)


def test_rule():
    lenet1 = dict(C=1, O=6, kh=5, kw=5, stride=(1, 1), dilation=(1, 1), groups=1, pads=(2, 2, 2, 2))
    assert D.worth_it(**lenet1) == (kernels.BACKEND == "numba")
    assert D.worth_it(**{**lenet1, "kh": 7, "kw": 2, "pads": (3, 3, 1, 1)}) == (kernels.BACKEND == "numba")
    for change in (dict(stride=(2, 2)), dict(dilation=(2, 2)), dict(groups=2, C=2), dict(pads=(5, 5, 5, 5)),
                   dict(O=D.MAX_CHANNELS + 1), dict(C=D.MAX_CHANNELS + 1)):
        assert not D.worth_it(**{**lenet1, **change}), change


# -- speed guards: each compiled sum against the same sums as NumPy passes, one per tap over
# the whole batch's flat runs. Vectorised, the compiled loops are several times faster; a
# fall-back to scalar code would be about as slow as these passes (hence by=2.5).
def _correlate_by_taps(xpad, W, b, OH, OW):
    C, N, Hp, Wp = xpad.shape
    O, _, kh, kw = W.shape
    L = (OH - 1) * Wp + OW
    flat = xpad.reshape(C, N, Hp * Wp)
    run = np.broadcast_to(b[:, None, None], (O, N, L)).copy()
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                run += W[:, c, i, j, None, None] * flat[c, None, :, i * Wp + j:i * Wp + j + L]
    return np.lib.stride_tricks.as_strided(run, (O, N, OH, OW), (run.strides[0], run.strides[1],
                                                                  Wp * run.itemsize, run.itemsize))


def _weight_sums_by_taps(xpad, dy, kh, kw):
    C, N, Hp, Wp = xpad.shape
    O, _, OH, OW = dy.shape
    L = (OH - 1) * Wp + OW
    d = np.zeros((O, N, OH, Wp), dy.dtype)
    d[..., :OW] = dy
    d = d.reshape(O, N, OH * Wp)[:, :, :L]
    flat = xpad.reshape(C, N, Hp * Wp)
    dW = np.empty((O, C, kh, kw), dy.dtype)
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                dW[:, c, i, j] = np.tensordot(d, flat[c, :, i * Wp + j:i * Wp + j + L], axes=([1, 2], [0, 1]))
    return dW


def _first_layer(N=64):
    r = np.random.default_rng(5)
    x = D.pad(r.standard_normal((1, N, 28, 28)).astype(np.float32), (2, 2, 2, 2))   # with room after it
    W, b = r.standard_normal((6, 1, 5, 5)).astype(np.float32), r.standard_normal(6).astype(np.float32)
    return x, W, b, r.standard_normal((6, N, 28, 28)).astype(np.float32)


@compiled_only
def test_numpy_passes_compute_the_same_sums():
    """The speed guards' yardsticks compute what the kernels do."""
    xpad, W, b, dy = _first_layer(N=3)
    np.testing.assert_allclose(_correlate_by_taps(xpad, W, b, 28, 28), D.forward(xpad, W, b, 28, 28, 1),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_weight_sums_by_taps(xpad, dy, 5, 5), D.weight_grad(xpad, dy, W.shape, 1),
                               rtol=1e-3, atol=1e-2)


@compiled_only
def test_compiled_correlate_is_vectorised():
    xpad, W, b, _ = _first_layer()
    y = np.empty((6, 64, 28, 28), np.float32)
    assert faster(lambda: D.correlate(xpad, W, b, y, 0, 64), lambda: _correlate_by_taps(xpad, W, b, 28, 28),
                  "the compiled correlate", "NumPy passes per tap", by=2.5)


@compiled_only
def test_compiled_weight_sums_are_vectorised():
    xpad, W, b, dy = _first_layer()
    dW = np.empty_like(W)
    # by=2, not 2.5: this yardstick's passes are BLAS dot products, and LeNet's 6 channels fill
    # only 6 of the register block's 16 columns (measured 2.9-3.3x here, the forward 5.3-7.9x)
    assert faster(lambda: D.weight_sums(xpad, dy, dW, 0, 64), lambda: _weight_sums_by_taps(xpad, dy, 5, 5),
                  "the compiled weight sums", "NumPy passes per tap", by=2)
