"""``DistributedSampler``: each rank of a data-parallel job its own shard of the data set.

torch's index assignment, exactly: take the epoch's order (a permutation seeded by
``seed + epoch``, or 0..n-1), pad it by repeating its head until its length divides by
the number of replicas (or cut the tail with ``drop_last``), then rank r takes every
num_replicas-th index starting at r. The shards are disjoint (up to the padding) and
their union is the whole epoch.
"""
from __future__ import annotations

import math

from ..backend import xp


class DistributedSampler:
    """Indices of one rank's shard of ``dataset``, for ``DataLoader(dataset, sampler=...)``.

    Args:
        dataset: anything with ``len()``.
        num_replicas: number of ranks. Default: the process group's world size.
        rank: this rank. Default: the process group's rank.
        shuffle: a new permutation every epoch (call ``set_epoch`` each epoch). Default: True.
        seed: the permutation is drawn by NumPy's PCG64 seeded with ``seed + epoch``, the
            same on every rank, so the shards agree. (torch's sampler draws its permutation
            from torch's generator; the padding and striding here are torch's, so with
            ``shuffle=False`` the indices are identical.) Default: 0.
        drop_last: drop the tail instead of padding when len(dataset) does not divide. Default: False.

    Yields ``num_samples = ceil(n / num_replicas)`` indices per epoch (with ``drop_last``:
    ``ceil((n - num_replicas) / num_replicas)``, i.e. floor(n / num_replicas) when it does not divide).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        if num_replicas is None or rank is None:
            from .. import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank default to the process group's, "
                                   "but none is initialized: call gn.distributed.init_process_group('mpi') "
                                   "or pass num_replicas= and rank=")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = xp.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = xp.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:   # repeat the order's head (the whole order as often as needed) to fill
                indices = xp.concatenate([indices, xp.resize(indices, pad)])
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's permutation; call it before each epoch, or every epoch repeats the order."""
        self.epoch = epoch
