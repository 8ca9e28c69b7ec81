"""2-d cross-correlation ("convolution" in deep learning), forward and backward.

    y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[n, g*Cg + c, p*sh + i*dh, q*sw + j*dw]

    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,)   ->   y: (N, O, OH, OW)
    OH = floor((H + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1   (OW likewise)

with c running over the Cg = C/groups input channels of output channel o's group g.
This is the notes' o_ij = sum_{m,n} W_{m,n} X_{i+m, j+n} (001_0ad103dc23bd7991.txt, "CNN")
with channels, a batch, stride, dilation and zero padding. (1-d convolution is this with
H = kh = 1; the functional layer reshapes.)

How the sums run fast (as matrix products) is ``kernels/convolution.py``;
the textbook forms the fast path is tested against are in ``tests/functions/reference.py``.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..kernels import convolution as kernels


def rot180(W):
    """The kernel turned by 180 degrees in its spatial plane: rot180(W)[o, c, i, j] = W[o, c, kh-1-i, kw-1-j]."""
    return W[:, :, ::-1, ::-1]


class Conv2d(Function):
    """y = W * x + b  (cross-correlation)    x: (N, C, H, W)   W: (O, C/groups, kh, kw)   b: (O,) or None

    Options: stride (sh, sw), padding (top, bottom, left, right) of zeros, dilation (dh, dw),
    groups. The caller (``nn.functional.conv2d``) has checked shapes and sizes.
    """

    def forward(self, x, W, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        N, C, H, Wd = x.shape
        O, Cg, kh, kw = W.shape
        pads = tuple(padding)
        OH = (H + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        OW = (Wd + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        geometry = (x.shape, W.shape, groups, pads, tuple(stride), tuple(dilation), (OH, OW))
        self.W = W if self.needs_input_grad[0] else None
        # the kernel keeps x (in the form its path reads) for dW = x * dy
        self.conv = kernels.Conv2dSteps(geometry, keep_input=self.needs_input_grad[1],
                                        input_grad_too=self.needs_input_grad[0], dtype=x.dtype)
        return self.conv.forward(x, W, b)                    # y = W * x + b

    def backward(self, dy):
        # With dy = dL/dy (N, O, OH, OW), by the chain rule through the sum above (the notes'
        # dz/dtheta_ab = x_(s*eps + a)(t*eps + b), 004_8b5327ce3312dd82.txt, "Image Example:
        # Backpropagation"; a CNN is a feed-forward net with shared, sparse weights, 001, "CNN"):
        #
        #   db[o]       = sum_{n,p,q} dy[n,o,p,q]
        #   dW[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] xpad[n,c,p*sh+i*dh,q*sw+j*dw]     dW = x * dy
        #                 (each weight met every input pixel its offset (i, j) sees: the
        #                  input cross-correlated with dy)
        #   dx[n,c,h,w] = sum over the (o, p, q, i, j) with p*sh + i*dh = h + top (q, w likewise)
        #                 of dy[n,o,p,q] W[o,c,i,j]
        #               = sum_{o,i',j'} dyfull[n,o,h+i'*dh,w+j'*dw] W[o,c,kh-1-i',kw-1-j']
        #                                                                           dx = pad(dy) * rot180(W)
        #                 with i' = kh-1-i, and dyfull = pad(dy): dy with sh-1 zeros between its
        #                 entries, padded by dh*(kh-1) - top rows above (likewise on every side):
        #                 a full cross-correlation with the flipped kernel, its in/out channels swapped.
        # The kernels compute these sums without building pad(dy) (as the adjoint of the
        # forward's copies); tests/kernels/test_convolution_kernels.py checks them term by term.
        db = dy.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None
        dW = self.conv.weight_grad(dy) if self.needs_input_grad[1] else None        # x * dy
        dx = self.conv.input_grad(dy, rot180(self.W)) if self.needs_input_grad[0] else None  # pad(dy) * rot180(W)
        return dx, dW, db
