"""glassnet inspect / convert: headers only, no torch; one-line errors."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.io.inspect import inspect_file

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "interop"


def test_inspect_torch_state_dict_without_reading_data(capsys, monkeypatch):
    def no_reads(*args, **kwargs):
        raise AssertionError("inspect read tensor data")
    monkeypatch.setattr("glassnet.io.torch_format._ArchiveReader.read_storage", no_reads)
    assert main(["inspect", str(FIXTURES / "lenet5.pt")]) == 0
    out = capsys.readouterr().out
    assert "torch, 10 tensors, 61,706 parameters" in out
    assert "classifier.1.weight" in out and "(120, 400)" in out and "float32" in out


def test_inspect_training_checkpoint_counts_the_model_and_shows_metadata():
    summary = inspect_file(FIXTURES / "optim_adam.pt")
    assert summary.parameters == 3 * 4 + 4 + 4 * 2 + 2     # the model's, not the optimizer's moments
    assert summary.metadata["epoch"] == "3"
    assert ("optimizer.state.0.exp_avg", "float32", (4, 3)) in summary.tensors


def test_inspect_counts_batch_norm_statistics_out(tmp_path):
    model = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.BatchNorm1d(4))
    gn.save(model.state_dict(), tmp_path / "m.safetensors")
    summary = inspect_file(tmp_path / "m.safetensors")
    assert summary.format == "safetensors"
    assert summary.parameters == sum(p.numel() for p in model.parameters()) == 3 * 4 + 4 + 4 + 4
    assert {name for name, _, _ in summary.tensors} == set(model.state_dict())


def test_convert_then_load_into_a_model(tmp_path, capsys):
    target = tmp_path / "lenet5.safetensors"
    assert main(["convert", str(FIXTURES / "lenet5.pt"), str(target)]) == 0
    model = gn.models.lenet5()
    model.load_state_dict(gn.load(target))
    reference = gn.load_torch(FIXTURES / "lenet5.pt")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), reference[key])


def test_convert_one_entry_of_a_checkpoint(tmp_path):
    target = tmp_path / "model.safetensors"
    assert main(["convert", str(FIXTURES / "optim_sgd_momentum.pt"), str(target), "--key", "model"]) == 0
    assert sorted(gn.load(target)) == ["0.bias", "0.weight", "2.bias", "2.weight"]


@pytest.mark.parametrize("argv, needle", [
    (["inspect", "README.md"], "is not a safetensors, torch or ONNX file"),
    (["inspect", "no/such/file.pt"], "cannot read no/such/file.pt"),
    (["convert", "README.md", "out.safetensors"], "is not a torch file"),
    (["convert", "FIX/lenet5.pt", "out.pt"], "must end in .safetensors"),
    (["convert", "FIX/optim_adam.pt", "out.safetensors", "--key", "weights"], "no such entry"),
])
def test_errors_are_one_line(argv, needle, tmp_path, monkeypatch, capsys):
    root = pathlib.Path(__file__).parents[2]
    argv = [a.replace("FIX", str(FIXTURES)) if "FIX" in a else (str(root / a) if a == "README.md" else a)
            for a in argv]
    monkeypatch.chdir(tmp_path)
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def test_inspect_onnx(tmp_path, capsys):
    pytest.importorskip("onnx", reason="needs the onnx package")
    model = gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU())
    gn.onnx.export(model, gn.randn(2, 4), tmp_path / "m.onnx", dynamic_axes={"input": {0: "batch"}})
    assert main(["inspect", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "onnx, 2 tensors, 15 parameters" in out and "input float32 ('batch', 4)" in out


def test_glassnet_never_imports_torch(tmp_path):
    """Every interop function, in a fresh interpreter; torch must not appear in sys.modules."""
    script = f"""
import sys, pathlib
sys.modules['torch'] = None   # any import of torch now fails loudly
import glassnet as gn
from glassnet.io.inspect import inspect_file
from glassnet.cli import main
fx = pathlib.Path({str(FIXTURES)!r}); out = pathlib.Path({str(tmp_path)!r})
state = gn.load_torch(fx / 'lenet5.pt')
ckpt = gn.load_torch(fx / 'optim_adam.pt')
opt = gn.optim.Adam(gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.Tanh(), gn.nn.Linear(4, 2)).parameters())
opt.load_state_dict(gn.io.optimizer_state_from_torch(ckpt['optimizer'], opt))
model = gn.models.lenet5(); model.load_state_dict(state)
gn.models.googlenet(aux_logits=False); gn.models.alexnet_torchvision(num_classes=10)
assert main(['convert', str(fx / 'lenet5.pt'), str(out / 'l.safetensors')]) == 0
inspect_file(fx / 'lenet5.pt'); inspect_file(out / 'l.safetensors')
try:
    import onnx
except ImportError:
    onnx = None
if onnx is not None:
    gn.onnx.export(model, gn.randn(1, 1, 28, 28), out / 'l.onnx'); inspect_file(out / 'l.onnx')
del sys.modules['torch']
assert not [m for m in sys.modules if m == 'torch' or m.startswith('torch.')], 'torch was imported'
print('ok')
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
