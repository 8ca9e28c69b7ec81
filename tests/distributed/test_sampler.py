"""DistributedSampler: torch's index assignment, disjoint shards whose union is the epoch."""
import importlib.util

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import DataLoader, DistributedSampler, TensorDataset

SHAPES = [(10, 2, False), (10, 3, False), (10, 3, True), (7, 4, False), (7, 4, True), (2, 5, False)]


def _name(n, replicas, drop_last):
    return f"distributed_sampler_n{n}_r{replicas}" + ("_drop" if drop_last else "")


@pytest.mark.parametrize("n, replicas, drop_last", SHAPES)
def test_sampler_matches_torch(fixtures, n, replicas, drop_last):
    expected = fixtures[_name(n, replicas, drop_last)]["indices"]
    got = [list(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
           for r in range(replicas)]
    np.testing.assert_array_equal(np.array(got, dtype=np.int64).reshape(expected.shape), expected)
    assert all(len(DistributedSampler(range(n), replicas, r, drop_last=drop_last)) == expected.shape[1]
               for r in range(replicas))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="live comparison needs torch")
@pytest.mark.parametrize("n", [1, 5, 12, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 8])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_live(n, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler
    for r in range(replicas):
        expected = list(TorchSampler(range(n), num_replicas=replicas, rank=r, shuffle=False, drop_last=drop_last))
        assert list(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)) == expected


@pytest.mark.parametrize("n, replicas", [(10, 3), (12, 4), (3, 5)])
def test_shuffled_shards_are_torch_striding_of_one_permutation(n, replicas):
    """Shuffled: every rank strides the same seeded permutation, padded by repeating its head."""
    shards = [list(DistributedSampler(range(n), replicas, r, shuffle=True, seed=7)) for r in range(replicas)]
    order = list(np.random.default_rng(7).permutation(n))
    padded = (order * (1 + -(-len(shards[0]) * replicas // n)))[:len(shards[0]) * replicas]
    assert shards == [padded[r::replicas] for r in range(replicas)]
    assert set().union(*map(set, shards)) == set(range(n))       # the union is the whole epoch
    if n % replicas == 0:
        assert sum(map(len, shards)) == n                          # and, when it divides, disjoint


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    a, b = DistributedSampler(range(20), 2, 0, seed=3), DistributedSampler(range(20), 2, 1, seed=3)
    first = list(a) + list(b)
    a.set_epoch(1), b.set_epoch(1)
    second = list(a) + list(b)
    assert sorted(first) == sorted(second) == list(range(20)) and first != second
    a.set_epoch(0)
    assert list(a) == first[:10]


def test_dataloader_takes_the_sampler():
    data = TensorDataset(gn.arange(10).reshape(10, 1), gn.arange(10))
    sampler = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    assert len(loader) == 2
    assert [y.numpy().tolist() for _, y in loader] == [[1, 4], [7, 0]]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(data, batch_size=2, sampler=sampler, shuffle=True)


def test_sampler_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas should be a positive integer, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    if not gn.distributed.is_initialized():
        with pytest.raises(RuntimeError, match="init_process_group"):
            DistributedSampler(range(4))
