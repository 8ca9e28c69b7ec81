"""Packed sequences, as torch.nn.utils.rnn, for code moving over from torch.

A padded batch (T, N, *) with lengths L_n is packed into ``data`` (sum_n L_n, *): time-major,
step t holding the ``batch_sizes[t]`` sequences still running, longest first. The
recurrent modules accept a :class:`PackedSequence` and return one; internally they run
the padded batch with glassnet's ``lengths`` argument, which is the simpler way:

    output, h_n = lstm(padded, lengths=lengths)            # glassnet
    packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    output, h_n = lstm(packed)                             # torch style, same numbers

Ties in length keep their batch order (a stable sort).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import xp
from ..tensor import Tensor, cat, full

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence"]


class PackedSequence(NamedTuple):
    """data (sum of lengths, *), batch_sizes (T,) int64, sorted_indices / unsorted_indices (N,) or None."""
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor = None
    unsorted_indices: Tensor = None


def _lengths_array(lengths):
    return xp.asarray(lengths._data if isinstance(lengths, Tensor) else lengths, dtype=xp.int64).reshape(-1)


def _positions(batch_sizes, order):
    """(t, n) of every row of ``data``: step t, then the sorted batch position j < batch_sizes[t]."""
    t = xp.repeat(xp.arange(len(batch_sizes)), batch_sizes)
    j = xp.concatenate([xp.arange(b) for b in batch_sizes]) if len(batch_sizes) else xp.zeros(0, xp.int64)
    return t, order[j]


def _order(sequence):
    n = int(sequence.batch_sizes._data[0])
    return xp.arange(n) if sequence.sorted_indices is None else sequence.sorted_indices._data


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, N, *) ((N, T, *) with ``batch_first``) with the N ``lengths``.

    With ``enforce_sorted`` the lengths must be in decreasing order; otherwise the batch is
    sorted here and ``sorted_indices`` records how. Differentiable in ``input``.
    """
    L = _lengths_array(lengths)
    if L.size and (L.min() <= 0):
        raise ValueError(f"pack_padded_sequence: lengths must be positive, got {L.tolist()}")
    if enforce_sorted:
        if xp.any(L[:-1] < L[1:]):
            raise ValueError(f"pack_padded_sequence: lengths {L.tolist()} are not sorted in decreasing order; "
                             f"pass enforce_sorted=False")
        order, sorted_indices, unsorted_indices = xp.arange(L.size), None, None
    else:
        order = xp.argsort(-L, kind="stable")
        unsorted = xp.empty_like(order)
        unsorted[order] = xp.arange(order.size)
        sorted_indices, unsorted_indices = Tensor._wrap(order), Tensor._wrap(unsorted)
    x = input.transpose(0, 1) if batch_first else input
    if L.size and L.max() > x.shape[0]:
        raise ValueError(f"pack_padded_sequence: a length {int(L.max())} exceeds the padded length {x.shape[0]}")
    batch_sizes = (L[order][None, :] > xp.arange(int(L.max()) if L.size else 0)[:, None]).sum(axis=1)
    t, n = _positions(batch_sizes, order)
    return PackedSequence(x[t, n], Tensor._wrap(batch_sizes.astype(xp.int64)), sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length=None):
    """Undo :func:`pack_padded_sequence`: returns (padded (T, N, *) or (N, T, *), lengths (N,) int64)."""
    data, batch_sizes = sequence.data, sequence.batch_sizes._data
    order = _order(sequence)
    T = len(batch_sizes) if total_length is None else int(total_length)
    if T < len(batch_sizes):
        raise ValueError(f"pad_packed_sequence: total_length {T} is less than the longest sequence "
                         f"({len(batch_sizes)})")
    N = order.size
    t, n = _positions(batch_sizes, order)
    index = xp.full((T, N), data.shape[0], dtype=xp.int64)      # padded slots read the padding row
    index[t, n] = xp.arange(data.shape[0])
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded = cat([data, pad], 0)[index]
    lengths = xp.zeros(N, xp.int64)
    xp.add.at(lengths, n, 1)
    return (padded.transpose(0, 1) if batch_first else padded), Tensor._wrap(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0):
    """Stack tensors of shapes (L_i, *) into a padded (max L, N, *) ((N, max L, *) with batch_first)."""
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        if s.shape[0] < T:
            s = cat([s, full((T - s.shape[0],) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)], 0)
        rows.append(s.unsqueeze(0 if batch_first else 1))
    return cat(rows, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors."""
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def _repack(padded, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded output with the same layout as ``like`` (used by the RNN modules)."""
    t, n = _positions(like.batch_sizes._data, _order(like))
    return PackedSequence(padded[t, n], like.batch_sizes, like.sorted_indices, like.unsorted_indices)
