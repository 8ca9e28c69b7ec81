"""gn.explain shows what the output alone hides: batch norm's mu / sigma / x_hat, the dropout mask,
the softmax probabilities, a residual block's addition, and stacked / bidirectional recurrent layers
replayed step by step (checked against the fused layer's outputs and gradients)."""
from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn


def _extras(step):
    return dict(step.extras)


def test_batch_norm_dropout_and_softmax_are_shown():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 3)).double()
    x = gn.randn(6, 3, dtype=gn.float64)
    ex = gn.explain(model, x, gn.tensor([0, 1, 2, 1, 0, 2]).long(), nn.CrossEntropyLoss())
    lin, bn, drop, out = ex.steps
    z = lin.output
    extras = _extras(bn)
    mu, var = z.mean(0), z.var(0)
    np.testing.assert_allclose(extras["mu (batch)"], mu)
    np.testing.assert_allclose(extras["sigma (batch, sqrt(var + eps))"], np.sqrt(var + 1e-5))
    np.testing.assert_allclose(extras["x_hat = (x - mu)/sigma"], (z - mu) / np.sqrt(var + 1e-5))
    mask = _extras(drop)["mask (0: dropped, p = 0.5)"]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_allclose(drop.output, bn.output * mask / 0.5)
    logits = out.output
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(dict(ex.loss_extras)["p = softmax(output)"], p)
    text = str(ex)
    assert "x_hat = (x - mu)/sigma" in text and "mask (0: dropped" in text and "p = softmax(output)" in text


def test_evaluation_mode_uses_running_statistics_and_no_mask():
    model = nn.Sequential(nn.BatchNorm1d(2), nn.Dropout(0.3)).double().eval()
    ex = gn.explain(model, gn.tensor(np.array([[1.0, 2.0], [3.0, 5.0]])))
    np.testing.assert_allclose(_extras(ex.steps[0])["mu (running)"], [0.0, 0.0])
    assert "identity" in _extras(ex.steps[1])["mask"]


@pytest.mark.parametrize("downsample", [False, True])
def test_residual_block_addition(downsample):
    from glassnet.models.resnet import BasicBlock
    gn.manual_seed(0)
    short = nn.Sequential(nn.Conv2d(2, 3, 1, stride=2, bias=False), nn.BatchNorm2d(3)) if downsample else None
    block = BasicBlock(2, 3 if downsample else 2, stride=2 if downsample else 1, downsample=short).double()
    x = gn.randn(1, 2, 4, 4, dtype=gn.float64, requires_grad=True)
    ex = gn.explain(block, x)
    step = next(s for s in ex.steps if s.kind == "residual addition")
    extras = _extras(step)
    F_x = extras["F(x), the residual branch"]
    shortcut = extras["shortcut: " + ("downsample(x)" if downsample else "x itself")]
    if not downsample:
        np.testing.assert_array_equal(shortcut, x.detach().numpy())
    np.testing.assert_allclose(extras["F(x) + shortcut"], F_x + shortcut)
    np.testing.assert_allclose(step.output, np.maximum(F_x + shortcut, 0))
    # the gradient reaching x: through the shortcut plus through F
    np.testing.assert_allclose(dict(step.back_extras)["dL/dx (block input)"], x.grad.numpy())
    assert "residual addition" in str(ex)


class _Stack(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x):
        out, state = self.rnn(x)
        finals = state if isinstance(state, tuple) else (state,)
        return out.sum(dim=1) * 0.5 + sum(f.sum(0) for f in finals).repeat(1, 2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_stacked_bidirectional_layers_are_replayed(kind):
    gn.manual_seed(0)
    model = _Stack(kind).double()
    x = gn.randn(2, 5, 3, dtype=gn.float64)
    ex = gn.explain(model, x, gn.randn(2, 8, dtype=gn.float64), nn.MSELoss())
    step = ex.steps[0]
    assert step.replay is not None and step.replay["max_difference"] < 1e-12
    assert [c["name"] for c in step.replay["cells"]] == ["l0", "l0_reverse", "l1", "l1_reverse"]
    for name, grad in step.replay["param_grads"].items():
        np.testing.assert_allclose(grad, step.param_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
    text = str(ex)
    assert "layer 1, reverse direction" in text and "layer 0, forward direction" in text
    assert ("dL/dc[t=4]" in text) == (kind == "LSTM")
