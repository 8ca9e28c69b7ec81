r"""Recurrent layers: RNN, LSTM, GRU and their one-step cells.

Parameters are named and shaped as torch's, so ``state_dict`` keys are the same and
torch weights load by name. For layer k (``_reverse`` appended for the backward
direction of a bidirectional layer), with G = 1 (RNN), 4 (LSTM) or 3 (GRU) gates:

    weight_ih_l{k}   (G*hidden_size, input_size)  for k = 0, else (G*hidden_size, D*hidden_size)
    weight_hh_l{k}   (G*hidden_size, hidden_size)
    bias_ih_l{k}     (G*hidden_size,)
    bias_hh_l{k}     (G*hidden_size,)

the gates' blocks stacked in torch's order (LSTM: W_i|W_f|W_g|W_o, GRU: W_r|W_z|W_n).
All are drawn from U(-sqrt(k), sqrt(k)) with k = 1/hidden_size, as torch.
"""
from __future__ import annotations

import math

from ...backend import get_default_dtype, xp
from ...errors import ShapeError
from .. import functional as F
from ..functional.recurrent import _as_lengths
from .. import init
from ..module import Module
from ..parameter import Parameter
from ..rnn_utils import PackedSequence, _repack, pad_packed_sequence
from .arguments import count

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (see those)."""

    _input_rule = "float"     # floating-point Tensors of the parameters' dtype (Module.__call__ checks)

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None):
        super().__init__()
        layer = type(self).__name__
        if not 0 <= dropout <= 1:
            raise ValueError(f"{layer}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            count(layer, name, value, minimum=1)     # as torch: each must be greater than zero
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        D, G = (2 if bidirectional else 1), _GATES[mode]
        dtype = dtype or get_default_dtype()
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * D
            for suffix in ["", "_reverse"][:D]:
                shapes = {f"weight_ih_l{layer}{suffix}": (G * hidden_size, layer_input),
                          f"weight_hh_l{layer}{suffix}": (G * hidden_size, hidden_size)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (G * hidden_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (G * hidden_size,)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(xp.empty(shape, dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        per = 4 if self.bias else 2
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self) -> None:
        """Kept for torch compatibility: there is nothing to flatten here."""

    def _check(self, input, hx, lengths, batch_first):
        """Validate shapes; return whether the input is batched."""
        if input.ndim not in (2, 3):
            raise ShapeError(f"expected input of 2 (unbatched (L, {self.input_size})) or 3 dimensions, got input "
                             f"of shape {tuple(input.shape)}", self)
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"expected input with input_size {self.input_size} features in its last dimension, "
                             f"got {input.shape[-1]} (input shape {tuple(input.shape)})", self)
        batched = input.ndim == 3
        N = input.shape[0 if batch_first else 1] if batched else 1
        T = input.shape[1 if batch_first and batched else 0]
        D = 2 if self.bidirectional else 1
        expected = (self.num_layers * D, N, self.hidden_size) if batched else (self.num_layers * D, self.hidden_size)
        states = [] if hx is None else (list(hx) if self.mode == "LSTM" else [hx])
        if self.mode == "LSTM" and hx is not None and len(states) != 2:
            raise ShapeError("expected hx to be a tuple (h_0, c_0)", self)
        for name, state in zip(["h_0", "c_0"], states):
            if tuple(state.shape) != expected:
                raise ShapeError(f"expected initial state {name} of shape {expected} (num_layers * num_directions, "
                                 f"batch, hidden_size), got {tuple(state.shape)}", self)
        if lengths is not None:
            L = _as_lengths(lengths)
            if L.shape != (N,):
                raise ShapeError(f"expected {N} lengths (one per sequence of the batch), got {L.shape[0]}", self)
            if L.size and (L.min() < 0 or L.max() > T):
                raise ValueError(f"lengths must lie in [0, {T}] (the padded sequence length), got {L.tolist()}")
        return batched

    def forward(self, input, hx=None, lengths=None):
        """input (T, N, I) ((N, T, I) with ``batch_first``, or unbatched (T, I)), or a
        :class:`~glassnet.nn.rnn_utils.PackedSequence` (then the output is packed too); hx as in
        the class docstring or None (zeros); ``lengths``: N valid lengths of a padded batch
        (glassnet's addition, instead of packing)."""
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("pass either a PackedSequence or lengths, not both")
            padded, lengths = pad_packed_sequence(input)
            output, hidden = self._forward(padded, hx, lengths, batch_first=False)
            return _repack(output, input), hidden
        return self._forward(input, hx, lengths, self.batch_first)

    def _forward(self, input, hx, lengths, batch_first):
        batched = self._check(input, hx, lengths, batch_first)
        if not batched:            # (T, I) -> a batch of one, as torch
            input = input.unsqueeze(0 if batch_first else 1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if self.mode == "LSTM" else hx.unsqueeze(1)
        args = (self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                self.bidirectional, batch_first, lengths)
        if self.mode == "LSTM":
            output, hidden = F.lstm(input, hx, *args)
        elif self.mode == "GRU":
            output, hidden = F.gru(input, hx, *args, reset_after=self.reset_after)
        else:
            output, hidden = F.rnn(input, hx, *args, nonlinearity="relu" if self.mode == "RNN_RELU" else "tanh")
        if not batched:
            output = output.squeeze(0 if batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden) if self.mode == "LSTM" else hidden.squeeze(1)
        return output, hidden

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    r"""Multi-layer Elman RNN with tanh or ReLU:

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

    where h_t is the hidden state at time t, x_t the input at time t (for layers after the
    first, the previous layer's output, with dropout while training if ``dropout`` > 0).

    Args:
        input_size: features of x_t.   hidden_size: features of h_t.
        num_layers: stacked layers. Default: 1.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.
        bias: use b_ih and b_hh. Default: True.
        batch_first: input and output are (N, T, *) instead of (T, N, *). Default: False.
        dropout: dropout on the outputs of every layer but the last. Default: 0.
        bidirectional: add a layer reading the sequence backwards. Default: False.

    Forward ``(input, hx=None, lengths=None)``:
        input (T, N, input_size), or (N, T, input_size) with batch_first, or unbatched (T, input_size);
        hx (num_layers * D, N, hidden_size), zeros if None (D = 2 if bidirectional else 1);
        lengths: glassnet's addition for padded batches: the N valid lengths (see
        :mod:`glassnet.nn.functional.recurrent`).
    Returns:
        output (T, N, D * hidden_size): h_t of the last layer for every t (directions concatenated);
        h_n (num_layers * D, N, hidden_size): the final state of every layer and direction.

    Attributes: see :mod:`glassnet.nn.modules.rnn` (``weight_ih_l{k}`` and friends).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory:

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    h_t hidden state, c_t cell state, x_t input at time t; i, f, g, o the input, forget,
    cell and output gates; sigma the sigmoid, * the elementwise product. The additive
    cell update lets gradients flow back through c with factor f_t per step.

    Args and forward: as :class:`RNN` (no nonlinearity); hx is a tuple (h_0, c_0), each
    (num_layers * D, N, hidden_size). Returns ``output, (h_n, c_n)``.
    weight_ih_l{k} is W_ii|W_if|W_ig|W_io stacked: (4*hidden_size, input_size) for k = 0.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class GRU(RNNBase):
    r"""Multi-layer gated recurrent unit:

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))      reset_after=True (torch's)
        n_t = tanh (W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)      reset_after=False (Cho et al.)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    r, z, n the reset, update and new gates. The update gate z weighs the previous state
    h_{t-1} and 1 - z the candidate n, in both forms (as torch and Keras; the notes'
    000_f1a626c8fa66bc36.txt, "Gated Recurrent Unit", write it the other way round,
    h_t = (1 - z_t) h_{t-1} + z_t g_t: the same model with z relabelled 1 - z).

    Args, forward and returns as :class:`RNN`, plus
        reset_after: True (default): the reset gate scales the recurrent product, as torch,
            so one matrix product per step serves all three gates. False: it scales h_{t-1}
            before its product with W_hn, as Cho et al. (2014) and the notes. Keras's name;
            torch has no such argument (its GRU is the True form). The parameters, their
            names and shapes are the same in both forms.
    weight_ih_l{k} is W_ir|W_iz|W_in stacked: (3*hidden_size, input_size) for k = 0.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None,
                 reset_after: bool = True):
        if not isinstance(reset_after, bool):
            raise TypeError(f"GRU: reset_after must be True or False, got {reset_after!r}")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)
        self.reset_after = reset_after

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")


