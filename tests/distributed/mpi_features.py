"""Run under ``mpiexec -n 2``: the collectives and DDP's features, one check per function.

``python mpi_features.py`` runs every check and prints "ok NAME" per check from rank 0;
``python mpi_features.py mismatched`` builds different models on the two ranks (it must
fail with an error naming the rank, and abort the job).
"""
import sys

import numpy as np

import glassnet as gn
import glassnet.distributed as dist
import glassnet.nn as nn

rank = world = None


def check_collectives():
    t = gn.tensor([1.0, 2.0]) * (rank + 1)
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.numpy(), [3.0, 6.0])
    t = gn.tensor([float(rank + 1)], dtype=gn.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.item() == 2.0
    t = gn.tensor([float(rank + 1)])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.item() == 1.5
    t = gn.arange(6).reshape(2, 3).transpose(0, 1) * (rank + 1)      # not contiguous: written back
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3).T * 3)
    b = gn.full((3,), float(rank))
    dist.broadcast(b, src=1)
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0, 1.0])
    parts = [gn.zeros(2) for _ in range(world)]
    dist.all_gather(parts, gn.tensor([rank, 10.0 * rank]))
    np.testing.assert_array_equal(np.stack([p.numpy() for p in parts]), [[0, 0], [1, 10]])
    work = dist.all_reduce(gn.ones(2), async_op=True)
    assert work.wait()
    dist.barrier()


def _model():
    gn.manual_seed(rank)                  # different on purpose: DDP must broadcast rank 0's
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(gn.float64)


def check_broadcast_at_construction():
    model = _model()
    nn.parallel.DistributedDataParallel(model)
    w = model[0].weight.detach()
    everyone = [gn.zeros(*w.shape, dtype=gn.float64) for _ in range(world)]
    dist.all_gather(everyone, w)
    np.testing.assert_array_equal(everyone[0].numpy(), everyone[1].numpy())


def check_no_sync_accumulates_then_averages():
    """Two micro-batches under no_sync + one synced = the average of every rank's sum of three."""
    model = _model()
    ddp = nn.parallel.DistributedDataParallel(model)
    reference = _model()
    reference.load_state_dict(model.state_dict())
    data = np.random.default_rng(5).standard_normal((world, 3, 4, 3))
    with ddp.no_sync():
        for k in range(2):
            ddp(gn.tensor(data[rank, k])).sum().backward()
    local = model[0].weight.grad.numpy().copy()
    ddp(gn.tensor(data[rank, 2])).sum().backward()
    for r in range(world):
        for k in range(3):
            reference(gn.tensor(data[r, k])).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), reference[0].weight.grad.numpy() / world, rtol=1e-12)
    assert not np.allclose(local, model[0].weight.grad.numpy())


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.left, self.right = nn.Linear(3, 3), nn.Linear(3, 1), nn.Linear(3, 1)
        self.never = nn.Linear(3, 1)

    def forward(self, x, head):
        h = self.body(x)
        return self.left(h) if head == "left" else self.right(h)


def check_unused_parameters():
    """Rank 0 uses the left head, rank 1 the right: each head's gradient is half its one user's;
    the head no rank uses keeps grad None (torch's rule)."""
    gn.manual_seed(0)
    model = TwoHeads().to(gn.float64)
    ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    x = gn.tensor(np.ones((2, 3)), dtype=gn.float64)
    ddp(x, "left" if rank == 0 else "right").sum().backward()
    h = model.body(x).detach().numpy().sum(axis=0)
    np.testing.assert_allclose(model.left.weight.grad.numpy()[0], h / 2)
    np.testing.assert_allclose(model.right.weight.grad.numpy()[0], h / 2)
    assert model.never.weight.grad is None and model.never.bias.grad is None

    strict = nn.parallel.DistributedDataParallel(TwoHeads().to(gn.float64))
    try:
        strict(x, "left").sum().backward()
    except RuntimeError as error:
        message = str(error)
        assert f"on rank {rank}" in message and "never.weight" in message and "find_unused_parameters" in message
    else:
        raise AssertionError("a parameter without gradient went unnoticed")


def check_errors_name_the_rank():
    t = gn.zeros(2)
    try:
        dist.all_gather([t], t)
    except ValueError as error:
        assert f"on rank {rank}" in str(error)
    else:
        raise AssertionError("all_gather accepted a list of the wrong length")


def mismatched():
    width = 4 if rank == 0 else 5
    nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(3, width)))


def main():
    global rank, world
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if sys.argv[1:] == ["mismatched"]:
        mismatched()
        return
    for name, check in list(globals().items()):
        if name.startswith("check_"):
            check()
            if rank == 0:
                print(f"ok {name[6:]}", flush=True)


if __name__ == "__main__":
    main()
