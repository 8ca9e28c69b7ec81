"""Every name ../shared/API.md lists exists, with the defaults it lists (a rename fails here)."""
import inspect

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F

TOP_LEVEL = ["tensor", "zeros", "ones", "randn", "rand", "arange", "eye", "from_numpy", "manual_seed", "no_grad",
             "cat", "stack", "where", "float32", "float64", "int64", "bool_", "summary", "gradcheck", "Trainer",
             "save", "load", "explain", "Tensor"]
NN = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten", "Linear", "Conv1d",
      "Conv2d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
      "MinPool2d", "SumPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell",
      "GRUCell", "Embedding", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Dropout2d", "ReLU", "LeakyReLU",
      "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "GELU", "SiLU", "MSELoss", "L1Loss", "BCELoss",
      "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]
FUNCTIONAL = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "leaky_relu", "elu", "sigmoid", "tanh",
              "softplus", "softmax", "log_softmax", "dropout", "batch_norm", "cross_entropy", "mse_loss",
              "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "pad"]
INIT = ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "zeros_", "ones_", "normal_",
        "uniform_", "constant_", "orthogonal_"]
MODULE_METHODS = ["forward", "__call__", "parameters", "named_parameters", "children", "modules", "train", "eval",
                  "zero_grad", "state_dict", "load_state_dict", "requires_grad_", "to"]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level(name):
    assert hasattr(gn, name)


@pytest.mark.parametrize("name", NN)
def test_nn(name):
    assert hasattr(gn.nn, name)


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional(name):
    assert callable(getattr(F, name))


@pytest.mark.parametrize("name", INIT)
def test_init(name):
    assert callable(getattr(gn.nn.init, name))


@pytest.mark.parametrize("name", MODULE_METHODS)
def test_module_methods(name):
    assert callable(getattr(gn.nn.Module, name))


def _defaults(fn):
    return {k: v.default for k, v in inspect.signature(fn).parameters.items() if v.default is not inspect._empty}


@pytest.mark.parametrize("cls, expected", [
    (gn.nn.Conv2d, dict(stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros")),
    (gn.nn.MaxPool2d, dict(stride=None, padding=0)),
    (gn.nn.RNN, dict(num_layers=1, nonlinearity="tanh", bias=True, batch_first=False, dropout=0.0,
                     bidirectional=False)),
    (gn.nn.Embedding, dict(padding_idx=None)),
    (gn.nn.BatchNorm2d, dict(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)),
    (gn.nn.Dropout, dict(p=0.5)),
    (gn.nn.LeakyReLU, dict(negative_slope=0.01)),
    (gn.nn.ELU, dict(alpha=1.0)),
    (gn.nn.CrossEntropyLoss, dict(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0)),
    (gn.nn.Flatten, dict(start_dim=1)),
    (gn.nn.Linear, dict(bias=True)),
    (gn.optim.SGD, dict(momentum=0, dampening=0, weight_decay=0, nesterov=False)),
    (gn.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)),
    (gn.data.DataLoader, dict(batch_size=1, shuffle=False, drop_last=False)),
    (gn.gradcheck, dict(eps=1e-6, atol=1e-5, rtol=1e-3)),
])
def test_defaults(cls, expected):
    got = _defaults(cls)
    for key, value in expected.items():
        assert got[key] == value, f"{cls.__name__}.{key}: {got[key]!r} != {value!r}"


def test_tensor_surface():
    t = gn.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    assert t.shape == (2, 2) and t.ndim == 2 and t.dtype == gn.float32
    assert isinstance(t.numpy(), np.ndarray) and np.asarray(t) is t.numpy()
    y = ((t + 1 - 2) * 3 / 4) ** 2 @ t
    y = (-y).sum(dim=0, keepdim=True).mean() + t[0, 1] + t.max() + t.min() + t.exp().log().abs().sqrt().clamp(0, 9).sum()
    y = y + t.reshape(4).view(2, 2).transpose(0, 1).permute(1, 0).flatten(0).sum()
    y = y + gn.cat([t, t]).sum() + gn.stack([t, t]).sum() + gn.where(t > 0, t, t * 2).sum()
    y.backward(grad=gn.tensor(1.0))
    assert t.grad is not None and t.grad.shape == (2, 2) and (t < 0).dtype == gn.bool_
    assert isinstance(t.sum().item(), float) and not t.detach().requires_grad
    assert gn.zeros(2, 3).to(gn.float64).dtype == gn.float64


def test_models_and_models_api():
    for name in ["lenet5", "alexnet", "vgg16", "resnet18", "char_rnn"]:
        assert callable(getattr(gn.models, name))
    assert callable(gn.nn.utils.clip_grad_norm_) and callable(gn.nn.utils.clip_grad_value_)
    for name in ["StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"]:
        assert hasattr(gn.optim.lr_scheduler, name)
    for name in ["Dataset", "TensorDataset", "DataLoader", "random_split", "load_digits", "load_mnist", "load_text"]:
        assert hasattr(gn.data, name)
