"""2-d cross-correlation ("convolution" in deep learning), forward and backward as GEMMs.

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[n, g*Cg + c, oh*sh + i*dh, ow*sw + j*dw]

    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,)   ->   y: (N, O, OH, OW)
    OH = floor((H + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1   (OW likewise)

(1-d convolution is this with H = kh = 1; the functional layer reshapes.)

Memory layout. im2col copies the window view of the padded input once into
``cols`` of shape (C*kh*kw, N*OH*OW) -- rows ordered (c, i, j), columns (n, oh, ow) -- so
every product below is one plain GEMM over contiguous (or simply transposed) matrices and
BLAS never needs a transposed copy. The GEMM's natural result is channel-major (O, N, OH, OW);
the output is returned as an (N, O, OH, OW) *view* of it (NumPy element-wise ops keep that
layout, so the next layer's im2col and this layer's backward read it without transposing).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ._windows import crop2d, pad2d, windows


class Conv2d(Function):
    """y = conv2d(x, W) + b    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,) or None

    Options: stride (sh, sw), padding (top, bottom, left, right) of zeros, dilation (dh, dw),
    groups. The caller (``nn.functional.conv2d``) has checked shapes and sizes.
    """

    def forward(self, x, W, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        N, C, H, Wd = x.shape
        O, Cg, kh, kw = W.shape
        G = groups
        pads = tuple(padding)
        Hp, Wp = H + pads[0] + pads[1], Wd + pads[2] + pads[3]
        OH = (Hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        OW = (Wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1

        # channel-major padded input (C, N, Hp, Wp): padding copies anyway, so it also transposes
        xc = pad2d(x, pads, 0.0, front=(1, 0)) if any(pads) else x.transpose(1, 0, 2, 3)
        win = windows(xc, (kh, kw), stride, dilation, (OH, OW))        # (C, N, kh, kw, OH, OW) view
        cols = xp.empty((C, kh, kw, N, OH, OW), x.dtype)               # the one im2col copy
        xp.copyto(cols, win.transpose(0, 2, 3, 1, 4, 5))
        cols = cols.reshape(G, Cg * kh * kw, N * OH * OW)
        Wm = W.reshape(G, O // G, Cg * kh * kw)

        y = xp.matmul(Wm, cols).reshape(O, N, OH, OW)                 # one GEMM per group
        if b is not None:
            y += b.reshape(O, 1, 1, 1)
        self.cols = cols if self.needs_input_grad[1] else None
        self.Wm = Wm if self.needs_input_grad[0] else None
        self.geometry = (x.shape, W.shape, G, pads, tuple(stride), tuple(dilation), (OH, OW))
        return y.transpose(1, 0, 2, 3)

    def backward(self, dy):
        # The notes' derivation, with dy = dL/dy (N, O, OH, OW):
        #   db = sum over n, oh, ow of dy
        #   dW = x * dy             the cross-correlation of the (padded) input with dy:
        #                           dW[o, c, i, j] = sum_{n,oh,ow} dy[n,o,oh,ow] xpad[n,c,oh*s+i*d,ow*s+j*d]
        #                           = (dy as (O, N*OH*OW)) @ cols.T
        #   dx = pad(dy) * rot180(W)  the full convolution of dy (with stride-1 zeros inserted between
        #                           its entries) with the 180-degree-rotated (and dilated) kernel.
        #                           We compute the same numbers as the adjoint of im2col:
        #                           dcols = W.T @ dy, then col2im scatter-adds each kernel offset's
        #                           rows back onto the padded-input positions they were read from
        #                           (a loop over the kh*kw offsets, never over pixels or samples),
        #                           and the padding is cropped off.
        (N, C, H, Wd), (O, Cg, kh, kw), G, pads, stride, dilation, (OH, OW) = self.geometry
        dyc = xp.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(G, O // G, N * OH * OW)
        dx = dW = db = None
        if self.needs_input_grad[2]:
            db = dyc.sum(axis=-1).reshape(O)
        if self.needs_input_grad[1]:
            # computed as (cols @ dy^T)^T: the long N*OH*OW axis is then the inner, contiguous
            # axis of both GEMM operands, which BLAS handles faster than dy @ cols^T
            dWT = xp.matmul(self.cols, dyc.transpose(0, 2, 1))                 # (G, Cg*kh*kw, O/G)
            dW = xp.ascontiguousarray(dWT.transpose(0, 2, 1)).reshape(O, Cg, kh, kw)
        if self.needs_input_grad[0]:
            dcols = xp.matmul(self.Wm.transpose(0, 2, 1), dyc).reshape(C, kh, kw, N, OH, OW)
            dxc = xp.zeros((C, N, H + pads[0] + pads[1], Wd + pads[2] + pads[3]), dy.dtype)
            dwin = windows(dxc, (kh, kw), stride, dilation, (OH, OW))  # writable view into dxc
            for i in range(kh):
                for j in range(kw):
                    dwin[:, :, i, j] += dcols[:, i, j]
            dx = crop2d(dxc, pads).transpose(1, 0, 2, 3)
        return dx, dW, db
