"""A matrix product whose right operand is packed once and used many times: C = A B with B
the same weights at every time step of a recurrent layer (``kernels/recurrent_lanes.py``).

The math, nothing more (checked against the textbook sums by
``tests/kernels/test_packed_gemm.py``)::

    C[i, j] = sum_k A[i, k] B[k, j]          A (M, K)   B (K, N)   ->   C (M, N)

Why not BLAS: OpenBLAS copies B into its own panel layout on every call. An LSTM step's
product, (32 x 256)(256 x 512), is small enough that the copy is a large part of the call,
and it copies the same weights at all T steps (the README's benchmark section has the
figures). Here B is copied once per pass (``pack``; ``pack(W.T, P)`` for B = W^T, a layer's
weight rows), and each step runs only the arithmetic.

Layout: the packed B is (ceil(N / 16), K, 16): panel p holds columns [16 p, 16 p + 16) of B,
k-th row of the panel = B[k, 16 p : 16 p + 16] (zeros past N), so one step of k reads 16
consecutive floats. Each 4 x 16 block of C is one call of ``kernels/microkernel.py``'s
register block (its accumulators in vector registers for the whole sum over k), with A's
rows lda apart and the panel's rows 16 apart.

Rows past the last multiple of 4 go one at a time through the one-row block; columns past
the last multiple of 16 go through a 16-wide scratch block, of which only the valid columns
are copied out. Serial: a lane of ``recurrent_lanes`` calls it on its own thread.
"""
from __future__ import annotations

import numpy as np

from . import jit
from .microkernel import PANEL, ROWS, address, block, block_row


def packed_shape(K: int, N: int):
    """Shape of the packed form of a (K, N) right operand."""
    return (-(-N // PANEL), K, PANEL)


@jit
def pack(B, P):
    """P = B (K, N), any strides, packed (``packed_shape(K, N)``; zeros past column N). B may
    be the transposed view W.T of a layer's weight rows W (N, K): read down W's columns, once
    per pass."""
    K, N = B.shape
    for p in range(P.shape[0]):
        j0 = p * PANEL
        width = min(PANEL, N - j0)
        for k in range(K):
            row, src = P[p, k], B[k]
            for j in range(width):
                row[j] = src[j0 + j]
            for j in range(width, PANEL):
                row[j] = 0


@jit(inline="always")
def _at(X, i, j):
    """The address of X[i, j]."""
    return np.uint64(X[i:, j:].ctypes.data)


@jit(inline="always")
def _product(A, P, C, S, lds, start):
    """C = S + A B if ``start`` (S's rows lds elements apart; lds = 0: S is one row for all),
    else C = A B."""
    M, K = A.shape
    N = C.shape[1]
    like = C.dtype.type(0)
    ldc = C.strides[0] // C.itemsize
    a_rows = np.arange(ROWS) * (A.strides[0] // A.itemsize)    # A's rows in a block, lda apart
    b_rows = np.arange(K) * PANEL                               # a panel's rows, 16 apart
    s_row = 1 if lds > 0 else 0
    full = N // PANEL
    whole = M - M % ROWS
    for p in range(full):                           # a panel stays in cache over all of A's rows
        panel, j = address(P[p], 0), p * PANEL
        for i in range(0, whole, ROWS):
            block(_at(A, i, 0), address(a_rows, 0), panel, address(b_rows, 0), _at(C, i, j), ldc, K, _at(S, i * s_row, j), lds, start, like)
        for i in range(whole, M):                   # the rows past the last multiple of 4
            block_row(_at(A, i, 0), address(a_rows, 0), panel, address(b_rows, 0), _at(C, i, j), ldc, K, _at(S, i * s_row, j), lds, start,
                      like)
    if full < P.shape[0]:                           # the last, narrower panel: through a scratch block
        panel, j = address(P[full], 0), full * PANEL
        scratch = np.zeros((1, PANEL), C.dtype)
        for i in range(M):
            if start:
                scratch[0, :N - j] = S[i * s_row, j:]
            block_row(_at(A, i, 0), address(a_rows, 0), panel, address(b_rows, 0), _at(scratch, 0, 0), PANEL, K, _at(scratch, 0, 0), 0, start,
                      like)
            C[i, j:] = scratch[0, :N - j]


@jit
def matmul_packed(A, P, C, accumulate):
    """C (M, N) = A (M, K) B, or C += A B if ``accumulate``; B given packed as P. A's and C's
    rows may be strided (a slice of wider rows); each row contiguous. All of one dtype."""
    _product(A, P, C, C, C.strides[0] // C.itemsize, accumulate)


@jit
def matmul_packed_bias(A, P, b, C):
    """C (M, N) = b + A B for a bias row b (N,) (one pass over C)."""
    _product(A, P, C, b.reshape(1, -1), 0, True)
