"""Pooling over the last two axes: max / min, average / sum, and adaptive variants.

All take x: (N, C, H, W) (1-d pooling is H = 1, reshaped by the functional layer) and
reduce each kernel window to one number. With pads = (top, bottom, left, right):

    OH = floor((H + top + bottom - dh*(kh-1) - 1) / sh) + 1          (OW likewise)

(the functional layer turns torch's ceil_mode into extra bottom/right padding).
Windows are read through ``_windows.windows`` (a strided view, no copy); when kernel ==
stride, without padding or dilation, the windows tile the input and a reshape
(N, C, OH, kh, OW, kw) replaces the strided view (and the backward assigns instead of adding).
Forward reductions and backward scatters are loops over the kh*kw kernel offsets, never over
output pixels.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ._windows import crop2d, pad2d, windows


def _window_view(x, kernel, stride, pads, dilation, out, fill):
    """(N, C, kh, kw, OH, OW) view of the windows of x; win[:, :, i, j] is what offset (i, j) sees.

    When the windows tile the input (kernel == stride, no padding or dilation) the view is a
    plain reshape (N, C, OH, kh, OW, kw) of x, axes reordered; otherwise a strided view of the
    padded input (``_windows.windows``). Reductions below loop over the kh*kw offsets with
    whole-array NumPy ops: NumPy's reduce over the two kernel axes of such a view
    (``.max(axis=(3, 5))``) is many times slower.
    """
    (kh, kw), (OH, OW) = kernel, out
    if _is_tiling(kernel, stride, pads, dilation):
        N, C = x.shape[:2]
        return x[..., :OH * kh, :OW * kw].reshape(N, C, OH, kh, OW, kw).transpose(0, 1, 3, 5, 2, 4)
    return windows(pad2d(x, pads, fill) if any(pads) else x, kernel, stride, dilation, out)


def _is_tiling(kernel, stride, pads, dilation) -> bool:
    return tuple(kernel) == tuple(stride) and not any(pads) and tuple(dilation) == (1, 1)


def _grad_view(shape, dtype, kernel, stride, pads, dilation, out):
    """A zero dx (N, C, H, W) and the window view of it (padded, if needed) to scatter into."""
    N, C, H, W = shape
    if _is_tiling(kernel, stride, pads, dilation):
        dx = xp.zeros(shape, dtype)
        return dx, _window_view(dx, kernel, stride, pads, dilation, out, 0.0)
    dxp = xp.zeros((N, C, H + pads[0] + pads[1], W + pads[2] + pads[3]), dtype)
    return crop2d(dxp, pads), windows(dxp, kernel, stride, dilation, out)


class MaxPool2d(Function):
    """y[n,c,oh,ow] = max over the window of x (min when ``largest`` is False).

    Ties go to the first position in window (row-major) order, as torch's CPU kernel;
    padded positions never win. With ``return_indices`` the output is (y, indices), the
    indices being flat positions h*W + w in the input plane, as torch returns them.
    """

    def forward(self, x, kernel, stride, pads=(0, 0, 0, 0), dilation=(1, 1), out=None,
                largest=True, return_indices=False):
        (kh, kw) = kernel
        self.geometry = (tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), out)
        self.win = _window_view(x, kernel, stride, pads, dilation, out, -xp.inf if largest else xp.inf)
        extremum = xp.maximum if largest else xp.minimum
        y = self.win[:, :, 0, 0].copy()
        for o in range(1, kh * kw):
            extremum(y, self.win[:, :, o // kw, o % kw], out=y)
        self.shape, self.y, self.arg = x.shape, y, None
        if not return_indices:
            return y
        return y, self._flat_indices(x.shape[-1])

    def _offsets(self):
        """The kernel offset i*kw + j of each window's first extremum (found on demand: the
        forward pass only takes maxima, so inference pays nothing for it)."""
        if self.arg is None:
            kh, kw = self.geometry[0]
            arg = xp.full(self.y.shape, kh * kw - 1, xp.min_scalar_type(kh * kw))
            # walk the offsets backwards so the first (in window order) equal value is kept
            for o in range(kh * kw - 2, -1, -1):
                xp.copyto(arg, o, where=self.win[:, :, o // kw, o % kw] == self.y)
            self.arg = arg
        return self.arg

    def _flat_indices(self, W):
        (kh, kw), (sh, sw), (top, _, left, _), (dh, dw), (OH, OW) = self.geometry
        arg = self._offsets().astype(xp.int64)
        h = xp.arange(OH).reshape(OH, 1) * sh - top + (arg // kw) * dh
        w = xp.arange(OW) * sw - left + (arg % kw) * dw
        return h * W + w

    def backward(self, dy, dindices=None):
        # y picks one x per window, so dL/dx is dy at each window's arg-max and 0 elsewhere.
        # Windows that overlap (stride < kernel) may pick the same x: hence += unless they tile.
        kernel, stride, pads, dilation, out = self.geometry
        (kh, kw) = kernel
        arg = self._offsets()
        dx, dwin = _grad_view(self.shape, dy.dtype, kernel, stride, pads, dilation, out)
        tiling = _is_tiling(kernel, stride, pads, dilation)
        for o in range(kh * kw):
            routed = dy * (arg == o)
            if tiling:
                dwin[:, :, o // kw, o % kw] = routed
            else:
                dwin[:, :, o // kw, o % kw] += routed
        return dx


class AvgPool2d(Function):
    """y[n,c,oh,ow] = (sum of x over the window) / divisor; divisor 1 gives sum pooling.

    ``divisor`` is a number or an (OH, OW) array (torch's window sizes with or without the
    padding, see ``nn.functional.avg_pool2d``).
    """

    def forward(self, x, kernel, stride, pads=(0, 0, 0, 0), out=None, divisor=1):
        (kh, kw) = kernel
        win = _window_view(x, kernel, stride, pads, (1, 1), out, 0.0)
        y = win[:, :, 0, 0].copy()
        for o in range(1, kh * kw):
            y += win[:, :, o // kw, o % kw]
        if not (isinstance(divisor, (int, float)) and divisor == 1):
            y /= xp.asarray(divisor, dtype=x.dtype)
        self.shape, self.divisor = x.shape, divisor
        self.geometry = (tuple(kernel), tuple(stride), tuple(pads), out)
        return y

    def backward(self, dy):
        # each x in a window contributes x / divisor to y: dL/dx = sum over the windows holding x
        # of dy / divisor (the same scatter-add as col2im, with all-equal weights)
        kernel, stride, pads, out = self.geometry
        (kh, kw) = kernel
        g = dy / xp.asarray(self.divisor, dtype=dy.dtype)
        dx, dwin = _grad_view(self.shape, dy.dtype, kernel, stride, pads, (1, 1), out)
        tiling = _is_tiling(kernel, stride, pads, (1, 1))
        for o in range(kh * kw):
            if tiling:
                dwin[:, :, o // kw, o % kw] = g
            else:
                dwin[:, :, o // kw, o % kw] += g
        return dx


def adaptive_bounds(size: int, out: int):
    """torch's adaptive windows: start_i = floor(i*size/out), end_i = ceil((i+1)*size/out)."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _averaging_matrix(size: int, out: int, dtype):
    """A (out, size) matrix whose row i averages the i-th adaptive window."""
    A = xp.zeros((out, size), dtype)
    for i, (lo, hi) in enumerate(adaptive_bounds(size, out)):
        A[i, lo:hi] = 1.0 / (hi - lo)
    return A


