"""How ``functions/pooling.py`` runs fast: window reductions and their scatters.

The math (checked against ``tests/functions/reference.py``: ``max_pool2d_by_windows``,
``avg_pool2d_by_windows`` and their backward forms, and ``reference_cnn.py``'s adaptive
windows, in ``tests/kernels/test_cnn_kernels.py``):

    max pool   y[n,c,p,q] = max_{i,j} xpad[n,c,p*sh+i*dh,q*sw+j*dw]   (padding never wins)
               arg[n,c,p,q] = the first (row-major) offset i*kw + j holding that maximum
               dx[n,c,p*sh-top+i*dh,q*sw-left+j*dw] += dy[n,c,p,q]   at (i, j) = arg
    avg pool   y = (sum over the window of xpad) / divisor;  dx = the window scatter of dy / divisor
    adaptive   the same over torch's windows [floor(i*size/out), ceil((i+1)*size/out)) per axis

Min pooling is max pooling with ``largest=False``. Geometry arguments: ``kernel`` (kh, kw),
``stride`` (sh, sw), ``pads`` (top, bottom, left, right), ``dilation`` (dh, dw), ``out`` (OH, OW).

Average pooling sums windows with the same kh*kw whole-array passes in its NumPy twin; the
compiled twin sums and scatters strided 2-d windows that overlap or are padded (see
``_sum_compiled_pays``).

Max pooling's NumPy twin loops over the kh*kw kernel offsets with whole-array ops; its
compiled twin (same signature) is one pass over x's image planes, used where it pays (see
the notes above ``_max_pool_2x2`` and ``_scatter_pays``): forward and backward for 2x2 /
stride-2 windows, the backward's scatter for any other 2-d window that overlaps or is padded.
Both keep y, the arg-max and dx in the input's memory order (channel-major after a
convolution: see ``kernels/convolution.py``). Adaptive pooling (torch's windows
[floor(i*size/out), ceil((i+1)*size/out))) is separable in its NumPy twins (the average as
two matrix products) and compiled passes over the planes in the other: the average always,
the max for large windows (see the notes above ``_adaptive_max`` and ``_range_sums``, which also
sums the fixed windows that overlap or are padded).
"""
from __future__ import annotations

from ..backend import xp
from . import jit, pick
from .layout import as_planes, describe, new_planes  # noqa: F401  (describe: for functions/)
from .windows import crop2d, pad2d, windows


def arg_dtype(kernel):
    """The smallest unsigned type that holds a window offset i*kw + j."""
    return xp.min_scalar_type(kernel[0] * kernel[1])


# -- window views (NumPy twins and average pooling) -----------------------------------------
def is_tiling(kernel, stride, pads, dilation) -> bool:
    """Windows that tile the input exactly once: kernel == stride, no padding or dilation."""
    return tuple(kernel) == tuple(stride) and not any(pads) and tuple(dilation) == (1, 1)


def window_view(x, kernel, stride, pads, dilation, out, fill):
    """(N, C, kh, kw, OH, OW) view of the windows of x; win[:, :, i, j] is what offset (i, j) sees.

    When the windows tile the input the view is a plain reshape (N, C, OH, kh, OW, kw) of x,
    axes reordered; otherwise a strided view of the padded input (``windows.windows``).
    Reductions loop over the kh*kw offsets with whole-array NumPy ops: NumPy's reduce over
    the two kernel axes of such a view (``.max(axis=(3, 5))``) is many times slower.
    """
    (kh, kw), (OH, OW) = kernel, out
    if is_tiling(kernel, stride, pads, dilation):
        N, C = x.shape[:2]
        return x[..., :OH * kh, :OW * kw].reshape(N, C, OH, kh, OW, kw).transpose(0, 1, 3, 5, 2, 4)
    return windows(pad2d(x, pads, fill) if any(pads) else x, kernel, stride, dilation, out)


def grad_view(shape, dtype, kernel, stride, pads, dilation, out, channel_major=False):
    """A zero dx (N, C, H, W) in the input's layout and the window view of it (padded, if
    needed) to scatter into."""
    N, C, H, W = shape
    if is_tiling(kernel, stride, pads, dilation):
        dx = xp.zeros((C, N, H, W), dtype).transpose(1, 0, 2, 3) if channel_major else xp.zeros(shape, dtype)
        return dx, window_view(dx, kernel, stride, pads, dilation, out, 0.0)
    dxp = xp.zeros((N, C, H + pads[0] + pads[1], W + pads[2] + pads[3]), dtype)
    return crop2d(dxp, pads), windows(dxp, kernel, stride, dilation, out)


