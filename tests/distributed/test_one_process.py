"""gn.distributed in one process (world size 1), and the errors of using it wrongly."""
import importlib.util
import sys

import numpy as np
import pytest

import glassnet as gn
import glassnet.distributed as dist
import glassnet.nn as nn

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py: pip install -e '.[mpi]'")


@pytest.fixture
def group():
    """A process group of this process alone, left again after the test."""
    dist.init_process_group("mpi")
    yield
    dist.destroy_process_group()


def test_before_init_every_call_says_to_call_init_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match=r"get_rank: the default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match=r"DistributedDataParallel: .*not been initialized on launcher rank"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"backend 'nccl' is not available in glassnet; expected one of \('mpi',\)"):
        dist.init_process_group("nccl")


@needs_mpi
def test_world_of_one(group):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = gn.tensor([1.0, 2.0])
    dist.all_reduce(t)
    dist.broadcast(t, src=0)
    out = [gn.zeros(2)]
    dist.all_gather(out, t)
    dist.barrier()
    np.testing.assert_array_equal(out[0].numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"broadcast: src must be a rank in 0..0, got 1 \(on rank 0\)"):
        dist.broadcast(t, src=1)
    with pytest.raises(RuntimeError, match="rank 0 is already in a process group"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    with pytest.raises(ValueError, match="world_size=2 was asked for, but mpiexec started this process as world_size 1"):
        dist.init_process_group("mpi", world_size=2)


@needs_mpi
def test_ddp_of_one_rank_leaves_gradients_as_they_are(group):
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    twin = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    twin.load_state_dict(model.state_dict())
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0)     # one bucket per parameter
    assert len(ddp._buckets) == 4
    assert list(ddp.state_dict()) == [f"module.{k}" for k in model.state_dict()]    # torch's keys
    x = gn.randn(5, 3)
    ddp(x).sum().backward()
    twin(x).sum().backward()
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_sync_batch_norm_without_a_group_is_batch_norm():
    gn.manual_seed(0)
    x = gn.randn(6, 3, 4)
    plain, synced = nn.BatchNorm1d(3), nn.SyncBatchNorm(3)
    np.testing.assert_array_equal(plain(x).numpy(), synced(x).numpy())
    np.testing.assert_array_equal(plain.running_var.numpy(), synced.running_var.numpy())


def test_distributed_cli_without_mpi4py_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    from glassnet.distributed.command_line import join_job
    with pytest.raises(SystemExit, match=r"^glassnet: error: --distributed: glassnet.distributed needs mpi4py .*"
                                         r"pip install 'glassnet\[mpi\]'"):
        join_job()
    assert not dist.is_initialized()
