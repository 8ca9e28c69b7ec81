"""torch state_dict -> gn.load_torch -> glassnet model gives torch's outputs (float32, 1e-5 relative).

Two runs per model (tests/fixtures/interop_models.py builds the torch twins):
* committed: the small models' .pt files written by torch (tests/fixtures/interop/*.pt) go
  through gn.load_torch; the big models' seeded weights are rebuilt with NumPy (no weights
  committed) and loaded by name; both compare with torch's committed outputs.
* live (torch installed): torch writes every model's state_dict to a temporary file, which
  gn.load_torch reads, and the outputs are compared with torch's, computed now.
"""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import glassnet as gn
import interop_models as im   # tests/fixtures is on sys.path (conftest)

HAS_TORCH = importlib.util.find_spec("torch") is not None
FIXTURES = pathlib.Path(im.__file__).parent / "interop"
BIG = ["vgg11_bn", "resnet18", "googlenet", "alexnet_torchvision", "vgg11", "vgg16", "vgg16_bn", "vgg19",
       "vgg19_bn", "resnet34", "resnet50"]


def glassnet_model(name: str):
    return {
        "mlp": lambda: gn.models.mlp(64, (128, 64), 10),
        "lenet5": gn.models.lenet5,
        "lstm_2layer_bi": lambda: gn.nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True),
        "gru_2layer_bi": lambda: gn.nn.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True),
        "vgg11_bn": gn.models.vgg11_bn,
        "resnet18": gn.models.resnet18,
        "googlenet": lambda: gn.models.googlenet(transform_input=True),
        "alexnet_torchvision": gn.models.alexnet_torchvision,
        "vgg11": gn.models.vgg11, "vgg16": gn.models.vgg16, "vgg16_bn": gn.models.vgg16_bn,
        "vgg19": gn.models.vgg19, "vgg19_bn": gn.models.vgg19_bn,
        "resnet34": gn.models.resnet34, "resnet50": gn.models.resnet50,
    }[name]().eval()


def outputs(model, name):
    with gn.no_grad():
        out = model(gn.tensor(im.model_input(name)))
    flat = []
    for o in (out if isinstance(out, tuple) else (out,)):
        flat += list(o) if isinstance(o, tuple) else [o]
    return [o.numpy() for o in flat]


def assert_matches(got, expected, name):
    assert len(got) == len(expected), name
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.dtype == np.float32 and g.shape == e.shape, (name, i, g.dtype, g.shape, e.shape)
        # 1e-5 relative to the output's scale: entries near zero carry the rounding of larger ones
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5 * np.abs(e).max(), err_msg=f"{name} output {i}")


def committed_outputs(name):
    with np.load(FIXTURES / "outputs.npz") as data:
        return [data[f"{name}/y{i}"] for i in range(sum(k.startswith(f"{name}/") for k in data.files))]


@pytest.mark.parametrize("name", [n for n, (_, has_file) in im.MODELS.items() if has_file])
def test_committed_torch_file_gives_torchs_outputs(name):
    state = gn.load_torch(FIXTURES / f"{name}.pt")
    model = glassnet_model(name)
    model.load_state_dict(state)
    assert_matches(outputs(model, name), committed_outputs(name), name)


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_big_model_on_torchvision_keys_gives_torchs_committed_outputs(name):
    model = glassnet_model(name)
    own = model.state_dict()
    shapes = {k: (tuple(v.shape), str(np.asarray(v).dtype)) for k, v in own.items()}
    model.load_state_dict(im.seeded_state_dict(shapes, seed=len(shapes)))
    assert_matches(outputs(model, name), committed_outputs(name), name)


@pytest.mark.skipif(not HAS_TORCH, reason="live parity needs torch (pip install torch==2.13.0)")
@pytest.mark.parametrize("name", [n for n in im.MODELS if n not in BIG] + [pytest.param(n, marks=pytest.mark.slow)
                                                                          for n in BIG])
def test_live_torch_file_gives_torchs_outputs(name, tmp_path):
    path = tmp_path / f"{name}.pt"
    expected = im.torch_reference(name, path)
    model = glassnet_model(name)
    model.load_state_dict(gn.load_torch(path))   # strict: torchvision's keys and shapes, all of them
    assert_matches(outputs(model, name), expected, name)


def test_parameter_counts_match_torchvision():
    def count(model):
        return sum(p.numel() for p in model.parameters())
    assert count(gn.models.googlenet()) == 13_004_888
    assert count(gn.models.googlenet(aux_logits=False)) == 6_624_904
    assert count(gn.models.alexnet_torchvision()) == 61_100_840
    assert count(gn.models.alexnet()) == 62_378_344


def test_googlenet_training_mode_returns_auxiliary_logits():
    model = gn.models.googlenet(num_classes=7).train()
    out = model(gn.randn(2, 3, 64, 64))
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert [o.shape for o in out] == [(2, 7)] * 3
    assert gn.models.googlenet(num_classes=7, aux_logits=False).train()(gn.randn(1, 3, 64, 64)).shape == (1, 7)
