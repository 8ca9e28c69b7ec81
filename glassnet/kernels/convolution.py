"""How ``functions/convolution.py`` runs fast: 2-d cross-correlation as GEMMs over copies.

The math (``functions/convolution.py``, checked against ``tests/functions/reference.py``:
``conv2d_by_windows``, ``conv2d_weight_grad_by_windows``, ``conv2d_input_grad_full``):

    forward   y  = W * x + b          y[n,o,p,q] = b[o] + sum_{c,i,j} W[o,c,i,j] xpad[n,c,p*sh+i*dh,q*sw+j*dw]
    weights   dW = x * dy             dW[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] xpad[n,c,p*sh+i*dh,q*sw+j*dw]
    input     dx = pad(dy) * rot180(W), cropped by the forward padding

(``*`` is cross-correlation; within each group of channels). :class:`Conv2dSteps` computes
exactly these numbers; it never builds ``pad(dy)`` or ``rot180(W)``: the input gradient is
computed as the adjoint of the forward's copies (each kernel offset's rows added back where
they were read from), which is the same sum term by term. The tests in
``tests/kernels/test_convolution_kernels.py`` check every path against the textbook forms.

Four paths. The rule that picks among them, in order (tested in
``tests/kernels/test_winograd.py``, ``tests/kernels/test_conv_direct.py`` and
``tests/functions/test_convolution.py``):

1. **Winograd F(2x2, 3x3)** (``kernels/winograd.py``) when :func:`winograd.worth_it`: a 3x3
   kernel, stride 1, no dilation, one group, padding <= 2, at least 32 input and 32 output
   channels, the compiled backend (the NumPy twins of its tile transforms are slower
   than the GEMM paths, so ``GLASSNET_KERNELS=numpy`` keeps the paths below), and at least
   one image per thread: on several threads it runs in lanes, whole images per thread
   (``kernels/lanes.py``), so its tile transforms use every core;
2. else **the direct sums** (``kernels/conv_direct.py``) when :func:`conv_direct.worth_it`:
   stride 1, no dilation, one group, padding <= k - 1, at most 16 channels in and out, the
   compiled backend (LeNet's 1 -> 6 and 6 -> 16: the taps read in place by a
   register-blocked product, no im2col matrix);
3. else **shifted rows** when :func:`conv_shifts.worth_it` (stride 1, fewer rows written);
4. else **im2col**.

* **im2col** (any stride, dilation, groups): the window view of the padded input
  (``windows.windows``, no copy) is copied into ``cols`` (C*kh*kw, N*OH*OW), rows ordered
  (c, i, j) and columns (n, oh, ow), so the forward is one GEMM per group,
  ``y = W (O, C*kh*kw) @ cols``; dW = dy @ cols^T; the input gradient is
  ``dcols = W^T @ dy`` scatter-added back through the writable window view (col2im), one
  add per kernel offset, never per pixel. A weight gradient small enough that BLAS runs it
  slowly (a first layer's) is summed by a compiled kernel instead (``sum_of_products``).
* **shifted rows** (stride 1, several input channels): ``conv_shifts``, kh + kw contiguous
  copies instead of kh * kw strided ones (its docstring has the derivation).
* **Winograd** (3x3, stride 1): ``winograd``, 16 GEMMs over the channels on 4x4 tiles, the
  tile transforms compiled (its docstring has the derivation). It keeps x itself for dW
  (no copy) and rebuilds its tiles in the backward pass.
* **direct** (stride 1, up to 16 channels): ``conv_direct``, the three sums over flat
  runs of each padded plane, each a product whose im2col matrix is read in place (its
  docstring has the derivation); it keeps the padded channel-major input for dW and computes
  dx as the forward's sum over pad(dy) with rot180(W).

Memory layout rules (written once, here; pooling, ReLU and ``functions/shape.Reshape`` follow them):

* **Channel-major activations.** The GEMM's natural result is (O, N, OH, OW); the layer
  returns it as an (N, O, OH, OW) *view* (``y.transpose(1, 0, 2, 3)``), not a copy.
  NumPy element-wise ops keep an input's memory order, so ReLU, pooling and the next
  convolution read and write it channel-major without a transpose; ``kernels.layout``
  tells the kernels which order they were handed.
* **Gradients in their activation's layout.** Every backward returns dx in the memory order
  of its x (a convolution's dx is channel-major when its x was; max pooling keeps its
  arg-max in y's order; ``Reshape`` of a channel-major tensor hands the gradient back in
  that order). On mixed layouts NumPy iterates in short rows: LeNet's second pooling
  backward ran twice as slowly before this rule.
* **Padded input copies are channel-major** ((C, N, Hp, Wp) for im2col, (C, Hp, N, Wp)
  rows for the shifted path), since padding copies anyway.

Memory: :data:`CHUNK_BYTES` bounds every work matrix; larger layers run in batch chunks
(im2col) or output-row blocks (shifted rows) that are dropped after use and rebuilt in
the backward pass, so the big matrices are never held whole.
"""
from __future__ import annotations

