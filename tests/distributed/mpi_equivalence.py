"""Run under ``mpiexec -n 2``: data-parallel training equals one process on the whole batch.

For each model (an MLP, a CNN with SyncBatchNorm, an LSTM) and dtype (float64, float32),
every rank trains a DistributedDataParallel copy for 20 SGD steps on its own B samples of
each 2B batch, and also, alone, a reference copy on the whole 2B batch. The parameters
(and the batch norms' running statistics) must agree: float64 to 1e-10, float32 to 1e-5.
Prints one "ok ..." line per case from rank 0; raises (aborting the job) otherwise.
"""
import copy
import sys

import numpy as np

import glassnet as gn
import glassnet.distributed as dist
import glassnet.nn as nn
import glassnet.nn.functional as F

STEPS, B = 20, 4
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


class LastStep(nn.Module):
    """LSTM over (N, T, 3), a linear read-out of the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.head = nn.Linear(5, 4)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def build(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)), (6,)
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                             nn.Flatten(), nn.Linear(3 * 5 * 5, 4)), (2, 5, 5)
    return LastStep(), (6, 3)


def run_case(kind, dtype, rank, world, bucket_cap_mb=None):
    gn.manual_seed(1)
    model, shape = build(kind)
    model.to(getattr(gn, dtype))
    reference = copy.deepcopy(model)
    if kind == "cnn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    data = np.random.default_rng(2)
    X = data.standard_normal((STEPS, world * B) + shape).astype(dtype)
    Y = data.integers(0, 4, (STEPS, world * B))
    opt = gn.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = gn.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    mine = slice(rank * B, (rank + 1) * B)
    for step in range(STEPS):
        opt.zero_grad()
        F.cross_entropy(ddp(gn.tensor(X[step, mine])), gn.tensor(Y[step, mine])).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(reference(gn.tensor(X[step])), gn.tensor(Y[step])).backward()
        ref_opt.step()
    tol = TOLERANCE[dtype]
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys(), (ours.keys(), theirs.keys())
    worst = 0.0
    for key in ours:
        a, b = ours[key].numpy(), theirs[key].numpy()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{kind} {dtype} {key} on rank {rank}")
        if a.dtype.kind == "f":
            worst = max(worst, float(np.abs(a - b).max()))
    if rank == 0:
        print(f"ok {kind} {dtype} ({len(ddp._buckets)} buckets): {len(ours)} tensors equal after {STEPS} steps, worst difference {worst:.2e}")


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    kinds = sys.argv[1:] or ["mlp", "cnn", "lstm"]
    for kind in kinds:
        for dtype in ("float64", "float32"):
            run_case(kind, dtype, rank, world)
    run_case("lstm", "float64", rank, world, bucket_cap_mb=0)      # one bucket per parameter
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
