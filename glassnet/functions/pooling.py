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
from ..kernels.windows import crop2d, pad2d, windows


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


def _channel_major(x) -> bool:
    """Whether x (N, C, H, W) is stored as (C, N, H, W), as convolution outputs are."""
    return x.ndim == 4 and x.transpose(1, 0, 2, 3).flags.c_contiguous and not x.flags.c_contiguous


def _grad_view(shape, dtype, kernel, stride, pads, dilation, out, channel_major=False):
    """A zero dx (N, C, H, W) and the window view of it (padded, if needed) to scatter into.
    dx keeps the input's memory layout, so the layer below reads its gradient without a transpose."""
    N, C, H, W = shape
    if _is_tiling(kernel, stride, pads, dilation):
        dx = xp.zeros((C, N, H, W), dtype).transpose(1, 0, 2, 3) if channel_major else xp.zeros(shape, dtype)
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
        win = _window_view(x, kernel, stride, pads, dilation, out, -xp.inf if largest else xp.inf)
        extremum, beats = (xp.maximum, xp.greater) if largest else (xp.minimum, xp.less)
        y = win[:, :, 0, 0].copy(order="K")   # "K": keep the input's memory layout
        # the winning kernel offset i*kw + j of each window, only when a gradient or indices need it
        track = self.needs_input_grad[0] or return_indices
        # laid out like y (channel-major after a convolution): mixed layouts make NumPy iterate
        # both in short rows (the backward pass was 1.3-2x slower with a C-ordered arg)
        arg = xp.zeros_like(y, dtype=xp.min_scalar_type(kh * kw)) if track else None
        for o in range(1, kh * kw):
            v = win[:, :, o // kw, o % kw]
            if track:
                # arg = o where v strictly beats y (an equal later value never wins). Offsets only
                # grow, so this is max(arg, o * wins): plain arithmetic, much faster in NumPy
                # than a masked write (copyto/where/putmask)
                xp.maximum(arg, xp.multiply(beats(v, y), o, dtype=arg.dtype), out=arg)
            extremum(y, v, out=y)
        self.shape, self.arg, self.channel_major = x.shape, arg, _channel_major(x)
        if not return_indices:
            return y
        return y, self._flat_indices(x.shape[-1])

    def _flat_indices(self, W):
        (kh, kw), (sh, sw), (top, _, left, _), (dh, dw), (OH, OW) = self.geometry
        arg = self.arg.astype(xp.int64)
        h = xp.arange(OH).reshape(OH, 1) * sh - top + (arg // kw) * dh
        w = xp.arange(OW) * sw - left + (arg % kw) * dw
        return h * W + w

    def backward(self, dy, dindices=None):
        # y picks one x per window, so dL/dx is dy at each window's arg-max and 0 elsewhere.
        # Windows that overlap (stride < kernel) may pick the same x: hence += unless they tile.
        kernel, stride, pads, dilation, out = self.geometry
        (kh, kw) = kernel
        arg = self.arg
        dx, dwin = _grad_view(self.shape, dy.dtype, kernel, stride, pads, dilation, out, self.channel_major)
        tiling = _is_tiling(kernel, stride, pads, dilation)
        for o in range(kh * kw):
            if tiling:
                xp.multiply(dy, arg == o, out=dwin[:, :, o // kw, o % kw])
            else:
                dwin[:, :, o // kw, o % kw] += dy * (arg == o)
        return dx


class AvgPool2d(Function):
    """y[n,c,oh,ow] = (sum of x over the window) / divisor; divisor 1 gives sum pooling.

    ``divisor`` is a number or an (OH, OW) array (torch's window sizes with or without the
    padding, see ``nn.functional.avg_pool2d``).
    """

    def forward(self, x, kernel, stride, pads=(0, 0, 0, 0), out=None, divisor=1):
        (kh, kw) = kernel
        win = _window_view(x, kernel, stride, pads, (1, 1), out, 0.0)
        y = win[:, :, 0, 0].copy(order="K")
        for o in range(1, kh * kw):
            y += win[:, :, o // kw, o % kw]
        if not (isinstance(divisor, (int, float)) and divisor == 1):
            y /= xp.asarray(divisor, dtype=x.dtype)
        self.shape, self.divisor, self.channel_major = x.shape, divisor, _channel_major(x)
        self.geometry = (tuple(kernel), tuple(stride), tuple(pads), out)
        return y

    def backward(self, dy):
        # each x in a window contributes x / divisor to y: dL/dx = sum over the windows holding x
        # of dy / divisor (the same scatter-add as col2im, with all-equal weights)
        kernel, stride, pads, out = self.geometry
        (kh, kw) = kernel
        g = dy / xp.asarray(self.divisor, dtype=dy.dtype)
        dx, dwin = _grad_view(self.shape, dy.dtype, kernel, stride, pads, (1, 1), out, self.channel_major)
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


def _window_max(x, bounds):
    """Max and first arg-max (absolute index) of x over windows [lo, hi) of its *first* axis.

    x: (L, ...) contiguous  ->  (len(bounds), ...) twice. A running comparison over whole
    contiguous slices x[k]: NumPy reductions over a short axis, or slices strided along the
    last one, are many times slower.
    """
    best = xp.empty((len(bounds),) + x.shape[1:], x.dtype)
    arg = xp.empty(best.shape, xp.int64)
    for i, (lo, hi) in enumerate(bounds):
        best[i], arg[i] = x[lo], lo
        for k in range(lo + 1, hi):
            # strict: ties keep the first position; k only grows, so arg = max(arg, k * wins)
            xp.maximum(arg[i], xp.multiply(x[k] > best[i], k, dtype=arg.dtype), out=arg[i])
            xp.maximum(best[i], x[k], out=best[i])
    return best, arg


def _window_max_backward(d_best, arg, bounds, length):
    """Adjoint of _window_max: each window's gradient goes to its arg-max; windows may overlap."""
    dx = xp.zeros((length,) + d_best.shape[1:], d_best.dtype)
    for i, (lo, hi) in enumerate(bounds):
        positions = xp.arange(lo, hi).reshape((-1,) + (1,) * (arg.ndim - 1))
        dx[lo:hi] += (positions == arg[i]) * d_best[i]
    return dx


class AdaptiveMaxPool2d(Function):
    """y[n,c,i,j] = max of x over torch's adaptive window (rows_i x cols_j); optionally the
    flat indices h*W + w of the maxima (first in row-major order on ties, as torch).

    Max over a rectangle is separable: first over each column window within every row, then
    over the window's rows; taking the first maximum at both stages gives the row-major first.
    Each stage works on a copy with the reduced axis first, so its slices are contiguous;
    loops run over output rows / columns and window positions, never over output pixels.
    """

    def forward(self, x, out, return_indices=False):
        N, C, H, W = x.shape
        self.rows, self.cols = adaptive_bounds(H, out[0]), adaptive_bounds(W, out[1])
        colmax, self.colarg = _window_max(xp.ascontiguousarray(x.transpose(3, 0, 1, 2)), self.cols)  # (OW, N, C, H)
        y, self.rowarg = _window_max(xp.ascontiguousarray(colmax.transpose(3, 0, 1, 2)), self.rows)  # (OH, OW, N, C)
        self.shape = x.shape
        y = y.transpose(2, 3, 0, 1)
        if not return_indices:
            return y
        # the winning column of the winning row: colarg[ow, n, c, rowarg[oh, ow, n, c]]
        w = xp.take_along_axis(self.colarg.transpose(1, 2, 0, 3), self.rowarg.transpose(2, 3, 1, 0), axis=-1)
        return y, self.rowarg.transpose(2, 3, 0, 1) * W + w.transpose(0, 1, 3, 2)

    def backward(self, dy, dindices=None):
        # undo the two stages in reverse: dy to each window's winning row (d colmax), then each
        # row's d colmax to its winning column
        N, C, H, W = self.shape
        dy_t = xp.ascontiguousarray(dy.transpose(2, 3, 0, 1))                                       # (OH, OW, N, C)
        dcolmax = _window_max_backward(dy_t, self.rowarg, self.rows, H)                           # (H, OW, N, C)
        dcolmax = xp.ascontiguousarray(dcolmax.transpose(1, 2, 3, 0))                             # (OW, N, C, H)
        return _window_max_backward(dcolmax, self.colarg, self.cols, W).transpose(1, 2, 3, 0)     # (N, C, H, W)
