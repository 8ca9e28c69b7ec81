"""RNN, LSTM, GRU and cells as modules: torch parity (outputs, states and every gradient),
parameter names and counts, lengths semantics, dropout, and error messages."""
import math

import numpy as np
import pytest
from gen_rnn import CELL_CASES, MODULE_CASES  # tests/fixtures is on sys.path (conftest)

import glassnet as gn
import glassnet.nn as nn


def _make(mode, I, H, num_layers=1, bias=True, batch_first=False, bidirectional=False, **kw):
    args = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, **kw)
    if mode == "lstm":
        return nn.LSTM(I, H, **args)
    if mode == "gru":
        return nn.GRU(I, H, **args)
    return nn.RNN(I, H, nonlinearity=mode, **args)


def _load_flat(module, case):
    """Load the case's flat parameter vector by torch's names; return {name: (offset, size)}."""
    names = str(case["names"]).split()
    assert names == [n for n, _ in module.named_parameters()]   # same names, same order as torch
    state, spans, offset = {}, {}, 0
    params = dict(module.named_parameters())
    for name in names:
        size = params[name].numel()
        state[name] = case["p"][offset:offset + size].reshape(params[name].shape)
        spans[name] = (offset, size)
        offset += size
    module.load_state_dict(state)
    return spans


def _check(got, want, key):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("case_name", MODULE_CASES)
def test_module_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    mode = case_name.split("_")[1]
    layers, bi, bf, bias = (int(v) for v in case["config"])
    I = case["x"].shape[-1]
    H = case["dh_n"].shape[-1]
    m = _make(mode, I, H, layers, bool(bias), bool(bf), bool(bi)).double()
    spans = _load_flat(m, case)
    x = gn.tensor(case["x"], requires_grad=True)
    states = [gn.tensor(case[k], requires_grad=True) for k in ("h0", "c0") if k in case]
    hx = None if not states else (tuple(states) if mode == "lstm" else states[0])
    y, hidden = m(x, hx, lengths=case["lengths"] if "lengths" in case else None)
    finals = list(hidden) if mode == "lstm" else [hidden]
    loss = (y * gn.tensor(case["dy"])).sum()
    for key, f in zip(["h_n", "c_n"], finals):
        _check(f.numpy(), case[key], key)
        loss = loss + (f * gn.tensor(case["d" + key])).sum()
    _check(y.numpy(), case["y"], "y")
    loss.backward()
    _check_input_state_and_parameter_grads(x, states, m, spans, case)


def _check_input_state_and_parameter_grads(x, states, m, spans, case):
    """dx, the initial states' gradients, and every parameter's gradient against torch's."""
    _check(x.grad.numpy(), case["dx"], "dx")
    for key, s in zip(["dh0", "dc0"], states):
        _check(s.grad.numpy(), case[key], key)
    for name, p in m.named_parameters():
        offset, size = spans[name]
        _check(p.grad.numpy().ravel(), case["dp"][offset:offset + size], "d" + name)


@pytest.mark.parametrize("case_name", CELL_CASES)
def test_cell_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    mode = case_name.split("_")[1]
    I, H = case["x"].shape[1], case["dh"].shape[1]
    m = {"lstm": lambda: nn.LSTMCell(I, H), "gru": lambda: nn.GRUCell(I, H),
         "tanh": lambda: nn.RNNCell(I, H), "relu": lambda: nn.RNNCell(I, H, nonlinearity="relu")}[mode]().double()
    spans = _load_flat(m, case)
    x = gn.tensor(case["x"], requires_grad=True)
    states = [gn.tensor(case[k], requires_grad=True) for k in ("h0", "c0") if k in case]
    hx = None if not states else (tuple(states) if mode == "lstm" else states[0])
    out = m(x, hx)
    outs = list(out) if mode == "lstm" else [out]
    loss = 0
    for key, o in zip(["h", "c"], outs):
        _check(o.numpy(), case[key], key)
        loss = loss + (o * gn.tensor(case["d" + key])).sum()
    loss.backward()
    _check_input_state_and_parameter_grads(x, states, m, spans, case)


