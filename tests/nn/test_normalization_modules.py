import numpy as np
import pytest

import glassnet as gn
from glassnet import nn


def _f64(a, grad=True):
    return gn.tensor(np.asarray(a, dtype=np.float64), dtype=gn.float64, requires_grad=grad)


@pytest.mark.parametrize("case_name, cls, momentum", [
    ("bn_m_2d", nn.BatchNorm2d, 0.1), ("bn_m_2d_cumulative", nn.BatchNorm2d, None),
    ("bn_m_1d", nn.BatchNorm1d, 0.25), ("bn_m_1d_seq", nn.BatchNorm1d, None)])
def test_batch_norm_module_steps_match_torch(case_name, cls, momentum, fixtures):
    """Several training steps (outputs, grads, running stats after each), then eval."""
    case = fixtures[case_name]
    C = case["weight"].shape[0]
    m = cls(C, momentum=momentum).double()
    m.load_state_dict({"weight": case["weight"], "bias": case["bias"], "running_mean": np.zeros(C),
                       "running_var": np.ones(C), "num_batches_tracked": np.array(0)})
    step = 0
    while f"x{step}" in case:
        x = _f64(case[f"x{step}"])
        y = m(x)
        y.backward(_f64(case[f"dy{step}"], False))
        for got, key in [(y, "y"), (x.grad, "dx"), (m.running_mean, "running_mean"), (m.running_var, "running_var")]:
            np.testing.assert_allclose(got.numpy(), case[f"{key}{step}"], rtol=1e-6, atol=1e-12,
                                       err_msg=f"{key} after step {step}")
        step += 1
    assert int(m.num_batches_tracked.item()) == int(case["num_batches_tracked"]) == step
    np.testing.assert_allclose(m.weight.grad.numpy(), case["dweight"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(m.bias.grad.numpy(), case["dbias"], rtol=1e-6, atol=1e-12)
    m.eval()
    running = m.running_mean.numpy().copy()
    np.testing.assert_allclose(m(_f64(case["x_eval"], False)).numpy(), case["y_eval"], rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(m.running_mean.numpy(), running)   # eval leaves them alone
    assert int(m.num_batches_tracked.item()) == step


def test_batch_norm_state_dict_matches_torch_layout():
    m = nn.BatchNorm2d(5)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].shape == ()
    assert [p.shape for p in m.parameters()] == [(5,), (5,)]
    np.testing.assert_array_equal(sd["weight"].numpy(), np.ones(5))
    np.testing.assert_array_equal(sd["running_var"].numpy(), np.ones(5))
    assert sd["running_mean"].dtype == np.float32
    assert repr(m) == "BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert list(nn.BatchNorm1d(3, affine=False).state_dict()) == ["running_mean", "running_var",
                                                                  "num_batches_tracked"]
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert list(nn.BatchNorm1d(3, bias=False).state_dict())[:2] == ["weight", "running_mean"]


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    m = nn.BatchNorm1d(3, track_running_stats=False).double().eval()
    x = gn.tensor(np.random.default_rng(0).normal(3.0, 2.0, (8, 3)), dtype=gn.float64)
    y = m(x).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(0), 1, rtol=1e-4)


def test_batch_norm_to_float64_keeps_counter_int():
    m = nn.BatchNorm2d(2).to(gn.float64)
    assert m.running_var.dtype == np.float64 and m.num_batches_tracked.dtype == np.int64


def test_batch_norm_eval_lock_keeps_layer_in_eval():
    m = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    bn = m[1]
    bn.eval_locked = True
    m.train()
    assert m.training and m[0].training and not bn.training
    m(gn.randn(4, 3))
    assert int(bn.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3))
    bn.eval_locked = False
    assert bn.training
    m(gn.randn(4, 3))
    assert int(bn.num_batches_tracked.item()) == 1


def test_batch_norm_wrong_channels_names_layer_expected_and_actual():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(5))
    with pytest.raises(gn.ShapeError, match=r"layer '1' BatchNorm1d\(5, .*expected 5 channels.*\(8, 6\) with 6"):
        model(gn.randn(8, 4))


def test_batch_norm_wrong_rank():
    with pytest.raises(gn.ShapeError, match=r"expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(gn.randn(2, 3, 5))
    with pytest.raises(gn.ShapeError, match=r"expected 2D or 3D input \(got 4D input"):
        nn.BatchNorm1d(3)(gn.randn(2, 3, 5, 5))


def test_batch_norm_single_value_per_channel_in_training():
    m = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        m(gn.randn(1, 3))
    m.eval()
    assert m(gn.randn(1, 3)).shape == (1, 3)


def test_layer_norm_module():
    m = nn.LayerNorm((3, 4))
    assert list(m.state_dict()) == ["weight", "bias"] and m.weight.shape == (3, 4)
    assert repr(m) == "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True, bias=True)"
    x = gn.randn(2, 3, 4)
    y = m(x).numpy()
    np.testing.assert_allclose(y.reshape(2, -1).mean(1), 0, atol=1e-6)
    assert list(nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    with pytest.raises(gn.ShapeError, match=r"layer LayerNorm\(\(3, 4\).*\(\*, 3, 4\).*\(2, 4, 3\)"):
        m(gn.randn(2, 4, 3))
