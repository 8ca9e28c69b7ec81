import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)])
def test_linear_gradcheck(batch_shape, rng):
    x, w, b = rng.tensor(*batch_shape, 3), rng.tensor(5, 3), rng.tensor(5)
    assert gn.gradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("case_name", ["linear", "linear_3d_nobias", "core_linear_4d", "core_linear_single"])
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
    with pytest.raises(gn.ShapeError, match=r"layer '0' Linear\(in_features=784.*input has 28 features \(shape \(8, 28, 28\)\), "
                                            r"weight expects 784"):
        model(gn.zeros(8, 28, 28))


@pytest.mark.parametrize("case_name", ["linear", "linear_3d_nobias", "core_linear_4d", "core_linear_single"])
def test_linear_module_matches_torch(case_name, fixtures):
    _check_module_against(fixtures[case_name])


def _check_module_against(case):
    """A float64 nn.Linear with the fixture's weights: y and every gradient as torch computed them."""
    bias = "bias" in case
    J, K = case["weight"].shape
    layer = gn.nn.Linear(K, J, bias=bias).to(gn.float64)
    layer.load_state_dict({k: case[k] for k in ("weight", "bias") if k in case})
    x = gn.tensor(case["x"], requires_grad=True)
    y = layer(x)
    y.backward(gn.tensor(case["dy"]))
    checks = [(y, "y"), (x.grad, "dx"), (layer.weight.grad, "dweight")]
    checks += [(layer.bias.grad, "dbias")] if bias else []
    for got, key in checks:
        np.testing.assert_allclose(got.numpy(), case[key], rtol=1e-6, atol=1e-12, err_msg=key)
    return layer


@pytest.mark.parametrize("shape", [(3,), (1, 3), (2, 2, 3)])
def test_linear_gradcheck_more_shapes_and_no_bias(shape, rng):
    x, w = rng.tensor(*shape), rng.tensor(4, 3)
    assert gn.gradcheck(F.linear, (x, w))
    assert gn.gradcheck(lambda t: F.linear(t, w.detach()), (x,))


def test_linear_module_shapes_dtype_and_repr():
    layer = gn.nn.Linear(4, 2)
    assert layer.weight.shape == (2, 4) and layer.bias.shape == (2,)
    assert layer.weight.dtype == gn.float32 and layer(gn.zeros(3, 4)).dtype == gn.float32
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert repr(layer) == "Linear(in_features=4, out_features=2, bias=True)"
    no_bias = gn.nn.Linear(4, 2, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]


def test_linear_default_init_bound():
    # torch's default: weight and bias from U(-1/sqrt(in), 1/sqrt(in))
    gn.manual_seed(0)
    layer = gn.nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound
    assert np.abs(layer.weight.numpy()).max() > 0.98 * bound
    np.testing.assert_allclose(layer.weight.numpy().std(), bound / np.sqrt(3), rtol=0.02)


def test_functional_linear_names_both_shapes():
    with pytest.raises(gn.ShapeError, match=r"input has 4 features \(shape \(2, 4\)\), weight expects 3"):
        F.linear(gn.zeros(2, 4), gn.zeros(5, 3))


# -- one-row inputs (batch-1 inference): the row kernel of kernels/gemm.py ---------------------

ROW_CASES = ["linear_row_37_19", "linear_row_64_8_nobias", "linear_row_5_1"]


@pytest.mark.parametrize("case_name", ROW_CASES)
def test_linear_one_row_matches_torch(case_name, fixtures):
    case = fixtures[case_name]
    layer = _check_module_against(case)
    with gn.no_grad():                      # inference in float32, as the benchmark runs it
        y32 = layer.to(gn.float32)(gn.tensor(case["x"], dtype=gn.float32))
    assert y32.dtype == gn.float32
    np.testing.assert_allclose(y32.numpy(), case["y"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_one_row_gradcheck(bias, rng):
    # 6 outputs: one block of four rows in the compiled kernel and a tail of two
    x, w = rng.tensor(1, 7), rng.tensor(6, 7)
    args = (x, w, rng.tensor(6)) if bias else (x, w)
    assert gn.gradcheck(F.linear, args)
