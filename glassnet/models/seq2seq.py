"""Encoder-decoder models for sequences whose input and output are not aligned step by step.

    Seq2Seq          many-to-many, unaligned: an encoder RNN reads the source, its final state
                     starts a decoder RNN that writes the target (reverse a string, translate)
    ImageToSequence  one-to-many: an image encoder gives the decoder's first state, and the
                     decoder writes a sequence (spell the digit in an 8x8 image: "seven")

Both decoders are trained with **teacher forcing**: at step t the decoder is fed the true token
y_(t-1) (the target shifted right behind a BOS token), not its own previous guess, so every step
of a sequence is trained in parallel from the first epoch. At inference there is no true token:
``greedy_decode`` feeds back the decoder's own most likely token, one step at a time, until EOS.
"""
from __future__ import annotations

from .. import nn
from ..backend import xp
from ..errors import ShapeError
from ..tensor import Tensor, cat
from .char_rnn import recurrent_layer


def teacher_forcing_inputs(targets, bos: int):
    """The decoder's inputs under teacher forcing: [BOS, y_0, ..., y_(T-2)] for targets [y_0 ... y_(T-1)].

    ``targets`` (N, T) int -> (N, T) int. Padding after EOS is carried along; mask it in the loss
    (``ignore_index``).
    """
    data = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    shifted = xp.empty_like(data)
    shifted[:, 0] = bos
    shifted[:, 1:] = data[:, :-1]
    return Tensor._wrap(shifted)


class Decoder(nn.Module):
    r"""A conditional RNN language model: writes one token per step given a context vector.

        e_t = E[y_(t-1)];   h_t = RNN([e_t ; context], h_(t-1));   logits_t = h_t W^T + b

    h_0 and the context both come from the encoder (the context is fed at every step, as in
    Cho et al. 2014, so the decoder need not carry it alone through its state).
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, context_size: int,
                 cell: str = "gru"):
        super().__init__()
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = recurrent_layer(cell, embedding_dim + context_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def initial_state(self, h0):
        h0 = h0.reshape(1, h0.shape[0], h0.shape[1])
        return (h0, h0 * 0) if self.cell == "lstm" else h0

    def forward(self, inputs, context, state):
        """inputs (N, T) ids, context (N, C), state -> (logits (N, T, V), state)."""
        e = self.embedding(inputs)
        T = e.shape[1]
        ctx = context.reshape(context.shape[0], 1, context.shape[1]).expand(context.shape[0], T, context.shape[1])
        out, state = self.rnn(cat([e, ctx], dim=2), state)
        return self.out(out), state

    def greedy(self, context, state, bos: int, eos: int, max_len: int):
        """Feed back the argmax each step; (N, max_len) ids, EOS and everything after it set to EOS."""
        N = context.shape[0]
        token = Tensor._wrap(xp.full((N, 1), bos, dtype=xp.int64))
        done = xp.zeros(N, dtype=bool)
        out = xp.full((N, max_len), eos, dtype=xp.int64)
        for t in range(max_len):
            logits, state = self(token, context, state)
            choice = logits._data[:, -1].argmax(axis=1)
            choice = xp.where(done, eos, choice)
            out[:, t] = choice
            done |= choice == eos
            if done.all():
                break
            token = Tensor._wrap(choice.reshape(N, 1).astype(xp.int64))
        return out


class Seq2Seq(nn.Module):
    r"""Encoder-decoder for unaligned sequence pairs (``gn.models.Seq2Seq``).

        encoder:  h_t = RNN(E_src[x_t], h_(t-1))            context c = h_T (the source's summary)
        decoder:  s_0 = c;  s_t = RNN([E_tgt[y_(t-1)] ; c], s_(t-1));  p(y_t | y_<t, x) = softmax(W s_t + b)

    Train with ``model(src, teacher_forcing_inputs(tgt, bos))`` and cross-entropy against ``tgt``
    (teacher forcing); predict with ``model.greedy_decode(src, max_len)``.

    Args:
        src_vocab, tgt_vocab: token counts (ids 0..vocab-1). bos, eos: the target's start and end ids.
        embedding_dim: Default: 32. hidden_size: both RNNs. Default: 128. cell: 'gru', 'lstm' or 'rnn'.

    Shape: src (N, S) ids, decoder inputs (N, T) ids -> logits (N, T, tgt_vocab).
    The source may be right-padded; pass ``src_lengths`` so the encoder stops at each real end.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, bos: int, eos: int, embedding_dim: int = 32,
                 hidden_size: int = 128, cell: str = "gru"):
        super().__init__()
        for name, v in (("bos", bos), ("eos", eos)):
            if not 0 <= v < tgt_vocab:
                raise ValueError(f"Seq2Seq: {name} must be a target id in [0, {tgt_vocab}), got {v}")
        self.bos, self.eos, self.cell = bos, eos, cell
        self.src_embedding = nn.Embedding(src_vocab, embedding_dim)
        self.encoder = recurrent_layer(cell, embedding_dim, hidden_size)
        self.decoder = Decoder(tgt_vocab, embedding_dim, hidden_size, hidden_size, cell)

    def encode(self, src, src_lengths=None):
        if src.ndim != 2:
            raise ShapeError(f"Seq2Seq: expected source ids (N, S), got shape {tuple(src.shape)}", self)
        _, state = self.encoder(self.src_embedding(src), lengths=src_lengths) if src_lengths is not None \
            else self.encoder(self.src_embedding(src))
        h = state[0] if isinstance(state, tuple) else state
        return h[-1]                                   # (N, hidden): the last layer's final state

    def forward(self, src, decoder_inputs, src_lengths=None):
        context = self.encode(src, src_lengths)
        logits, _ = self.decoder(decoder_inputs, context, self.decoder.initial_state(context))
        return logits

    def greedy_decode(self, src, max_len: int, src_lengths=None):
        """Most likely token at each step, fed back as the next input (no teacher): (N, max_len) ids."""
        from ..autograd import no_grad
        with no_grad():
            context = self.encode(src, src_lengths)
            return self.decoder.greedy(context, self.decoder.initial_state(context), self.bos, self.eos, max_len)


