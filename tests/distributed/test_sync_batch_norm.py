"""SyncBatchNorm: statistics and backward sums over every rank's batch.

Two ranks are played in turn by this process, exchanging their statistics through the
``gather``/``all_reduce`` arguments of the primitive: joined, their outputs and input
gradients must equal torch's batch norm over the joined batch (fixture ``sync_batch_norm``),
and their local weight/bias gradients must sum to torch's.
"""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn as nn
from glassnet.functions.sync_batch_norm import SyncBatchNorm as SyncBatchNormFn


class _Rendezvous:
    """Collectives between two ranks run one after the other in this process.

    Each rank's k-th collective call records its payload and gets back the latest payloads
    of both ranks for call k. Running both ranks three times reaches the fixed point where
    every call sees what the other rank really sent (the forward's statistics first, then
    the backward's sums, which depend on them). Threads cannot stand in for the ranks:
    glassnet's grad mode is one switch for the whole process.
    """

    def __init__(self):
        self.sent = {}

    def start(self, rank):
        self.calls = 0

        def exchange(array):
            key = self.calls
            self.calls += 1
            self.sent[key, rank] = np.array(array, np.float64)
            mine = self.sent[key, rank]
            return np.stack([self.sent.get((key, r), np.zeros_like(mine)) for r in (0, 1)])
        return exchange


def _run_two_ranks(case, momentum=0.3):
    x, dy = case["x"], case["dy"]
    halves = np.split(np.arange(len(x)), [2])           # uneven: 2 and 4 samples per rank
    rendezvous = _Rendezvous()
    for _ in range(3):
        results = []
        for r in (0, 1):
            exchange = rendezvous.start(r)
            xr = gn.tensor(x[halves[r]], dtype=gn.float64, requires_grad=True)
            w = gn.tensor(case["weight"], dtype=gn.float64, requires_grad=True)
            b = gn.tensor(case["bias"], dtype=gn.float64, requires_grad=True)
            rm, rv = np.zeros(3), np.ones(3)
            y = SyncBatchNormFn.apply(xr, w, b, rm, rv, momentum=momentum, eps=1e-5, gather=exchange,
                                      all_reduce=lambda a: exchange(a).sum(axis=0))
            y.backward(gn.tensor(dy[halves[r]], dtype=gn.float64))
            results.append((y.numpy(), xr.grad.numpy(), w.grad.numpy(), b.grad.numpy(), rm, rv))
    return results


def test_sync_batch_norm_over_two_ranks_matches_torch_on_the_joined_batch(fixtures):
    case = fixtures["sync_batch_norm"]
    r0, r1 = _run_two_ranks(case)
    np.testing.assert_allclose(np.concatenate([r0[0], r1[0]]), case["y"], rtol=1e-6, atol=1e-12, err_msg="y")
    np.testing.assert_allclose(np.concatenate([r0[1], r1[1]]), case["dx"], rtol=1e-6, atol=1e-12, err_msg="dx")
    np.testing.assert_allclose(r0[2] + r1[2], case["dweight"], rtol=1e-6, err_msg="dweight (summed by DDP)")
    np.testing.assert_allclose(r0[3] + r1[3], case["dbias"], rtol=1e-6, err_msg="dbias (summed by DDP)")
    for r in (r0, r1):
        np.testing.assert_allclose(r[4], case["running_mean"], rtol=1e-6, err_msg="running_mean")
        np.testing.assert_allclose(r[5], case["running_var"], rtol=1e-6, err_msg="running_var")


def _one_rank(x, w, b):
    return SyncBatchNormFn.apply(x, w, b, None, None, momentum=0.1, eps=1e-5,
                                 gather=lambda a: np.asarray(a, np.float64)[None],
                                 all_reduce=lambda a: np.asarray(a, np.float64))


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (3, 2, 2, 3)])
def test_sync_batch_norm_gradcheck(rng, shape):
    x, w, b = rng.tensor(*shape), rng.tensor(shape[1]), rng.tensor(shape[1])
    assert gn.gradcheck(_one_rank, (x, w, b))


def test_module_without_process_group_is_batch_norm_and_matches_torch(fixtures):
    case = fixtures["sync_batch_norm"]
    layer = nn.SyncBatchNorm(3, momentum=0.3).to(gn.float64)
    layer.load_state_dict({"weight": case["weight"], "bias": case["bias"]}, strict=False)
    x = gn.tensor(case["x"], dtype=gn.float64, requires_grad=True)
    y = layer(x)
    y.backward(gn.tensor(case["dy"], dtype=gn.float64))
    for got, key in [(y, "y"), (x.grad, "dx"), (layer.weight.grad, "dweight"), (layer.bias.grad, "dbias"),
                     (layer.running_mean, "running_mean"), (layer.running_var, "running_var")]:
        np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


def test_convert_sync_batchnorm_shares_parameters_and_keeps_state_dict_keys():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8)))
    model.eval()
    weight = model[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm) and isinstance(converted[2][1], nn.SyncBatchNorm)
    assert converted[1].weight is weight and not converted[1].training
    assert list(converted.state_dict()) == list(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(
        nn.Flatten(), nn.BatchNorm1d(8))).state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(4))
    assert type(single) is nn.SyncBatchNorm


def test_sync_batch_norm_input_errors_name_the_layer():
    with pytest.raises(gn.ShapeError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(gn.zeros(3))
    with pytest.raises(gn.ShapeError, match="expected 3 channels"):
        nn.SyncBatchNorm(3)(gn.zeros(4, 2, 5))
