import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_pooling import CASES  # tests/fixtures is on sys.path (conftest)


def _distinct(rng, *shape):
    """A float64 tensor whose entries are a shuffled grid 0.1 apart: max / min never tie,
    and a finite-difference step of 1e-6 never changes which entry wins."""
    a = rng.np.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0
    return gn.tensor(a, dtype=gn.float64, requires_grad=True)


@pytest.mark.parametrize("fn, opts", [
    (F.max_pool2d, dict(kernel_size=2)),                                     # tiling fast path
    (F.max_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (F.max_pool2d, dict(kernel_size=3, stride=1, ceil_mode=True)),
    (F.max_pool2d, dict(kernel_size=2, stride=2, ceil_mode=True)),
    (F.max_pool2d, dict(kernel_size=(2, 3), stride=1, dilation=2, padding=1)),
    (F.min_pool2d, dict(kernel_size=2)),
    (F.min_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (F.avg_pool2d, dict(kernel_size=2)),
    (F.avg_pool2d, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    (F.avg_pool2d, dict(kernel_size=2, stride=1, divisor_override=3)),
    (F.sum_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (F.adaptive_avg_pool2d, dict(output_size=(3, 2))),
    (F.adaptive_max_pool2d, dict(output_size=(3, 2))),
])
def test_pool2d_gradcheck(fn, opts, rng):
    x = _distinct(rng, 2, 2, 7, 5)
    assert gn.gradcheck(lambda x: fn(x, **opts), (x,))


@pytest.mark.parametrize("fn, opts", [
    (F.max_pool1d, dict(kernel_size=3, stride=2, padding=1)),
    (F.max_pool1d, dict(kernel_size=2, ceil_mode=True)),
    (F.avg_pool1d, dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
])
def test_pool1d_gradcheck(fn, opts, rng):
    x = _distinct(rng, 2, 3, 9)
    assert gn.gradcheck(lambda x: fn(x, **opts), (x,))


def test_global_pools_gradcheck(rng):
    x = _distinct(rng, 2, 3, 4, 5)
    assert gn.gradcheck(gn.nn.GlobalAvgPool2d(), (x,))
    assert gn.gradcheck(gn.nn.GlobalMaxPool2d(), (x,))


def _run(case, x):
    kind, args = case["kind"], case["args"]
    if kind[0].isupper():
        return getattr(gn.nn, kind)(**args)(x)
    return getattr(F, kind)(x, **args)


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_pool_matches_torch(case_name, fixtures):
    case, ref = CASES[case_name], fixtures[case_name]
    x = gn.tensor(ref["x"], requires_grad=True)
    out = _run(case, x)
    y, indices = out if isinstance(out, tuple) else (out, None)
    y.backward(gn.tensor(ref["dy"]))
    for got, key in [(y, "y"), (x.grad, "dx")]:
        assert got.shape == ref[key].shape, key
        np.testing.assert_allclose(got.numpy(), ref[key], rtol=1e-6, atol=1e-12, err_msg=f"{case_name}: {key}")
    assert (indices is None) == ("indices" not in ref)
    if indices is not None:
        assert indices.dtype == gn.int64
        np.testing.assert_array_equal(indices.numpy(), ref["indices"])


def test_max_pool_ties_go_to_first_in_window_order():
    # torch CPU: the first maximum in row-major window order gets the whole gradient
    x = gn.tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    for opts in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        x.grad = None
        y, idx = F.max_pool2d(x, return_indices=True, **opts)
        y.sum().backward()
        oh, ow = y.shape[-2:]
        s = opts.get("stride", 2)
        p = opts.get("padding", 0)
        first = [max(i * s - p, 0) * 4 + max(j * s - p, 0) for i in range(oh) for j in range(ow)]
        assert idx.numpy().ravel().tolist() == first
        expected = np.zeros(16)
        for f in first:
            expected[f] += 1
        np.testing.assert_array_equal(x.grad.numpy().ravel(), expected)


def test_pool_float32_stays_float32():
    x = gn.randn(2, 3, 8, 8, requires_grad=True)
    for layer in (gn.nn.MaxPool2d(2), gn.nn.MaxPool2d(3, 2, 1), gn.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                  gn.nn.AdaptiveAvgPool2d(3), gn.nn.AdaptiveMaxPool2d(3), gn.nn.SumPool2d(2)):
        x.grad = None
        y = layer(x)
        y.sum().backward()
        assert y.dtype == gn.float32 and x.grad.dtype == gn.float32, layer


def test_pool_reprs_match_torch():
    assert repr(gn.nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(gn.nn.MaxPool1d(3, 2)) == "MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(gn.nn.AvgPool2d(3, padding=1, ceil_mode=True)) == "AvgPool2d(kernel_size=3, stride=3, padding=1)"
    assert repr(gn.nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(gn.nn.AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"


def test_pool_empty_output_raises():
    with pytest.raises(gn.ShapeError, match=r"layer MaxPool2d\(.*computed output size \(0, 0\).*\(2, 2\)"):
        gn.nn.MaxPool2d(3)(gn.zeros(1, 1, 2, 2))
    with pytest.raises(gn.ShapeError, match=r"avg_pool1d: computed output size \(0,\)"):
        F.avg_pool1d(gn.zeros(1, 1, 2), 3)
    with pytest.raises(ValueError, match="pad should be at most half"):
        F.max_pool2d(gn.zeros(1, 1, 5, 5), 3, padding=2)


def test_pool_wrong_ndim_names_expected_shape():
    with pytest.raises(gn.ShapeError, match=r"layer 'pool' MaxPool2d\(.*4-d input of shape \(N, C, H, W\).*\(5, 5\)"):
        model = gn.nn.Sequential()
        model.add_module("pool", gn.nn.MaxPool2d(2))
        model(gn.zeros(5, 5))
    with pytest.raises(gn.ShapeError, match=r"\(N, C, L\).*\(1, 1, 4, 4\)"):
        F.max_pool1d(gn.zeros(1, 1, 4, 4), 2)
    with pytest.raises(gn.ShapeError, match=r"\(N, C, H, W\)"):
        gn.nn.GlobalAvgPool2d()(gn.zeros(3, 4))
