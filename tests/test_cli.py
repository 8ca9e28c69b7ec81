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


def test_mnist_without_a_path_explains_itself(capsys):
    import pytest
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "lenet5", "--data", "mnist"])
    assert info.value.code == 2 and "--data mnist needs --data-path DIR" in capsys.readouterr().err


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


# ------------------------------------------------------------ hardening (issue 15)
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402


def _short_error(capsys, rc, *needles):
    """A user-facing error: exit status 1, one or two lines on stderr, no traceback."""
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err and 1 <= len(err.strip().splitlines()) <= 2, err
    for needle in needles:
        assert needle in err, err
    return err


def _argparse_error(capsys, argv, needle):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_corrupt_checkpoint_is_one_line_suggesting_fresh(tmp_path, capsys):
    (tmp_path / "mlp-digits").mkdir()
    (tmp_path / "mlp-digits" / "last.safetensors").write_bytes(b"\x08\x00garbage" * 10)
    rc = main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "1"])
    _short_error(capsys, rc, "last.safetensors", "--fresh")


def test_nan_checkpoint_is_refused_with_its_cause(tmp_path, capsys):
    main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "1"])
    path = tmp_path / "mlp-digits" / "last.safetensors"
    state = gn.load(path)
    state["model"]["0.weight"] = state["model"]["0.weight"].numpy() * float("nan")
    gn.save(state, path)
    capsys.readouterr()
    rc = main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "2"])
    _short_error(capsys, rc, "non-finite values", "--fresh")


def test_bad_arguments_are_argparse_errors(tmp_path, capsys):
    _argparse_error(capsys, ["train", "--seed", "-5"], "--seed: must be 0 or more, got -5")
    _argparse_error(capsys, ["train", "--model", "cnn", "--data", "mnist"], "--model cnn trains on --data digits")
    _argparse_error(capsys, ["train", "--data-path", str(tmp_path)], "--data-path needs --data mnist")
    _argparse_error(capsys, ["train", "--model", "cnn", "--data-path", str(tmp_path)], "--data-path needs --data")


def test_missing_files_are_one_line_errors(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    _short_error(capsys, main(["train", "--model", "lenet5", "--data", "mnist", "--data-path", missing,
                               "--out", str(tmp_path)]), "nowhere")
    _short_error(capsys, main(["train", "--model", "char-lstm", "--data-path", missing + ".txt",
                               "--out", str(tmp_path)]), "nowhere.txt")
    _short_error(capsys, main(["generate", "--checkpoint", missing + ".safetensors"]), "nowhere.safetensors")


def test_binary_file_is_refused_as_a_corpus(tmp_path, capsys):
    blob = tmp_path / "weights.bin"
    blob.write_bytes(bytes(range(256)) * 40)
    rc = main(["train", "--model", "char-lstm", "--data-path", str(blob), "--out", str(tmp_path), "--quiet"])
    _short_error(capsys, rc, "weights.bin", "not text")
    with pytest.raises(ValueError, match="not text"):
        gn.data.load_text(blob)


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"glassnet {gn.__version__}"
    out = subprocess.run([sys.executable, "-m", "glassnet", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"glassnet {gn.__version__}"


def test_help_lists_every_model_and_shows_defaults():
    from glassnet.cli import _parser
    parser = _parser()
    top = parser.format_help()
    for example in ("--model mlp", "--model cnn", "--model lstm", "--model gru", "--model lenet5",
                    "--model char-lstm", "glassnet generate"):
        assert example in top, example
    train = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "(default: 32)" in train and "(default: runs)" in train and "(default: 0)" in train
    assert "(default: None)" not in train


def test_new_learning_rate_on_resume_is_applied_and_said(tmp_path, capsys):
    main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "1"])
    capsys.readouterr()
    main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "2", "--lr", "0.5"])
    out = capsys.readouterr().out
    assert "learning rate 0.5 replaces the checkpoint's 0.001" in out
    state = gn.load(tmp_path / "mlp-digits" / "last.safetensors")
    assert state["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(0.5)   # the schedule's new base


def test_a_locked_run_directory_is_a_one_line_error(tmp_path, capsys):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "mlp-digits").mkdir()
        (tmp_path / "mlp-digits" / "train.lock").write_text(f"{sleeper.pid}\n")
        rc = main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "1"])
        _short_error(capsys, rc, f"process {sleeper.pid}")
    finally:
        sleeper.kill()
        sleeper.wait()