# -- max pooling: the NumPy twin ------------------------------------------------------------
def max_pool2d_numpy(x, kernel, stride, pads, dilation, out, largest=True, track=True):
    """(y, arg or None): a running max over the kh*kw window offsets, whole arrays at a time."""
    kh, kw = kernel
    win = window_view(x, kernel, stride, pads, dilation, out, -xp.inf if largest else xp.inf)
    extremum, beats = (xp.maximum, xp.greater) if largest else (xp.minimum, xp.less)
    y = win[:, :, 0, 0].copy(order="K")   # "K": keep the input's memory layout
    # laid out like y: mixed layouts make NumPy iterate both in short rows
    arg = xp.zeros_like(y, dtype=arg_dtype(kernel)) if track else None
    for o in range(1, kh * kw):
        v = win[:, :, o // kw, o % kw]
        if track:
            # arg = o where v strictly beats y (an equal later value never wins). Offsets only
            # grow, so this is max(arg, o * wins): plain arithmetic, much faster in NumPy
            # than a masked write (copyto/where/putmask)
            xp.maximum(arg, xp.multiply(beats(v, y), o, dtype=arg.dtype), out=arg)
        extremum(y, v, out=y)
    return y, arg


def max_pool2d_backward_numpy(dy, arg, x_like, kernel, stride, pads, dilation, out):
    """dx (shaped and stored like x: ``x_like`` = layout.describe(x)): dy added at each window's
    arg-max, one whole-array op per kernel offset."""
    kh, kw = kernel
    x_shape, channel_major = x_like
    dx, dwin = grad_view(x_shape, dy.dtype, kernel, stride, pads, dilation, out, channel_major)
    tiling = is_tiling(kernel, stride, pads, dilation)
    for o in range(kh * kw):
        if tiling:
            xp.multiply(dy, arg == o, out=dwin[:, :, o // kw, o % kw])
        else:
            dwin[:, :, o // kw, o % kw] += dy * (arg == o)
    return dx


# -- max pooling: the compiled twin ---------------------------------------------------------
# Compiled for the window nearly every CNN uses, 2x2 with stride 2 and no padding or dilation,
# written out so the loops vectorise: with run-time window sizes, with branches, or with an
# integer (uint8, int64) arg-max beside float values, Numba's loops measured no faster than
# the NumPy twin. What vectorises: the max of the four values, then the winning offset as
# arithmetic on 0/1 values of the values' own type, k = e0 (1 + e1 (1 + e2)) with e_i = 1 where
# value i is not the max (so k is the first offset holding it), stored as that float type.
# Other windows take the NumPy twin.

def _is_2x2(kernel, stride, pads, dilation):
    return tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and not any(pads) and tuple(dilation) == (1, 1)


@jit
def _max_pool_2x2(x, sign, y, arg):
    """y[p, a, b] = max (sign 1) or min (sign -1) of x[p, 2a:2a+2, 2b:2b+2], and arg[p, a, b] its
    first offset i*2 + j. A window holding a NaN gives NaN at its first NaN, as a NaN wins in torch."""
    P = x.shape[0]
    OH, OW = y.shape[1], y.shape[2]
    one = x.dtype.type(1)
    for p in range(P):
        for a in range(OH):
            for b in range(OW):
                w0 = sign * x[p, 2 * a, 2 * b]
                w1 = sign * x[p, 2 * a, 2 * b + 1]
                w2 = sign * x[p, 2 * a + 1, 2 * b]
                w3 = sign * x[p, 2 * a + 1, 2 * b + 1]
                m = max(max(w0, w1), max(w2, w3))
                e0 = x.dtype.type(w0 != m)
                e1 = x.dtype.type(w1 != m)
                e2 = x.dtype.type(w2 != m)
                k = e0 * (one + e1 * (one + e2))
                s = w0 + w1 + w2 + w3
                if s != s:                      # a NaN (or inf - inf): the rare, exact path
                    m, k = w0, 0.0
                    for o in range(1, 4):
                        v = sign * x[p, 2 * a + o // 2, 2 * b + o % 2]
                        if m != m:
                            break
                        if v > m or v != v:
                            m, k = v, o
                y[p, a, b] = sign * m
                arg[p, a, b] = k


@jit
def _max_pool_2x2_backward(dy, arg, dx):
    """dx[p, 2a+i, 2b+j] = dy[p, a, b] where i*2 + j = arg[p, a, b], else 0; every dx entry is
    written once (rows and columns no window covers get 0), so dx needs no zeroing first."""
    P, OH, OW = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    zero = dx.dtype.type(0)
    for p in range(P):
        for a in range(OH):
            for b in range(OW):
                k = arg[p, a, b]
                d = dy[p, a, b]
                dx[p, 2 * a, 2 * b] = d * dx.dtype.type(k == 0)
                dx[p, 2 * a, 2 * b + 1] = d * dx.dtype.type(k == 1)
                dx[p, 2 * a + 1, 2 * b] = d * dx.dtype.type(k == 2)
                dx[p, 2 * a + 1, 2 * b + 1] = d * dx.dtype.type(k == 3)
            for i in range(2):
                for w in range(2 * OW, W):
                    dx[p, 2 * a + i, w] = zero
        for h in range(2 * OH, H):
            for w in range(W):
                dx[p, h, w] = zero


# Any other window (kernel, stride, padding, dilation, ceil_mode's extra bottom/right padding):
# the forward stays the NumPy twin's kh*kw whole-array passes. A compiled sweep, one output
# row at a time over the kernel offsets, measured 1.5-6x slower than them: its inner loops
# (a row of OW columns per offset) did not vectorise, with branches or with selects. The
# backward's scatter does pay compiled wherever windows overlap or are padded in 2-d (the
# twin adds kh*kw masked products into a zeroed padded copy); tiling windows and 1-d
# pooling, where the twin's passes are few and long, keep the twin.

def _scatter_pays(kernel, stride, pads, dilation):
    return kernel[0] > 1 and not is_tiling(kernel, stride, pads, dilation)


@jit
def _max_pool_rows_backward(dy, arg, kw, sh, sw, top, left, dh, dw, dx):
    """dx[p, a*sh - top + i*dh, b*sw - left + j*dw] += dy[p, a, b] at (i, j) = divmod(arg, kw);
    dx zero on entry (overlapping windows may pick the same x: their dy add up)."""
    P, OH, OW = dy.shape
    for p in range(P):
        for a in range(OH):
            for b in range(OW):
                o = int(arg[p, a, b])
                i = o // kw
                j = o - i * kw
                dx[p, a * sh - top + i * dh, b * sw - left + j * dw] += dy[p, a, b]


def max_pool2d_compiled(x, kernel, stride, pads, dilation, out, largest=True, track=True):
    """(y, arg): one compiled pass over x's image planes for 2x2 / stride-2 windows (arg in x's
    float type, laid out like y); the NumPy twin for any other window."""
    if not _is_2x2(kernel, stride, pads, dilation) or x.dtype.kind != "f":
        return max_pool2d_numpy(x, kernel, stride, pads, dilation, out, largest, track)
    N, C = x.shape[:2]
    planes, channel_major = as_planes(x)
    y, y_planes = new_planes(N, C, out[0], out[1], x.dtype, channel_major)
    arg, arg_planes = new_planes(N, C, out[0], out[1], x.dtype, channel_major)
    _max_pool_2x2(planes, x.dtype.type(1 if largest else -1), y_planes, arg_planes)
    return y, (arg if track else None)


def max_pool2d_backward_compiled(dy, arg, x_like, kernel, stride, pads, dilation, out):
    """dx in x's layout by one compiled pass: _max_pool_2x2_backward for 2x2 / stride-2 windows
    (arg from the compiled forward, in dy's float type), _max_pool_rows_backward for 2-d
    windows that overlap or are padded (any arg); the NumPy twin otherwise."""
    (N, C, H, W), channel_major = x_like
    two_by_two = _is_2x2(kernel, stride, pads, dilation) and arg.dtype == dy.dtype
    if dy.dtype.kind != "f" or not (two_by_two or _scatter_pays(kernel, stride, pads, dilation)):
        return max_pool2d_backward_numpy(dy, arg, x_like, kernel, stride, pads, dilation, out)
    order = (1, 0, 2, 3) if channel_major else (0, 1, 2, 3)
    dy_planes = xp.ascontiguousarray(dy.transpose(order)).reshape(-1, *dy.shape[2:])
    arg_planes = xp.ascontiguousarray(arg.transpose(order)).reshape(-1, *arg.shape[2:])
    if two_by_two:
        dx, dx_planes = new_planes(N, C, H, W, dy.dtype, channel_major)
        _max_pool_2x2_backward(dy_planes, arg_planes, dx_planes)
    else:
        dx, dx_planes = new_planes(N, C, H, W, dy.dtype, channel_major, zero=True)
        _max_pool_rows_backward(dy_planes, arg_planes, kernel[1], stride[0], stride[1], pads[0], pads[2],
                                dilation[0], dilation[1], dx_planes)
    return dx


max_pool2d = pick(max_pool2d_compiled, max_pool2d_numpy)
max_pool2d_backward = pick(max_pool2d_backward_compiled, max_pool2d_backward_numpy)


def max_pool2d_arg(x, memo, kernel, stride, pads, dilation, out, largest=True):
    """Each window's winning offset i*kw + j, laid out like y (for ``return_indices``): the
    arg-max kept by the forward, or found again from x when none was kept."""
    if memo is not None:
        return memo
    return max_pool2d_numpy(x, kernel, stride, pads, dilation, out, largest)[1]


# -- average (and sum) pooling: compiled where it pays -----------------------------------------
def window_sum_numpy(x, kernel, stride, pads, out):
    """Sum of x over every window (padding counts as zeros), in x's memory layout."""
    kh, kw = kernel
    win = window_view(x, kernel, stride, pads, (1, 1), out, 0.0)
    y = win[:, :, 0, 0].copy(order="K")
    for o in range(1, kh * kw):
        y += win[:, :, o // kw, o % kw]
    return y


def window_sum_backward_numpy(g, x_like, kernel, stride, pads, out):
    """The adjoint of window_sum: every window's g added to each position it covers
    (dx shaped and stored like x: ``x_like`` = layout.describe(x))."""
    kh, kw = kernel
    x_shape, channel_major = x_like
    dx, dwin = grad_view(x_shape, g.dtype, kernel, stride, pads, (1, 1), out, channel_major)
    tiling = is_tiling(kernel, stride, pads, (1, 1))
    for o in range(kh * kw):
        if tiling:
            dwin[:, :, o // kw, o % kw] = g
        else:
            dwin[:, :, o // kw, o % kw] += g
    return dx


def _sum_compiled_pays(kernel, stride, pads):
    """Window sums and their scatter run compiled for 2-d windows that stride by 2 or more and
    overlap or are padded (ceil_mode, 3x3 / stride 2): there the NumPy twin's kh*kw passes
    run over strided views of a padded copy. Tiling windows, stride 1 and 1-d pooling keep the
    twin, whose passes are few, or long and contiguous, and measured as fast or faster."""
    return min(stride) >= 2 and _scatter_pays(kernel, stride, pads, (1, 1))


def window_sum_compiled(x, kernel, stride, pads, out):
    """window_sum by one compiled pass over x's planes, y in x's memory order, for strided 2-d
    windows that overlap or are padded; the NumPy twin otherwise (see _sum_compiled_pays)."""
    if x.dtype.kind != "f" or not _sum_compiled_pays(kernel, stride, pads):
        return window_sum_numpy(x, kernel, stride, pads, out)
    N, C = x.shape[:2]
    planes, channel_major = as_planes(x)
    y, y_planes = new_planes(N, C, out[0], out[1], x.dtype, channel_major)
    _range_sums(planes, *_window_bounds(out[0], kernel[0], stride[0], pads[0], x.shape[2]),
                *_window_bounds(out[1], kernel[1], stride[1], pads[2], x.shape[3]), False, y_planes)
    return y


def window_sum_backward_compiled(g, x_like, kernel, stride, pads, out):
    """window_sum_backward by one compiled scatter for strided 2-d windows that overlap or
    are padded, dx in x's layout; the NumPy twin otherwise (see _sum_compiled_pays)."""
    (N, C, H, W), channel_major = x_like
    if g.dtype.kind != "f" or not _sum_compiled_pays(kernel, stride, pads):
        return window_sum_backward_numpy(g, x_like, kernel, stride, pads, out)
    order = (1, 0, 2, 3) if channel_major else (0, 1, 2, 3)
    g_planes = xp.ascontiguousarray(g.transpose(order)).reshape(-1, *g.shape[2:])
    dx, dx_planes = new_planes(N, C, H, W, g.dtype, channel_major, zero=True)
    _spread_over_ranges(g_planes, *_window_bounds(g.shape[2], kernel[0], stride[0], pads[0], H),
                        *_window_bounds(g.shape[3], kernel[1], stride[1], pads[2], W), False, dx_planes)
    return dx


window_sum = pick(window_sum_compiled, window_sum_numpy)
window_sum_backward = pick(window_sum_backward_compiled, window_sum_backward_numpy)


# -- adaptive max pooling: separable, NumPy in both modes ----------------------------------
def window_max_first_axis(x, bounds):
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


def window_max_first_axis_backward(d_best, arg, bounds, length):
    """Adjoint of window_max_first_axis: each window's gradient goes to its arg-max; windows may overlap."""
    dx = xp.zeros((length,) + d_best.shape[1:], d_best.dtype)
    for i, (lo, hi) in enumerate(bounds):
        positions = xp.arange(lo, hi).reshape((-1,) + (1,) * (arg.ndim - 1))
        dx[lo:hi] += (positions == arg[i]) * d_best[i]
    return dx


def adaptive_max_pool2d_numpy(x, rows, cols):
    """(y (N, C, OH, OW), winners = (rowarg, colarg)): max over rows[oh] x cols[ow] windows, separably:
    first over each column window within every row, then over the window's rows (taking the
    first maximum at both stages gives the row-major first). Each stage works on a copy with
    the reduced axis first, so its slices are contiguous."""
    colmax, colarg = window_max_first_axis(xp.ascontiguousarray(x.transpose(3, 0, 1, 2)), cols)   # (OW, N, C, H)
    y, rowarg = window_max_first_axis(xp.ascontiguousarray(colmax.transpose(3, 0, 1, 2)), rows)   # (OH, OW, N, C)
    return y.transpose(2, 3, 0, 1), (rowarg, colarg)


def adaptive_max_pool2d_indices_numpy(winners, W):
    """torch's returned indices h*W + w: the winning column of the winning row."""
    rowarg, colarg = winners
    w = xp.take_along_axis(colarg.transpose(1, 2, 0, 3), rowarg.transpose(2, 3, 1, 0), axis=-1)
    return rowarg.transpose(2, 3, 0, 1) * W + w.transpose(0, 1, 3, 2)


def adaptive_max_pool2d_backward_numpy(dy, winners, rows, cols, x_like):
    """Undo the two stages in reverse: dy to each window's winning row, then each row's
    gradient to its winning column."""
    (N, C, H, W), _ = x_like
    rowarg, colarg = winners
    dy_t = xp.ascontiguousarray(dy.transpose(2, 3, 0, 1))                                  # (OH, OW, N, C)
    dcolmax = window_max_first_axis_backward(dy_t, rowarg, rows, H)                      # (H, OW, N, C)
    dcolmax = xp.ascontiguousarray(dcolmax.transpose(1, 2, 3, 0))                        # (OW, N, C, H)
    return window_max_first_axis_backward(dcolmax, colarg, cols, W).transpose(1, 2, 3, 0)  # (N, C, H, W)


# -- adaptive max pooling: the compiled twin ------------------------------------------------
# One window at a time over x's planes. Adaptive windows are large (global pooling: the whole
# plane) and a running maximum changes rarely, so the branch that updates it is predicted
# and the plain loop is fast; the winners are kept as flat positions h*W + w in the plane,
# torch's returned indices themselves. With small windows (under _ADAPTIVE_MIN_AREA values
# each on average) the branch is taken often and the NumPy twin's separable passes measured
# faster; turning its record into flat positions for the compiled scatter cost more than the
# scatter saved, so small windows keep the NumPy twin both ways.
_ADAPTIVE_MIN_AREA = 32


@jit
def _adaptive_max(x, sign, row_lo, row_hi, col_lo, col_hi, y, where):
    """y[p, a, b] = max (sign 1) or min (sign -1) of x[p] over rows [row_lo[a], row_hi[a]) and
    columns [col_lo[b], col_hi[b]), where[p, a, b] = h*W + w of its first (row-major)
    position; a NaN wins at its first position."""
    P, H, W = x.shape
    OH, OW = y.shape[1], y.shape[2]
    for p in range(P):
        for a in range(OH):
            for b in range(OW):
                m = sign * x[p, row_lo[a], col_lo[b]]
                k = row_lo[a] * W + col_lo[b]
                if m == m:
                    for h in range(row_lo[a], row_hi[a]):
                        for w in range(col_lo[b], col_hi[b]):
                            v = sign * x[p, h, w]
                            if v > m or v != v:
                                m = v
                                k = h * W + w
                                if v != v:
                                    break
                        if m != m:
                            break
                y[p, a, b] = sign * m
                where[p, a, b] = k


@jit
def _adaptive_max_backward(dy, where, dx):
    """dx[p, where[p, a, b]] += dy[p, a, b] (dx flat planes, zero on entry; windows may overlap)."""
    P, OH, OW = dy.shape
    for p in range(P):
        for a in range(OH):
            for b in range(OW):
                dx[p, where[p, a, b]] += dy[p, a, b]


def _window_bounds(n_out, k, stride, pad, size):
    """(lo, hi) int64 arrays: output i's window [i*stride - pad, + k) clipped to [0, size)
    (the padding taps, which add nothing to a sum)."""
    start = xp.arange(n_out, dtype=xp.int64) * stride - pad
    return xp.clip(start, 0, size), xp.clip(start + k, 0, size)


def _bounds_arrays(bounds):
    lo = xp.array([b[0] for b in bounds], xp.int64)
    hi = xp.array([b[1] for b in bounds], xp.int64)
    return lo, hi


def adaptive_max_pool2d_compiled(x, rows, cols):
    """(y, winners): y and winners (the flat positions h*W + w, int64) by one compiled pass
    over x's planes in x's memory order for large windows; the NumPy twin (and its own
    record) for small windows and non-float x."""
    N, C, H, W = x.shape
    if x.dtype.kind != "f" or H * W < _ADAPTIVE_MIN_AREA * len(rows) * len(cols):
        return adaptive_max_pool2d_numpy(x, rows, cols)
    planes, channel_major = as_planes(x)
    y, y_planes = new_planes(N, C, len(rows), len(cols), x.dtype, channel_major)
    where, where_planes = new_planes(N, C, len(rows), len(cols), xp.int64, channel_major)
    _adaptive_max(planes, x.dtype.type(1), *_bounds_arrays(rows), *_bounds_arrays(cols), y_planes, where_planes)
    return y, where


def adaptive_max_pool2d_indices_compiled(winners, W):
    """torch's indices h*W + w: the compiled forward's winners (the NumPy twin's otherwise)."""
    if isinstance(winners, tuple):
        return adaptive_max_pool2d_indices_numpy(winners, W)
    return winners


def adaptive_max_pool2d_backward_compiled(dy, winners, rows, cols, x_like):
    """dx in x's memory order, each window's dy added at its winner (one compiled pass)."""
    if isinstance(winners, tuple) or dy.dtype.kind != "f":
        return adaptive_max_pool2d_backward_numpy(dy, winners, rows, cols, x_like)
    (N, C, H, W), channel_major = x_like
    order = (1, 0, 2, 3) if channel_major else (0, 1, 2, 3)
    dy_planes = xp.ascontiguousarray(dy.transpose(order)).reshape(-1, *dy.shape[2:])
    where_planes = xp.ascontiguousarray(winners.transpose(order)).reshape(-1, *winners.shape[2:])
    dx, dx_planes = new_planes(N, C, H, W, dy.dtype, channel_major, zero=True)
    _adaptive_max_backward(dy_planes, where_planes, dx_planes.reshape(-1, H * W))
    return dx


adaptive_max_pool2d = pick(adaptive_max_pool2d_compiled, adaptive_max_pool2d_numpy)
adaptive_max_pool2d_indices = pick(adaptive_max_pool2d_indices_compiled, adaptive_max_pool2d_indices_numpy)
adaptive_max_pool2d_backward = pick(adaptive_max_pool2d_backward_compiled, adaptive_max_pool2d_backward_numpy)


# -- adaptive average pooling ---------------------------------------------------------------
# The NumPy twin is the separable matrix form y = A_h x A_w^T (A_h (OH, H) and A_w (OW, W)
# average the windows), its backward dx = A_h^T dy A_w. The compiled twin is the same
# separation as loops over x's planes: for each row window, the column sums of its rows
# (a row of W float64 sums, which vectorises), then each column window's share of them.

def _averaging_matrix(bounds, size, dtype):
    """A (out, size) matrix whose row i averages the i-th window [lo, hi)."""
    A = xp.zeros((len(bounds), size), dtype)
    for i, (lo, hi) in enumerate(bounds):
        A[i, lo:hi] = 1.0 / (hi - lo)
    return A


def adaptive_avg_pool2d_numpy(x, rows, cols):
    Ah, Aw = _averaging_matrix(rows, x.shape[2], x.dtype), _averaging_matrix(cols, x.shape[3], x.dtype)
    return xp.matmul(Ah, x @ Aw.T)


def adaptive_avg_pool2d_backward_numpy(dy, rows, cols, x_like):
    (N, C, H, W), _ = x_like
    Ah, Aw = _averaging_matrix(rows, H, dy.dtype), _averaging_matrix(cols, W, dy.dtype)
    return xp.matmul(Ah.T, dy @ Aw)


@jit
def _range_sums(x, row_lo, row_hi, col_lo, col_hi, mean, y):
    """y[p, a, b] = sum of x[p] over rows [row_lo[a], row_hi[a]) x columns [col_lo[b], col_hi[b]),
    divided by the window's size when ``mean``: per output row, the column sums of its rows (a
    row of float64 sums, which vectorises), then each window's run of them. Fixed windows
    (``_window_bounds``, padding taps left out) and adaptive ones alike."""
    P, H, W = x.shape
    OH, OW = y.shape[1], y.shape[2]
    colsum = xp.empty(W, xp.float64)
    for p in range(P):
        for a in range(OH):
            colsum[:] = 0.0
            for h in range(row_lo[a], row_hi[a]):
                for w in range(W):
                    colsum[w] += x[p, h, w]
            for b in range(OW):
                s = 0.0
                for w in range(col_lo[b], col_hi[b]):
                    s += colsum[w]
                y[p, a, b] = s / ((row_hi[a] - row_lo[a]) * (col_hi[b] - col_lo[b])) if mean else s


@jit
def _spread_over_ranges(dy, row_lo, row_hi, col_lo, col_hi, mean, dx):
    """The adjoint of ``_range_sums``: dx[p, h, w] = sum over the windows (a, b) holding (h, w)
    of dy[p, a, b] (divided by the window's size when ``mean``); dx zero on entry (windows
    may overlap)."""
    P, OH, OW = dy.shape
    W = dx.shape[2]
    share = xp.empty(W, dx.dtype)
    for p in range(P):
        for a in range(OH):
            share[:] = 0
            for b in range(OW):
                g = dy[p, a, b]
                if mean:
                    g = g / ((row_hi[a] - row_lo[a]) * (col_hi[b] - col_lo[b]))
                for w in range(col_lo[b], col_hi[b]):
                    share[w] += g
            for h in range(row_lo[a], row_hi[a]):
                for w in range(W):
                    dx[p, h, w] += share[w]


def adaptive_avg_pool2d_compiled(x, rows, cols):
    """y in x's memory order by one compiled pass over its planes (the NumPy twin for non-float x)."""
    if x.dtype.kind != "f":
        return adaptive_avg_pool2d_numpy(x, rows, cols)
    N, C = x.shape[:2]
    planes, channel_major = as_planes(x)
    y, y_planes = new_planes(N, C, len(rows), len(cols), x.dtype, channel_major)
    _range_sums(planes, *_bounds_arrays(rows), *_bounds_arrays(cols), True, y_planes)
    return y


def adaptive_avg_pool2d_backward_compiled(dy, rows, cols, x_like):
    """dx in x's memory order by one compiled pass (the NumPy twin for non-float dy)."""
    if dy.dtype.kind != "f":
        return adaptive_avg_pool2d_backward_numpy(dy, rows, cols, x_like)
    (N, C, H, W), channel_major = x_like
    order = (1, 0, 2, 3) if channel_major else (0, 1, 2, 3)
    dy_planes = xp.ascontiguousarray(dy.transpose(order)).reshape(-1, *dy.shape[2:])
    dx, dx_planes = new_planes(N, C, H, W, dy.dtype, channel_major, zero=True)
    _spread_over_ranges(dy_planes, *_bounds_arrays(rows), *_bounds_arrays(cols), True, dx_planes)
    return dx


adaptive_avg_pool2d = pick(adaptive_avg_pool2d_compiled, adaptive_avg_pool2d_numpy)
adaptive_avg_pool2d_backward = pick(adaptive_avg_pool2d_backward_compiled, adaptive_avg_pool2d_backward_numpy)
