import subprocess
import sys

import glassnet as gn
from glassnet.cli import main


def test_help_explains_every_command():
    out = subprocess.run([sys.executable, "-m", "glassnet.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("train", "summary", "explain", "generate", "experiment"):
        assert command in out.stdout
    train_help = subprocess.run([sys.executable, "-m", "glassnet.cli", "train", "--help"],
                                capture_output=True, text=True).stdout
    assert "--model" in train_help and "--epochs" in train_help and "digits" in train_help


def test_train_main_job_reaches_97_percent(tmp_path, capsys):
    """The Quickstart's main job: MLP on the embedded digits, >= 97% test accuracy, a checkpoint."""
    main(["train", "--model", "mlp", "--data", "digits", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    assert (tmp_path / "mlp-digits" / "last.safetensors").exists()
    weights = gn.load(tmp_path / "mlp-digits" / "model.safetensors")
    assert "0.weight" in weights


def test_explain_command_prints_worked_example(capsys):
    main(["explain"])
    out = capsys.readouterr().out
    assert "0.5408" in out and "loss = 0.7783" in out
