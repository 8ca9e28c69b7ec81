"""Run under ``mpiexec -n 2``: the Trainer, unchanged, on two ranks.

    python mpi_trainer.py train DIR         # 2 epochs, per-rank batch 8, checkpoints in DIR
    python mpi_trainer.py kill DIR          # 4 epochs; rank 1 is SIGKILLed early in epoch 3

``job()`` builds the run the same way for the tests, which train or resume it in one process.
"""
import os
import signal
import sys

import glassnet as gn
import glassnet.distributed as dist
import glassnet.nn as nn

SAMPLES, BATCH = 96 + 33, 8       # 96 to train on (6 batches of 2 x 8), 33 to validate; BATCH per rank


def job(checkpoint_dir, loss_fn=None):
    """(trainer, (X, y), validation (X, y)): a float64 MLP on the first digits, the same on every rank."""
    gn.manual_seed(3)
    X, y = gn.data.load_digits()
    X, y = gn.tensor(X[:SAMPLES].numpy(), dtype=gn.float64), y[:SAMPLES]
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).to(gn.float64)
    trainer = gn.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                         loss_fn or nn.CrossEntropyLoss(), checkpoint_dir=checkpoint_dir, progress=False)
    return trainer, (X[:96], y[:96]), (X[96:], y[96:])


class KillRankOneAt:
    """A loss that SIGKILLs rank 1 at its n-th call (no traceback, no MPI_Abort: a hard crash)."""

    def __init__(self, n):
        self.calls, self.n, self.loss = 0, n, nn.CrossEntropyLoss()

    def __call__(self, out, target):
        self.calls += 1
        if self.calls == self.n and dist.get_rank() == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.loss(out, target)


def main():
    mode, directory = sys.argv[1], sys.argv[2]
    dist.init_process_group("mpi")
    steps_per_epoch = 96 // (BATCH * dist.get_world_size())
    if mode == "train":
        trainer, data, val = job(directory)
        trainer.fit(data, epochs=2, batch_size=BATCH, shuffle=False, val_data=val)
    else:
        trainer, data, val = job(directory, KillRankOneAt(2 * steps_per_epoch + 3))
        trainer.fit(data, epochs=4, batch_size=BATCH, val_data=val)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
