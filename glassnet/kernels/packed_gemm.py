"""A matrix product whose right operand is packed once and used many times: C = A B with B
the same weights at every time step of a recurrent layer (``kernels/recurrent_lanes.py``).

The math, nothing more (checked against a float64 product by
``tests/kernels/test_packed_gemm.py``)::

    C[i, j] = sum_k A[i, k] B[k, j]          A (M, K)   B (K, N)   ->   C (M, N)

Why not BLAS: OpenBLAS copies B into its own panel layout on every call. An LSTM step's
product, (32 x 256)(256 x 512), is small enough that the copy is a quarter of the call, and
it copies the same weights at all T steps. Here B is copied once per pass (``pack``, or
``pack_transposed`` for B = W^T), and each step runs only the arithmetic.

Layout: the packed B is (ceil(N / 16), K, 16): panel p holds columns [16 p, 16 p + 16) of B,
k-th row of the panel = B[k, 16 p : 16 p + 16] (zeros past N), so one step of k reads 16
consecutive floats.

The block kernel: a 4 x 16 block of C lives in eight 8-float vector registers for the whole
sum over k; each k broadcasts A[i, k] for its four rows and adds A[i, k] * B[k, j:j+8] for
both halves of the panel row (a multiply-add each, fused where the CPU has FMA). Numba has no
vector types and LLVM's vectoriser does not keep such a block in registers across a loop
(a loop-written version ran at a quarter of the speed), so the block kernel is written in
LLVM's vector IR through a Numba intrinsic (``_block``): ``llvm.fmuladd.v8f32`` is a fused
multiply-add where the target has one and a multiply and an add elsewhere, and eight floats
are one AVX register, two SSE ones.

Rows past the last multiple of 4 go one at a time through the same kernel built for one row;
columns past the last multiple of 16 go through a 16-wide scratch block, of which only the
valid columns are copied out. Serial: a lane of ``recurrent_lanes`` calls it on its own thread.
Only float32 (the lanes' dtype).
"""
from __future__ import annotations

import numpy as np

from . import BACKEND, jit

#: columns per panel: two 8-float vectors
PANEL = 16
#: rows of C per block kernel: 4 rows x 2 vectors = 8 accumulator registers
ROWS = 4


def packed_shape(K: int, N: int):
    """Shape of the packed form of a (K, N) right operand."""
    return (-(-N // PANEL), K, PANEL)


if BACKEND == "numba":
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _block_kernel(rows):
        """An intrinsic ``block(a, lda, p, c, ldc, K, s, lds, start)`` (addresses as uint64,
        strides in floats): C[:rows, :16] = S + A[:rows, :K] P[:K, :16], where S[i] is the
        16 floats at s + i lds if ``start``, else zeros (s = c, lds = ldc: C += A B; lds = 0:
        a bias row added to every row)."""
        @intrinsic
        def block(typingctx, a, lda, p, c, ldc, K, s, lds, start):
            sig = types.void(types.uint64, types.int64, types.uint64, types.uint64, types.int64, types.int64,
                             types.uint64, types.int64, types.boolean)

            def codegen(context, builder, signature, args):
                a, lda, p, c, ldc, K, s, lds, start = args
                f32, i32 = ir.FloatType(), ir.IntType(32)
                v8 = ir.VectorType(f32, 8)
                fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v8, [v8, v8, v8]),
                                                         "llvm.fmuladd.v8f32")
                A, P, C, S = (builder.inttoptr(v, f32.as_pointer()) for v in (a, p, c, s))
                offset = lambda ptr, n: builder.gep(ptr, [n])                        # noqa: E731
                const = lambda n: ir.Constant(K.type, n)                              # noqa: E731
                vector_at = lambda ptr, n: builder.bitcast(offset(ptr, n), v8.as_pointer())   # noqa: E731
                undef, zero = ir.Constant(v8, ir.Undefined), ir.Constant(v8, [0.0] * 8)
                lanes0 = ir.Constant(ir.VectorType(i32, 8), [0] * 8)
                # the 2 * rows accumulators, S's block or zeros to start: allocas in the entry
                # block, which LLVM keeps in registers
                acc = [cgutils.alloca_once_value(builder, zero) for _ in range(2 * rows)]
                with builder.if_then(start):
                    for i in range(rows):
                        s_row = offset(S, builder.mul(lds, const(i)))
                        for h in range(2):
                            builder.store(builder.load(vector_at(s_row, const(8 * h)), align=4), acc[2 * i + h])
                a_rows = [offset(A, builder.mul(lda, const(i))) for i in range(rows)]
                with cgutils.for_range(builder, K) as loop:                         # for k in range(K):
                    k = loop.index
                    p_k = offset(P, builder.mul(k, const(PANEL)))
                    b = [builder.load(vector_at(p_k, const(8 * h)), align=4) for h in range(2)]   # P[k, 0:16]
                    for i in range(rows):
                        a_ik = builder.load(offset(a_rows[i], k))                   # A[i, k], broadcast
                        a_ik = builder.shuffle_vector(builder.insert_element(undef, a_ik, ir.Constant(i32, 0)),
                                                      undef, lanes0)
                        for h in range(2):                                          # acc += A[i, k] P[k, half]
                            slot = acc[2 * i + h]
                            builder.store(builder.call(fmuladd, [a_ik, b[h], builder.load(slot)]), slot)
                for i in range(rows):
                    c_row = offset(C, builder.mul(ldc, const(i)))
                    for h in range(2):
                        builder.store(builder.load(acc[2 * i + h]), vector_at(c_row, const(8 * h)), align=4)
                return context.get_dummy_value()
            return sig, codegen
        return block

    _block = _block_kernel(ROWS)
    _block_row = _block_kernel(1)


