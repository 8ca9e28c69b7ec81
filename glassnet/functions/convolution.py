"""2-d cross-correlation ("convolution" in deep learning), forward and backward as GEMMs.

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[n, g*Cg + c, oh*sh + i*dh, ow*sw + j*dw]

    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,)   ->   y: (N, O, OH, OW)
    OH = floor((H + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1   (OW likewise)

(1-d convolution is this with H = kh = 1; the functional layer reshapes.)

Memory layout. im2col copies the window view of the padded input into
``cols`` of shape (C*kh*kw, N*OH*OW) -- rows ordered (c, i, j), columns (n, oh, ow) --
(for large layers one batch chunk at a time, see ``CHUNK_BYTES``), so
every product below is one plain GEMM over contiguous (or simply transposed) matrices and
BLAS never needs a transposed copy. The GEMM's natural result is channel-major (O, N, OH, OW);
the output is returned as an (N, O, OH, OW) *view* of it (NumPy element-wise ops keep that
layout, so the next layer's im2col and this layer's backward read it without transposing).

Stride-1 layers whose input has more than a few channels (where C*kh + O*kw <= C*kh*kw)
take ``conv_shifts`` instead: the same sums over kh + kw shifted contiguous copies of the
rows rather than kh*kw window copies (LeNet step -9%, CIFAR-style step -20%).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import conv_shifts
from ..kernels.windows import crop2d, pad2d, windows


# Bytes of im2col matrix per batch chunk. A layer whose whole im2col matrix fits builds it
# once and keeps it for dW (the fastest way for small layers); a larger one is processed
# in chunks that are dropped after use and rebuilt in the backward pass, so the big matrix
# (75 MB for a 32-channel 3x3 conv on a 64x32x32x32 batch) is never held, and neither is
# its gradient: peak memory falls to about the activations, for one extra im2col copy.
# conv_shifts runs its output rows in blocks of the same size (16 MB measured fastest).
CHUNK_BYTES = 1 << 24


def _chunks(N, rows, pixels, itemsize):
    """Split the batch into runs of samples whose im2col block is about CHUNK_BYTES."""
    per_sample = rows * pixels * itemsize
    B = max(1, min(N, CHUNK_BYTES // max(per_sample, 1)))
    return [(n0, min(N, n0 + B)) for n0 in range(0, max(N, 1), B)]   # an empty batch: one empty chunk


def _sum_of_products(a, b, block=1024):
    """a @ b^T for a (G, M, P), b (G, K, P) -> (G, M, K): the sum over the long pixel axis P.

    When the result is tiny (a first layer's 25 x 6 weight gradient over 100k pixels) BLAS
    runs one such product at a fraction of its speed; the same sum taken as P/block
    products of ``block`` pixels each, added up, is several times faster. Larger results
    go to BLAS in one call, as written.
    """
    G, M, P = a.shape
    K = b.shape[1]
    if M * K > 1024 or P < 8 * block:
        return xp.matmul(a, b.transpose(0, 2, 1))
    Q = P // block
    cut = Q * block
    blocks = xp.matmul(a[:, :, :cut].reshape(G, M, Q, block).transpose(0, 2, 1, 3),
                       b[:, :, :cut].reshape(G, K, Q, block).transpose(0, 2, 3, 1))   # (G, Q, M, K)
    out = blocks.sum(axis=1)
    if cut < P:
        out += xp.matmul(a[:, :, cut:], b[:, :, cut:].transpose(0, 2, 1))
    return out


class Conv2d(Function):
    """y = conv2d(x, W) + b    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,) or None

    Options: stride (sh, sw), padding (top, bottom, left, right) of zeros, dilation (dh, dw),
    groups. The caller (``nn.functional.conv2d``) has checked shapes and sizes.

    Large layers process the batch in chunks (see ``CHUNK_BYTES``): each chunk's im2col
    block is built, used by its GEMM and dropped; only the padded input is kept, the
    backward rebuilds each chunk's block for dW and scatters each chunk's dcols straight
    back. Small layers are one chunk, whose im2col matrix is kept for dW.
    """

    def forward(self, x, W, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        N, C, H, Wd = x.shape
        O, Cg, kh, kw = W.shape
        G = groups
        pads = tuple(padding)
        Hp, Wp = H + pads[0] + pads[1], Wd + pads[2] + pads[3]
        OH = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        OW = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1

        self.geometry = (x.shape, W.shape, G, pads, tuple(stride), tuple(dilation), (OH, OW))
        Wm = W.reshape(G, O // G, Cg * kh * kw)
        self.Wm = Wm if self.needs_input_grad[0] else None
        self.shifts = conv_shifts.worth_it(C, O, kh, kw, stride, N)
        if self.shifts:               # stride 1 past the first layer: see conv_shifts
            y, xt = conv_shifts.forward(x, Wm, b, self.geometry, CHUNK_BYTES)
            self.xt = xt if self.needs_input_grad[1] else None
            return y.transpose(1, 0, 2, 3)
        # channel-major padded input (C, N, Hp, Wp): padding copies anyway, so it also transposes
        xc = pad2d(x, pads, 0.0, front=(1, 0)) if any(pads) else x.transpose(1, 0, 2, 3)
        y = xp.empty((O, N, OH, OW), xp.result_type(x, W))            # channel-major result
        yg = y.reshape(G, O // G, N, OH * OW)
        self.cols = self.xc = None
        for n0, n1, cols in self._im2col_chunks(xc):
            # one GEMM per group and chunk: y[:, n0:n1] = W (O, C*kh*kw) @ cols (C*kh*kw, B*OH*OW)
            xp.matmul(Wm, cols, out=yg[:, :, n0:n1].reshape(G, O // G, -1))
        if b is not None:
            y += b.reshape(O, 1, 1, 1)
        if self.needs_input_grad[1]:
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
        for n0, n1 in _chunks(N, C * kh * kw, OH * OW, xc.itemsize):
            if buf is None or buf.shape[3] != n1 - n0:
                buf = xp.empty((C, kh, kw, n1 - n0, OH, OW), xc.dtype)
            xp.copyto(buf, win[:, :, :, n0:n1])                        # the im2col copy
            yield n0, n1, buf.reshape(G, Cg * kh * kw, -1)

    def backward(self, dy):
        # The notes' derivation, with dy = dL/dy (N, O, OH, OW):
        #   db = sum over n, oh, ow of dy
        #   dW = x * dy             the cross-correlation of the (padded) input with dy:
        #                           dW[o, c, i, j] = sum_{n,oh,ow} dy[n,o,oh,ow] xpad[n,c,oh*s+i*d,ow*s+j*d]
        #                           = (dy as (O, N*OH*OW)) @ cols.T, summed over the batch chunks
        #   dx = pad(dy) * rot180(W)  the full convolution of dy (with stride-1 zeros inserted between
        #                           its entries) with the 180-degree-rotated (and dilated) kernel.
        #                           We compute the same numbers as the adjoint of im2col:
        #                           dcols = W.T @ dy, then col2im scatter-adds each kernel offset's
        #                           rows back onto the padded-input positions they were read from
        #                           (a loop over the kh*kw offsets, never over pixels or samples),
        #                           and the padding is cropped off.
        # (Stride-1 layers with several input channels take conv_shifts.backward instead:
        # the same sums over shifted contiguous rows.)
        (N, C, H, Wd), (O, Cg, kh, kw), G, pads, stride, dilation, (OH, OW) = self.geometry
        dyc = dy.transpose(1, 0, 2, 3)                                  # channel-major (O, N, OH, OW)
        if not dyc.flags.c_contiguous:
            dyc = xp.ascontiguousarray(dyc)
        dyg = dyc.reshape(G, O // G, N, OH * OW)
        need_x, need_W, need_b = self.needs_input_grad[:3]
        dx = dW = db = None
        if need_b:
            db = dyc.reshape(O, -1).sum(axis=-1)
        if self.shifts:
            dx, dW = conv_shifts.backward(dyc, self.xt, self.Wm, self.geometry, need_x, need_W, CHUNK_BYTES)
            return dx, dW, db
        if need_W:
            # computed as (cols @ dy^T)^T: the long pixel axis is then the inner, contiguous
            # axis of both GEMM operands, which BLAS handles faster than dy @ cols^T
            dWT = None
            for n0, n1, cols in self._im2col_chunks(self.xc):
                part = _sum_of_products(cols, dyg[:, :, n0:n1].reshape(G, O // G, -1))
                dWT = part if dWT is None else xp.add(dWT, part, out=dWT)   # (G, Cg*kh*kw, O/G)
            dW = xp.ascontiguousarray(dWT.transpose(0, 2, 1)).reshape(O, Cg, kh, kw)
        if need_x:
            dx = self._input_grad_windows(dyg)
        return dx, dW, db

    def _input_grad_windows(self, dyg):
        """dx: col2im through the writable window view, one add per offset."""
        (N, C, H, Wd), (O, Cg, kh, kw), G, pads, stride, dilation, (OH, OW) = self.geometry
        dxc = xp.zeros((C, N, H + pads[0] + pads[1], Wd + pads[2] + pads[3]), dyg.dtype)
        dwin = windows(dxc, (kh, kw), stride, dilation, (OH, OW))  # writable view into dxc
        WmT = self.Wm.transpose(0, 2, 1)
        dcols = None
        for n0, n1 in _chunks(N, C * kh * kw, OH * OW, dyg.itemsize):
            B = n1 - n0
            if dcols is None or dcols.shape[-1] != B * OH * OW:
                dcols = xp.empty((G, Cg * kh * kw, B * OH * OW), dyg.dtype)
            xp.matmul(WmT, dyg[:, :, n0:n1].reshape(G, O // G, -1), out=dcols)
            d6 = dcols.reshape(C, kh, kw, B, OH, OW)
            for i in range(kh):
                for j in range(kw):
                    dwin[:, n0:n1, i, j] += d6[:, i, j]
        return crop2d(dxc, pads).transpose(1, 0, 2, 3)
