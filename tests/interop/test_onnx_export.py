"""gn.onnx.export: every exported model passes onnx.checker and runs in onnxruntime within 1e-5
of glassnet. Skipped when the optional packages are missing (pip install onnx onnxruntime)."""
from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
import glassnet.nn.functional as F

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the onnx package (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime (pip install onnxruntime)")


def run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def check_export(model, *inputs, tmp_path, opset=17, run_inputs=None, **kwargs):
    """Export, check, run in onnxruntime on ``run_inputs`` (default: the export inputs); compare."""
    model.eval()
    path = tmp_path / "model.onnx"
    gn.onnx.export(model, inputs if len(inputs) > 1 else inputs[0], path, opset_version=opset, **kwargs)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    run_inputs = run_inputs or inputs
    names = kwargs.get("input_names") or (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))])
    got = run_onnx(path, {n: np.asarray(t.numpy()) for n, t in zip(names, run_inputs)})
    with gn.no_grad():
        expected = model(*run_inputs)
    expected = [t.numpy() for t in _flat(expected)]
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == e.shape, (i, g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=f"output {i}")
    return path


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return [value]


def x(*shape, seed=0):
    return gn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


ACTIVATIONS = {
    "relu": nn.ReLU(), "leaky": nn.LeakyReLU(0.2), "elu": nn.ELU(0.5), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
    "softplus": nn.Softplus(), "softplus_beta": nn.Softplus(beta=2.0, threshold=1.0), "gelu": nn.GELU(),
    "gelu_tanh": nn.GELU(approximate="tanh"), "silu": nn.SiLU(), "softmax": nn.Softmax(dim=1),
    "log_softmax": nn.LogSoftmax(dim=-1),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mlp_with_each_activation(name, tmp_path):
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), ACTIVATIONS[name], nn.Dropout(0.3), nn.Linear(8, 3, bias=False))
    check_export(model, x(4, 6) * 3, tmp_path=tmp_path)


def test_linear_on_a_sequence_and_dynamic_batch(tmp_path):
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Flatten(), nn.Linear(12, 2))
    path = check_export(model, x(2, 3, 5), tmp_path=tmp_path,
                        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    bigger = x(7, 3, 5, seed=1)
    np.testing.assert_allclose(run_onnx(path, {"input": bigger.numpy()})[0], model(bigger).numpy(),
                               rtol=1e-5, atol=1e-5)


CONVS = {
    "plain": lambda: nn.Conv2d(4, 6, 3),
    "stride_pad": lambda: nn.Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2)),
    "dilation_groups": lambda: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False),
    "depthwise": lambda: nn.Conv2d(4, 8, 3, groups=4, padding=1),
    "same": lambda: nn.Conv2d(4, 6, 4, padding="same", dilation=2),
    "valid": lambda: nn.Conv2d(4, 6, 3, padding="valid"),
    "reflect": lambda: nn.Conv2d(4, 6, 3, padding=2, padding_mode="reflect"),
    "replicate": lambda: nn.Conv2d(4, 6, 3, padding=1, padding_mode="replicate"),
}


@pytest.mark.parametrize("name", sorted(CONVS))
def test_conv2d_options(name, tmp_path):
    gn.manual_seed(0)
    check_export(nn.Sequential(CONVS[name](), nn.ReLU()), x(2, 4, 9, 11), tmp_path=tmp_path)


def test_conv2d_circular_needs_opset_19(tmp_path):
    gn.manual_seed(0)
    model = nn.Conv2d(3, 2, 3, padding=1, padding_mode="circular")
    check_export(model, x(1, 3, 6, 7), tmp_path=tmp_path, opset=19)
    with pytest.raises(gn.onnx.ExportError, match="opset_version >= 19"):
        gn.onnx.export(model, x(1, 3, 6, 7), tmp_path / "m.onnx", opset_version=17)


@pytest.mark.parametrize("layer", [lambda: nn.Conv1d(3, 5, 3, stride=2, padding=1, dilation=1),
                                   lambda: nn.Conv1d(4, 4, 5, groups=2, dilation=2, padding="same", bias=False),
                                   lambda: nn.Conv1d(3, 5, 3, padding=1, padding_mode="reflect")])
def test_conv1d_options(layer, tmp_path):
    gn.manual_seed(0)
    model = layer()
    check_export(model, x(2, model.in_channels, 12), tmp_path=tmp_path)


