"""The notes' experiments, run small: each prints its numbers, draws its figure, and the
numbers mean what the figure says."""
import math

import pytest

from glassnet.cli import main
from glassnet.experiments import EXPERIMENTS, default_output, module


def _run(name, tmp_path, **kwargs):
    lines = []
    out = tmp_path / default_output(name)
    results = module(name).run(out=str(out), log=lines.append, **kwargs)
    return results, lines, out


def _figure_written(out, lines):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert any("pip install glassnet[plot]" in line for line in lines)
        return
    assert out.stat().st_size > 10_000 and f"saved {out}" in lines


@pytest.mark.slow   # five deep MLPs
def test_activations_measures_each_function(tmp_path):
    results, lines, out = _run("activations", tmp_path, epochs=2)
    assert list(results["results"]) == ["sigmoid", "tanh", "ReLU", "leaky ReLU", "ELU"]
    assert sorted(results["ranking"]) == sorted(results["notes_ranking"])
    sigmoid, relu = results["results"]["sigmoid"], results["results"]["ReLU"]
    # 8 sigmoid layers pass back at most (1/4)^8 of the gradient: the first layer barely moves
    assert sigmoid["first_layer_grad"][0] < relu["first_layer_grad"][0] / 100
    assert all(0 <= r["inactive"] <= 1 for r in results["results"].values())
    assert any(line.startswith("the notes' ranking:") for line in lines)
    _figure_written(out, lines)


def test_batch_norm_runs_four_settings(tmp_path):
    results, lines, out = _run("batch-norm", tmp_path, epochs=2)
    assert [(r["lr"], r["batch_norm"]) for r in results.values()] == [(0.05, False), (0.05, True), (0.5, False),
                                                                       (0.5, True)]
    assert all(len(r["val_accuracy"]) == 2 for r in results.values())
    _figure_written(out, lines)


def test_dropout_trains_with_and_without(tmp_path):
    results, lines, out = _run("dropout", tmp_path, epochs=3)
    assert [r["p"] for r in results.values()] == [0.0, 0.5]
    assert all(len(r["val_loss"]) == 3 for r in results.values())
    _figure_written(out, lines)


def test_exploding_gradients_explode_and_clipping_bounds_the_step(tmp_path):
    results, lines, out = _run("exploding-gradients", tmp_path, steps=40)
    none, by_value, by_norm = results.values()
    finite = [n for n in none["grad_norm"] if math.isfinite(n)]
    assert max(finite) > 1e6                               # the unclipped gradient explodes
    assert max(by_norm["grad_norm"]) < 1e4 and max(by_value["grad_norm"]) < 1e5
    assert by_norm["loss"][-1] < none["loss"][-1]
    _figure_written(out, lines)


def test_optimizers_compare_three(tmp_path):
    results, lines, out = _run("optimizers", tmp_path, epochs=2)
    assert list(results) == ["SGD lr 0.01", "SGD + momentum 0.9, lr 0.01", "Adam lr 0.001"]
    sgd, momentum, adam = results.values()
    assert momentum["step_loss"][-1] < sgd["step_loss"][-1] and adam["step_loss"][-1] < sgd["step_loss"][-1]
    _figure_written(out, lines)


def test_cli_lists_every_experiment_and_refuses_steps_where_they_do_not_apply(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    usage = capsys.readouterr().out
    assert all(name in usage for name in EXPERIMENTS)
    with pytest.raises(SystemExit):
        main(["experiment", "dropout", "--steps", "3"])
    assert "--steps does not apply to experiment dropout" in capsys.readouterr().err
