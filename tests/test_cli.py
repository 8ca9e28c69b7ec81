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


def test_summary_alexnet_reproduces_the_notes_table(capsys):
    main(["summary", "alexnet"])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    expected = {"conv1": ("55x55x96", "34,944"), "conv2": ("27x27x256", "614,656"),
                "conv3": ("13x13x384", "885,120"), "conv4": ("13x13x384", "1,327,488"),
                "conv5": ("13x13x256", "884,992"), "fc1": ("4096", "37,752,832"),
                "fc2": ("4096", "16,781,312"), "fc3": ("1000", "4,097,000")}
    for layer, (output, params) in expected.items():
        assert rows[layer][3] == output and rows[layer][-1] == params, rows[layer]
    assert rows["Total"][-1] == "62,378,344"
