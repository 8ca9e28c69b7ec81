"""Embedding: a learned lookup table from integer ids to vectors."""
from __future__ import annotations

from ...backend import get_default_dtype, xp
from .. import functional as F
from .. import init
from ..functional.embedding import _normalise_padding_idx
from ..module import Module
from ..parameter import Parameter
from .arguments import count

__all__ = ["Embedding"]


class Embedding(Module):
    r"""A table of ``num_embeddings`` vectors of size ``embedding_dim``: y = W[input].

    Looking up id v is the same as multiplying the one-hot vector e_v by W, so the
    gradient dW is the sum of dy over the positions that picked each row.

    Args:
        num_embeddings: size of the vocabulary (rows of the table).
        embedding_dim: size of each vector.
        padding_idx: if given, this row starts at zero and receives no gradient, so it
            stays a fixed "padding" vector. Negative values count from the end.

    Shape:
        input (*) integer ids in [0, num_embeddings)  ->  output (*, embedding_dim)

    Attributes:
        weight: (num_embeddings, embedding_dim), from N(0, 1) as torch.
    """

    _input_rule = "index"     # integer Tensors (Module.__call__ checks)

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, dtype=None):
        super().__init__()
        if max_norm is not None or scale_grad_by_freq:
            raise NotImplementedError("Embedding: max_norm and scale_grad_by_freq are not supported")
        num_embeddings = count("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = count("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        try:
            self.padding_idx = _normalise_padding_idx(padding_idx, num_embeddings)
        except ValueError as error:
            raise ValueError(f"Embedding: {error}") from None
        dtype = dtype or get_default_dtype()
        if _weight is None:
            self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            array = xp.asarray(_weight._data if hasattr(_weight, "_data") else _weight)
            if array.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {array.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(array, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, **kwargs):
        """An Embedding holding ``embeddings`` (V, D); frozen (no gradient) unless ``freeze=False``."""
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
