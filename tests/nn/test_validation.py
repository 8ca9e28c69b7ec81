"""What layers refuse, and how they say it (issue #15): one input rule for every layer, checked in
``Module.__call__``, and constructors that check their arguments, each compared with torch.

The input rule is torch's: a floating input whose dtype differs from the layer's parameters is an
error naming both; integer, complex, object and string inputs are refused; a NumPy array or a list
gets told to become a Tensor. Embedding takes integer indices; losses take integer targets.
"""
import importlib.util
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputTypeError, ShapeError

nn = gn.nn
HAS_TORCH = importlib.util.find_spec("torch") is not None

# layer factory (called the same way on glassnet's nn and torch's nn), a valid float32 input shape
LAYERS = {
    "Linear": (lambda m: m.Linear(3, 2), (4, 3)),
    "Conv1d": (lambda m: m.Conv1d(3, 2, 3), (2, 3, 8)),
    "Conv2d": (lambda m: m.Conv2d(3, 2, 3), (2, 3, 8, 8)),
    "MaxPool2d": (lambda m: m.MaxPool2d(2), (2, 3, 8, 8)),
    "AvgPool2d": (lambda m: m.AvgPool2d(2), (2, 3, 8, 8)),
    "AdaptiveAvgPool2d": (lambda m: m.AdaptiveAvgPool2d(2), (2, 3, 8, 8)),
    "BatchNorm1d": (lambda m: m.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda m: m.BatchNorm2d(3), (2, 3, 4, 4)),
    "LayerNorm": (lambda m: m.LayerNorm(3), (4, 3)),
    "ReLU": (lambda m: m.ReLU(), (4, 3)),
    "Sigmoid": (lambda m: m.Sigmoid(), (4, 3)),
    "Softmax": (lambda m: m.Softmax(dim=1), (4, 3)),
    "Dropout": (lambda m: m.Dropout(0.5), (4, 3)),
    "RNN": (lambda m: m.RNN(3, 2), (5, 1, 3)),
    "LSTM": (lambda m: m.LSTM(3, 2, batch_first=True), (1, 5, 3)),
    "GRU": (lambda m: m.GRU(3, 2), (5, 1, 3)),
    "LSTMCell": (lambda m: m.LSTMCell(3, 2), (4, 3)),
}
WITH_PARAMETERS = ["Linear", "Conv1d", "Conv2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "RNN", "LSTM",
                   "GRU", "LSTMCell"]


def _input(shape, dtype):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_takes_a_float32_tensor(name):
    make, shape = LAYERS[name]
    make(nn)(gn.tensor(_input(shape, np.float32)))


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("wrap", ["ndarray", "list"])
def test_arrays_and_lists_are_told_to_become_tensors(name, wrap):
    make, shape = LAYERS[name]
    x = _input(shape, np.float32)
    with pytest.raises(InputTypeError, match=rf"{name}.*got {'numpy.ndarray' if wrap == 'ndarray' else 'list'}"
                                             rf".*wrap it with gn.tensor"):
        make(nn)(x if wrap == "ndarray" else x.tolist())


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "complex128", "complex64"])
def test_integer_boolean_and_complex_inputs_are_refused(name, dtype):
    make, shape = LAYERS[name]
    x = gn.tensor(_input(shape, np.float64).astype(dtype))
    with pytest.raises(InputTypeError, match=rf"{name}.*floating-point input.*got {dtype}"):
        make(nn)(x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_object_and_string_inputs_are_refused(name):
    make, shape = LAYERS[name]
    for x, what in [(gn.Tensor._wrap(np.empty(shape, dtype=object)), "object"), ("abc", "str")]:
        with pytest.raises(InputTypeError, match=rf"{name}.*got {what}"):
            make(nn)(x)


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_float64_input_to_a_float32_layer_names_both_dtypes(name):
    make, shape = LAYERS[name]
    with pytest.raises(InputTypeError, match=rf"{name}.*float64 input.*float32 parameters"):
        make(nn)(gn.tensor(_input(shape, np.float64)))
    make(nn).double()(gn.tensor(_input(shape, np.float64)))          # converting the layer fixes it


@pytest.mark.parametrize("name", sorted(set(LAYERS) - set(WITH_PARAMETERS)))
def test_layers_without_parameters_take_either_float_dtype(name):
    make, shape = LAYERS[name]
    y = make(nn)(gn.tensor(_input(shape, np.float64)))
    assert y.dtype == gn.float64


@pytest.mark.parametrize("dims", [1, 2])
def test_batch_norm_without_affine_takes_the_dtype_of_its_running_statistics(dims):
    """No parameters, but running statistics: a float64 input to float32 statistics is refused (as
    torch refuses it), naming both dtypes; converting the layer fixes it; without running
    statistics any floating input is taken."""
    layer, shape = (nn.BatchNorm1d, (4, 3)) if dims == 1 else (nn.BatchNorm2d, (4, 3, 2, 2))
    x = gn.tensor(_input(shape, np.float64))
    for mode in ("train", "eval"):
        bn = getattr(layer(3, affine=False), mode)()
        with pytest.raises(InputTypeError, match=rf"{layer.__name__}.*float64 input.*float32 running statistics"):
            bn(x)
    assert layer(3, affine=False).double()(x).dtype == gn.float64
    assert layer(3, affine=False, track_running_stats=False)(x).dtype == gn.float64


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_torch_refuses_the_same_inputs(name):
    """The rule is torch's: its layers with parameters refuse integer, complex and float64 input too."""
    import torch
    make, shape = LAYERS[name]
    for dtype in ["int64", "complex64", "float64"]:
        x = torch.from_numpy(_input(shape, np.float64).astype(dtype))
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            make(torch.nn)(x)


def test_the_error_names_the_layer_by_its_path():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.Tanh()))
    with pytest.raises(InputTypeError, match=r"layer '0' Linear\(in_features=3.*got int64"):
        model(gn.tensor([[1, 2, 3]]))
    model[2][0].double()
    with pytest.raises(InputTypeError, match=r"layer '2.0' Linear\(in_features=4.*float32 input.*float64"):
        model(gn.ones(1, 3))


