"""Inverted dropout: tested statistically and by mask consistency (not against torch's RNG)."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keeps_a_fraction_1_minus_p_scaled_by_1_over_1_minus_p(p):
    gn.manual_seed(0)
    x = gn.ones(200, 100, dtype=gn.float64)
    y = F.dropout(x, p=p).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-12)
    n = kept.size  # the kept fraction is Binomial(n, 1 - p)/n: allow 5 standard deviations
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)  # unbiased: E[y] = x


def test_dropout_gradient_uses_the_forward_mask(rng):
    gn.manual_seed(1)
    x = rng.tensor(6, 7)
    y = F.dropout(x, p=0.4)
    dy = rng.array(6, 7)
    y.backward(gn.tensor(dy))
    scaled_mask = y.numpy() / x.numpy()            # 0 or 1/(1-p), the same draw as the forward
    assert set(np.round(np.unique(scaled_mask), 12)) <= {0.0, round(1 / 0.6, 12)}
    np.testing.assert_allclose(x.grad.numpy(), dy * scaled_mask, rtol=1e-12)


def test_dropout_gradcheck_with_a_fixed_mask(rng):
    # reseeding before each call replays the same mask, so finite differences see one function
    x = rng.tensor(4, 5)

    def fn(t):
        gn.manual_seed(3)
        return F.dropout(t, p=0.3)

    assert gn.gradcheck(fn, (x,))


def test_dropout_is_identity_in_eval_and_for_p_zero(rng):
    x = rng.tensor(3, 4)
    layer = gn.nn.Dropout(0.5)
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x


def test_dropout_module_drops_in_train_mode():
    gn.manual_seed(0)
    layer = gn.nn.Dropout(0.5)
    assert layer.training
    y = layer(gn.ones(1000))
    assert 0 < (y.numpy() == 0).sum() < 1000


def test_dropout_p_one_zeroes_everything(rng):
    x = rng.tensor(3, 4)
    y = F.dropout(x, p=1.0)
    y.sum().backward()
    assert not y.numpy().any() and not x.grad.numpy().any()


def test_dropout_same_seed_same_mask_and_keeps_float32():
    gn.manual_seed(5)
    a = F.dropout(gn.ones(50))
    gn.manual_seed(5)
    b = F.dropout(gn.ones(50))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == gn.float32


def test_dropout2d_drops_whole_channels():
    gn.manual_seed(0)
    y = F.dropout2d(gn.ones(8, 16, 3, 3, dtype=gn.float64), p=0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert (per_channel == per_channel[..., :1]).all()          # one draw per (sample, channel)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert 0 < (per_channel[..., 0] == 0).sum() < 8 * 16


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        gn.nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(gn.ones(2), p=p)
