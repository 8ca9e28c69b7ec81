"""gn.autograd.functional.jacobian and vjp: against torch (committed fixture, live when installed),
against finite differences, and torch's structure for tuple inputs and outputs."""
from __future__ import annotations

import numpy as np
import pytest
from gen_functional import CASES

import glassnet as gn
from glassnet.autograd.functional import jacobian, vjp


def _t(a, requires_grad=False):
    return gn.tensor(np.asarray(a, dtype=np.float64), dtype=gn.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacobian_and_vjp_match_torch(name, fixtures):
    case = fixtures[name]
    fn, shapes = CASES[name]
    xs = tuple(_t(case[f"x{i}"]) for i in range(len(shapes)))
    f = lambda *args: fn(gn, *args)  # noqa: E731
    jac = jacobian(f, xs)
    two_outputs = name == "fn_two_outputs"
    blocks = jac if two_outputs else (jac,)
    for j, per_input in enumerate(blocks):
        for i, b in enumerate(per_input):
            np.testing.assert_allclose(b.numpy(), case[f"jac{j}_{i}"], rtol=1e-10, atol=1e-12, err_msg=f"jac{j}_{i}")
    vs = tuple(_t(case[f"v{j}"]) for j in range(len(blocks)))
    out, g = vjp(f, xs, vs if two_outputs else vs[0])
    for i, gi in enumerate(g):
        np.testing.assert_allclose(gi.numpy(), case[f"vjp{i}"], rtol=1e-10, atol=1e-12, err_msg=f"vjp{i}")


def test_jacobian_matches_finite_differences(rng):
    W = rng.array(3, 4)
    f = lambda x: gn.tanh(x @ _t(W)).sum(0)  # noqa: E731  (4,) from (2, 3)
    x = rng.array(2, 3)
    J = jacobian(f, _t(x)).numpy()
    assert J.shape == (4, 2, 3)
    eps = 1e-6
    numeric = np.zeros_like(J)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[(slice(None),) + idx] = (np.tanh(up @ W).sum(0) - np.tanh(down @ W).sum(0)) / (2 * eps)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8)


def test_vjp_scalar_output_needs_no_v_and_leaves_other_grads_alone():
    layer = gn.nn.Linear(3, 1).double()
    x = _t([[1.0, 2.0, 3.0]], requires_grad=True)
    out, g = vjp(lambda inp: layer(inp).sum(), x)
    np.testing.assert_allclose(g.numpy(), layer.weight.numpy())
    assert layer.weight.grad is None and x.grad is None       # neither the parameters nor the caller's input
    assert not out.requires_grad


def test_strict_and_create_graph():
    x = _t([1.0, 2.0])
    zero = jacobian(lambda a: _t([3.0, 4.0]), x)
    np.testing.assert_array_equal(zero.numpy(), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="strict=True"):
        jacobian(lambda a: _t([3.0, 4.0]), x, strict=True)
    with pytest.raises(NotImplementedError, match="create_graph"):
        jacobian(lambda a: a * 2, x, create_graph=True)
    with pytest.raises(RuntimeError, match="v can be omitted only"):
        vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match=r"v\[0\] has shape \(3,\)"):
        vjp(lambda a: a * 2, x, _t([1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="must be Tensors"):
        jacobian(lambda a: a, [1.0, 2.0])
