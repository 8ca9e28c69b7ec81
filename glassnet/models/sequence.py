"""Sequence models: many-to-one (classify an image read row by row) and many-to-many (tag each token)."""
from __future__ import annotations

from .. import nn
from ..errors import ShapeError
from .char_rnn import recurrent_layer


class RowSequenceClassifier(nn.Module):
    r"""Reads an image one row per time step and classifies it from the last state (many-to-one).

        x_t = row t of the image             (input_size pixels)
        h_t = RNN(x_t, h_{t-1})              (LSTM, GRU or tanh RNN)
        logits = h_T W^T + b

    For the 8x8 digits: 8 steps of 8 features.

    Args:
        input_size: pixels per row (image width). Default: 8.
        hidden_size: recurrent state size. Default: 64.
        num_classes: output classes. Default: 10.
        cell: 'lstm', 'gru' or 'rnn'. Default: 'lstm'.

    Shape: images (N, 1, rows, input_size) or (N, rows, input_size) -> logits (N, num_classes).
    """

    def __init__(self, input_size: int = 8, hidden_size: int = 64, num_classes: int = 10, cell: str = "lstm"):
        super().__init__()
        self.input_size = input_size
        self.rnn = recurrent_layer(cell, input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        if x.ndim == 4 and x.shape[1] == 1:
            x = x.reshape(x.shape[0], x.shape[2], x.shape[3])
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(f"expected images (N, 1, rows, {self.input_size}) or (N, rows, {self.input_size}), "
                             f"got {tuple(x.shape)}", self)
        output, _ = self.rnn(x)
        return self.fc(output[:, -1])


class SequenceTagger(nn.Module):
    r"""Tags every token of a sequence (many-to-many).

        e_t = E[x_t];   h_t = [h_fwd_t ; h_bwd_t] = BiLSTM(e)_t;   logits_t = h_t W^T + b

    With ``bidirectional`` the tag of token t sees the whole sentence, left and right.

    Args:
        vocab_size: number of token ids.   num_tags: number of tags.
        embedding_dim: Default: 32.   hidden_size: per direction. Default: 64.
        bidirectional: Default: True.   cell: 'lstm', 'gru' or 'rnn'. Default: 'lstm'.

    Forward ``(x, lengths=None)``: x (N, T) ids, optional valid lengths of a padded batch
    -> logits (N, T, num_tags).
    """

    def __init__(self, vocab_size: int, num_tags: int, embedding_dim: int = 32, hidden_size: int = 64,
                 bidirectional: bool = True, cell: str = "lstm"):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = recurrent_layer(cell, embedding_dim, hidden_size, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, x, lengths=None):
        output, _ = self.rnn(self.embedding(x), lengths=lengths)
        return self.fc(output)