class RNNCellBase(Module):
    """One time step. Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,),
    from U(-1/sqrt(H), 1/sqrt(H)) as torch."""

    _gates = 1
    _input_rule = "float"     # floating-point Tensors of the parameters' dtype (Module.__call__ checks)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G, dtype = self._gates, dtype or get_default_dtype()
        self.weight_ih = Parameter(xp.empty((G * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(xp.empty((G * hidden_size, hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(xp.empty(G * hidden_size, dtype))
            self.bias_hh = Parameter(xp.empty(G * hidden_size, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0   # torch: RNNCell(3, 0) builds
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input, hx, n_states=1):
        """Check shapes; make an unbatched (I,) input a batch of one. Returns (input, states, batched)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ShapeError(f"expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(input.shape)}", self)
        batched = input.ndim == 2
        states = [None] * n_states if hx is None else ([hx] if n_states == 1 else list(hx))
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for name, h in zip(["h", "c"], states):
            if h is not None and tuple(h.shape) != expected:
                raise ShapeError(f"expected hidden state {name} of shape {expected}, got {tuple(h.shape)}", self)
        if not batched:
            input = input.unsqueeze(0)
            states = [None if h is None else h.unsqueeze(0) for h in states]
        return input, states, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).

    Forward ``(input, hx=None)``: input (N, input_size) or (input_size,), hx (N, hidden_size)
    or None (zeros) -> h' (N, hidden_size).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        fn = F.rnn_tanh_cell if self.nonlinearity == "tanh" else F.rnn_relu_cell
        h = fn(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (equations as :class:`LSTM`).

    Forward ``(input, hx=None)``: input (N, input_size) or (input_size,), hx = (h, c), each
    (N, hidden_size), or None (zeros) -> (h', c').
    """

    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        h, c = F.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (equations and ``reset_after`` as :class:`GRU`).

    Forward ``(input, hx=None)``: input (N, input_size) or (input_size,), hx (N, hidden_size)
    or None (zeros) -> h' (N, hidden_size).
    """

    _gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None, reset_after: bool = True):
        if not isinstance(reset_after, bool):
            raise TypeError(f"GRUCell: reset_after must be True or False, got {reset_after!r}")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.reset_after = reset_after

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        h = F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, reset_after=self.reset_after)
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
