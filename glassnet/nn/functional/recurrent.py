"""Recurrent networks as functions of Tensors: stacked, optionally bidirectional layers.

``rnn``, ``lstm`` and ``gru`` take the weights as a flat list in torch's order (for
each layer, for each direction: w_ih, w_hh, then b_ih, b_hh when ``has_biases``), the
same order as the modules' parameters. Each layer direction is one primitive of
:mod:`glassnet.functions.recurrent`; layers are stacked, with dropout between them
while training (not after the last layer); a bidirectional layer runs a second,
reversed primitive and concatenates the two outputs on the feature axis (forward first).

``lengths`` is glassnet's addition (torch uses packed sequences): a list, array or
Tensor of N per-sequence lengths for a padded batch. Padded steps leave the state
alone (h_n is each sequence's state at its last valid step; the reverse direction
starts there), output zeros and get no gradient, as torch's
pack_padded_sequence -> RNN -> pad_packed_sequence does.

The cell functions (``rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``)
take one step: input (N, I), hx (N, H) -> h' (N, H) (LSTM: (h', c')).
"""
from __future__ import annotations

from ...backend import xp
from ...functions import recurrent as R
from ...tensor import Tensor, cat, stack
from .dropout import dropout as _dropout

__all__ = ["rnn", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


def _as_lengths(lengths):
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        lengths = lengths._data
    return xp.asarray(lengths, dtype=xp.int64).reshape(-1)


def _stack(mode, input, hx, params, has_biases, num_layers, dropout, training, bidirectional,
           batch_first, lengths, nonlinearity="tanh", reset_after=True):
    x = input.transpose(0, 1) if batch_first else input
    lengths = _as_lengths(lengths)
    D = 2 if bidirectional else 1
    per = 4 if has_biases else 2
    if mode == "lstm":
        h0, c0 = hx if hx is not None else (None, None)
    else:
        h0, c0 = hx, None
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            w = list(params[k * per:(k + 1) * per]) + [None] * (4 - per)
            h = h0[k] if h0 is not None else None
            options = dict(lengths=lengths, reverse=d == 1)
            if mode == "lstm":
                y, h, c = R.LSTM.apply(x, h, c0[k] if c0 is not None else None, *w, **options)
                c_n.append(c)
            elif mode == "gru":
                y, h = R.GRU.apply(x, h, *w, reset_after=reset_after, **options)
            else:
                y, h = R.RNN.apply(x, h, *w, nonlinearity=nonlinearity, **options)
            outs.append(y)
            h_n.append(h)
        x = outs[0] if D == 1 else cat(outs, dim=2)
        if dropout and training and layer < num_layers - 1:
            x = _dropout(x, dropout, training=True)
    output = x.transpose(0, 1) if batch_first else x
    h_n = stack(h_n, 0)
    return (output, (h_n, stack(c_n, 0))) if mode == "lstm" else (output, h_n)


def rnn(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, training=False, bidirectional=False,
        batch_first=False, lengths=None, nonlinearity="tanh"):
    """Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    input (T, N, I) (or (N, T, I) with ``batch_first``), hx (L*D, N, H) or None
    -> output (T, N, D*H), h_n (L*D, N, H).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
    return _stack("rnn", input, hx, params, has_biases, num_layers, dropout, training, bidirectional,
                  batch_first, lengths, nonlinearity)


def lstm(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, training=False, bidirectional=False,
         batch_first=False, lengths=None):
    """LSTM; hx = (h_0, c_0) or None -> output, (h_n, c_n). Shapes as :func:`rnn`."""
    return _stack("lstm", input, hx, params, has_biases, num_layers, dropout, training, bidirectional,
                  batch_first, lengths)


def gru(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, training=False, bidirectional=False,
        batch_first=False, lengths=None, reset_after=True):
    """GRU -> output, h_n. Shapes as :func:`rnn`. ``reset_after`` (Keras's name; torch has only
    the True form): whether the reset gate scales the recurrent product, r * (W_hn h + b_hn)
    (True, torch's), or the state before it, W_hn (r * h) + b_hn (False, Cho et al.'s)."""
    return _stack("gru", input, hx, params, has_biases, num_layers, dropout, training, bidirectional,
                  batch_first, lengths, reset_after=reset_after)


# one step = a sequence of length 1, through the same primitives
def _cell(fn, input, hx, *weights, **options):
    out = fn.apply(input.unsqueeze(0), *hx, *weights, **options)
    return out[1:]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)"""
    return _cell(R.RNN, input, (hx,), w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh")[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)"""
    return _cell(R.RNN, input, (hx,), w_ih, w_hh, b_ih, b_hh, nonlinearity="relu")[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: hx = (h, c) -> (h', c')."""
    h, c = hx if hx is not None else (None, None)
    return _cell(R.LSTM, input, (h, c), w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """One GRU step: h -> h' (``reset_after`` as in :func:`gru`)."""
    return _cell(R.GRU, input, (hx,), w_ih, w_hh, b_ih, b_hh, reset_after=reset_after)[0]