POOLS = {
    "max": lambda: nn.MaxPool2d(3, stride=2, padding=1),
    "max_dilated": lambda: nn.MaxPool2d(2, stride=1, dilation=2),
    "max_ceil": lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True),
    "avg_include_pad": lambda: nn.AvgPool2d(3, stride=2, padding=1),
    "avg_exclude_pad": lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    "avg_ceil": lambda: nn.AvgPool2d(2, stride=2, ceil_mode=True),
    "avg_divisor": lambda: nn.AvgPool2d(2, divisor_override=3),
    "min": lambda: nn.MinPool2d(3, stride=2, padding=1),
    "sum": lambda: nn.SumPool2d(3, stride=2, padding=1),
    "sum_plain": lambda: nn.SumPool2d(2),
    "adaptive_avg_uneven": lambda: nn.AdaptiveAvgPool2d((3, 4)),
    "adaptive_avg_even": lambda: nn.AdaptiveAvgPool2d((3, 1)),
    "adaptive_max_uneven": lambda: nn.AdaptiveMaxPool2d((4, 3)),
    "global_avg": lambda: nn.GlobalAvgPool2d(),
    "global_max": lambda: nn.GlobalMaxPool2d(),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pooling(name, tmp_path):
    check_export(POOLS[name](), x(2, 3, 9, 7) * 2, tmp_path=tmp_path)


@pytest.mark.parametrize("layer", [lambda: nn.MaxPool1d(3, stride=2, padding=1), lambda: nn.AvgPool1d(4, stride=3),
                                   lambda: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False)])
def test_pooling_1d(layer, tmp_path):
    check_export(layer(), x(2, 3, 11), tmp_path=tmp_path)


def _trained_stats(model, *inputs):
    model.train()
    with gn.no_grad():
        model(*inputs)   # running statistics away from (0, 1)
    return model.eval()


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(affine, tmp_path):
    gn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, affine=affine), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 5 * 5, 6), nn.BatchNorm1d(6, eps=1e-3, affine=affine))
    inp = x(4, 3, 7, 7) * 2 + 1
    check_export(_trained_stats(model, inp), inp, tmp_path=tmp_path)


def test_batch_norm_1d_on_sequences(tmp_path):
    model = _trained_stats(nn.BatchNorm1d(3), x(4, 3, 5) + 2)
    check_export(model, x(4, 3, 5, seed=2), tmp_path=tmp_path)


@pytest.mark.parametrize("shape, affine", [((8,), True), ((3, 8), True), ((8,), False)])
def test_layer_norm(shape, affine, tmp_path):
    gn.manual_seed(0)
    model = nn.LayerNorm(shape, elementwise_affine=affine)
    if affine:
        model.weight.numpy()[...] = np.random.default_rng(1).uniform(0.5, 1.5, shape)
        model.bias.numpy()[...] = np.random.default_rng(2).standard_normal(shape)
    check_export(model, x(2, 3, 8) * 3 + 1, tmp_path=tmp_path)


RECURRENT = {
    "rnn_tanh": lambda: nn.RNN(4, 5),
    "rnn_relu_2layer_bf": lambda: nn.RNN(4, 5, num_layers=2, nonlinearity="relu", batch_first=True),
    "rnn_bi_nobias": lambda: nn.RNN(4, 5, bidirectional=True, bias=False),
    "lstm": lambda: nn.LSTM(4, 5),
    "lstm_2layer_bi_bf": lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True),
    "lstm_3layer_nobias": lambda: nn.LSTM(4, 3, num_layers=3, bias=False, dropout=0.5),
    "gru": lambda: nn.GRU(4, 5),
    "gru_2layer_bi_bf": lambda: nn.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True),
    "gru_bi_nobias": lambda: nn.GRU(4, 5, bidirectional=True, bias=False),
}


@pytest.mark.parametrize("name", sorted(RECURRENT))
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers(name, with_state, tmp_path):
    gn.manual_seed(0)
    model = RECURRENT[name]()
    inp = x(3, 6, 4) if model.batch_first else x(6, 3, 4)
    if not with_state:
        check_export(model, inp, tmp_path=tmp_path)
        return
    D = 2 if model.bidirectional else 1
    h0 = x(model.num_layers * D, 3, model.hidden_size, seed=3)
    state = (h0, x(model.num_layers * D, 3, model.hidden_size, seed=4)) if model.mode == "LSTM" else h0

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = model

        def forward(self, inp, h, c=None):
            return self.rnn(inp, (h, c) if c is not None else h)

    states = state if isinstance(state, tuple) else (state,)
    check_export(WithState(), inp, *states, tmp_path=tmp_path)


def test_unbatched_sequence(tmp_path):
    gn.manual_seed(0)
    check_export(nn.LSTM(4, 5, bidirectional=True), x(6, 4), tmp_path=tmp_path)


class TextClassifier(nn.Module):
    """Embedding -> 2-layer bidirectional GRU -> last step -> Linear: indexing after a layer."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6, padding_idx=0)
        self.gru = nn.GRU(6, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(10, 3)

    def forward(self, tokens):
        out, _ = self.gru(self.embed(tokens))
        return F.log_softmax(self.head(out[:, -1]), dim=-1)


def test_embedding_recurrent_classifier(tmp_path):
    gn.manual_seed(0)
    tokens = gn.tensor(np.random.default_rng(0).integers(0, 20, (3, 7)), dtype=gn.int64)
    check_export(TextClassifier(), tokens, tmp_path=tmp_path, input_names=["tokens"], output_names=["logp"])


class Mixed(nn.Module):
    """Residual addition, concatenation, reshape, permute, slicing, mean, arithmetic with constants."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)
        self.head = nn.Linear(8, 2)

    def forward(self, inp):
        y = F.relu(self.a(inp)) + self.b(inp) * 0.5          # residual-style sum
        z = gn.cat([y, inp[:, :1].expand(-1, 4, -1, -1) - 1.0], 1)   # (N, 8, H, W)
        z = z.permute(0, 2, 3, 1)[:, 1:, ::2]                 # (N, H-1, ceil(W/2), 8)
        pooled = z.mean(dim=(1, 2))                           # (N, 8)
        return self.head(pooled).reshape(-1, 2, 1).squeeze(-1).clamp(-1.0, 1.0) / 2 + pooled.sum(1, keepdim=True).tanh()


