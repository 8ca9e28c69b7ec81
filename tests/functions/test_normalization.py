import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


def _f64(a, grad=True):
    return gn.tensor(np.asarray(a, dtype=np.float64), dtype=gn.float64, requires_grad=grad)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_gradcheck(shape, affine, rng):
    x = rng.tensor(*shape)
    w, b = rng.tensor(shape[1]), rng.tensor(shape[1])
    if affine:
        assert gn.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    else:
        assert gn.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_eval_gradcheck(shape, affine, rng):
    C = shape[1]
    x, w, b = rng.tensor(*shape), rng.tensor(C), rng.tensor(C)
    rm, rv = rng.tensor(C, requires_grad=False), rng.tensor(C, requires_grad=False, low=0.5, high=2.0)
    if affine:
        assert gn.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))
    else:
        assert gn.gradcheck(lambda x: F.batch_norm(x, rm, rv, training=False), (x,))


@pytest.mark.parametrize("shape, normalized_shape", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("weight, bias", [(True, True), (True, False), (False, False)])
def test_layer_norm_gradcheck(shape, normalized_shape, weight, bias, rng):
    x = rng.tensor(*shape)
    w, b = rng.tensor(*normalized_shape), rng.tensor(*normalized_shape)
    args = (x,) + ((w,) if weight else ()) + ((b,) if bias else ())

    def fn(x, w=None, b=None):
        return F.layer_norm(x, normalized_shape, w, b, eps=1e-4)
    assert gn.gradcheck(fn, args)


# ---------------------------------------------------------------------- parity with torch
BN_CASES = ["bn_f_train_2d", "bn_f_train_3d", "bn_f_train_4d", "bn_f_train_4d_noaffine",
            "bn_f_eval_4d", "bn_f_eval_2d_noaffine"]


@pytest.mark.parametrize("case_name", BN_CASES)
def test_batch_norm_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    training = "train" in case_name
    x = _f64(case["x"])
    w = _f64(case["weight"]) if "weight" in case else None
    b = _f64(case["bias"]) if "bias" in case else None
    rm, rv = _f64(case["running_mean"], False), _f64(case["running_var"], False)
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-3)
    y.backward(_f64(case["dy"], False))
    checks = [(y, "y"), (x.grad, "dx"), (rm, "running_mean_after"), (rv, "running_var_after")]
    if w is not None:
        checks += [(w.grad, "dweight"), (b.grad, "dbias")]
    for got, key in checks:
        np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("case_name", ["ln_1", "ln_2", "ln_2_nobias", "ln_1_noaffine"])
def test_layer_norm_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    x = _f64(case["x"])
    w = _f64(case["weight"]) if "weight" in case else None
    b = _f64(case["bias"]) if "bias" in case else None
    normalized_shape = case["weight"].shape if w is not None else case["x"].shape[-1:]
    y = F.layer_norm(x, normalized_shape, w, b, eps=1e-4)
    y.backward(_f64(case["dy"], False))
    checks = [(y, "y"), (x.grad, "dx")] + ([(w.grad, "dweight")] if w is not None else []) \
        + ([(b.grad, "dbias")] if b is not None else [])
    for got, key in checks:
        np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


# ------------------------------------------------------------------- worked example, dtypes
def test_batch_norm_worked_example():
    # one channel holding 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3
    x = gn.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=gn.float64)
    rm, rv = gn.zeros(1, dtype=gn.float64), gn.ones(1, dtype=gn.float64)
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.5, eps=1e-12)
    np.testing.assert_allclose(y.numpy().ravel(), (np.arange(1, 5) - 2.5) / np.sqrt(1.25), rtol=1e-9)
    np.testing.assert_allclose(rm.numpy(), [1.25])                  # 0.5 * 0 + 0.5 * 2.5
    np.testing.assert_allclose(rv.numpy(), [0.5 + 0.5 * 5 / 3])     # the unbiased variance enters


def test_float32_stays_float32():
    x = gn.randn(4, 3, 2, 2, requires_grad=True)
    w = gn.ones(3, requires_grad=True)
    rm, rv = gn.zeros(3), gn.ones(3)
    for training in (True, False):
        y = F.batch_norm(x, rm, rv, w, None, training=training)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert rm.dtype == np.float32 and rv.dtype == np.float32
    y = F.layer_norm(x, (2, 2), gn.ones(2, 2), gn.zeros(2, 2))
    assert y.dtype == np.float32


# ------------------------------------------------------------------------------ errors
def test_batch_norm_one_value_per_channel_raises_like_torch():
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, "
                                         r"got input size \(1, 3\)"):
        F.batch_norm(gn.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(gn.randn(1, 3, 1, 1), None, None, training=True)
    F.batch_norm(gn.randn(1, 3), gn.zeros(3), gn.ones(3), training=False)  # fine in eval


def test_batch_norm_wrong_channel_count_names_shapes():
    with pytest.raises(gn.ShapeError, match=r"running_mean should have shape \(4,\).*\(2, 4, 3, 3\).*\(3,\)"):
        F.batch_norm(gn.randn(2, 4, 3, 3), gn.zeros(3), gn.ones(3))


def test_batch_norm_eval_needs_running_stats():
    with pytest.raises(RuntimeError, match="running_mean and running_var must be defined"):
        F.batch_norm(gn.randn(4, 3), None, None, training=False)


def test_layer_norm_wrong_shape_names_shapes():
    with pytest.raises(gn.ShapeError, match=r"normalized_shape=\(4,\).*\(\*, 4\).*\(2, 3\)"):
        F.layer_norm(gn.randn(2, 3), (4,))