class AdaptiveAvgPool2d(Function):
    """y = A_h x A_w^T per plane: A_h (OH, H), A_w (OW, W) average torch's adaptive windows.

    Averaging over a rectangle is separable (rows, then columns), so the pooling is two small
    matrix products and its backward the transposed products: dx = A_h^T dy A_w.
    """

    def forward(self, x, out):
        H, W = x.shape[-2:]
        self.Ah, self.Aw = _averaging_matrix(H, out[0], x.dtype), _averaging_matrix(W, out[1], x.dtype)
        return xp.matmul(self.Ah, x @ self.Aw.T)

    def backward(self, dy):
        return xp.matmul(self.Ah.T, dy @ self.Aw)


class AdaptiveMaxPool2d(Function):
    """y[n,c,i,j] = max of x over torch's adaptive window (rows_i x cols_j); optionally the
    flat indices h*W + w of the maxima (first in row-major order on ties, as torch)."""

    def forward(self, x, out, return_indices=False):
        N, C, H, W = x.shape
        rows, cols = adaptive_bounds(H, out[0]), adaptive_bounds(W, out[1])
        # max over a rectangle is separable: first within each column window (per row) ...
        colmax = xp.stack([x[..., lo:hi].max(-1) for lo, hi in cols], -1)              # (N, C, H, OW)
        colarg = xp.stack([x[..., lo:hi].argmax(-1) + lo for lo, hi in cols], -1)
        # ... then the first row holding the largest of those: the row-major first maximum
        y = xp.stack([colmax[..., lo:hi, :].max(-2) for lo, hi in rows], -2)          # (N, C, OH, OW)
        h = xp.stack([colmax[..., lo:hi, :].argmax(-2) + lo for lo, hi in rows], -2)
        w = xp.take_along_axis(colarg, h, axis=-2)
        self.index = h * W + w
        self.shape = x.shape
        return (y, self.index) if return_indices else y

    def backward(self, dy, dindices=None):
        # route dy to each window's arg-max; windows may overlap, so sum with bincount
        N, C, H, W = self.shape
        planes = xp.arange(N * C).reshape(N, C, 1, 1) * (H * W)
        dx = xp.bincount((self.index + planes).ravel(), weights=dy.ravel(), minlength=N * C * H * W)
        return dx.reshape(self.shape).astype(dy.dtype, copy=False)
