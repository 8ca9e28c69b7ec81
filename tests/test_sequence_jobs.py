"""The recurrent jobs the CLI runs: truncated BPTT, the char-LM, the vanishing-gradient experiment."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.training.tbptt import batchify, detach_state, windows


def test_batchify_and_windows_shift_targets_by_one():
    streams = batchify(np.arange(23), 2)                 # 2 streams of 11, the last id dropped
    np.testing.assert_array_equal(streams, [np.arange(11), np.arange(11, 22)])
    pairs = list(windows(streams, 4))
    assert [x.shape for x, _ in pairs] == [(2, 4), (2, 4), (2, 2)]
    for x, y in pairs:
        np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)
    with pytest.raises(ValueError, match="too short"):
        batchify(np.arange(3), 2)


def test_detach_state_cuts_the_graph_for_tuples():
    h = gn.randn(2, 3, requires_grad=True) * 2
    state = detach_state((h, h + 1))
    assert all(s.grad_fn is None and not s.requires_grad for s in state)
    assert detach_state(None) is None


@pytest.mark.slow
def test_char_lm_trains_saves_and_generates(tmp_path, capsys):
    text = tmp_path / "tiny.py"
    text.write_text("def add(a, b):\n    return a + b\n\n" * 200)
    main(["train", "--model", "char-lstm", "--data", "text", "--data-path", str(text), "--epochs", "3",
          "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    bpc = float(out.split("held-out: ")[1].split(" bits")[0])
    assert bpc < 2.0   # a repeated two-line file: far below log2(vocabulary) = 4.1 bits
    checkpoint, = tmp_path.glob("char-lstm-tiny-*/last.safetensors")     # the run directory names its corpus
    main(["generate", "--checkpoint", str(checkpoint), "--prime", "def ", "--length", "40", "--seed", "1"])
    sample = capsys.readouterr().out
    assert sample.startswith("def ") and len(sample.strip()) >= 40
    main(["generate", "--checkpoint", str(checkpoint), "--prime", "def ", "--length", "40", "--seed", "1"])
    assert capsys.readouterr().out == sample      # seeded sampling is reproducible


@pytest.mark.slow
def test_vanishing_gradient_experiment_shows_the_rnn_decay(tmp_path):
    from glassnet.experiments.vanishing_gradients import run
    out = tmp_path / "vg.png"
    results = run(out=str(out), steps=100, lengths=(10, 40), probe_length=40, log=lambda *a: None)
    assert out.exists() and out.stat().st_size > 10_000
    assert set(results["grad_norms"]) == {"RNN", "LSTM", "LSTM cell", "GRU"}
    rnn = results["grad_norms"]["RNN"]
    assert rnn[0] < 1e-3 * rnn[-1]                    # geometric decay back through 39 steps
    assert results["decay_per_step"]["LSTM cell"] > results["decay_per_step"]["RNN"]


@pytest.mark.slow
@pytest.mark.parametrize("model, threshold", [("lstm", 95.0), ("cnn", 98.5)])
def test_cli_sequence_and_cnn_jobs_reach_their_accuracy(model, threshold, tmp_path, capsys):
    main(["train", "--model", model, "--data", "digits", "--out", str(tmp_path), "--quiet"])
    accuracy = float(capsys.readouterr().out.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= threshold
