"""Truncated backpropagation through time over one long stream.

The stream of ids (L,) is cut into ``batch_size`` parallel streams (B, L // B); each
step trains on the next ``bptt`` characters of every stream. The hidden state is carried
from one step to the next, so the model sees context beyond ``bptt`` characters, but it
is *detached* at every step: gradients flow back at most ``bptt`` steps. That is the
truncation: the cost of a step stays O(bptt) however long the stream is, at the price of
not learning dependencies longer than the window from the gradient.
"""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor


def batchify(ids, batch_size: int):
    """(L,) ids -> (B, L // B): row b is the b-th contiguous slice of the stream."""
    ids = ids._data if isinstance(ids, Tensor) else xp.asarray(ids)
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"batchify: a stream of {len(ids)} ids is too short for batch_size {batch_size}")
    return ids[: n * batch_size].reshape(batch_size, n)


def windows(streams, bptt: int):
    """Yield (x, y) Tensors of shape (B, <= bptt): y is x shifted one step ahead."""
    length = streams.shape[1]
    for start in range(0, length - 1, bptt):
        stop = min(start + bptt, length - 1)
        yield Tensor._wrap(streams[:, start:stop]), Tensor._wrap(streams[:, start + 1:stop + 1])


def detach_state(state):
    """Cut the graph behind the carried state (a Tensor, or a tuple such as LSTM's (h, c))."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    return state.detach()
