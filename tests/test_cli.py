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


def test_train_lenet5_on_mnist_idx_files(tmp_path, capsys):
    """The MNIST path end to end, on tiny IDX files written here (glassnet downloads nothing)."""
    import gzip
    import struct

    import numpy as np
    rng = np.random.default_rng(0)

    def write(name, array):
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write(header + array.astype(np.uint8).tobytes())

    labels = rng.integers(0, 10, 96)
    images = np.zeros((96, 28, 28))
    for i, label in enumerate(labels):      # a learnable pattern: a bright bar whose row is the label
        images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    write("train-images-idx3-ubyte", images[:64])
    write("train-labels-idx1-ubyte", labels[:64])
    write("t10k-images-idx3-ubyte", images[64:])
    write("t10k-labels-idx1-ubyte", labels[64:])
    main(["train", "--model", "lenet5", "--data", "mnist", "--data-path", str(tmp_path), "--epochs", "6",
          "--batch-size", "16", "--lr", "0.005", "--out", str(tmp_path / "runs"), "--quiet"])
    out = capsys.readouterr().out
    assert "64 train / 32 test samples" in out
    assert float(out.split("test accuracy ")[1].split("%")[0]) >= 80.0
    assert (tmp_path / "runs" / "lenet5-mnist" / "model.safetensors").exists()


def test_mnist_without_a_path_explains_itself():
    import pytest
    with pytest.raises(SystemExit, match="--data-path"):
        main(["train", "--model", "lenet5", "--data", "mnist"])


def test_train_refuses_non_positive_numbers_and_mismatched_model_and_data(capsys):
    """--epochs 0 once fell back to the default 40 epochs and --model cnn --data text trained a
    char-lstm; both, and other non-positive numbers, are now argparse errors (exit 2)."""
    import pytest
    cases = [(["train", "--epochs", "0"], "--epochs: must be greater than 0"),
             (["train", "--batch-size", "-3"], "--batch-size: must be greater than 0"),
             (["train", "--lr", "zero"], "--lr: expected a float"),
             (["generate", "--checkpoint", "x", "--temperature", "0"], "--temperature: must be greater than 0"),
             (["train", "--model", "cnn", "--data", "text"], "--model cnn does not train on --data text"),
             (["train", "--model", "char-lstm", "--data", "digits"], "--model char-lstm does not train on --data digits")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
