"""What ``Trainer`` does differently when it runs in a process group of more than one rank.

Under ``mpiexec -n p``, with ``init_process_group`` called, ``Trainer.fit`` (through
:class:`DataParallelRun`):

* averages gradients across ranks (``DistributedDataParallel``'s hooks on the model's
  parameters; the model itself is not wrapped, so checkpoints keep its own ``state_dict``
  keys and load on any number of ranks, one included);
* gives each rank its shard of the training data (``DistributedSampler``, reshuffled per
  epoch with the same seed everywhere; ``batch_size`` is per rank, as in torch);
* sums the epoch's loss and accuracy counts (and evaluation's, over disjoint shards of the
  evaluation data, validation included) across ranks, so every rank logs, schedules and stops early on the
  same whole-data numbers;
* shows the progress bar, logs, and writes checkpoints and reports on rank 0 only.

Buffers are not broadcast (the model is called directly, not through the wrapper): plain
BatchNorm keeps per-rank running statistics and rank 0's are checkpointed; convert it with
``SyncBatchNorm.convert_sync_batchnorm`` for statistics over every rank's batch.
"""
from __future__ import annotations

from ..backend import xp
from . import process_group


class DataParallelRun:
    """This process's place in the job: ``rank``, ``world_size``, ``main`` (rank 0)."""

    def __init__(self):
        self.rank, self.world_size = process_group.get_rank(), process_group.get_world_size()
        self.main = self.rank == 0
        self.ddp = None

    @classmethod
    def current(cls):
        """A DataParallelRun inside a process group of two ranks or more, else None (plain training)."""
        if process_group.is_initialized() and process_group.get_world_size() > 1:
            return cls()
        return None

    def setup(self, trainer, train, loader, batch_size, shuffle):
        """Attach gradient averaging to the trainer's model, quiet the other ranks, shard the data.

        Returns the loader to train with: ``loader`` itself when the caller built it (their
        DataLoader, their sampler), else one over this rank's DistributedSampler shard.
        """
        from ..data.dataloader import DataLoader
        from ..data.distributed import DistributedSampler
        from ..nn.parallel import DistributedDataParallel
        model = trainer.model
        if isinstance(model, DistributedDataParallel):
            self.ddp = model
        else:
            self.ddp = model.__dict__.get("_data_parallel")
            if self.ddp is None:
                self.ddp = DistributedDataParallel(model)
                object.__setattr__(model, "_data_parallel", self.ddp)   # attach once, however often fit runs
        if not self.main:
            trainer.progress, trainer.verbose, trainer.report = False, False, None
        if loader is train:          # the caller's own DataLoader
            return loader
        # the epoch's order: a permutation seeded by seed + epoch (set_epoch, in Trainer._train_epoch),
        # the same on every rank; seed 0 as torch's sampler, whatever the global seed
        sampler = DistributedSampler(train, self.world_size, self.rank, shuffle=shuffle, seed=0)
        return DataLoader(train, batch_size, sampler=sampler, collate_fn=loader.collate_fn)

    def can_shard(self, data) -> bool:
        """A Dataset, or a DataLoader that walks its dataset in order (no sampler: e.g. fit's validation),
        with at least one sample per rank."""
        dataset = getattr(data, "dataset", data)
        return (getattr(data, "sampler", None) is None and not getattr(data, "shuffle", False)
                and len(dataset) >= self.world_size)

    def shard(self, data):
        """Every world_size-th sample from this rank's: disjoint shards, no padding (exact sums).
        A DataLoader becomes one over its dataset's shard, with its batch size and collate_fn."""
        from ..data.dataloader import DataLoader
        from ..data.dataset import Subset
        dataset = data.dataset if isinstance(data, DataLoader) else data
        shard = Subset(dataset, list(range(self.rank, len(dataset), self.world_size)))
        if isinstance(data, DataLoader):
            return DataLoader(shard, data.batch_size, collate_fn=data.collate_fn)
        return shard

    def sum_across_ranks(self, *values):
        """The sums over all ranks of a few numbers (one message)."""
        from .collectives import all_reduce_array
        total = all_reduce_array(xp.array(values, xp.float64))
        return [float(v) for v in total]