class ImageToSequence(nn.Module):
    r"""One-to-many: one image in, a sequence of tokens out (``gn.models.ImageToSequence``).

        c = tanh(W_2 relu(W_1 flatten(image) + b_1) + b_2)        the image's summary
        s_0 = c;  s_t = RNN([E[y_(t-1)] ; c], s_(t-1));  p(y_t | y_<t, image) = softmax(W s_t + b)

    For the 8x8 digits the sequence is the digit's English name, letter by letter ("seven" + EOS).
    Trained with teacher forcing, decoded greedily, like :class:`Seq2Seq`.

    Args:
        in_features: pixels per image (64 for 8x8). vocab_size, bos, eos: the output alphabet.
        hidden_size: Default: 128. embedding_dim: Default: 16. cell: Default: 'gru'.
    """

    def __init__(self, in_features: int, vocab_size: int, bos: int, eos: int, hidden_size: int = 128,
                 embedding_dim: int = 16, cell: str = "gru"):
        super().__init__()
        self.bos, self.eos, self.in_features = bos, eos, in_features
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden_size), nn.ReLU(),
                                     nn.Linear(hidden_size, hidden_size), nn.Tanh())
        self.decoder = Decoder(vocab_size, embedding_dim, hidden_size, hidden_size, cell)

    def encode(self, images):
        flat = 1
        for d in images.shape[1:]:
            flat *= d
        if flat != self.in_features:
            raise ShapeError(f"ImageToSequence: expected images with {self.in_features} pixels, "
                             f"got shape {tuple(images.shape)}", self)
        return self.encoder(images)

    def forward(self, images, decoder_inputs):
        context = self.encode(images)
        logits, _ = self.decoder(decoder_inputs, context, self.decoder.initial_state(context))
        return logits

    def greedy_decode(self, images, max_len: int):
        from ..autograd import no_grad
        with no_grad():
            context = self.encode(images)
            return self.decoder.greedy(context, self.decoder.initial_state(context), self.bos, self.eos, max_len)
