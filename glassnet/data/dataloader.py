"""``DataLoader``: batches of samples, optionally shuffled each epoch."""
from __future__ import annotations

import numbers

from ..backend import xp
from ..tensor import Tensor
from .dataset import _generator


def default_collate(samples):
    """Stack a list of samples (tuples of Tensors / numbers) into a tuple of batch Tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, Tensor):
        return Tensor._wrap(xp.stack([s._data for s in samples]))
    return Tensor(xp.asarray(samples))


def default_convert(sample):
    """One sample as Tensors, without batching (what ``batch_size=None`` yields, as torch)."""
    if isinstance(sample, (tuple, list)):
        return tuple(default_convert(s) for s in sample)
    if isinstance(sample, Tensor):
        return sample
    return Tensor(xp.asarray(sample))


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a Dataset (TensorDataset and Subset batches are gathered with one index).
        batch_size: samples per batch. Default: 1. ``None`` turns batching off, as in torch:
            one sample per step, converted to Tensors (``collate_fn`` then applies per sample).
        shuffle: reshuffle at the start of every epoch. Default: False.
        drop_last: drop the last incomplete batch. Default: False.
        generator: int seed or ``numpy.random.Generator`` for shuffling; default glassnet's
            global generator, so ``gn.manual_seed`` makes the order reproducible.
        collate_fn: merges a list of samples into a batch (from ``__getitem__``, or the list a
            dataset's ``__getitems__`` returns, e.g. a Subset of a plain Dataset).
        sampler: an iterable of dataset indices giving the order (e.g. a ``DistributedSampler``);
            exclusive with ``shuffle``, as in torch.
        num_workers, pin_memory: accepted so torch code runs unchanged; batches are always
            gathered in this process (one fancy index per batch for tensor datasets, where
            worker processes would only add copying), and there is no device memory to pin.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator=None, collate_fn=None, num_workers: int = 0, pin_memory: bool = False,
                 sampler=None):
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.sampler = sampler
        if batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        else:
            batch_size = int(batch_size)
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator = generator
        self.collate_fn = collate_fn or (default_convert if batch_size is None else default_collate)
        self._seeded = None if generator is None else _generator(generator)

    def __len__(self) -> int:
        n = len(self.dataset if self.sampler is None else self.sampler)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return xp.fromiter(iter(self.sampler), xp.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return xp.arange(n)
        gen = self._seeded if self._seeded is not None else _generator(None)
        return gen.permutation(n)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.collate_fn(self.dataset[int(i)])
            return
        batched = hasattr(self.dataset, "__getitems__")
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if not batched:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])
                continue
            samples = self.dataset.__getitems__(idx)
            # torch's contract: __getitems__ returns a list of samples, which collate_fn merges.
            # glassnet's tensor datasets return the batch already stacked (a tuple of Tensors,
            # one fancy index per tensor), which needs no collating.
            yield self.collate_fn(samples) if isinstance(samples, list) else samples

    def state_dict(self) -> dict:
        """The shuffling generator's state (empty when shuffling draws from glassnet's global
        generator, which ``gn.manual_seed`` and the Trainer's checkpoints cover), as torchdata's
        ``StatefulDataLoader`` offers: restore it to replay the same order."""
        if self._seeded is None:
            return {}
        return {"generator": self._seeded.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state and self._seeded is not None:
            self._seeded.bit_generator.state = state["generator"]
