"""kernels/gemm.py: the affine map's row kernel (compiled and NumPy twins) and the rule that picks
it, against the textbook sums in tests/functions/reference_linear.py (float64 and float32), and a
speed guard so that a silent fall-back to scalar code in the compiled kernel is caught."""
import pathlib
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from glassnet.kernels import gemm

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "functions"))
from reference_linear import affine_by_sums, affine_error_bound  # noqa: E402  (tests/functions/reference_linear.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

TWINS = {"compiled": gemm.affine_row_compiled, "numpy": gemm.affine_row_numpy}
# (K inputs, J outputs): J around the kernel's blocks of four rows (0, 1, 3, 4, 5, 8, 19), K from 0
SHAPES = [(1, 1), (3, 5), (7, 4), (37, 19), (64, 8), (128, 10), (256, 3), (784, 33), (0, 3), (5, 0)]


def _data(K, J, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, K)).astype(dtype)
    W = rng.standard_normal((J, K)).astype(dtype)
    b = rng.standard_normal(J).astype(dtype)
    return x, W, b


def _assert_close(got, x, W, b, dtype):
    expect = affine_by_sums(x, W, b)
    bound = affine_error_bound(x, W, b, dtype)
    assert got.dtype == dtype and got.shape == expect.shape
    assert np.all(np.abs(got - expect) <= bound), np.max(np.abs(got - expect) - bound)


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K, J", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_row_twins_match_the_sums(twin, dtype, K, J, bias):
    x, W, b = _data(K, J, dtype)
    b = b if bias else None
    _assert_close(TWINS[twin](x, W, b), x, W, b, dtype)


@pytest.mark.parametrize("twin", TWINS)
def test_row_twins_take_odd_layouts(twin):
    # a transposed weight, a strided row and a float64 bias on float32 data: the compiled twin
    # hands these to NumPy, and both give the sums
    rng = np.random.default_rng(3)
    W = np.asfortranarray(rng.standard_normal((6, 9)).astype(np.float32))
    x = rng.standard_normal((1, 18)).astype(np.float32)[:, ::2]
    b = rng.standard_normal(6)
    _assert_close(TWINS[twin](x, W, b), x, W, b.astype(np.float32), np.float32)


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_twins_take_strided_rows_and_biases(twin, dtype):
    # a C-ordered weight with a strided row and bias: the compiled loop indexes them itself
    # (a second specialisation), and the sums come out the same
    rng = np.random.default_rng(4)
    W = rng.standard_normal((7, 9)).astype(dtype)
    x = rng.standard_normal((1, 18)).astype(dtype)[:, ::2]
    b = rng.standard_normal(14).astype(dtype)[::2]
    _assert_close(TWINS[twin](x, W, b), x, W, b, dtype)


@pytest.mark.parametrize("twin", TWINS)
def test_row_twins_propagate_nan_and_inf(twin):
    x, W, b = _data(9, 6, np.float32)
    x[0, 4] = np.nan
    W[2, 1] = np.inf
    assert np.isnan(TWINS[twin](x, W, b)).all()          # every output sums a NaN (one of them also +-inf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 37), (4, 37), (2, 3, 37), (37,), (1, 1, 37)])
@pytest.mark.parametrize("bias", [True, False])
def test_affine_matches_the_sums_on_every_shape(dtype, shape, bias):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((19, 37)).astype(dtype)
    b = rng.standard_normal(19).astype(dtype) if bias else None
    y = gemm.affine(x, W, b)
    assert y.shape == shape[:-1] + (19,)
    x2 = x.reshape(-1, 37)
    _assert_close(y.reshape(-1, 19), x2, W, b, dtype)


def test_affine_with_mixed_dtypes_promotes_as_numpy():
    x = np.ones((1, 3), np.float32)
    W = np.ones((2, 3), np.float64)
    y = gemm.affine(x, W, np.ones(2, np.float32))
    assert y.dtype == np.float64 and np.array_equal(y, [[4.0, 4.0]])


def test_linear_layer_uses_the_row_kernel_at_batch_one():
    # the module's batch-1 output is the kernel's, equal to the batched product's rows within rounding
    gn.manual_seed(0)
    layer = gn.nn.Linear(37, 19)
    x = gn.randn(5, 37)
    with gn.no_grad():
        batched = layer(x).numpy()
        rows = np.concatenate([layer(x[i:i + 1]).numpy() for i in range(5)])
    bound = affine_error_bound(x.numpy(), layer.weight.numpy(), layer.bias.numpy(), np.float32)
    assert np.all(np.abs(rows - batched) <= 2 * bound)


# -- speed guard ---------------------------------------------------------------------------------

@pytest.mark.skipif(kernels.BACKEND != "numba", reason="compiled kernels not in use")
def test_compiled_row_kernel_is_faster_than_its_twin():
    # MLP-sized layers: a scalar (unvectorised) compiled loop would be several times slower
    x, W, b = _data(256, 128, np.float32)
    assert faster(lambda: gemm.affine_row_compiled(x, W, b), lambda: gemm.affine_row_numpy(x, W, b),
                  repeats=30, calls=50)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 37), (4, 37), (2, 3, 37)])
@pytest.mark.parametrize("bias", [True, False])
def test_affine_into_a_buffer_equals_the_fresh_result_bit_for_bit(dtype, shape, bias):
    # gn.compile replays Linear into buffers allocated once; eager allocates: both must agree exactly
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((19, 37)).astype(dtype)
    b = rng.standard_normal(19).astype(dtype) if bias else None
    out = np.full(shape[:-1] + (19,), np.nan, dtype)
    assert gemm.affine(x, W, b, out=out) is out
    np.testing.assert_array_equal(out, gemm.affine(x, W, b))


@pytest.mark.parametrize("twin", TWINS)
def test_row_twins_write_into_a_buffer(twin):
    x, W, b = _data(37, 19, np.float32)
    out = np.full((1, 19), np.nan, np.float32)
    assert TWINS[twin](x, W, b, out) is out
    np.testing.assert_array_equal(out, TWINS[twin](x, W, b))
