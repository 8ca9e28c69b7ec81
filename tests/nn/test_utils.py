"""nn.utils: clip_grad_norm_ against torch (pre-clip norm and clipped grads), clip_grad_value_."""
import numpy as np
import pytest

import glassnet as gn
from gen_core import CLIP_CASES

utils = gn.nn.utils


def _params_with_grads(grads):
    params = []
    for g in grads:
        p = gn.nn.Parameter(gn.zeros(*g.shape, dtype=gn.float64))
        p.grad = gn.tensor(g)
        params.append(p)
    return params


@pytest.mark.parametrize("name, shapes, max_norm, norm_type", CLIP_CASES, ids=[c[0] for c in CLIP_CASES])
def test_clip_grad_norm_matches_torch(name, shapes, max_norm, norm_type, fixtures):
    case = fixtures[name]
    params = _params_with_grads([case[f"grad{i}"] for i in range(len(shapes))])
    total = utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(total, gn.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.numpy(), case["total_norm"], rtol=1e-6)   # the norm before clipping
    for i, p in enumerate(params):
        np.testing.assert_allclose(p.grad.numpy(), case[f"clipped{i}"], rtol=1e-6, atol=1e-12)


def test_clip_grad_norm_on_a_model_skips_parameters_without_grad():
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    (model(gn.randn(5, 3)) * 100).sum().backward()
    grads = [p.grad.numpy().copy() for p in model[1].parameters()]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    total = utils.clip_grad_norm_(model.parameters(), 1.0)
    np.testing.assert_allclose(total.item(), norm, rtol=1e-6)
    assert total.dtype == gn.float32
    clipped = np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum() for p in model[1].parameters()))
    np.testing.assert_allclose(clipped, 1.0, rtol=1e-5)
    assert model[0].weight.grad is None


def test_clip_grad_norm_accepts_a_single_tensor_and_nothing():
    (p,) = _params_with_grads([np.array([3.0, 4.0])])
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [3 / (5 + 1e-6), 4 / (5 + 1e-6)])
    assert utils.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_norm_error_if_nonfinite():
    params = _params_with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* inf"):
        utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    params = _params_with_grads([np.array([-3.0, 0.2, 5.0]), np.array([[0.5, -0.7]])])
    assert utils.clip_grad_value_(params, 0.6) is None
    np.testing.assert_array_equal(params[0].grad.numpy(), [-0.6, 0.2, 0.6])
    np.testing.assert_array_equal(params[1].grad.numpy(), [[0.5, -0.6]])


def test_parameters_vector_round_trip():
    model = gn.nn.Linear(3, 2)
    vec = utils.parameters_to_vector(model.parameters())
    assert vec.shape == (8,)
    utils.vector_to_parameters(vec * 0 + gn.arange(8).float(), model.parameters())
    np.testing.assert_array_equal(model.weight.numpy().ravel(), np.arange(6))
    np.testing.assert_array_equal(model.bias.numpy(), [6, 7])
