"""A run started in torch continues in glassnet: model and optimizer state from a torch
checkpoint ({'model', 'optimizer', 'epoch'}), mapped by gn.io.optimizer_state_from_torch, give
torch's next steps. The glassnet optimizer is built with default settings, so the
hyper-parameters too must come from the file."""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
import interop_models as im   # tests/fixtures is on sys.path (conftest)

HAS_TORCH = importlib.util.find_spec("torch") is not None
FIXTURES = pathlib.Path(im.__file__).parent / "interop"


def continue_in_glassnet(name, path):
    checkpoint = gn.load_torch(path)
    assert checkpoint["epoch"] == im.OPTIMIZER_STEPS
    model = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.Tanh(), gn.nn.Linear(4, 2))
    model.load_state_dict(checkpoint["model"])
    kind, _ = im.OPTIMIZERS[name]
    opt = getattr(gn.optim, kind)(model.parameters(), lr=1.0)   # settings are replaced by the file's
    opt.load_state_dict(gn.io.optimizer_state_from_torch(checkpoint["optimizer"], opt))
    x, y = (gn.tensor(a) for a in im.optimizer_batch())
    for _ in range(im.OPTIMIZER_STEPS):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    return {k: v.numpy() for k, v in model.state_dict().items()}


def assert_same_parameters(got, expected, name):
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", sorted(im.OPTIMIZERS))
def test_committed_checkpoint_continues_as_torch(name):
    with np.load(FIXTURES / "outputs.npz") as data:
        expected = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"optim_{name}/")}
    assert_same_parameters(continue_in_glassnet(name, FIXTURES / f"optim_{name}.pt"), expected, name)


@pytest.mark.skipif(not HAS_TORCH, reason="live parity needs torch (pip install torch==2.13.0)")
@pytest.mark.parametrize("name", sorted(im.OPTIMIZERS))
def test_live_checkpoint_continues_as_torch(name, tmp_path):
    expected = im.torch_optimizer_run(name, tmp_path / "ckpt.pt")
    assert_same_parameters(continue_in_glassnet(name, tmp_path / "ckpt.pt"), expected, name)


def test_mapping_refuses_a_different_algorithm():
    checkpoint = gn.load_torch(FIXTURES / "optim_adamw.pt")
    opt = gn.optim.Adam(gn.nn.Linear(3, 4).parameters())
    with pytest.raises(ValueError, match="was AdamW"):
        gn.io.optimizer_state_from_torch(checkpoint["optimizer"], opt)
    sgd = gn.optim.SGD(gn.nn.Linear(3, 4).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="SGD state 'step'|no glassnet counterpart"):
        gn.io.optimizer_state_from_torch(checkpoint["optimizer"], sgd)
