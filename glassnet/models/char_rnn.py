"""A character-level language model: Embedding -> recurrent layers -> Linear on every step."""
from __future__ import annotations

from .. import nn

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def recurrent_layer(cell: str, input_size: int, hidden_size: int, **kwargs) -> nn.Module:
    """``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (tanh) by name, batch_first."""
    if cell not in _CELLS:
        raise ValueError(f"unknown cell {cell!r}, expected one of {sorted(_CELLS)}")
    return _CELLS[cell](input_size, hidden_size, batch_first=True, **kwargs)


class CharRNN(nn.Module):
    r"""Predicts the next character at every step (one-to-many when sampled, see :mod:`glassnet.sampling`).

        e_t = E[x_t]                      (embedding)
        h_t, state = RNN(e_t, state)      (LSTM, GRU or tanh RNN, ``num_layers`` deep)
        logits_t = h_t W^T + b            (scores over the vocabulary)

    Args:
        vocab_size: number of distinct characters V.
        embedding_dim: size of each character vector. Default: 64.
        hidden_size: size of the recurrent state. Default: 256.
        num_layers: stacked recurrent layers. Default: 1.
        cell: 'lstm', 'gru' or 'rnn'. Default: 'lstm'.
        dropout: between recurrent layers while training. Default: 0.

    Forward ``(x, state=None)``: x (N, T) integer ids; state as the recurrent layer's hx
    (``(h, c)`` for an LSTM) or None. Returns ``(logits (N, T, V), state)``; pass ``state``
    back in to continue the sequence.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.cell = vocab_size, cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = recurrent_layer(cell, embedding_dim, hidden_size, num_layers=num_layers, dropout=dropout)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        output, state = self.rnn(self.embedding(x), state)
        return self.fc(output), state


def char_rnn(vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
             cell: str = "lstm") -> CharRNN:
    """A :class:`CharRNN` (Embedding -> LSTM/GRU/RNN -> Linear on every step)."""
    return CharRNN(vocab_size, embedding_dim, hidden_size, num_layers, cell)
