import numpy as np
import pytest

import glassnet as gn
from glassnet.glassbox.worked_examples import notes_sigmoid_network


def test_notes_worked_example_values():
    ex = notes_sigmoid_network()
    outputs = {s.path: s.output for s in ex.steps}
    np.testing.assert_allclose(outputs["1"], [[0.5498]], atol=5e-5)
    np.testing.assert_allclose(outputs["3"], [[0.5275, 0.5548]], atol=5e-5)
    np.testing.assert_allclose(outputs["5"], [[0.5408]], atol=5e-5)
    assert round(ex.loss, 4) == 0.7783
    text = str(ex)
    assert "0.5498" in text and "0.7783" in text and "dL/dweight" in text


def test_explain_records_gradients_equal_to_autograd():
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(3, 2), gn.nn.Tanh(), gn.nn.Linear(2, 1))
    x, t = gn.randn(2, 3), gn.randn(2, 1)
    ex = gn.explain(model, x, t, gn.nn.MSELoss())
    lin = ex.steps[0]
    np.testing.assert_allclose(lin.param_grads["weight"], model[0].weight.grad.numpy())
    # dL/dz of the first layer = dL/da * (1 - a^2): the chain rule through tanh
    a = ex.steps[1].output
    np.testing.assert_allclose(lin.grad_output, ex.steps[1].grad_output * (1 - a * a), rtol=1e-5)


def test_summary_counts_and_shapes():
    table = gn.summary(gn.models.mlp(64, (128, 64), 10), (1, 64))
    assert table.total_params == 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    fc1 = table.rows[0]
    assert (fc1.name, fc1.output, fc1.weights, fc1.biases) == ("fc1", "128", 8192, 128)
    assert "Total parameters: 17,226" in str(table)


def test_summary_prints_in_scripts_and_not_when_told(capsys, monkeypatch):
    model = gn.models.mlp(64, (32,), 10)
    monkeypatch.delattr("sys.ps1", raising=False)             # a script
    table = gn.summary(model, (1, 64))
    assert capsys.readouterr().out.strip() == str(table).strip()
    gn.summary(model, (1, 64), verbose=0)
    assert capsys.readouterr().out == ""
    monkeypatch.setattr("sys.ps1", ">>> ", raising=False)     # an interactive prompt shows the repr
    gn.summary(model, (1, 64))
    assert capsys.readouterr().out == ""


def test_summary_names_the_layer_where_shapes_first_disagree():
    import pytest
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3), gn.nn.ReLU(), gn.nn.Flatten(), gn.nn.Linear(100, 10))
    with pytest.raises(gn.ShapeError, match=r"layer '3' Linear\(in_features=100.*\(1, 144\)"):
        gn.summary(model, (1, 1, 8, 8))


def test_explain_walks_recurrent_layers_time_step_by_time_step():
    gn.manual_seed(0)

    class LastStep(gn.nn.Module):
        def __init__(self, batch_first):
            super().__init__()
            self.batch_first = batch_first
            self.rnn = gn.nn.GRU(2, 3, batch_first=batch_first)
            self.fc = gn.nn.Linear(3, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1] if self.batch_first else out[-1])

    for batch_first, shape in [(True, (2, 4, 2)), (False, (4, 2, 2))]:
        text = str(gn.explain(LastStep(batch_first), gn.randn(*shape)))
        assert "h[t=3]" in text and "h[t=4]" not in text and "dL/dh[t=3]" in text


class _UsesOutputAndState(gn.nn.Module):
    """A recurrent layer whose every output (sequence and final states) reaches the loss."""

    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(gn.nn, kind)(3, 4, batch_first=True)

    def forward(self, x):
        out, state = self.rnn(x)
        finals = state if isinstance(state, tuple) else (state,)
        return out.sum(dim=1) * 0.5 + sum(f[-1] for f in finals)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_explain_replays_bptt_with_the_fused_layers_gradients(kind):
    """The step-by-step replay (textbook equations) reproduces the fused primitive: same outputs,
    same weight gradients, and at the last step dL/dh = dy_T (+ dL/dh_n)."""
    gn.manual_seed(0)
    model = _UsesOutputAndState(kind).double()
    x = gn.randn(2, 5, 3, dtype=gn.float64)
    ex = gn.explain(model, x, gn.randn(2, 4, dtype=gn.float64), gn.nn.MSELoss())
    step = ex.steps[0]
    assert step.replay is not None and step.replay["max_difference"] < 1e-12
    for name, grad in step.replay["param_grads"].items():
        np.testing.assert_allclose(grad, step.param_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
    text = str(ex)
    assert "dL/dh[t=0]" in text and "h[t=4]" in text
    assert ("dL/dc[t=4]" in text) == (kind == "LSTM") and ("f[t=0]" in text) == (kind == "LSTM")


def test_explain_falls_back_when_the_replay_cannot_match():
    """A layer called with lengths= freezes padded steps, which a forward hook cannot see."""
    gn.manual_seed(0)

    class Padded(gn.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = gn.nn.GRU(2, 3, batch_first=True)

        def forward(self, x):
            out, _ = self.rnn(x, lengths=[4, 2])
            return out.sum()

    ex = gn.explain(Padded(), gn.randn(2, 4, 2))
    assert ex.steps[0].replay is None and "h[t=3]" in str(ex)
