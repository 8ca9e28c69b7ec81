"""The register block: the arithmetic at the bottom of glassnet's own matrix products
(``kernels/packed_gemm.py``, the LSTM's step products) and of its direct convolutions
(``kernels/conv_direct.py``, whose taps it reads in place: an im2col matrix never built).

For a block of ``rows`` rows (4, or 1 for what is left over) and 16 columns::

    C[i, 0:16] = S[i, 0:16] + sum_{k < K} A[i, k] B[k, 0:16]          (S = 0 unless ``start``)

where every operand is reached through addresses, so that the callers decide what the
"matrices" are:

* A[i, k] is the scalar at ``a + aoff[i] + k``: row i of A wherever the offsets table
  ``aoff`` puts it (rows lda apart for a matrix; a convolution's tap (c, i, j) at its shift
  c*plane + i*Wp + j of a flat padded input, so that A[tap, t] = x[t + shift]);
* B[k, 0:16] is the 16 consecutive values at ``b + boff[k]``: rows 16 apart in a packed
  panel, or, for a convolution, the input at tap k's shift (16 output positions in a row);
* C's rows are ``ldc`` apart; S's ``lds`` apart (S = C to accumulate, lds = 0 for one bias
  row shared by all).

All offsets and strides count elements. The 16 columns of each of the block's rows live in
vector registers for the whole sum over k (two 8-float vectors in float32, four 4-double ones
in float64): each k broadcasts A[i, k] and adds A[i, k] * B[k, :] with one multiply-add per
vector, fused where the CPU has FMA. Numba has no vector types, and LLVM's vectoriser does
not keep such a block in registers across a loop (a loop-written version ran several times
slower), so the block is written in LLVM's vector IR through a Numba intrinsic:
``llvm.fmuladd`` is a fused multiply-add where the target has one and a multiply and an add
elsewhere; an 8-float vector is one AVX register, two SSE ones. Float64 (for the reference
tests and gradcheck) keeps 16 accumulators at 4 rows, more than the registers; correct, not
tuned.

Checked through its callers: ``tests/kernels/test_packed_gemm.py`` (against the textbook
sums) and ``tests/kernels/test_conv_direct.py`` (against ``tests/functions/reference.py``).
"""
from __future__ import annotations

import numpy as np

from . import BACKEND, jit

#: columns of a block: two 8-float vectors (four 4-double ones)
PANEL = 16
#: rows of a full block: 4 rows x 2 vectors = 8 accumulator registers in float32
ROWS = 4


if BACKEND == "numba":
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _block_kernel(rows):
        """The intrinsic ``block(a, aoff, b, boff, c, ldc, K, s, lds, start, like)`` for
        ``rows`` rows (module docstring); addresses and the tables' addresses as uint64;
        ``like``, a scalar of the operands' dtype (float32 or float64), picks the arithmetic."""
        @intrinsic
        def block(typingctx, a, aoff, b, boff, c, ldc, K, s, lds, start, like):
            if like not in (types.float32, types.float64):
                return None
            address = types.uint64
            sig = types.void(address, address, address, address, address, types.int64, types.int64,
                             address, types.int64, types.boolean, like)

            def codegen(context, builder, signature, args):
                a, aoff, b, boff, c, ldc, K, s, lds, start, _ = args
                double = signature.args[-1] == types.float64
                real = ir.DoubleType() if double else ir.FloatType()
                width = 4 if double else 8
                vector, i32, i64 = ir.VectorType(real, width), ir.IntType(32), ir.IntType(64)
                halves = PANEL // width                                      # vectors per row of 16
                aligned = 8 if double else 4                                 # an element's alignment
                fmuladd = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fmuladd.v{width}f{64 if double else 32}")
                A, B, C, S = (builder.inttoptr(v, real.as_pointer()) for v in (a, b, c, s))
                A_off, B_off = (builder.inttoptr(v, i64.as_pointer()) for v in (aoff, boff))
                offset = lambda ptr, n: builder.gep(ptr, [n])                        # noqa: E731
                const = lambda n: ir.Constant(i64, n)                                 # noqa: E731
                vector_at = lambda ptr, n: builder.bitcast(offset(ptr, n), vector.as_pointer())   # noqa: E731
                undef, zero = ir.Constant(vector, ir.Undefined), ir.Constant(vector, [0.0] * width)
                lanes0 = ir.Constant(ir.VectorType(i32, width), [0] * width)
                # the accumulators, S's block or zeros to start: allocas in the entry block,
                # which LLVM keeps in registers
                acc = [cgutils.alloca_once_value(builder, zero) for _ in range(rows * halves)]
                with builder.if_then(start):
                    for i in range(rows):
                        s_row = offset(S, builder.mul(lds, const(i)))
                        for h in range(halves):
                            builder.store(builder.load(vector_at(s_row, const(width * h)), align=aligned),
                                          acc[halves * i + h])
                a_rows = [offset(A, builder.load(offset(A_off, const(i)))) for i in range(rows)]
                with cgutils.for_range(builder, K) as loop:                         # for k in range(K):
                    k = loop.index
                    b_k = offset(B, builder.load(offset(B_off, k)))
                    b_k = [builder.load(vector_at(b_k, const(width * h)), align=aligned) for h in range(halves)]
                    for i in range(rows):
                        a_ik = builder.load(offset(a_rows[i], k))                   # A[i, k], broadcast
                        a_ik = builder.shuffle_vector(builder.insert_element(undef, a_ik, ir.Constant(i32, 0)),
                                                      undef, lanes0)
                        for h in range(halves):                                     # acc += A[i, k] B[k, :]
                            slot = acc[halves * i + h]
                            builder.store(builder.call(fmuladd, [a_ik, b_k[h], builder.load(slot)]), slot)
                for i in range(rows):
                    c_row = offset(C, builder.mul(ldc, const(i)))
                    for h in range(halves):
                        builder.store(builder.load(acc[halves * i + h]), vector_at(c_row, const(width * h)), align=aligned)
                return context.get_dummy_value()
            return sig, codegen
        return block

    block = _block_kernel(ROWS)
    block_row = _block_kernel(1)
else:
    def block(*args):
        raise RuntimeError("the register block is compiled code: it needs GLASSNET_KERNELS=numba")
    block_row = block


@jit(inline="always")
def address(X, i):
    """The address of X's element i, counting in elements from X's first (as uint64).

    Take it where the kernel is called, not once before a loop: Numba frees an array after
    its last use in a function, and an address kept beyond that points at freed memory (a
    table of offsets freed that way is how a share of the first version crashed)."""
    return np.uint64(X.ctypes.data + X.itemsize * i)
