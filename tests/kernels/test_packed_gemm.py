"""kernels/packed_gemm.py: the product with a packed right operand, against the textbook sums
(tests/functions/reference_linear.py's ``affine_by_sums``, within a float32 sum's rounding bound)
over shapes around its 4-row blocks and 16-column panels, with strided rows, accumulation and
a bias; the two ways of packing; and a speed guard against the OpenBLAS product it replaces in
the LSTM lanes, so that a block kernel whose accumulators fell out of registers is caught."""
import pathlib
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.kernels import BACKEND

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "functions"))
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))
from reference_linear import affine_by_sums, affine_error_bound  # noqa: E402  (tests/functions/reference_linear.py)
from speed_guard import faster  # noqa: E402  (tests/speed_guard.py)

pytestmark = pytest.mark.skipif(BACKEND != "numba", reason="a compiled kernel only (the LSTM lanes' products)")

if BACKEND == "numba":
    from glassnet.kernels.packed_gemm import PANEL, matmul_packed, matmul_packed_bias, pack, packed_shape

# (M, K, N): rows around the 4-row blocks, columns around the 16-column panels, K from 1
SHAPES = [(1, 1, 1), (3, 5, 16), (4, 7, 17), (5, 2, 15), (8, 3, 32), (9, 64, 33), (13, 6, 48), (2, 20, 1)]


def _data(M, K, N, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    return A, B, b


def _packed(B):
    P = np.full(packed_shape(*B.shape), np.nan, np.float32)      # every entry must be written
    pack(B, P)
    return P


def _assert_sums(got, A, B, b=None, start=None):
    """got == start + b + A B within the rounding bound of those sums in float32."""
    expect = affine_by_sums(A, B.T, b)
    bound = affine_error_bound(A, B.T, b, np.float32)
    if start is not None:
        expect = expect + start
        bound = bound + np.abs(start) * np.finfo(np.float32).eps * 2
    assert got.shape == expect.shape
    assert np.all(np.abs(got - expect) <= bound), np.max(np.abs(got - expect) - bound)


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_product_matches_the_sums(M, K, N):
    A, B, _ = _data(M, K, N)
    C = np.full((M, N), np.nan, np.float32)                      # overwritten, never read
    matmul_packed(A, _packed(B), C, False)
    _assert_sums(C, A, B)


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_accumulate_adds_to_what_is_there(M, K, N):
    A, B, _ = _data(M, K, N)
    start = np.random.default_rng(1).standard_normal((M, N)).astype(np.float32)
    C = start.copy()
    matmul_packed(A, _packed(B), C, True)
    _assert_sums(C, A, B, start=start.astype(np.float64))


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_bias_starts_every_row(M, K, N):
    A, B, b = _data(M, K, N)
    C = np.full((M, N), np.nan, np.float32)
    matmul_packed_bias(A, _packed(B), b, C)
    _assert_sums(C, A, B, b)


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_strided_rows_in_and_out_leave_the_rest_alone(M, K, N):
    # A and C as column slices of wider arrays (a lane's block of shared rows): only the slice
    # of C is written
    A, B, _ = _data(M, K, N)
    wide_A = np.zeros((M, K + 5), np.float32)
    wide_A[:, 2:2 + K] = A
    wide_C = np.full((M, N + 7), 7.0, np.float32)
    matmul_packed(wide_A[:, 2:2 + K], _packed(B), wide_C[:, 3:3 + N], False)
    _assert_sums(wide_C[:, 3:3 + N], A, B)
    assert np.all(wide_C[:, :3] == 7.0) and np.all(wide_C[:, 3 + N:] == 7.0)


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_packing_lays_out_panels_from_a_matrix_or_a_transposed_weight(M, K, N):
    _, B, _ = _data(M, K, N)
    P = _packed(B)
    assert np.array_equal(_packed(np.ascontiguousarray(B.T).T), P)   # B as W.T, W = B^T a layer's weight rows
    assert P.shape == (-(-N // PANEL), K, PANEL)
    for p in range(P.shape[0]):                                  # panel p = columns [16 p, 16 p + 16), zeros past N
        width = min(PANEL, N - p * PANEL)
        assert np.array_equal(P[p, :, :width], B[:, p * PANEL:p * PANEL + width])
        assert np.all(P[p, :, width:] == 0)


def test_packs_a_strided_operand():
    # the backward packs W_hh's columns of one lane's units: a strided (K, N) view
    _, B, _ = _data(1, 12, 40)
    wide = np.zeros((12, 50), np.float32)
    wide[:, 5:45] = B
    assert np.array_equal(_packed(wide[:, 5:45]), _packed(B))


def test_an_lstm_step_product_matches_float64():
    # the shape the char-LSTM's lanes run at every step, (32 x 256)(256 x 512), against float64
    # (the looped sums would take seconds here)
    A, B, _ = _data(32, 256, 512)
    C = np.empty((32, 512), np.float32)
    matmul_packed(A, _packed(B), C, False)
    expect = A.astype(np.float64) @ B.astype(np.float64)
    bound = 257 * np.finfo(np.float32).eps * (np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64)))
    assert np.all(np.abs(C - expect) <= bound)


def _designed_for_this_cpu():
    # the block kernel is two 8-float vectors wide with fused multiply-adds: AVX2 and FMA. On a
    # CPU with AVX-512, OpenBLAS's 16-float kernels are the fair comparison, and unmeasured
    import llvmlite.binding as llvm
    features = llvm.get_host_cpu_features()
    return features.get("avx2", False) and features.get("fma", False) and not features.get("avx512f", False)


@pytest.mark.skipif(BACKEND != "numba" or not _designed_for_this_cpu(),
                    reason="the block kernel's speed is measured on AVX2 + FMA CPUs without AVX-512")
def test_step_product_beats_openblas_repacking_every_call():
    A, B, _ = _data(32, 256, 512)
    W = np.ascontiguousarray(B.T)                                # a layer's weight rows: A W^T, as the lanes had it
    P = _packed(B)
    C, C_blas = np.empty((32, 512), np.float32), np.empty((32, 512), np.float32)
    before = gn.get_num_threads()
    gn.set_num_threads(1)                                        # a lane's product runs on one thread
    try:
        assert faster(lambda: matmul_packed(A, P, C, False), lambda: np.matmul(A, W.T, out=C_blas),
                      what="the packed step product", than="OpenBLAS's (which packs W on every call)",
                      repeats=9, calls=20, by=1.1)
    finally:
        gn.set_num_threads(before)