from ..backend import xp
from ..threads import get_num_threads
from . import conv_direct, conv_shifts, jit, pick, winograd
from .windows import crop2d, pad2d, windows

# Bytes of work matrix per chunk. A layer whose whole im2col matrix fits builds it once
# and keeps it for dW (the fastest way for small layers); a larger one is processed in
# chunks that are dropped after use and rebuilt in the backward pass, so the big matrix
# (75 MB for a 32-channel 3x3 conv on a 64x32x32x32 batch) is never held, and neither is
# its gradient: peak memory falls to about the activations, for one extra im2col copy.
# conv_shifts runs its output rows in blocks of the same size (16 MB measured fastest).
CHUNK_BYTES = 1 << 24


def chunks(N, rows, pixels, itemsize):
    """Split the batch into runs of samples whose im2col block is about CHUNK_BYTES."""
    per_sample = rows * pixels * itemsize
    B = max(1, min(N, CHUNK_BYTES // max(per_sample, 1)))
    return [(n0, min(N, n0 + B)) for n0 in range(0, max(N, 1), B)]   # an empty batch: one empty chunk


# A weight gradient with at most this many entries per group (M*K below: C*kh*kw x O/groups,
# e.g. LeNet's first layer, 25 x 6) is summed by the compiled kernel rather than by BLAS:
# BLAS's tiles are wider than such a result and it does not split the long pixel axis
# between threads, so it runs at a fraction of its speed there. Measured at 25 x 6, 9 x 8 and
# 75 x 6 (the compiled sum ahead) and 27 x 32 (BLAS ahead again); the README's benchmark
# section has the times.
SMALL_RESULT = 512
_COMPILED_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def sum_of_products_numpy(a, b):
    """a @ b^T for a (G, M, P), b (G, K, P) -> (G, M, K): the sum over the long pixel axis P,
    dW[m, k] = sum_p cols[m, p] dy[k, p] (one BLAS product per group)."""
    return xp.matmul(a, b.transpose(0, 2, 1))


@jit(fastmath=True)
def _sum_of_products_loop(a, b, out):
    # out[g, m, k] = sum_p a[g, m, p] b[g, k, p], in blocks of p that stay in L1: four rows of a
    # against two of b at a time, so six loads feed eight running sums (fastmath lets LLVM
    # split each sum over vector lanes; the tests hold the result to a sum's rounding bound)
    G, M, P = a.shape
    K = b.shape[1]
    zero = out.dtype.type(0)
    for g in range(G):
        ag, bg, og = a[g], b[g], out[g]
        for m in range(M):
            for k in range(K):
                og[m, k] = zero
        for p0 in range(0, P, 2048):
            p1 = min(p0 + 2048, P)
            for m0 in range(0, M, 4):
                for k0 in range(0, K, 2):
                    if m0 + 4 <= M and k0 + 2 <= K:
                        a0, a1, a2, a3 = ag[m0], ag[m0 + 1], ag[m0 + 2], ag[m0 + 3]
                        b0, b1 = bg[k0], bg[k0 + 1]
                        s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
                        for p in range(p0, p1):
                            u, v = b0[p], b1[p]
                            x0, x1, x2, x3 = a0[p], a1[p], a2[p], a3[p]
                            s00 += x0 * u
                            s01 += x0 * v
                            s10 += x1 * u
                            s11 += x1 * v
                            s20 += x2 * u
                            s21 += x2 * v
                            s30 += x3 * u
                            s31 += x3 * v
                        og[m0, k0] += s00
                        og[m0, k0 + 1] += s01
                        og[m0 + 1, k0] += s10
                        og[m0 + 1, k0 + 1] += s11
                        og[m0 + 2, k0] += s20
                        og[m0 + 2, k0 + 1] += s21
                        og[m0 + 3, k0] += s30
                        og[m0 + 3, k0 + 1] += s31
                    else:                                   # the edges of the result, one sum at a time
                        for m in range(m0, min(m0 + 4, M)):
                            for k in range(k0, min(k0 + 2, K)):
                                am, bk = ag[m], bg[k]
                                s = zero
                                for p in range(p0, p1):
                                    s += am[p] * bk[p]
                                og[m, k] += s


def sum_of_products_numba(a, b):
    """``sum_of_products_numpy``'s sums, compiled when the result is small (``SMALL_RESULT``)."""
    G, M, P = a.shape
    K = b.shape[1]
    if (M * K > SMALL_RESULT or a.dtype != b.dtype or a.dtype not in _COMPILED_DTYPES
            or not (a.flags.c_contiguous and b.flags.c_contiguous)):
        return sum_of_products_numpy(a, b)
    out = xp.empty((G, M, K), a.dtype)
    _sum_of_products_loop(a, b, out)
    return out


#: the weight gradient's sum over pixels, (G, M, P) x (G, K, P) -> (G, M, K); checked against
#: ``conv2d_weight_grad_by_windows`` in tests/kernels/test_convolution_kernels.py
sum_of_products = pick(sum_of_products_numba, sum_of_products_numpy)


def rot180_undo(W_rot):
    """W from rot180(W): the flip is a view, undone for free (the fast paths index W directly)."""
    return W_rot[:, :, ::-1, ::-1]


class Conv2dSteps:
    """One convolution call's fast steps: forward, dW = x * dy, dx = pad(dy) * rot180(W).

    ``geometry`` = (x.shape, W.shape, groups, (top, bottom, left, right), stride, dilation,
    (OH, OW)). The object keeps what the backward needs of x in the form its path reads
    (the im2col matrix of a small layer, the padded channel-major input of a large one, the
    padded rows of a shifted layer) when ``keep_input`` is set (dW will be asked for).
    With ``input_grad_too`` (dx will be asked for as well) the shifted path computes dx in
    the same sweep as dW, sharing the shifted copies of dy, and ``input_grad`` returns it.
    ``dtype`` is the input's: Winograd and the direct sums compile for float32 and float64 only.
    """

    def __init__(self, geometry, keep_input=True, input_grad_too=True, dtype=xp.float32):
        (N, C, _, _), (O, _, kh, kw), _, _, stride, _, _ = geometry
        self.geometry = geometry
        self.keep_input, self.input_grad_too = keep_input, input_grad_too
        _, _, groups, pads, _, dilation, _ = geometry
        # Numba has no float16 arithmetic: the compiled-only paths take float32 and float64
        compiles = xp.dtype(dtype) in _COMPILED_DTYPES
        self.winograd = compiles and winograd.worth_it(C, O, (kh, kw), stride, dilation, groups, pads, N)
        self.direct = not self.winograd and conv_direct.worth_it(C, O, kh, kw, stride, dilation, groups, pads,
                                                                 dtype)
        self.shifts = not (self.winograd or self.direct) and conv_shifts.worth_it(C, O, kh, kw, stride, N)
        self.cols = self.xc = self.xt = self.Wm = self.x = None
        self._dy = self._dyc = self._dx = None

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x, W, b):
        """y = W * x + b, (N, O, OH, OW), stored channel-major."""
        (N, C, H, Wd), (O, Cg, kh, kw), G, pads, stride, dilation, (OH, OW) = self.geometry
        if self.winograd:             # 3x3 stride 1, enough channels: see kernels/winograd.py
            self.x = x if self.keep_input else None
            self.Wm = W if self.input_grad_too else None
            return winograd.forward(x, W, b, pads, (OH, OW)).transpose(1, 0, 2, 3)
        if self.direct:               # few channels: the sums themselves, see kernels/conv_direct.py
            xc = conv_direct.pad(x.transpose(1, 0, 2, 3), pads)      # (C, N, Hp, Wp), room after it
            self.xc = xc if self.keep_input else None
            return conv_direct.forward(xc, W, b, OH, OW, get_num_threads()).transpose(1, 0, 2, 3)
        Wm = W.reshape(G, O // G, Cg * kh * kw)
        if self.shifts and self.input_grad_too:
            self.Wm = Wm
        if self.shifts:               # stride 1 past the first layer: see conv_shifts
            y, xt = conv_shifts.forward(x, Wm, b, self.geometry, CHUNK_BYTES)
            self.xt = xt if self.keep_input else None
            return y.transpose(1, 0, 2, 3)
        # channel-major padded input (C, N, Hp, Wp): padding copies anyway, so it also transposes
        xc = pad2d(x, pads, 0.0, front=(1, 0)) if any(pads) else x.transpose(1, 0, 2, 3)
        y = xp.empty((O, N, OH, OW), xp.result_type(x, W))            # channel-major result
        yg = y.reshape(G, O // G, N, OH * OW)
        for n0, n1, cols in self._im2col_chunks(xc):
            # one GEMM per group and chunk: y[:, n0:n1] = W (O, C*kh*kw) @ cols (C*kh*kw, B*OH*OW)
            xp.matmul(Wm, cols, out=yg[:, :, n0:n1].reshape(G, O // G, -1))
        if b is not None:
            y += b.reshape(O, 1, 1, 1)
        if self.keep_input:
            if n1 - n0 == N:          # one chunk: keep its im2col matrix for dW
                self.cols = cols
            else:
                self.xc = xc
        return y.transpose(1, 0, 2, 3)

    def _im2col_chunks(self, xc):
        """Yield (n0, n1, cols) per batch chunk, cols (G, Cg*kh*kw, B*OH*OW), rows ordered (c, i, j)
        and columns (n, oh, ow): each column is one output pixel's receptive field."""
        (N, C, _, _), (_, Cg, kh, kw), G, _, stride, dilation, (OH, OW) = self.geometry
        if self.cols is not None:     # kept from the forward pass
            yield 0, N, self.cols
            return
        win = windows(xc, (kh, kw), stride, dilation, (OH, OW))        # (C, N, kh, kw, OH, OW) view
        win = win.transpose(0, 2, 3, 1, 4, 5)                          # (C, kh, kw, N, OH, OW)
        buf = None
        for n0, n1 in chunks(N, C * kh * kw, OH * OW, xc.itemsize):
            if buf is None or buf.shape[3] != n1 - n0:
                buf = xp.empty((C, kh, kw, n1 - n0, OH, OW), xc.dtype)
            xp.copyto(buf, win[:, :, :, n0:n1])                        # the im2col copy
            yield n0, n1, buf.reshape(G, Cg * kh * kw, -1)

    # -- backward --------------------------------------------------------------------------
    def _dy_channel_major(self, dy):
        """dy as a contiguous (O, N, OH, OW) array (a view when it is already channel-major),
        made once for both gradients."""
        if dy is not self._dy:
            dyc = dy.transpose(1, 0, 2, 3)
            self._dy, self._dyc = dy, dyc if dyc.flags.c_contiguous else xp.ascontiguousarray(dyc)
        return self._dyc

    def weight_grad(self, dy):
        """dW = x * dy: dW[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] xpad[n,c,p*sh+i*dh,q*sw+j*dw]
        (reference: ``conv2d_weight_grad_by_windows``), from the x kept by ``forward``."""
        (N, C, _, _), (O, Cg, kh, kw), G, _, _, _, (OH, OW) = self.geometry
        dyc = self._dy_channel_major(dy)
        if self.winograd:
            # one sweep over dy's tiles gives dW and, when asked for, dx (sharing A dy A^T)
            self._dx, dW = winograd.backward(dyc, self.x, self.x.shape, self.Wm, self.geometry[3],
                                             self.Wm is not None, True)
            return dW
        if self.direct:
            return conv_direct.weight_grad(self.xc, dyc, (O, Cg, kh, kw), get_num_threads())
        if self.shifts:
            # one sweep over the shifted copies of dy gives dW and, when asked for, dx
            self._dx, dW = conv_shifts.backward(dyc, self.xt, self.Wm, self.geometry, self.Wm is not None,
                                                True, CHUNK_BYTES)
            return dW
        dyg = dyc.reshape(G, O // G, N, OH * OW)
        # computed as (cols @ dy^T)^T: the long pixel axis is then the inner, contiguous
        # axis of both GEMM operands, which BLAS handles faster than dy @ cols^T
        dWT = None
        for n0, n1, cols in self._im2col_chunks(self.xc):
            part = sum_of_products(cols, dyg[:, :, n0:n1].reshape(G, O // G, -1))
            dWT = part if dWT is None else xp.add(dWT, part, out=dWT)   # (G, Cg*kh*kw, O/G)
        return xp.ascontiguousarray(dWT.transpose(0, 2, 1)).reshape(O, Cg, kh, kw)

    def input_grad(self, dy, W_rot):
        """dx = pad(dy) * rot180(W), cropped by the forward padding (reference:
        ``conv2d_input_grad_full``): dy with stride - 1 zeros between its entries, padded by
        d*(k-1) on every side, cross-correlated with W_rot = rot180(W) (in and out channels
        swapped), then the forward's padding cropped off. Computed as the adjoint of the
        forward's copies: dcols = W^T @ dy, each kernel offset's rows added back where the
        forward read them (im2col), or kh shifted adds (shifted rows). dx comes back in the
        layout of x (channel-major)."""
        (N, C, H, Wd), (O, Cg, kh, kw), G, pads, stride, dilation, (OH, OW) = self.geometry
        Wm = rot180_undo(W_rot).reshape(G, O // G, Cg * kh * kw)
        dyc = self._dy_channel_major(dy)
        if self.winograd or self.shifts:
            if self._dx is not None and dy is self._dy:      # computed with dW, from the same W
                dx, self._dx = self._dx, None
                return dx
        if self.direct:
            return conv_direct.input_grad(dyc, rot180_undo(W_rot), pads, get_num_threads()).transpose(1, 0, 2, 3)
        if self.winograd:
            return winograd.backward(dyc, None, (N, C, H, Wd), rot180_undo(W_rot), pads, True, False)[0]
        if self.shifts:
            return conv_shifts.backward(dyc, None, Wm, self.geometry, True, False, CHUNK_BYTES)[0]
        dyg = dyc.reshape(G, O // G, N, OH * OW)
        dxc = xp.zeros((C, N, H + pads[0] + pads[1], Wd + pads[2] + pads[3]), dyg.dtype)
        dwin = windows(dxc, (kh, kw), stride, dilation, (OH, OW))  # writable view into dxc
        WmT = Wm.transpose(0, 2, 1)
        dcols = None
        for n0, n1 in chunks(N, C * kh * kw, OH * OW, dyg.itemsize):
            B = n1 - n0
            if dcols is None or dcols.shape[-1] != B * OH * OW:
                dcols = xp.empty((G, Cg * kh * kw, B * OH * OW), dyg.dtype)
            xp.matmul(WmT, dyg[:, :, n0:n1].reshape(G, O // G, -1), out=dcols)
            d6 = dcols.reshape(C, kh, kw, B, OH, OW)
            for i in range(kh):
                for j in range(kw):
                    dwin[:, n0:n1, i, j] += d6[:, i, j]
        return crop2d(dxc, pads).transpose(1, 0, 2, 3)
