"""Pooling over the last two axes: max / min, average / sum, and adaptive variants.

All take x: (N, C, H, W) (1-d pooling is H = 1, reshaped by the functional layer) and
reduce each kernel window to one number. With pads = (top, bottom, left, right):

    OH = floor((H + top + bottom - dh*(kh-1) - 1) / sh) + 1          (OW likewise)

(the functional layer turns torch's ceil_mode into extra bottom/right padding). Pooling has
no weights: it is not trained, it only routes gradients (001_0ad103dc23bd7991.txt, "Is the
pooling layer trained during backpropagation?"). How the windows are swept fast is
``kernels/pooling.py``; the window-by-window forms it is tested against are in
``tests/functions/reference.py``.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..kernels import pooling as kernels


class MaxPool2d(Function):
    """y[n,c,p,q] = max over the window of x (min when ``largest`` is False).

    Ties go to the first position in window (row-major) order, as torch's CPU kernel;
    padded positions never win. With ``return_indices`` the output is (y, indices), the
    indices being flat positions h*W + w in the input plane, as torch returns them.
    """

    def forward(self, x, kernel, stride, pads=(0, 0, 0, 0), dilation=(1, 1), out=None,
                largest=True, return_indices=False):
        self.geometry = (tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), out)
        # y = each window's max; ``winners`` = what the kernel keeps to find which x that was
        y, self.winners = kernels.max_pool2d(x, *self.geometry, largest=largest, track=self.needs_input_grad[0])
        self.x_like = kernels.describe(x)          # what dx must look like
        if not return_indices:
            return y
        arg = kernels.max_pool2d_arg(x, self.winners, *self.geometry, largest=largest)
        return y, self._flat_indices(arg, x.shape[-1])

    def _flat_indices(self, arg, W):
        """torch's indices h*W + w from each window's winning offset arg = i*kw + j."""
        (kh, kw), (sh, sw), (top, _, left, _), (dh, dw), (OH, OW) = self.geometry
        arg = arg.astype(xp.int64)
        h = xp.arange(OH).reshape(OH, 1) * sh - top + (arg // kw) * dh
        w = xp.arange(OW) * sw - left + (arg % kw) * dw
        return h * W + w

    def backward(self, dy, dindices=None):
        # y picks one x per window: dy/dx is 1 at the window's arg-max and 0 elsewhere (the
        # notes' "1 if Rz was the max, 0 otherwise", 004_8b5327ce3312dd82.txt, "Image Example:
        # Backpropagation"), so dx = dy at each window's arg-max, 0 elsewhere. Windows that
        # overlap (stride < kernel) may pick the same x: their dy add up.
        return kernels.max_pool2d_backward(dy, self.winners, self.x_like, *self.geometry)


class AvgPool2d(Function):
    """y[n,c,p,q] = (sum of x over the window) / divisor; divisor 1 gives sum pooling.

    ``divisor`` is a number or an (OH, OW) array (torch's window sizes with or without the
    padding, see ``nn.functional.avg_pool2d``).
    """

    def forward(self, x, kernel, stride, pads=(0, 0, 0, 0), out=None, divisor=1):
        self.geometry = (tuple(kernel), tuple(stride), tuple(pads), out)
        self.x_like, self.divisor = kernels.describe(x), divisor
        y = kernels.window_sum(x, *self.geometry)
        if not (isinstance(divisor, (int, float)) and divisor == 1):
            y /= xp.asarray(divisor, dtype=x.dtype)
        return y

    def backward(self, dy):
        # each x in a window contributes x / divisor to y: dL/dx = sum over the windows holding x
        # of dy / divisor
        g = dy / xp.asarray(self.divisor, dtype=dy.dtype)
        return kernels.window_sum_backward(g, self.x_like, *self.geometry)


def adaptive_bounds(size: int, out: int):
    """torch's adaptive windows: start_i = floor(i*size/out), end_i = ceil((i+1)*size/out)."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


class AdaptiveAvgPool2d(Function):
    """y = A_h x A_w^T per plane: A_h (OH, H), A_w (OW, W) average torch's adaptive windows
    (row i of A_h holds 1 / (end_i - start_i) over [start_i, end_i), 0 elsewhere).

    Averaging over a rectangle is separable (rows, then columns), so the pooling is two small
    matrix products and its backward the transposed products: dx = A_h^T dy A_w.
    """

    def forward(self, x, out):
        self.rows, self.cols = adaptive_bounds(x.shape[2], out[0]), adaptive_bounds(x.shape[3], out[1])
        self.x_like = kernels.describe(x)          # what dx must look like
        return kernels.adaptive_avg_pool2d(x, self.rows, self.cols)             # A_h x A_w^T

    def backward(self, dy):
        # each x in window (i, j) contributes x / |window| to y[i, j]: dx = A_h^T dy A_w
        return kernels.adaptive_avg_pool2d_backward(dy, self.rows, self.cols, self.x_like)


class AdaptiveMaxPool2d(Function):
    """y[n,c,i,j] = max of x over torch's adaptive window (rows_i x cols_j); optionally the
    flat indices h*W + w of the maxima (first in row-major order on ties, as torch).

    Max over a rectangle is separable: first over each column window within every row, then
    over the window's rows; taking the first maximum at both stages gives the row-major first.
    """

    def forward(self, x, out, return_indices=False):
        self.rows, self.cols = adaptive_bounds(x.shape[2], out[0]), adaptive_bounds(x.shape[3], out[1])
        self.x_like = kernels.describe(x)          # what dx must look like
        # y = each window's max; ``winners`` = what the kernel keeps to find which x that was
        y, self.winners = kernels.adaptive_max_pool2d(x, self.rows, self.cols)
        if not return_indices:
            return y
        return y, kernels.adaptive_max_pool2d_indices(self.winners, x.shape[3])

    def backward(self, dy, dindices=None):
        # each output's gradient goes to the one input that was its window's maximum
        return kernels.adaptive_max_pool2d_backward(dy, self.winners, self.rows, self.cols, self.x_like)
