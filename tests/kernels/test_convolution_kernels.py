"""Every convolution path (im2col and shifted rows, one chunk and many), called directly,
against the textbook forms in tests/functions/reference.py, in float64 over a grid of
strides, paddings, dilations, groups and channel counts."""
import pathlib
import sys

import numpy as np
import pytest

from glassnet.functions.convolution import rot180
from glassnet.kernels import conv_shifts
from glassnet.kernels import convolution as K

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "functions"))
import reference as ref  # noqa: E402  (tests/functions/reference.py)

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
