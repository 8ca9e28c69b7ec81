"""Truncated backpropagation through time over one long stream.

The stream of ids (L,) is cut into ``batch_size`` parallel streams (B, L // B); each
step trains on the next ``bptt`` characters of every stream. The hidden state is carried
from one step to the next, so the model sees context beyond ``bptt`` characters, but it
is *detached* at every step: gradients flow back at most ``bptt`` steps. That is the
truncation: the cost of a step stays O(bptt) however long the stream is, at the price of
not learning dependencies longer than the window from the gradient.

``batchify`` and ``windows`` are the stream helpers; :class:`TBPTT` is the same truncation
as an option of the :class:`~glassnet.training.Trainer` (``Trainer(..., tbptt=64)``), which
the char-LM job (``char_lm.py``) uses.
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


class TBPTT:
    """Truncated backpropagation through time, as an option of :class:`~glassnet.training.Trainer`.

        trainer = gn.Trainer(model, opt, loss_fn, tbptt=64)            # or tbptt=TBPTT(64)

    Each batch (x, y) of long sequences is cut along its time axis into windows of ``steps``
    steps. The model is called as ``model(x_window, state) -> (output, state)`` (``nn.RNN``,
    ``nn.LSTM``, ``nn.GRU`` with ``batch_first=True``, or a model such as ``CharRNN``); each
    window is one optimizer step, and the state passes on to the next window *detached*:
    the forward pass sees the whole sequence, the gradient reaches back at most ``steps``
    steps. The state starts from None at every batch (for one long text cut into parallel
    streams, make each stream one sample: ``tbptt.batchify``).

    Targets:
        * aligned (many-to-many): y has the same time axis as x, e.g. y[:, t] = x[:, t + 1]
          for a language model. Feeding the true previous token as the input at every step,
          rather than the model's own prediction, is **teacher forcing**: the usual way to
          train a sequence-to-sequence target, and what this option does with such data.
        * one target per sequence (many-to-one): windows before the last are run to carry
          the state, without a graph; the loss is taken on the last window's output only.

    Args:
        steps: window length K (the truncation).
        time_dim: the time axis of x (and of an aligned y). Default: 1 (batch first).
    """

    def __init__(self, steps: int, time_dim: int = 1):
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"TBPTT: steps must be a positive integer, got {steps!r}")
        self.steps, self.time_dim = steps, time_dim

    def __repr__(self) -> str:
        return f"TBPTT(steps={self.steps}, time_dim={self.time_dim})"

    def num_windows(self, x) -> int:
        return -(-x.shape[self.time_dim] // self.steps)

    def windows(self, x, y):
        """Yield (x_window, y_window or None, is_last) over the time axis of one batch."""
        length = x.shape[self.time_dim]
        aligned = y.ndim > self.time_dim and y.shape[self.time_dim] == length
        for start in range(0, length, self.steps):
            stop = min(start + self.steps, length)
            last = stop == length
            x_window = _slice_time(x, self.time_dim, start, stop)
            if aligned:
                yield x_window, _slice_time(y, self.time_dim, start, stop), last
            else:
                yield x_window, (y if last else None), last


def _slice_time(t, dim: int, start: int, stop: int):
    index = [slice(None)] * t.ndim
    index[dim] = slice(start, stop)
    return Tensor._wrap(t._data[tuple(index)])


def as_tbptt(option):
    """None, a window length or a :class:`TBPTT` -> a TBPTT or None."""
    if option is None or isinstance(option, TBPTT):
        return option
    return TBPTT(option)