def test_residual_concat_and_tensor_ops(tmp_path):
    gn.manual_seed(0)
    check_export(Mixed(), x(2, 3, 6, 5), tmp_path=tmp_path)


def test_resnet18_exports(tmp_path):
    gn.manual_seed(0)
    model = gn.models.resnet18(num_classes=10)
    check_export(_trained_stats(model, x(4, 3, 32, 32)), x(2, 3, 32, 32, seed=1), tmp_path=tmp_path)


@pytest.mark.slow
def test_googlenet_exports(tmp_path):
    gn.manual_seed(0)
    model = gn.models.googlenet(num_classes=10, transform_input=True)
    check_export(model, x(1, 3, 64, 64), tmp_path=tmp_path)


def test_lenet5_parameters_keep_their_state_dict_names(tmp_path):
    gn.manual_seed(0)
    model = gn.models.lenet5()
    path = check_export(model, x(2, 1, 28, 28), tmp_path=tmp_path)
    names = {init.name for init in onnx.load(str(path)).graph.initializer}
    assert {k for k in model.state_dict()} <= names


def test_unsupported_operation_is_named(tmp_path):
    class Odd(nn.Module):
        def forward(self, inp):
            return inp.var(dim=1)

    with pytest.raises(gn.onnx.ExportError, match="'Var'"):
        gn.onnx.export(Odd(), x(2, 3), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_export_leaves_training_mode_and_patches_as_they_were(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5)).train()
    call, apply = nn.Module.__call__, gn.autograd.function.Function.__dict__["apply"]
    gn.onnx.export(model, x(2, 3), tmp_path / "m.onnx")
    assert model.training
    assert nn.Module.__call__ is call and gn.autograd.function.Function.__dict__["apply"] is apply


class Functional(nn.Module):
    """Layers called as functions (F.*) rather than modules: recorded operation by operation."""

    def forward(self, inp):
        y = F.gelu(inp) + F.softplus(inp, beta=2.0) + F.leaky_relu(inp, 0.1) + F.elu(inp) + F.silu(inp)
        y = F.adaptive_avg_pool2d(y, (2, 3)) + F.adaptive_max_pool2d(inp, (2, 3))
        return F.softmax(y.flatten(1), dim=1)


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_functional_calls_and_opsets(opset, tmp_path):
    check_export(Functional(), x(2, 3, 5, 7), tmp_path=tmp_path, opset=opset)
    gn.manual_seed(0)
    check_export(Mixed(), x(2, 3, 6, 5), tmp_path=tmp_path, opset=opset)


def test_ceil_mode_window_in_the_padding_is_refused(tmp_path):
    # torch (and glassnet) drop a last window that would start in the right padding; ONNX keeps it
    model = nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)
    assert model(x(1, 1, 5, 5)).shape == (1, 1, 3, 3)
    with pytest.raises(gn.onnx.ExportError, match="ceil_mode=True gives 3 outputs .* ONNX's pooling gives 4"):
        gn.onnx.export(model, x(1, 1, 5, 5), tmp_path / "m.onnx")


def test_recurrent_with_lengths_is_refused(tmp_path):
    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(4, 3)

        def forward(self, inp):
            return self.rnn(inp, lengths=[5, 3])[0]

    with pytest.raises(gn.onnx.ExportError, match="without lengths"):
        gn.onnx.export(Padded(), x(5, 2, 4), tmp_path / "m.onnx")


def test_missing_onnx_package_is_named(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[onnx\]'"):
        gn.onnx.export(nn.Linear(2, 2), x(1, 2), tmp_path / "m.onnx")


class FunctionalConv(nn.Module):
    """F.conv2d and F.conv1d with the module's parameters, called from a user's forward."""

    def __init__(self):
        super().__init__()
        self.w2 = gn.nn.Parameter(gn.randn(4, 2, 3, 2))
        self.b2 = gn.nn.Parameter(gn.randn(4))
        self.w1 = gn.nn.Parameter(gn.randn(3, 4, 3))

    def forward(self, inp):
        y = F.conv2d(inp, self.w2, self.b2, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
        seq = y.mean(dim=2)                                   # (N, 4, L)
        return F.conv1d(seq, self.w1, padding=1, stride=2)


def test_functional_convolutions(tmp_path):
    gn.manual_seed(0)
    check_export(FunctionalConv(), x(2, 4, 7, 9), tmp_path=tmp_path)
