"""Datasets: indexable collections of samples."""
from __future__ import annotations

from ..backend import rng as global_rng
from ..backend import xp
from ..tensor import Tensor


class Dataset:
    """Subclass and implement ``__getitem__(i)`` (a sample) and ``__len__``."""

    def __getitem__(self, index):  # pragma: no cover - interface
        raise NotImplementedError

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: ``dataset[i] = (t[i] for t in tensors)``.

    It also answers a whole batch of indices at once (``__getitems__``), which is how
    the DataLoader avoids a Python loop over samples.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = len(tensors[0])
        for i, t in enumerate(tensors):
            if len(t) != n:
                raise ValueError(f"TensorDataset: tensor {i} has {len(t)} rows, tensor 0 has {n}")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)

    def __getitem__(self, index):
        return tuple(Tensor._wrap(t._data[index]) for t in self.tensors)

    def __getitems__(self, indices):
        return tuple(Tensor._wrap(t._data[indices]) for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, xp.asarray(indices, dtype=xp.int64)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        """The inner dataset's batch (stacked, for tensor datasets), or a list of samples
        that the DataLoader's ``collate_fn`` merges, as torch's ``Subset`` does."""
        inner = self.indices[xp.asarray(indices)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)
        return [self.dataset[int(i)] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping Subsets of the given lengths (or fractions summing to 1).

    ``generator``: an int seed or a ``numpy.random.Generator``; default glassnet's global one.
    """
    n = len(dataset)
    lengths = list(lengths)
    if all(isinstance(f, float) and 0 <= f <= 1 for f in lengths) and abs(sum(lengths) - 1) < 1e-9:
        counts = [int(f * n) for f in lengths]
        for i in range(n - sum(counts)):  # hand out the remainder round-robin, as torch
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths sum to {sum(lengths)}, the dataset has {n} samples")
    gen = _generator(generator)
    order = gen.permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + length]))
        start += length
    return out


def _generator(generator):
    if generator is None:
        return global_rng()
    if isinstance(generator, (int, xp.integer)):
        return xp.random.default_rng(int(generator))
    return generator
