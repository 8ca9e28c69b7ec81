"""How ``functions/linear.py``'s affine map runs fast: y = x W^T + b, and which library does the products.

The math (``functions/linear.py``; checked against ``tests/functions/reference_linear.py``:
``affine_by_sums``, in ``tests/kernels/test_gemm.py``):

    y[n, j] = b[j] + sum_i x[n, i] W[j, i]          x (N, K)   W (J, K)   b (J,)   ->   y (N, J)

* **Many rows** (training batches, 3-d inputs): one BLAS product ``x @ W.T`` (NumPy's
  OpenBLAS) and the bias added in place.
* **One row** (batch-1 inference): the product is a matrix-vector product, and BLAS's
  per-call machinery and the separate bias pass are a large part of its time. The compiled
  :func:`affine_row_compiled` walks W's rows four at a time, reading x once per four outputs,
  and starts each sum from the bias; its NumPy twin :func:`affine_row_numpy` calls
  ``np.dot(W, x)`` (BLAS's matrix-vector product, cheaper per call than ``x @ W.T``) and adds
  the bias. Both are serial: BLAS keeps the threads (``kernels/__init__.py``).

The compiled row kernel sums in a different order than BLAS (``fastmath`` reassociation,
so the sum vectorises); the reference test bounds the difference at float32 and float64
tolerances.

**Other GEMM libraries.** ``bench/gemm_survey.py`` measures NumPy's OpenBLAS against BLIS
(cython-blis), Intel MKL (the ``mkl`` wheel, through ``cblas_sgemm``) and torch at every
product glassnet's benchmark workloads run. None was taken: on one thread MKL matched or
trailed OpenBLAS at the Linear products and trailed it at the convolutions', and so did
whole mlp and bn_mlp training steps with Linear's products on MKL; BLIS's wheel ran its
generic (unvectorised) kernels on this CPU, without threads; and products alternating
between MKL and OpenBLAS in one process ran many times slower than either alone while
MKL's OpenMP workers spun after each call. The README's benchmark section has the table.
"""
from __future__ import annotations

from ..backend import xp
from . import jit, pick


def affine_row_numpy(x, W, b, out=None):
    """y = x W^T + b for one row x (1, K), W (J, K), b (J,) or None  ->  y (1, J) (into ``out``)."""
    if out is None:
        y = xp.dot(W, x[0]).reshape(1, -1)
    else:
        y = out
        xp.dot(W, x[0], out=y[0])
    if b is not None:
        y += b
    return y


@jit(fastmath={"reassoc", "contract"})
def _affine_row(x, W, b, y):
    # y[0, j] = b[j] + sum_i W[j, i] x[0, i], four output rows per pass over x: each x[0, i] is
    # loaded once for four products, and the four running sums stay in registers.
    # Reassociation lets each sum run in SIMD lanes (without it the loop stays scalar).
    J, K = W.shape
    j = 0
    while j + 4 <= J:
        s0, s1, s2, s3 = b[j], b[j + 1], b[j + 2], b[j + 3]
        for i in range(K):
            xi = x[0, i]
            s0 += W[j, i] * xi
            s1 += W[j + 1, i] * xi
            s2 += W[j + 2, i] * xi
            s3 += W[j + 3, i] * xi
        y[0, j], y[0, j + 1], y[0, j + 2], y[0, j + 3] = s0, s1, s2, s3
        j += 4
    while j < J:
        s = b[j]
        for i in range(K):
            s += W[j, i] * x[0, i]
        y[0, j] = s
        j += 1


_COMPILED_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def affine_row_compiled(x, W, b, out=None):
    """y = x W^T + b for one row x (1, K) in one compiled pass over W (into ``out``), when W is
    C-ordered and x, W, b and out are all float32 or all float64; anything else takes the NumPy
    twin. (x and b may have any strides: the loop indexes them, so a strided view is only a
    second compiled specialisation, not a wrong answer. ``out``, as for the twin's ``np.dot``,
    is C-ordered: ``gn.compile``'s buffers.)"""
    # identity tests on the dtype: this runs once per layer call at batch 1, where every
    # attribute read shows (a non-native dtype object, e.g. byte-swapped, fails them and
    # takes the twin)
    dtype = W.dtype
    if ((dtype is _COMPILED_DTYPES[0] or dtype is _COMPILED_DTYPES[1]) and x.dtype is dtype
            and (b is None or b.dtype is dtype) and (out is None or out.dtype is dtype)
            and W.flags.c_contiguous):
        y = xp.empty((1, W.shape[0]), dtype) if out is None else out
        _affine_row(x, W, xp.zeros(W.shape[0], dtype) if b is None else b, y)
        return y
    return affine_row_numpy(x, W, b, out)


affine_row = pick(affine_row_compiled, affine_row_numpy)


def affine(x, W, b=None, out=None):
    """y = x W^T + b over the last axis of x (N, *, K), W (J, K), b (J,) or None -> (N, *, J),
    into ``out`` when given (it must have y's shape and dtype; ``gn.compile``'s buffers).

    A 2-d x with one row takes :data:`affine_row` (the compiled kernel or its twin); every
    other shape one BLAS product and the bias added in place. With or without ``out`` the
    same operations run, so the results are equal bit for bit.
    """
    if x.ndim == 2 and x.shape[0] == 1:
        return affine_row(x, W, b, out)
    if out is None:
        y = x @ W.T
    else:
        y = xp.matmul(x, W.T, out=out)
    if b is not None:
        y += b
    return y