@jit
def pack(B, P):
    """P = B (K, N), any strides, packed (``packed_shape(K, N)``; zeros past column N)."""
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


@jit
def pack_transposed(W, P):
    """P = W^T packed, for W (N, K) (a layer's weight rows: C = A W^T)."""
    N, K = W.shape
    for p in range(P.shape[0]):
        j0 = p * PANEL
        width = min(PANEL, N - j0)
        panel = P[p]
        for j in range(width):
            w = W[j0 + j]
            for k in range(K):
                panel[k, j] = w[k]
        for j in range(width, PANEL):
            for k in range(K):
                panel[k, j] = 0


@jit(inline="always")
def _at(X, i, j):
    """The address of X[i, j]."""
    return np.uint64(X[i:, j:].ctypes.data)


@jit(inline="always")
def _product(A, P, C, S, lds, start):
    """C = S + A B if ``start`` (S's rows lds floats apart; lds = 0: S is one row for all), else
    C = A B."""
    M, K = A.shape
    N = C.shape[1]
    lda, ldc = A.strides[0] // 4, C.strides[0] // 4
    s_row = 1 if lds > 0 else 0
    full = N // PANEL
    whole = M - M % ROWS
    for p in range(full):                           # a panel stays in cache over all of A's rows
        panel, j = np.uint64(P[p].ctypes.data), p * PANEL
        for i in range(0, whole, ROWS):
            _block(_at(A, i, 0), lda, panel, _at(C, i, j), ldc, K, _at(S, i * s_row, j), lds, start)
        for i in range(whole, M):                   # the rows past the last multiple of 4
            _block_row(_at(A, i, 0), lda, panel, _at(C, i, j), ldc, K, _at(S, i * s_row, j), lds, start)
    if full < P.shape[0]:                           # the last, narrower panel: through a scratch block
        panel, j = np.uint64(P[full].ctypes.data), full * PANEL
        block = np.zeros((1, PANEL), np.float32)
        for i in range(M):
            if start:
                block[0, :N - j] = S[i * s_row, j:]
            _block_row(_at(A, i, 0), lda, panel, _at(block, 0, 0), PANEL, K, _at(block, 0, 0), 0, start)
            C[i, j:] = block[0, :N - j]


@jit
def matmul_packed(A, P, C, accumulate):
    """C (M, N) = A (M, K) B, or C += A B if ``accumulate``; B given packed as P. A's and C's
    rows may be strided (a slice of wider rows); each row contiguous. float32."""
    _product(A, P, C, C, C.strides[0] // 4, accumulate)


@jit
def matmul_packed_bias(A, P, b, C):
    """C (M, N) = b + A B for a bias row b (N,) (one pass over C)."""
    _product(A, P, C, b.reshape(1, -1), 0, True)