def test_embedding_takes_integer_indices_and_refuses_the_rest():
    emb = nn.Embedding(5, 2)
    assert emb(gn.tensor([[0, 4]])).shape == (1, 2, 2)
    assert emb(gn.tensor(np.array([1, 2], np.int32))).shape == (2, 2)
    for bad, what in [(gn.tensor([0.0, 1.0]), "float32"), (gn.tensor([True]), "bool"), ("ab", "str")]:
        with pytest.raises(InputTypeError, match=rf"Embedding.*integer indices.*got {what}"):
            emb(bad)
    with pytest.raises(InputTypeError, match="Embedding.*got list.*wrap it with gn.tensor"):
        emb([0, 1])


def test_losses_take_integer_targets_and_tell_arrays_to_become_tensors():
    logits = gn.randn(4, 3)
    loss = nn.CrossEntropyLoss()(logits, gn.tensor([0, 2, 1, 0]))
    assert loss.dtype == gn.float32
    with pytest.raises(InputTypeError, match="CrossEntropyLoss.*got numpy.ndarray.*wrap it with gn.tensor"):
        nn.CrossEntropyLoss()(logits.numpy(), gn.tensor([0, 2, 1, 0]))
    # targets stay as lenient as the functional forms (which convert arrays and lists)
    assert nn.CrossEntropyLoss()(logits, np.array([0, 2, 1, 0])).item() == loss.item()
    with pytest.raises(InputTypeError, match="MSELoss.*floating-point input.*got int64"):
        nn.MSELoss()(gn.tensor([1, 2]), gn.tensor([1.0, 2.0]))