def test_state_dict_keys_and_shapes_are_torchs():
    m = nn.LSTM(5, 4, num_layers=2, bidirectional=True)
    keys = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert list(keys) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                          "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
                          "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
                          "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"]
    assert keys["weight_ih_l0"] == (16, 5) and keys["weight_ih_l1"] == (16, 8) and keys["weight_hh_l1"] == (16, 4)
    assert tuple(nn.GRU(5, 4).weight_ih_l0.shape) == (12, 5)
    assert list(nn.GRUCell(3, 2).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_init_is_uniform_within_one_over_sqrt_hidden():
    gn.manual_seed(0)
    m = nn.LSTM(10, 16)
    for p in m.parameters():
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= 0.25 and np.abs(p.numpy()).max() > 0.2


def test_notes_parameter_count_rnn_plus_linear_is_161():
    rnn, head = nn.RNN(14, 7, bias=False), nn.Linear(7, 2, bias=False)
    # 14*7 input weights + 7*7 recurrent weights + 7*2 output weights = 98 + 49 + 14
    assert sum(p.numel() for m in (rnn, head) for p in m.parameters()) == 161


@pytest.mark.parametrize("mode", ["tanh", "lstm", "gru"])
def test_padded_steps_change_nothing(mode):
    """With lengths, each sequence gives what it gives alone, unpadded (both directions)."""
    gn.manual_seed(1)
    m = _make(mode, 3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 3))
    lengths = [4, 6, 1]
    y, hidden = m(gn.tensor(x), lengths=lengths)
    h_n = hidden[0] if mode == "lstm" else hidden
    for n, L in enumerate(lengths):
        y1, hidden1 = m(gn.tensor(x[n:n + 1, :L]))
        h1 = hidden1[0] if mode == "lstm" else hidden1
        np.testing.assert_allclose(y.numpy()[n, :L], y1.numpy()[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(y.numpy()[n, L:], 0)
        np.testing.assert_allclose(h_n.numpy()[:, n], h1.numpy()[:, 0], rtol=1e-12, atol=1e-12)


def test_padded_steps_get_no_gradient():
    m = nn.GRU(2, 3, batch_first=True).double()
    x = gn.tensor(np.random.default_rng(0).standard_normal((2, 4, 2)), requires_grad=True)
    y, h = m(x, lengths=gn.tensor([2, 4]))
    (y.sum() + h.sum()).backward()
    assert np.all(x.grad.numpy()[0, 2:] == 0) and np.all(x.grad.numpy()[1] != 0)


def test_dropout_between_layers_only_while_training():
    gn.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = gn.randn(5, 2, 3)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    m.train()
    c, _ = m(x)
    assert not np.allclose(a.numpy(), c.numpy())
    one = nn.LSTM(3, 4, num_layers=1, dropout=0.5)   # no dropout after the last layer
    one.train()
    np.testing.assert_array_equal(one(x)[0].numpy(), one.eval()(x)[0].numpy())


def test_float32_in_float32_out():
    m = nn.LSTM(3, 4, batch_first=True)
    y, (h, c) = m(gn.randn(2, 5, 3))
    assert y.dtype == h.dtype == c.dtype == np.float32
    y.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_unbatched_and_cells_unbatched():
    m = nn.GRU(3, 4)
    y, h = m(gn.randn(5, 3))
    assert y.shape == (5, 4) and h.shape == (1, 4)
    h1 = nn.LSTMCell(3, 4)(gn.randn(3))
    assert h1[0].shape == (4,) and h1[1].shape == (4,)


def test_wrong_feature_size_names_layer_and_sizes():
    model = nn.Sequential(nn.LSTM(7, 5))
    with pytest.raises(gn.ShapeError, match=r"layer '0' LSTM\(7, 5\).*input_size 7.*got 3"):
        model(gn.zeros(4, 2, 3))


def test_wrong_initial_state_says_expected_shape():
    m = nn.GRU(3, 5, num_layers=2)
    with pytest.raises(gn.ShapeError, match=r"expected initial state h_0 of shape \(2, 4, 5\).*got \(1, 4, 5\)"):
        m(gn.zeros(6, 4, 3), gn.zeros(1, 4, 5))
    lstm = nn.LSTM(3, 5)
    with pytest.raises(gn.ShapeError, match=r"c_0 of shape \(1, 4, 5\).*got \(1, 4, 6\)"):
        lstm(gn.zeros(6, 4, 3), (gn.zeros(1, 4, 5), gn.zeros(1, 4, 6)))


def test_bad_lengths():
    m = nn.RNN(3, 5, batch_first=True)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 6\]"):
        m(gn.zeros(2, 6, 3), lengths=[7, 2])
    with pytest.raises(gn.ShapeError, match="expected 2 lengths"):
        m(gn.zeros(2, 6, 3), lengths=[3])


def test_pack_padded_sequence_layout_is_torchs():
    from glassnet.nn.rnn_utils import pack_padded_sequence, pad_packed_sequence
    x = gn.arange(12.0).reshape(4, 3, 1)
    packed = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    # values torch 2.13 gives for the same call
    assert packed.data.numpy().ravel().tolist() == [1, 0, 2, 4, 3, 7, 10]
    assert packed.batch_sizes.numpy().tolist() == [3, 2, 1, 1]
    assert packed.sorted_indices.numpy().tolist() == [1, 0, 2]
    assert packed.unsorted_indices.numpy().tolist() == [1, 0, 2]
    padded, lengths = pad_packed_sequence(packed, total_length=5)
    assert padded.shape == (5, 3, 1) and lengths.numpy().tolist() == [2, 4, 1]
    expected = x.numpy().copy()
    expected[2:, 0] = 0
    expected[1:, 2] = 0
    np.testing.assert_array_equal(padded.numpy()[:4], expected)
    with pytest.raises(ValueError, match="not sorted"):
        pack_padded_sequence(x, [2, 4, 1])


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_packed_input_equals_lengths(mode):
    from glassnet.nn.rnn_utils import PackedSequence, pack_padded_sequence, pad_packed_sequence
    gn.manual_seed(0)
    m = _make(mode, 3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = gn.tensor(np.random.default_rng(0).standard_normal((3, 5, 3)), requires_grad=True)
    lengths = [2, 5, 3]
    y, hidden = m(x, lengths=lengths)
    packed_out, hidden_p = m(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    assert isinstance(packed_out, PackedSequence)
    y_p, _ = pad_packed_sequence(packed_out, batch_first=True)
    np.testing.assert_allclose(y_p.numpy(), y.numpy(), rtol=1e-12)
    for a, b in zip(hidden if mode == "lstm" else [hidden], hidden_p if mode == "lstm" else [hidden_p]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    y_p.sum().backward()                 # differentiable through pack and pad
    assert x.grad is not None and np.all(x.grad.numpy()[0, 2:] == 0)


def _one_step_gru(reset_after):
    """GRUCell(1, 1) with chosen weights, one step from h = 0.5 with x = 1."""
    cell = nn.GRUCell(1, 1, reset_after=reset_after).double()
    cell.load_state_dict({"weight_ih": np.array([[0.5], [-1.0], [2.0]]),      # W_ir, W_iz, W_in
                          "weight_hh": np.array([[1.0], [0.5], [-1.5]]),      # W_hr, W_hz, W_hn
                          "bias_ih": np.array([0.1, 0.2, -0.3]), "bias_hh": np.array([0.0, -0.1, 0.4])})
    return cell(gn.tensor([[1.0]], dtype=gn.float64), gn.tensor([[0.5]], dtype=gn.float64)).item()


def test_gru_reset_before_one_step_by_hand():
    """Cho et al.'s GRU: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)."""
    sigmoid = lambda a: 1 / (1 + math.exp(-a))        # noqa: E731
    r = sigmoid(0.5 * 1 + 0.1 + 1.0 * 0.5 + 0.0)       # sigma(1.1)   = 0.750260
    z = sigmoid(-1.0 * 1 + 0.2 + 0.5 * 0.5 - 0.1)      # sigma(-0.65) = 0.342990
    n = math.tanh(2.0 * 1 - 0.3 + -1.5 * (r * 0.5) + 0.4)           # tanh(1.537305) = 0.911666
    assert _one_step_gru(reset_after=False) == pytest.approx((1 - z) * n + z * 0.5, rel=1e-12)   # 0.770469
    assert _one_step_gru(reset_after=False) == pytest.approx(0.7704691206361867, rel=1e-12)
    # torch's form on the same weights: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) = tanh(1.437409)
    n_after = math.tanh(2.0 * 1 - 0.3 + r * (-1.5 * 0.5 + 0.4))
    assert _one_step_gru(reset_after=True) == pytest.approx((1 - z) * n_after + z * 0.5, rel=1e-12)  # 0.758320


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_reset_before_layer_equals_its_cell_step_by_step(bidirectional):
    """nn.GRU(reset_after=False) over a sequence = GRUCell(reset_after=False) applied step by step
    with the same weights (forward direction), and the state_dict keys are torch's."""
    gn.manual_seed(3)
    layer = nn.GRU(3, 4, bidirectional=bidirectional, reset_after=False).double()
    assert list(layer.state_dict())[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    cell = nn.GRUCell(3, 4, reset_after=False).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items() if k.endswith("_l0")})
    x = gn.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    y, _ = layer(x)
    h = gn.zeros(2, 4, dtype=gn.float64)
    for t in range(5):
        h = cell(x[t], h)
        np.testing.assert_allclose(y.numpy()[t, :, :4], h.numpy(), rtol=1e-12, atol=1e-14)
    default = nn.GRU(3, 4, bidirectional=bidirectional).double()
    default.load_state_dict(layer.state_dict())
    assert not np.allclose(default(x)[0].numpy(), y.numpy())   # the two forms differ


def test_gru_reset_after_must_be_a_bool():
    with pytest.raises(TypeError, match=r"GRU: reset_after must be True or False, got 'yes'"):
        nn.GRU(3, 4, reset_after="yes")
    with pytest.raises(TypeError, match=r"GRUCell: reset_after must be True or False, got 1"):
        nn.GRUCell(3, 4, reset_after=1)
