"""Losses: float64 gradchecks, parity with torch for every reduction and option, error messages."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from gen_core import LOSS_CASES, _loss_inputs

IDS = [c[0] for c in LOSS_CASES]


def _options(kwargs, arrays):
    """The keyword arguments of a table case, with drawn weights taken from ``arrays``."""
    out = {k: v for k, v in kwargs.items() if k not in ("weight", "pos_weight", "inject_ignore")}
    for key in ("weight", "pos_weight"):
        if kwargs.get(key):
            out[key] = gn.tensor(arrays[key])
    return out


def _check(got, case, key):
    np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name, fn, module, kwargs, kind, shape", LOSS_CASES, ids=IDS)
def test_loss_gradcheck(name, fn, module, kwargs, kind, shape):
    x, t = _loss_inputs(np.random.default_rng(7), kind, shape, kwargs)
    arrays = {"weight": np.linspace(0.5, 1.5, shape[0] if len(shape) == 1 else shape[1])
              if kind in ("index", "soft", "logprob") else np.linspace(0.5, 1.5, shape[-1]),
              "pos_weight": np.linspace(0.5, 3.0, shape[-1])}
    x = gn.tensor(x, dtype=gn.float64, requires_grad=True)
    t = gn.tensor(t) if t.dtype == np.int64 else gn.tensor(t, dtype=gn.float64, requires_grad=True)
    options = _options(kwargs, arrays)
    assert gn.gradcheck(lambda a, b: getattr(F, fn)(a, b, **options), (x, t))


@pytest.mark.parametrize("name, fn, module, kwargs, kind, shape", LOSS_CASES, ids=IDS)
def test_loss_functional_matches_torch(name, fn, module, kwargs, kind, shape, fixtures):
    case = fixtures[name]
    x = gn.tensor(case["x"], requires_grad=True)
    t = gn.tensor(case["t"], requires_grad="dt" in case)
    loss = getattr(F, fn)(x, t, **_options(kwargs, case))
    loss.backward(gn.tensor(case["dy"]))
    _check(loss, case, "loss")
    _check(x.grad, case, "dx")
    if "dt" in case:
        _check(t.grad, case, "dt")


@pytest.mark.parametrize("name, fn, module, kwargs, kind, shape", LOSS_CASES, ids=IDS)
def test_loss_module_matches_torch(name, fn, module, kwargs, kind, shape, fixtures):
    case = fixtures[name]
    criterion = getattr(gn.nn, module)(**_options(kwargs, case))
    x = gn.tensor(case["x"], requires_grad=True)
    loss = criterion(x, gn.tensor(case["t"]))
    loss.backward(gn.tensor(case["dy"]))
    _check(loss, case, "loss")
    _check(x.grad, case, "dx")


@pytest.mark.parametrize("name, fn, module, kwargs, kind, shape", LOSS_CASES, ids=IDS)
def test_float32_loss_stays_float32(name, fn, module, kwargs, kind, shape):
    # targets and weights arrive as float64 NumPy arrays: the loss still follows the input's dtype
    x, t = _loss_inputs(np.random.default_rng(3), kind, shape, kwargs)
    x = gn.tensor(x.astype(np.float32), requires_grad=True)
    C = shape[0] if len(shape) == 1 else shape[1]
    arrays = {"weight": np.ones(C if kind in ("index", "soft", "logprob") else shape[-1]),
              "pos_weight": np.full(shape[-1], 2.0)}
    loss = getattr(F, fn)(x, t, **_options(kwargs, arrays))
    (loss.sum() if loss.ndim else loss).backward()
    assert loss.dtype == gn.float32 and x.grad.dtype == gn.float32


def test_cross_entropy_is_log_softmax_then_nll(rng):
    x, t = rng.tensor(5, 4), gn.tensor([0, 3, 1, 1, 2])
    a = F.cross_entropy(x, t)
    b = F.nll_loss(F.log_softmax(x, dim=1), t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_cross_entropy_textbook_gradient(rng):
    # mean reduction: dL/dz = (softmax(z) - onehot(t)) / N
    x, t = rng.tensor(3, 4), np.array([2, 0, 3])
    F.cross_entropy(x, t).backward()
    expected = (F.softmax(x, dim=1).numpy() - np.eye(4)[t]) / 3
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("fn, options", [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                                         ("nll_loss", {})])
def test_all_ignored_mean_is_nan_with_zero_gradient_like_torch(fn, options):
    # torch divides a loss of 0 by a total weight of 0 (nan), yet its gradient is 0, not nan
    x = gn.zeros(2, 3, dtype=gn.float64, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = getattr(F, fn)(x, gn.tensor([-100, -100]), **options)
        loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_bce_clamps_log_at_minus_100():
    x = gn.tensor([0.0, 1.0], dtype=gn.float64)
    loss = F.binary_cross_entropy(x, gn.tensor([1.0, 0.0], dtype=gn.float64), reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0])


def test_bce_with_logits_is_stable_for_huge_logits():
    x = gn.tensor([1000.0, -1000.0], dtype=gn.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, gn.tensor([0.0, 1.0], dtype=gn.float64), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(2000.0)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0])


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "binary_cross_entropy", "cross_entropy", "nll_loss"])
def test_loss_rejects_unknown_reduction(fn):
    x = gn.full((2, 3), 0.5)
    t = gn.tensor([0, 1]) if fn in ("cross_entropy", "nll_loss") else gn.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=f"{fn}: reduction must be .* got 'avg'"):
        getattr(F, fn)(x, t, reduction="avg")


def test_loss_module_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="MSELoss: reduction .* 'average'"):
        gn.nn.MSELoss(reduction="average")


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_elementwise_loss_names_both_shapes(fn):
    with pytest.raises(gn.ShapeError, match=r"target shape \(4, 1\) must equal input shape \(4,\)"):
        getattr(F, fn)(gn.full((4,), 0.5), gn.full((4, 1), 0.5))


def test_cross_entropy_names_target_shape():
    with pytest.raises(gn.ShapeError, match=r"input of shape \(4, 3\).*must have shape \(4,\), got \(4, 1\)"):
        F.cross_entropy(gn.zeros(4, 3), gn.tensor([[0], [1], [2], [0]]))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_loss_names_out_of_range_target(fn):
    with pytest.raises(IndexError, match=r"target 3 is out of bounds for 3 classes"):
        getattr(F, fn)(gn.zeros(2, 3), gn.tensor([0, 3]))


def test_cross_entropy_checks_weight_and_smoothing():
    with pytest.raises(gn.ShapeError, match=r"weight must have shape \(3,\), got \(2,\)"):
        F.cross_entropy(gn.zeros(2, 3), gn.tensor([0, 1]), weight=gn.ones(2))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(gn.zeros(2, 3), gn.tensor([0, 1]), label_smoothing=1.5)


def test_bce_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\].*with_logits"):
        F.binary_cross_entropy(gn.tensor([0.5, 1.5]), gn.tensor([0.0, 1.0]))


def test_loss_module_reprs():
    assert repr(gn.nn.MSELoss()) == "MSELoss()"
    assert repr(gn.nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
