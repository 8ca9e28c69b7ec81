"""Every convolution path (im2col and shifted rows, one chunk and many), called directly,
against the textbook forms in tests/functions/reference.py, in float64 over a grid of
strides, paddings, dilations, groups and channel counts; the weight gradient's sum over
pixels (both twins) against a float64 sum, and a speed guard for its compiled twin."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet.functions.convolution import rot180
from glassnet.kernels import conv_direct, conv_shifts
from glassnet.kernels import convolution as K

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

GRID = [  # (N, C, O, H, W, kh, kw, stride, pads (top, bottom, left, right), dilation, groups)
    (2, 3, 4, 6, 5, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 4, 6, 7, 6, 3, 2, (1, 1), (2, 1, 0, 1), (1, 2), 2),
    (1, 2, 3, 7, 8, 2, 3, (2, 1), (0, 0, 1, 1), (1, 1), 1),
    (2, 4, 4, 9, 7, 3, 3, (2, 2), (1, 2, 2, 1), (2, 1), 2),
    (3, 1, 2, 5, 5, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 6, 3, 6, 6, 3, 1, (1, 3), (1, 1, 0, 0), (1, 1), 3),
    (2, 5, 5, 8, 5, 4, 2, (1, 1), (0, 0, 0, 0), (2, 2), 1),
]


def _geometry(case):
    N, C, O, H, W, kh, kw, stride, pads, dilation, groups = case
    OH = (H + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (W + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return ((N, C, H, W), (O, C // groups, kh, kw), groups, pads, stride, dilation, (OH, OW))


# every case on the im2col path, and the stride-1 ones on the shifted rows too (that path is for stride 1)
PATHS = [(case, False) for case in GRID] + [(case, True) for case in GRID if case[7] == (1, 1)]


@pytest.mark.parametrize("case, shifts", PATHS)
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_conv2d_steps_match_textbook_forms(case, shifts, chunk_bytes, monkeypatch):
    geometry = _geometry(case)
    (N, C, H, W), Wshape, groups, pads, stride, dilation, (OH, OW) = geometry
    monkeypatch.setattr(conv_shifts, "worth_it", lambda *args: shifts)
    monkeypatch.setattr(conv_direct, "worth_it", lambda *args: False)   # its own tests: test_conv_direct.py
    if chunk_bytes is not None:
        monkeypatch.setattr(K, "CHUNK_BYTES", chunk_bytes)       # one sample / one output row per block
    r = np.random.default_rng(hash(case) % 1000)
    x, Wt, b = r.standard_normal((N, C, H, W)), r.standard_normal(Wshape), r.standard_normal(Wshape[0])
    dy = r.standard_normal((N, Wshape[0], OH, OW))

    steps = K.Conv2dSteps(geometry)
    assert steps.shifts == shifts
    y = steps.forward(x, Wt, b)
    np.testing.assert_allclose(y, ref.conv2d_by_windows(x, Wt, b, stride, pads, dilation, groups),
                               rtol=1e-12, atol=1e-12)
    dW = steps.weight_grad(dy)
    dx = steps.input_grad(dy, rot180(Wt))
    np.testing.assert_allclose(dW, ref.conv2d_weight_grad_by_windows(x, dy, Wshape, stride, pads, dilation, groups),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref.conv2d_input_grad_full(dy, Wt, x.shape, stride, pads, dilation, groups),
                               rtol=1e-12, atol=1e-12)


def test_input_grad_alone_matches_full_correlation():
    """dx asked for without dW (a frozen layer): the shifted path's separate sweep."""
    case = GRID[0]
    geometry = _geometry(case)
    (N, C, H, W), Wshape, groups, pads, stride, dilation, (OH, OW) = geometry
    r = np.random.default_rng(1)
    x, Wt, dy = r.standard_normal((N, C, H, W)), r.standard_normal(Wshape), r.standard_normal((N, Wshape[0], OH, OW))
    steps = K.Conv2dSteps(geometry, keep_input=False)
    steps.forward(x, Wt, None)
    np.testing.assert_allclose(steps.input_grad(dy, rot180(Wt)),
                               ref.conv2d_input_grad_full(dy, Wt, x.shape, stride, pads, dilation, groups),
                               rtol=1e-12, atol=1e-12)