def _tiny_text(tmp_path, name="tiny.py", line="def add(a, b):\n    return a + b\n\n"):
    path = tmp_path / name
    path.write_text(line * 60)
    return path


def test_generate_says_which_prime_characters_were_dropped(tmp_path, capsys):
    text = _tiny_text(tmp_path)
    main(["train", "--model", "char-lstm", "--data-path", str(text), "--epochs", "1", "--out", str(tmp_path),
          "--quiet"])
    checkpoint = next((tmp_path).glob("char-lstm-tiny-*/last.safetensors"))
    capsys.readouterr()
    assert main(["generate", "--checkpoint", str(checkpoint), "--prime", "déf Zz", "--length", "5"]) == 0
    captured = capsys.readouterr()
    assert "dropped 3 prime character(s)" in captured.err and "'éZz'" in captured.err
    assert captured.out.startswith("df ")


def test_char_lm_runs_on_other_corpora_are_kept_apart(tmp_path, capsys):
    """Two texts into one --out: two run directories; a checkpoint moved onto other text is refused."""
    first = _tiny_text(tmp_path, "a.txt")
    second = _tiny_text(tmp_path / "other", "a.txt", line="x = [1, 2, 3]\n") if (tmp_path / "other").mkdir() is None \
        else None
    for text in (first, second):
        main(["train", "--model", "char-lstm", "--data-path", str(text), "--epochs", "1", "--out",
              str(tmp_path / "runs"), "--quiet"])
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(name.startswith("char-lstm-a-") for name in runs)
    (tmp_path / "runs" / runs[0] / "last.safetensors").replace(tmp_path / "runs" / runs[1] / "last.safetensors")
    capsys.readouterr()
    for text in (first, second):
        rc = main(["train", "--model", "char-lstm", "--data-path", str(text), "--epochs", "2", "--out",
                   str(tmp_path / "runs"), "--quiet"])
        if rc:
            _short_error(capsys, rc, "was trained on another text", "--fresh")
            break
    else:
        pytest.fail("the moved checkpoint was resumed on the other text")


def test_char_lm_time_budget_includes_the_evaluation_and_checkpoints_as_it_goes(tmp_path, capsys):
    text = _tiny_text(tmp_path, line="for i in range(10):\n    print(i * i)\n")
    started = time.perf_counter()
    from glassnet.training.char_lm import train_char_lm
    result = train_char_lm(text, minutes=0.1, out_dir=tmp_path, progress=False, checkpoint_every_seconds=1.0,
                           log=lambda *a: None, hidden_size=32, bptt=16, batch_size=4)
    elapsed = time.perf_counter() - started
    assert elapsed < 6 + 3, elapsed                     # 6 s asked; import, sample and slack on a busy machine
    state = gn.load(result["checkpoint"])
    assert int(state["global_step"]) == result["steps"] > 0


def test_ctrl_c_stops_cleanly_and_names_the_last_checkpoint(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "train", "--model", "cnn", "--epochs", "500",
                             "--out", str(tmp_path), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    checkpoint = tmp_path / "cnn-digits" / "last.safetensors"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert "interrupted" in err and str(checkpoint) in err and "resume" in err
    assert not (tmp_path / "cnn-digits" / "train.lock").exists()
    assert gn.load(checkpoint)["epoch"] >= 1


def test_explain_says_what_the_loss_and_target_are(capsys):
    """The printed 0.7783 can be reproduced by hand from what the command itself says."""
    import math
    import re
    main(["explain"])
    out = capsys.readouterr().out
    assert "target t = 0" in out and "binary cross-entropy" in out and "natural log" in out
    y, loss = map(float, re.search(r"L = -ln\(1 - ([0-9.]+)\) = ([0-9.]+)", out).groups())
    assert y == 0.5408 and loss == 0.7783
    assert round(-math.log(1 - y), 3) == round(loss, 3)     # by hand, from the printed (rounded) output
