import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)])
def test_linear_gradcheck(batch_shape, rng):
    x, w, b = rng.tensor(*batch_shape, 3), rng.tensor(5, 3), rng.tensor(5)
    assert gn.gradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("case_name", ["linear", "linear_3d_nobias"])
def test_linear_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    x, w = (gn.tensor(case[k], requires_grad=True) for k in ("x", "weight"))
    b = gn.tensor(case["bias"], requires_grad=True) if "bias" in case else None
    y = F.linear(x, w, b)
    y.backward(gn.tensor(case["dy"]))
    checks = [(y, "y"), (x.grad, "dx"), (w.grad, "dweight")] + ([(b.grad, "dbias")] if b is not None else [])
    for got, key in checks:
        np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)


def test_linear_names_layer_and_shapes_on_wrong_features():
    model = gn.nn.Sequential(gn.nn.Linear(784, 32), gn.nn.ReLU())
    with pytest.raises(gn.ShapeError, match=r"layer '0' Linear\(in_features=784.*784.*\(8, 28, 28\)"):
        model(gn.zeros(8, 28, 28))
