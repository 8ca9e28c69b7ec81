"""The model zoo: parameter counts against the published numbers, torchvision's state_dict keys,
and forward passes on small inputs (never a full-size VGG: the test machine is small)."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.models as models

_LAYERS = ("Conv2d", "MaxPool2d", "AdaptiveAvgPool2d")
pytestmark = pytest.mark.skipif(
    not all(hasattr(gn.nn, name) for name in _LAYERS),
    reason="the model zoo needs gn.nn.Conv2d, MaxPool2d and AdaptiveAvgPool2d (glassnet/nn/modules/conv.py, "
           "pooling.py), which are not there yet")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- AlexNet
def test_alexnet_layer_parameter_counts_match_the_notes():
    model = models.alexnet()
    f, c = model.features, model.classifier
    counts = [n_params(m) for m in (f[0], f[3], f[6], f[8], f[10], c[1], c[4], c[6])]
    assert counts == [34_944, 614_656, 885_120, 1_327_488, 884_992, 37_752_832, 16_781_312, 4_097_000]
    assert n_params(model) == 62_378_344
    assert list(model.state_dict()) == [f"{p}.{w}" for p in ("features.0", "features.3", "features.6",
                                                             "features.8", "features.10", "classifier.1",
                                                             "classifier.4", "classifier.6")
                                        for w in ("weight", "bias")]


def test_alexnet_output_shapes_at_227():
    model = models.alexnet(num_classes=7).eval()
    shapes = {}
    for i in (0, 2, 3, 5, 6, 8, 10, 12):
        model.features[i].register_forward_hook(lambda m, inp, out, i=i: shapes.__setitem__(i, out.shape[1:]))
    with gn.no_grad():
        y = model(gn.randn(1, 3, 227, 227))
    assert y.shape == (1, 7)
    assert shapes == {0: (96, 55, 55), 2: (96, 27, 27), 3: (256, 27, 27), 5: (256, 13, 13), 6: (384, 13, 13),
                      8: (384, 13, 13), 10: (256, 13, 13), 12: (256, 6, 6)}


# ------------------------------------------------------------------------------- VGG
def _vgg_keys(conv_indices, bn=False):
    keys = []
    for i in conv_indices:
        keys += [f"features.{i}.weight", f"features.{i}.bias"]
        if bn:
            keys += [f"features.{i + 1}.{k}" for k in ("weight", "bias", "running_mean", "running_var",
                                                       "num_batches_tracked")]
    return keys + [f"classifier.{i}.{k}" for i in (0, 3, 6) for k in ("weight", "bias")]


# torchvision's feature indices of the convolutions (batch norm: the BatchNorm2d sits at index + 1)
VGG16_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
VGG16_BN_CONVS = [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40]


@pytest.mark.parametrize("name, count", [("vgg11", 132_863_336), ("vgg16", 138_357_544), ("vgg19", 143_667_240)])
def test_vgg_parameter_counts(name, count):
    model = getattr(models, name)()
    assert n_params(model) == count
    if name == "vgg16":
        assert list(model.state_dict()) == _vgg_keys(VGG16_CONVS)


def test_vgg16_bn_keys_and_count():
    model = models.vgg16(batch_norm=True)
    assert n_params(model) == 138_365_992
    assert list(model.state_dict()) == _vgg_keys(VGG16_BN_CONVS, bn=True)


def test_vgg11_forward_small_input():
    model = models.vgg11(num_classes=10, batch_norm=True)
    # 32x32 reaches 1x1 after five pools; the adaptive pool spreads it to the classifier's 7x7
    y = model(gn.randn(2, 3, 32, 32))
    assert y.shape == (2, 10) and y.dtype == np.float32


# ---------------------------------------------------------------------------- ResNet
def _resnet_keys(block_counts, bottleneck):
    convs = ["conv1", "conv2", "conv3"] if bottleneck else ["conv1", "conv2"]
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight"] + [f"bn1.{k}" for k in bn]
    for stage, blocks in enumerate(block_counts, start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            for i, conv in enumerate(convs, start=1):
                keys += [f"{p}.{conv}.weight"] + [f"{p}.bn{i}.{k}" for k in bn]
            if b == 0 and (stage > 1 or bottleneck):
                keys += [f"{p}.downsample.0.weight"] + [f"{p}.downsample.1.{k}" for k in bn]
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("name, count, blocks, bottleneck, n_keys", [
    ("resnet18", 11_689_512, [2, 2, 2, 2], False, 122),
    ("resnet34", 21_797_672, [3, 4, 6, 3], False, 218),
    ("resnet50", 25_557_032, [3, 4, 6, 3], True, 320)])
def test_resnet_counts_and_torchvision_keys(name, count, blocks, bottleneck, n_keys):
    model = getattr(models, name)()
    assert n_params(model) == count
    keys = list(model.state_dict())
    assert len(keys) == n_keys
    assert keys == _resnet_keys(blocks, bottleneck)
    assert keys[:7] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked", "layer1.0.conv1.weight"]
    assert "layer2.0.downsample.0.weight" in keys and keys[-2:] == ["fc.weight", "fc.bias"]


def test_resnet18_forward_backward_small_input():
    model = models.resnet18(num_classes=10)
    x = gn.randn(2, 3, 32, 32)
    y = model(x)                       # 32 -> 16 -> 8 -> 8 -> 4 -> 2 -> 1
    assert y.shape == (2, 10)
    y.sum().backward()
    assert model.conv1.weight.grad.shape == (64, 3, 7, 7)
    assert int(model.bn1.num_batches_tracked.item()) == 1
    model.eval()
    assert model(gn.randn(1, 3, 32, 32)).shape == (1, 10)


def test_resnet50_forward_small_input():
    model = models.resnet50(num_classes=5).eval()
    with gn.no_grad():
        assert model(gn.randn(1, 3, 32, 32)).shape == (1, 5)


def test_resnet_state_dict_round_trip():
    a, b = models.resnet18(num_classes=3), models.resnet18(num_classes=3)
    a(gn.randn(2, 3, 32, 32))           # move the running statistics off their initial values
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = gn.randn(1, 3, 32, 32)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


# ------------------------------------------------------------------ LeNet-5 and the digits CNN
def test_lenet5():
    model = models.lenet5()
    assert n_params(model) == 61_706
    y = model(gn.randn(2, 1, 28, 28))
    assert y.shape == (2, 10)
    assert model.features[3](gn.randn(1, 6, 14, 14)).shape == (1, 16, 10, 10)


def test_digits_cnn_shapes():
    model = models.digits_cnn()
    assert model(gn.randn(4, 1, 8, 8)).shape == (4, 10)
    assert model(gn.randn(3, 64)).shape == (3, 10)          # flat rows, as load_digits returns them
    assert models.digits_cnn(num_classes=5).eval()(gn.randn(1, 1, 8, 8)).shape == (1, 5)
    assert model.features(gn.randn(2, 1, 8, 8)).shape == (2, 64, 4, 4)