def test_user_modules_are_not_checked():
    """The rule belongs to glassnet's layers: a user's module may take whatever its forward takes."""
    class Lookup(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(gn.randn(4, 2))

        def forward(self, ids):
            return self.table[ids]

    assert Lookup()(np.array([0, 3])).shape == (2, 2)


def test_packed_sequences_still_reach_recurrent_layers():
    from glassnet.nn.rnn_utils import pack_padded_sequence
    packed = pack_padded_sequence(gn.randn(5, 2, 3), [5, 3])
    out, _ = nn.GRU(3, 2)(packed)
    assert out.data.shape == (8, 2)


# ----------------------------------------------------------------- one error seam
def test_shape_errors_from_functional_forms_name_the_layer():
    """ShapeErrors raised by F.* (which know no layer) are attached to the innermost layer by
    Module.__call__: no per-layer re-raise or context manager."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2))
    with pytest.raises(ShapeError, match=r"layer '0' Conv2d\(3, 4.*expected input with 3 channels, got 5"):
        model(gn.randn(1, 5, 8, 8))
    with pytest.raises(ShapeError, match=r"layer '1' MaxPool2d"):
        model(gn.randn(1, 3, 3, 3))                    # 1 x 1 feature maps: no 2 x 2 window fits
    with pytest.raises(ShapeError, match=r"layer '3' Linear\(in_features=36.*input has 64 features"):
        model(gn.randn(1, 3, 10, 10))


def test_layer_modules_import_no_error_helpers_from_each_other():
    import pathlib
    root = pathlib.Path(gn.__file__).parent / "nn" / "modules"
    for name in ["pooling.py", "linear.py", "conv.py", "normalization.py"]:
        source = (root / name).read_text()
        assert "as_layer" not in source and "except ShapeError" not in source, name


# ------------------------------------------------------------------------ constructors
# (constructor call, on `nn` of either library), the argument the error must name
REFUSED = [
    ("Linear(-1, 3)", "in_features"), ("Linear(3, -2)", "out_features"), ("Linear(2.5, 3)", "in_features"),
    ("Conv2d(3, 8, 0)", "kernel_size"), ("Conv2d(3, 8, -1)", "kernel_size"), ("Conv2d(3, 8, (3, 0))", "kernel_size"),
    ("Conv2d(3, 8, 2.5)", "kernel_size"), ("Conv1d(3, 8, 0)", "kernel_size"),
    ("Conv2d(3, 8, 3, stride=0)", "stride"), ("Conv2d(3, 8, 3, stride=-1)", "stride"),
    ("Conv2d(3, 8, 3, dilation=0)", "dilation"), ("Conv2d(3, 8, 3, padding=-1)", "padding"),
    ("Conv2d(3, 8, 3, groups=2)", "groups"), ("Conv2d(3, 8, 3, groups=0)", "groups"),
    ("Conv2d(-3, 8, 3)", "in_channels"), ("Conv2d(3, 0, 3)", "out_channels"),
    ("MaxPool2d(0)", "kernel_size"), ("MaxPool2d(2, stride=0)", "stride"), ("MaxPool2d(2, padding=-1)", "padding"),
    ("MaxPool2d(2, padding=2)", "padding"), ("MaxPool2d(2, dilation=0)", "dilation"), ("MaxPool1d(0)", "kernel_size"),
    ("AvgPool2d(-2)", "kernel_size"), ("AvgPool2d(0)", "kernel_size"), ("AvgPool2d(2, stride=0)", "stride"),
    ("AvgPool2d(3, padding=2)", "padding"), ("AvgPool1d(0)", "kernel_size"),
    ("AvgPool2d(2, divisor_override=0)", "divisor_override"),
    ("AdaptiveAvgPool2d(-1)", "output_size"), ("AdaptiveMaxPool2d((2, -1))", "output_size"),
    ("Dropout(p=1.5)", "p"), ("Dropout(p=-0.1)", "p"), ("Dropout2d(1.5)", "p"),
    ("BatchNorm2d(0)", "num_features"), ("BatchNorm2d(-1)", "num_features"), ("BatchNorm1d(2.5)", "num_features"),
    ("BatchNorm1d(3, eps=0)", "eps"), ("BatchNorm1d(3, eps=-1)", "eps"), ("LayerNorm(-1)", "normalized_shape"),
    ("Embedding(-1, 3)", "num_embeddings"), ("Embedding(3, -1)", "embedding_dim"),
    ("Embedding(3, 2, padding_idx=3)", "padding_idx"),
    ("GELU(approximate='foo')", "approximate"),
    ("RNN(0, 3)", "input_size"), ("LSTM(-1, 3)", "input_size"), ("GRU(3, 0)", "hidden_size"),
    ("RNN(3, 3, num_layers=0)", "num_layers"), ("GRU(3, 3, dropout=1.5)", "dropout"),
]
ACCEPTED = ["Linear(0, 3)", "Linear(3, 0)", "Conv2d(0, 8, 3)", "Embedding(0, 3)", "Embedding(3, 0)",
            "LayerNorm(0)", "AdaptiveAvgPool2d(0)", "BatchNorm1d(3, momentum=2)", "LeakyReLU(-1)",
            "MaxPool2d(3, padding=1, dilation=2)", "AvgPool2d(2, divisor_override=-1)", "RNNCell(3, 0)"]


@pytest.mark.parametrize("call, argument", REFUSED, ids=[c for c, _ in REFUSED])
def test_constructors_refuse_bad_arguments_naming_them(call, argument):
    layer = call.split("(")[0]
    with pytest.raises((ValueError, TypeError), match=rf"{layer}.*\b{argument}\b"):
        eval(f"nn.{call}")


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize("call, argument", REFUSED, ids=[c for c, _ in REFUSED])
def test_torch_refuses_the_same_arguments_at_construction_or_first_forward(call, argument):
    import torch
    x = {"1d": torch.randn(2, 3, 8), "Embedding": torch.zeros(2, dtype=torch.long)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError, RuntimeError, IndexError, AssertionError)):
            m = eval(f"torch.nn.{call}")
            if call.startswith("Embedding"):
                m(x["Embedding"])
            elif "1d(" in call and not call.startswith("BatchNorm"):
                m(x["1d"])
            elif call.startswith(("RNN", "LSTM", "GRU")):
                m(torch.randn(4, 1, m.input_size))
            elif call.startswith(("Linear", "BatchNorm1d", "LayerNorm", "Dropout(", "GELU")):
                m(torch.randn(4, getattr(m, "in_features", getattr(m, "num_features", 3))))
            else:
                m(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("call", ACCEPTED)
def test_constructors_accept_what_torch_accepts(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # the zero-element init warning, in both libraries
        eval(f"nn.{call}")
        if HAS_TORCH:
            import torch
            eval(f"torch.nn.{call}")


def test_an_empty_linear_layer_works_as_in_torch():
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        layer = nn.Linear(0, 3)                       # torch warns the same and skips the init
    assert layer.weight.shape == (3, 0)
    y = layer(gn.zeros(2, 0))
    np.testing.assert_array_equal(y.numpy(), np.broadcast_to(layer.bias.numpy(), (2, 3)))


def test_kaiming_init_of_a_zero_element_tensor_is_a_no_op_with_a_warning():
    t = gn.zeros(0, 4)
    for init in (nn.init.kaiming_uniform_, nn.init.kaiming_normal_):
        with pytest.warns(UserWarning, match="no-op"):
            assert init(t) is t
