import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F

POOLS = ["MaxPool1d", "MaxPool2d", "MinPool2d", "AvgPool1d", "AvgPool2d", "SumPool2d", "AdaptiveAvgPool2d",
         "AdaptiveMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d"]


def test_exports():
    for name in ["Conv1d", "Conv2d"] + POOLS:
        assert hasattr(gn.nn, name), name
    for name in ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
                 "adaptive_max_pool2d", "min_pool2d", "sum_pool2d"]:
        assert hasattr(F, name), name


def test_conv_parameters_and_state_dict():
    layer = gn.nn.Conv1d(4, 6, 5, groups=2, bias=False)
    assert layer.weight.shape == (6, 2, 5) and layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    assert sum(p.numel() for p in layer.parameters()) == 60
    conv = gn.nn.Conv2d(3, 8, (3, 5))
    assert {k: tuple(v.shape) for k, v in conv.state_dict().items()} == {"weight": (8, 3, 3, 5), "bias": (8,)}
    assert conv.weight.dtype == gn.float32
    conv.to(gn.float64)
    assert conv.weight.dtype == gn.float64 and conv(gn.randn(1, 3, 6, 6, dtype=gn.float64)).dtype == gn.float64


def test_conv_init_is_seeded_and_bounded():
    gn.manual_seed(3)
    a = gn.nn.Conv1d(2, 4, 3).weight.numpy().copy()
    gn.manual_seed(3)
    b = gn.nn.Conv1d(2, 4, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1 / np.sqrt(2 * 3)


@pytest.mark.parametrize("k, d", [(3, 1), (4, 1), (5, 2), (2, 3)])
def test_same_padding_keeps_size(k, d):
    x = gn.randn(2, 3, 7, 6)
    assert gn.nn.Conv2d(3, 2, k, padding="same", dilation=d)(x).shape == (2, 2, 7, 6)
    assert gn.nn.Conv1d(3, 2, k, padding="same", dilation=d)(gn.randn(2, 3, 9)).shape == (2, 2, 9)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_unbatched_input_equals_batch_of_one(mode):
    gn.manual_seed(0)
    conv = gn.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode)
    x = gn.randn(2, 5, 4)
    y = conv(x)
    assert y.shape == (3, 5, 4)
    np.testing.assert_allclose(y.numpy(), conv(x.reshape(1, 2, 5, 4)).numpy()[0], rtol=1e-6)
    assert gn.nn.MaxPool2d(2)(x).shape == (2, 2, 2)
    assert gn.nn.Conv1d(2, 3, 3, padding_mode=mode, padding=1)(gn.randn(2, 7)).shape == (3, 7)


def test_pool_output_shapes():
    x = gn.randn(2, 3, 7, 9)
    assert gn.nn.MaxPool2d(2)(x).shape == (2, 3, 3, 4)
    assert gn.nn.MaxPool2d(2, ceil_mode=True)(x).shape == (2, 3, 4, 5)
    assert gn.nn.AvgPool2d(3, 2, 1)(x).shape == (2, 3, 4, 5)
    assert gn.nn.SumPool2d(3)(x).shape == (2, 3, 2, 3)
    assert gn.nn.AdaptiveAvgPool2d((2, None))(x).shape == (2, 3, 2, 9)
    assert gn.nn.GlobalAvgPool2d()(x).shape == (2, 3, 1, 1)
    assert gn.nn.GlobalMaxPool2d()(x).shape == (2, 3, 1, 1)
    y, idx = gn.nn.MaxPool2d(3, 2, return_indices=True)(x)
    assert y.shape == idx.shape == (2, 3, 3, 4) and idx.dtype == gn.int64
    y, idx = gn.nn.AdaptiveMaxPool2d(3, return_indices=True)(x)
    np.testing.assert_array_equal(np.take_along_axis(x.numpy().reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), -1),
                                  y.numpy().reshape(2, 3, -1))


def test_global_pools_compute_channel_mean_and_max():
    x = gn.randn(2, 3, 4, 5)
    np.testing.assert_allclose(gn.nn.GlobalAvgPool2d()(x).numpy()[..., 0, 0], x.numpy().mean((2, 3)), rtol=1e-6)
    np.testing.assert_array_equal(gn.nn.GlobalMaxPool2d()(x).numpy()[..., 0, 0], x.numpy().max((2, 3)))


def test_min_and_sum_pool_relations():
    x = gn.randn(2, 2, 6, 7, dtype=gn.float64)
    np.testing.assert_allclose(gn.nn.MinPool2d(3, 2, 1)(x).numpy(), -F.max_pool2d(-x, 3, 2, 1).numpy())
    np.testing.assert_allclose(gn.nn.SumPool2d(2, 1, 1)(x).numpy(), F.avg_pool2d(x, 2, 1, 1).numpy() * 4, rtol=1e-12)


def test_small_cnn_learns():
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3, padding=1), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                             gn.nn.Conv2d(4, 4, 3, padding="same"), gn.nn.ReLU(), gn.nn.GlobalAvgPool2d(),
                             gn.nn.Flatten(), gn.nn.Linear(4, 2))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    labels = (x[:, 0, :4].sum((1, 2)) > x[:, 0, 4:].sum((1, 2))).astype(np.int64)
    x, t = gn.tensor(x), gn.tensor(labels)
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        losses.append(loss.item())
        for p in model.parameters():
            p._data -= 0.1 * p.grad.numpy()
    assert losses[-1] < 0.8 * losses[0]
