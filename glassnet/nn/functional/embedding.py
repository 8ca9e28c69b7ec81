"""Embedding lookup and one-hot helpers."""
from __future__ import annotations

from ...backend import xp
from ...functions.embedding import Embedding
from ...tensor import Tensor

__all__ = ["embedding"]


def _normalise_padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``: input (*) , weight (V, D) -> (*, D).

    The row ``padding_idx`` (if given) receives no gradient. Indices outside [0, V) raise
    IndexError naming the offending index.
    """
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding: max_norm and scale_grad_by_freq are not supported")
    idx = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices, got dtype {idx.dtype}")
    V = weight.shape[0]
    check_indices(idx, V)
    return Embedding.apply(Tensor._wrap(idx), weight, padding_idx=_normalise_padding_idx(padding_idx, V))


def check_indices(idx, V: int) -> None:
    """IndexError naming the first index outside [0, V) (NumPy would wrap a negative one)."""
    if idx.size:
        bad = (idx < 0) | (idx >= V)
        if bad.any():
            first = int(idx[bad].reshape(-1)[0])
            raise IndexError(f"embedding: index {first} is out of range for a table of {V} rows "
                             f"(valid indices 0..{V - 1})")
