"""Sequence models (CharRNN, RowSequenceClassifier, SequenceTagger) and sampling."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.models import CharRNN, RowSequenceClassifier, SequenceTagger, char_rnn
from glassnet.sampling import generate, sample_next


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_char_rnn_shapes_and_state_carry(cell):
    gn.manual_seed(0)
    model = char_rnn(11, embedding_dim=6, hidden_size=8, cell=cell).double()
    x = gn.tensor(np.random.default_rng(0).integers(0, 11, (2, 5)))
    logits, state = model(x)
    assert logits.shape == (2, 5, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (1, 2, 8)
    # the whole sequence at once equals feeding it in two parts with the state carried
    a, s = model(x[:, :3])
    b, _ = model(x[:, 3:], s)
    np.testing.assert_allclose(np.concatenate([a.numpy(), b.numpy()], 1), logits.numpy(), rtol=1e-10)
    assert list(model.state_dict())[:2] == ["embedding.weight", "rnn.weight_ih_l0"]


def test_char_rnn_trains_on_every_step():
    gn.manual_seed(0)
    model = CharRNN(7, embedding_dim=4, hidden_size=8)
    x = gn.tensor(np.random.default_rng(0).integers(0, 7, (3, 6)))
    logits, _ = model(x)
    F.cross_entropy(logits.reshape(-1, 7), x.reshape(-1)).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("shape", [(4, 1, 8, 8), (4, 8, 8)])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_row_sequence_classifier_shapes(shape, cell):
    model = RowSequenceClassifier(cell=cell)
    assert model(gn.randn(*shape)).shape == (4, 10)


def test_row_sequence_classifier_rejects_wrong_width():
    with pytest.raises(gn.ShapeError, match=r"RowSequenceClassifier.*\(N, 1, rows, 8\).*\(4, 8, 7\)"):
        RowSequenceClassifier()(gn.randn(4, 8, 7))


def _repeat_task(rng, n, T, vocab):
    """Tag 1 where a token equals the one before it, else 0."""
    x = rng.integers(0, vocab, (n, T))
    tags = np.zeros((n, T), np.int64)
    tags[:, 1:] = x[:, 1:] == x[:, :-1]
    return x, tags


def test_sequence_tagger_learns_repeat_task():
    if not hasattr(gn.optim, "Adam"):
        pytest.skip("gn.optim.Adam not written yet")
    gn.manual_seed(0)
    rng = np.random.default_rng(0)
    x, tags = _repeat_task(rng, 256, 10, 4)
    model = SequenceTagger(4, 2, embedding_dim=8, hidden_size=16)
    opt = gn.optim.Adam(model.parameters(), lr=0.02)
    xt, tt = gn.tensor(x), gn.tensor(tags)
    for step in range(150):
        idx = rng.choice(256, 64, replace=False)
        loss = F.cross_entropy(model(xt[idx]).reshape(-1, 2), tt[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x_test, tags_test = _repeat_task(np.random.default_rng(1), 200, 10, 4)
    with gn.no_grad():
        pred = model(gn.tensor(x_test)).numpy().argmax(-1)
    assert (pred == tags_test).mean() > 0.97


def test_sequence_tagger_with_lengths_ignores_padding():
    gn.manual_seed(0)
    model = SequenceTagger(5, 3, embedding_dim=4, hidden_size=6).double()
    x = np.array([[1, 2, 3, 0, 0], [4, 1, 2, 3, 1]])
    out = model(gn.tensor(x), lengths=[3, 5])
    alone = model(gn.tensor(x[:1, :3]))
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out.numpy()[0, :3], alone.numpy()[0], rtol=1e-10)


def test_generate_is_reproducible_with_a_seed():
    gn.manual_seed(0)
    model = char_rnn(9, embedding_dim=4, hidden_size=8)
    a = generate(model, [1, 2, 3], 20, temperature=1.5, seed=7)
    b = generate(model, [1, 2, 3], 20, temperature=1.5, seed=7)
    assert a == b and len(a) == 20 and all(0 <= i < 9 for i in a)
    gn.manual_seed(3)
    c = generate(model, [1, 2, 3], 20, temperature=1.5)
    gn.manual_seed(3)
    assert generate(model, [1, 2, 3], 20, temperature=1.5) == c


def test_top_k_one_equals_greedy_and_greedy_matches_argmax():
    gn.manual_seed(0)
    model = char_rnn(9, embedding_dim=4, hidden_size=8, cell="gru")
    greedy = generate(model, [4], 15, greedy=True)
    assert generate(model, [4], 15, top_k=1, seed=123) == greedy
    # greedy, recomputed by hand from the whole sequence at each step
    ids = [4]
    for _ in range(15):
        logits, _ = model(gn.tensor([ids]))
        ids.append(int(logits.numpy()[0, -1].argmax()))
    assert ids[1:] == greedy


def test_generate_restores_training_mode():
    model = char_rnn(5, embedding_dim=2, hidden_size=3)
    model.train()
    generate(model, [0], 3, seed=0)
    assert model.training


def test_sample_next_top_k_keeps_only_the_k_best():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 5.0, 4.9, -1.0, 4.8])
    draws = {sample_next(logits, top_k=2, rng=rng) for _ in range(200)}
    assert draws == {1, 2}
    assert sample_next(logits, greedy=True) == 1
    cold = [sample_next(logits, temperature=0.01, rng=rng) for _ in range(50)]
    assert set(cold) == {1}


def test_row_sequence_classifier_learns_digits():
    """An LSTM reading the 8x8 digits row by row: a few epochs reach high held-out accuracy."""
    if not hasattr(gn.optim, "Adam"):
        pytest.skip("gn.optim.Adam not written yet")
    X, y = gn.data.load_digits(images=True)
    X, y = np.asarray(X), np.asarray(y)
    gn.manual_seed(0)
    perm = np.random.default_rng(0).permutation(len(y))
    train, test = perm[:1400], perm[1400:]
    model = RowSequenceClassifier()
    opt = gn.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    for epoch in range(12):
        for batch in np.array_split(rng.permutation(train), 22):
            loss = F.cross_entropy(model(gn.tensor(X[batch])), gn.tensor(y[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    with gn.no_grad():
        accuracy = (model(gn.tensor(X[test])).numpy().argmax(1) == y[test]).mean()
    assert accuracy > 0.9
