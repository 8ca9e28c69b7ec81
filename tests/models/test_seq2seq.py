"""Seq2Seq (unaligned many-to-many) and ImageToSequence (one-to-many): shapes, teacher forcing,
greedy decoding, and the two examples reaching their stated accuracy."""
from __future__ import annotations

import pathlib
import runpy

import numpy as np
import pytest

import glassnet as gn
from glassnet.models.seq2seq import teacher_forcing_inputs

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def test_teacher_forcing_inputs_shift_the_targets_right_behind_bos():
    tgt = gn.tensor([[3, 2, 1, 9], [6, 5, 4, 9]]).long()
    np.testing.assert_array_equal(teacher_forcing_inputs(tgt, 8).numpy(), [[8, 3, 2, 1], [8, 6, 5, 4]])


def test_seq2seq_shapes_and_greedy_decoding_feeds_back_its_own_choice():
    gn.manual_seed(0)
    model = gn.models.Seq2Seq(8, 10, bos=8, eos=9, hidden_size=16)
    src = gn.tensor([[1, 2, 3], [4, 5, 6]]).long()
    logits = model(src, teacher_forcing_inputs(gn.tensor([[3, 2, 1, 9]] * 2).long(), 8))
    assert tuple(logits.shape) == (2, 4, 10)
    out = model.greedy_decode(src, max_len=6)
    assert out.shape == (2, 6)
    # greedy = step by step argmax of the teacher-forced logits when the fed tokens are its own choices
    fed = np.concatenate([np.full((2, 1), 8), out[:, :-1]], axis=1)
    again = model(src, gn.tensor(fed).long()).numpy().argmax(-1)
    done = np.cumsum(out == 9, axis=1) > 0
    shifted_done = np.concatenate([np.zeros((2, 1), bool), done[:, :-1]], axis=1)
    np.testing.assert_array_equal(np.where(shifted_done, out, again), out)
    with pytest.raises(ValueError, match="bos must be a target id"):
        gn.models.Seq2Seq(8, 10, bos=10, eos=9)


def test_image_to_sequence_shapes():
    model = gn.models.ImageToSequence(64, 12, bos=10, eos=11, hidden_size=16)
    images = gn.randn(3, 1, 8, 8)
    assert tuple(model(images, gn.tensor(np.full((3, 5), 10)).long()).shape) == (3, 5, 12)
    assert model.greedy_decode(images, 6).shape == (3, 6)
    with pytest.raises(gn.ShapeError, match="expected images with 64 pixels"):
        model.encode(gn.randn(3, 1, 4, 4))


@pytest.mark.slow
def test_seq2seq_learns_to_reverse_strings():
    train = runpy.run_path(str(EXAMPLES / "seq2seq_reverse.py"))["train"]
    _, accuracy, seconds = train(verbose=False)
    assert accuracy >= 0.95, accuracy          # measured 98.8% (seed 0)
    assert seconds < 60, seconds               # measured 30 s wall (8.5 s CPU) on 2 shared cores


@pytest.mark.slow
def test_image_to_sequence_spells_digit_names():
    train = runpy.run_path(str(EXAMPLES / "digit_names.py"))["train"]
    _, accuracy, seconds, _ = train(verbose=False)
    assert accuracy >= 0.95, accuracy          # measured 98.1% on 360 held-out images (seed 0)
    assert seconds < 60, seconds               # measured 15 s wall (6.5 s CPU) on 2 shared cores