def test_textbook_input_grad_is_the_adjoint_of_the_textbook_forward():
    """<dy, conv(x)> = <dx, x> for the reference forms themselves, so the full correlation with
    the flipped kernel is checked against the forward it claims to differentiate."""
    geometry = _geometry(GRID[3])
    (N, C, H, W), Wshape, groups, pads, stride, dilation, (OH, OW) = geometry
    r = np.random.default_rng(2)
    x, Wt, dy = r.standard_normal((N, C, H, W)), r.standard_normal(Wshape), r.standard_normal((N, Wshape[0], OH, OW))
    y = ref.conv2d_by_windows(x, Wt, None, stride, pads, dilation, groups)
    dx = ref.conv2d_input_grad_full(dy, Wt, x.shape, stride, pads, dilation, groups)
    assert np.isclose((dy * y).sum(), (dx * x).sum(), rtol=1e-12)


# (G, M, K, P): results on both sides of SMALL_RESULT, edges of the 4 x 2 tiles, pixel counts
# around the 2048-pixel blocks, an empty batch
SUMS = [(1, 25, 6, 5000), (2, 9, 3, 2049), (1, 4, 2, 2048), (3, 5, 1, 37), (1, 1, 1, 1), (1, 7, 5, 0),
        (1, 27, 32, 300), (2, 75, 6, 4100)]


@pytest.mark.parametrize("twin", [K.sum_of_products_numba, K.sum_of_products_numpy], ids=["compiled", "numpy"])
@pytest.mark.parametrize("shape", SUMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_of_products_twins_match_a_float64_sum(twin, shape, dtype):
    G, M, Kn, P = shape
    r = np.random.default_rng(P + M)
    a, b = r.standard_normal((G, M, P)), r.standard_normal((G, Kn, P))
    out = twin(a.astype(dtype), b.astype(dtype))
    assert out.shape == (G, M, Kn) and out.dtype == dtype
    exact = np.einsum("gmp,gkp->gmk", a, b)
    # a sum of P rounded products is within about sqrt(P) eps sum_p |a_p b_p| of the exact sum
    # (the statistical form of the bound P eps sum |a_p b_p|): whichever order the twin adds in
    bound = max(P, 1) ** 0.5 * np.finfo(dtype).eps * np.einsum("gmp,gkp->gmk", np.abs(a), np.abs(b))
    assert np.all(np.abs(out - exact) <= bound)


def test_sum_of_products_rule_sends_small_results_to_the_loop_and_the_rest_to_blas(monkeypatch):
    """At most SMALL_RESULT entries a group, in float32/float64 and C order: the compiled loop;
    anything else: the one BLAS product."""
    calls = []
    monkeypatch.setattr(K, "_sum_of_products_loop", lambda a, b, out: calls.append(a.shape[1:2] + b.shape[1:2]))
    f32 = np.ones((1, 64, 10), np.float32)
    K.sum_of_products_numba(f32[:, :25], f32[:, :6])                  # 150 entries (LeNet's first layer)
    K.sum_of_products_numba(f32[:, :16], f32[:, :32])                 # 512: the limit, still the loop
    assert calls == [(25, 6), (16, 32)]
    K.sum_of_products_numba(f32[:, :27], f32[:, :32])                 # 864: BLAS
    K.sum_of_products_numba(f32[:, :25, ::2], f32[:, :6, ::2])        # strided pixels: BLAS
    K.sum_of_products_numba(f32[:, :25].astype(np.float16), f32[:, :6].astype(np.float16))   # float16: BLAS
    assert calls == [(25, 6), (16, 32)]


@pytest.mark.skipif(K.sum_of_products is K.sum_of_products_numpy, reason="NumPy backend: no compiled twin")
def test_compiled_sum_of_products_is_faster_than_its_twin():
    """LeNet-5's first layer: dW (6 x 25) summed over 128 x 28 x 28 pixels."""
    r = np.random.default_rng(0)
    cols, dy = r.standard_normal((1, 25, 100352)).astype(np.float32), r.standard_normal((1, 6, 100352)).astype(np.float32)
    assert faster(lambda: K.sum_of_products_numba(cols, dy), lambda: K.sum_of_products_numpy(cols, dy), repeats=5)
