"""The whole-sequence recurrent primitives: float64 gradient checks of the hand-written BPTT
(every input: x, initial states, weights, biases), forward and reversed, with and without lengths."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.functions import recurrent as R

T, N, I, H = 4, 3, 2, 3
LENGTHS = np.array([2, 4, 1])


def _inputs(rng, gates, cell_state=False, bias=True):
    x = rng.tensor(T, N, I)
    states = [rng.tensor(N, H) for _ in range(2 if cell_state else 1)]
    weights = [rng.tensor(gates * H, I), rng.tensor(gates * H, H)]
    biases = [rng.tensor(gates * H), rng.tensor(gates * H)] if bias else [None, None]
    return (x, *states, *weights, *biases)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradcheck(nonlinearity, reverse, lengths, rng):
    inputs = _inputs(rng, 1)
    assert gn.gradcheck(lambda *a: R.RNN.apply(*a, nonlinearity=nonlinearity, lengths=lengths, reverse=reverse),
                        inputs)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_lstm_gradcheck(reverse, lengths, rng):
    inputs = _inputs(rng, 4, cell_state=True)
    assert gn.gradcheck(lambda *a: R.LSTM.apply(*a, lengths=lengths, reverse=reverse), inputs)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_gru_gradcheck(reverse, lengths, reset_after, rng):
    inputs = _inputs(rng, 3)
    assert gn.gradcheck(lambda *a: R.GRU.apply(*a, lengths=lengths, reverse=reverse, reset_after=reset_after),
                        inputs)


@pytest.mark.parametrize("which", ["ih", "hh"])
def test_gru_reset_before_with_one_bias_gradcheck(which, rng):
    x, h, w_ih, w_hh, b_ih, b_hh = _inputs(rng, 3)

    def fn(x, h, w_ih, w_hh, bias):
        biases = (bias, None) if which == "ih" else (None, bias)
        return R.GRU.apply(x, h, w_ih, w_hh, *biases, reset_after=False)

    assert gn.gradcheck(fn, (x, h, w_ih, w_hh, b_ih if which == "ih" else b_hh))


@pytest.mark.parametrize("fn", [R.RNN, R.GRU, R.LSTM])
def test_no_bias_no_initial_state_gradcheck(fn, rng):
    gates = {R.RNN: 1, R.GRU: 3, R.LSTM: 4}[fn]
    x, _, w_ih, w_hh, _, _ = _inputs(rng, gates, bias=False)
    states = (None, None) if fn is R.LSTM else (None,)
    assert gn.gradcheck(lambda x, a, b: fn.apply(x, *states, a, b, None, None), (x, w_ih, w_hh))


def test_lstm_with_one_bias_only_gradcheck(rng):
    x, h, c, w_ih, w_hh, b_ih, _ = _inputs(rng, 4, cell_state=True)
    assert gn.gradcheck(lambda *a: R.LSTM.apply(*a, None), (x, h, c, w_ih, w_hh, b_ih))


@pytest.mark.parametrize("cell,gates", [(F.rnn_tanh_cell, 1), (F.rnn_relu_cell, 1), (F.gru_cell, 3)])
def test_cell_gradcheck(cell, gates, rng):
    x, h, w_ih, w_hh, b_ih, b_hh = rng.tensor(N, I), rng.tensor(N, H), rng.tensor(gates * H, I), \
        rng.tensor(gates * H, H), rng.tensor(gates * H), rng.tensor(gates * H)
    assert gn.gradcheck(cell, (x, h, w_ih, w_hh, b_ih, b_hh))


def test_gru_cell_reset_before_gradcheck(rng):
    x, h, w_ih, w_hh, b_ih, b_hh = rng.tensor(N, I), rng.tensor(N, H), rng.tensor(3 * H, I), \
        rng.tensor(3 * H, H), rng.tensor(3 * H), rng.tensor(3 * H)
    assert gn.gradcheck(lambda *a: F.gru_cell(*a, reset_after=False), (x, h, w_ih, w_hh, b_ih, b_hh))


def test_lstm_cell_gradcheck(rng):
    x, h, c = rng.tensor(N, I), rng.tensor(N, H), rng.tensor(N, H)
    w = (rng.tensor(4 * H, I), rng.tensor(4 * H, H), rng.tensor(4 * H), rng.tensor(4 * H))
    assert gn.gradcheck(lambda x, h, c, *w: F.lstm_cell(x, (h, c), *w), (x, h, c, *w))


def test_stacked_bidirectional_functional_gradcheck(rng):
    """Two layers, both directions, lengths: the composition (cat, stack, transposes) is differentiable too."""
    x = rng.tensor(N, T, I)
    params = []
    for layer_in in (I, I, 2 * H, 2 * H):
        params += [rng.tensor(3 * H, layer_in), rng.tensor(3 * H, H), rng.tensor(3 * H), rng.tensor(3 * H)]
    h0 = rng.tensor(4, N, H)

    for reset_after in (True, False):
        def fn(x, h0, *p):
            return F.gru(x, h0, p, num_layers=2, bidirectional=True, batch_first=True, lengths=LENGTHS,
                         reset_after=reset_after)

        assert gn.gradcheck(fn, (x, h0, *params))


def test_sigmoid_gates_do_not_overflow():
    """Huge pre-activations saturate the gates without a warning or a nan (sigmoid via tanh)."""
    x = gn.tensor(np.full((3, 2, 1), 1e4, np.float32))
    w_ih = gn.tensor(np.full((8, 1), 1.0, np.float32))
    w_hh = gn.tensor(np.zeros((8, 2), np.float32))
    with np.errstate(all="raise"):
        y, h, c = R.LSTM.apply(x, None, None, w_ih, w_hh, None, None)
        y2, h2, c2 = R.LSTM.apply(-x, None, None, w_ih, w_hh, None, None)
    assert np.isfinite(y.numpy()).all() and np.isfinite(y2.numpy()).all()
    np.testing.assert_allclose(c.numpy(), 3.0)    # i = f = g = 1: c grows by one per step
    np.testing.assert_allclose(c2.numpy(), 0.0)
