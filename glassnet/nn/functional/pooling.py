"""Pooling with torch's ``F.*`` signatures, plus glassnet's min and sum pooling.

Output size along each axis (floor; with ceil_mode, ceil -- but a last window must start
inside the input or the left padding, torch's rule):

    out = floor((in + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
"""
from __future__ import annotations

from ...backend import xp
from ...errors import ShapeError
from ...functions import pooling as P
from ...kernels.windows import out_size
from .conv import _tuple

__all__ = ["max_pool1d", "max_pool2d", "min_pool2d", "avg_pool1d", "avg_pool2d", "sum_pool2d",
           "adaptive_avg_pool2d", "adaptive_max_pool2d"]


def _batched(name, input, spatial):
    """(input as (N, C, H, W), whether it was unbatched); 1-d inputs get H = 1."""
    ndim = spatial + 2
    dims = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
    if input.ndim not in (ndim - 1, ndim):
        raise ShapeError(f"{name}: expected a {ndim - 1}-d (unbatched) or {ndim}-d input of shape {dims}, "
                         f"got a {input.ndim}-d input of shape {tuple(input.shape)}")
    unbatched = input.ndim == ndim - 1
    x = input.reshape((1,) + tuple(input.shape)) if unbatched else input
    if spatial == 1:
        x = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])
    return x, unbatched


def _restore(name, y, unbatched, spatial):
    if spatial == 1:
        y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.reshape(y.shape[1:]) if unbatched else y


def _geometry(name, size, kernel, stride, padding, dilation, ceil_mode, spatial):
    """kernel, stride, dilation, (top, bottom, left, right) padding and output size, for 2-d
    arrays; ceil_mode's extra windows become extra bottom/right padding."""
    kernel = _tuple(kernel, spatial, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, spatial, "stride")
    padding, dilation = _tuple(padding, spatial, "padding"), _tuple(dilation, spatial, "dilation")
    if spatial == 1:
        kernel, stride, padding, dilation = ((1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation)
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got kernel_size="
                         f"{kernel[-spatial:]}, stride={stride[-spatial:]}, dilation={dilation[-spatial:]}")
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, but got "
                             f"pad={p}, kernel_size={k} and dilation={d}")
    out = tuple(out_size(n, k, s, d, p, p, ceil_mode) for n, k, s, d, p in zip(size, kernel, stride, dilation, padding))
    if any(o <= 0 for o in out):
        raise ShapeError(f"{name}: computed output size {out[-spatial:]} is too small (empty) for input size "
                         f"{tuple(size)[-spatial:]} with kernel_size={kernel[-spatial:]}, stride={stride[-spatial:]}, "
                         f"padding={padding[-spatial:]}, dilation={dilation[-spatial:]}, ceil_mode={ceil_mode}")
    # windows must fit inside the padded array: ceil_mode may need more on the bottom/right
    hi = [max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)
          for n, k, s, d, p, o in zip(size, kernel, stride, dilation, padding, out)]
    pads = (padding[0], hi[0], padding[1], hi[1])
    return kernel, stride, dilation, padding, pads, out


def _max(name, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, spatial, largest):
    x, unbatched = _batched(name, input, spatial)
    kernel, stride, dilation, _, pads, out = _geometry(name, x.shape[-2:], kernel_size, stride, padding,
                                                       dilation, ceil_mode, spatial)
    result = P.MaxPool2d.apply(x, kernel=kernel, stride=stride, pads=pads, dilation=dilation, out=out,
                               largest=largest, return_indices=return_indices)
    if return_indices:
        return tuple(_restore(name, r, unbatched, spatial) for r in result)
    return _restore(name, result, unbatched, spatial)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each kernel window.  (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    With return_indices, also the int64 flat index h*W + w of each maximum in its input plane.
    """
    return _max("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, True)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each kernel window.  (N, C, L) or (C, L) -> (N, C, L_out)."""
    return _max("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, True)


def min_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Min over each kernel window (glassnet's own; equals -max_pool2d(-input)).
    (N, C, H, W) -> (N, C, OH, OW); padded positions never win."""
    return _max("min_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, False)


def _divisor(size, kernel, stride, padding, out, ceil_mode, count_include_pad, divisor_override):
    """torch's avg-pool divisor: the window size, clipped to the padded input (count_include_pad)
    or to the input itself; a number when all windows agree."""
    if divisor_override:
        return divisor_override
    if not ceil_mode and (count_include_pad or not any(padding)):
        return kernel[0] * kernel[1]
    counts = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        counts.append(end - start)
    return (counts[0][:, None] * counts[1][None, :]).astype(xp.float64)


def _avg(name, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, spatial):
    x, unbatched = _batched(name, input, spatial)
    kernel, stride, _, padding, pads, out = _geometry(name, x.shape[-2:], kernel_size, stride, padding, 1,
                                                      ceil_mode, spatial)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{name}: divisor_override must be non-zero")
    divisor = _divisor(x.shape[-2:], kernel, stride, padding, out, ceil_mode, count_include_pad, divisor_override)
    if not isinstance(divisor, (int, float)):
        divisor = divisor.astype(x.dtype)
    y = P.AvgPool2d.apply(x, kernel=kernel, stride=stride, pads=pads, out=out, divisor=divisor)
    return _restore(name, y, unbatched, spatial)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each kernel window.  (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    The divisor is the window size counting padded zeros (count_include_pad=True) or only
    input positions (False), or divisor_override.
    """
    return _avg("avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, 2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each kernel window.  (N, C, L) or (C, L) -> (N, C, L_out)."""
    return _avg("avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def sum_pool2d(input, kernel_size, stride=None, padding=0):
    """Sum over each kernel window, padding counting as zeros (glassnet's own; equals
    avg_pool2d(input, ...) * kH * kW with count_include_pad).  (N, C, H, W) -> (N, C, OH, OW)."""
    return _avg("sum_pool2d", input, kernel_size, stride, padding, False, True, 1, 2)


def _adaptive_out(name, input, output_size):
    x, unbatched = _batched(name, input, 2)
    sizes = _tuple(output_size, 2, "output_size") if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    out = tuple(int(n) if o is None else int(o) for o, n in zip(sizes, x.shape[-2:]))
    if any(o <= 0 for o in out) or any(n <= 0 for n in x.shape[-2:]):
        raise ShapeError(f"{name}: expected a positive output_size and a non-empty input, got output_size "
                         f"{out} for input of shape {tuple(input.shape)}")
    return x, unbatched, out


def adaptive_avg_pool2d(input, output_size):
    """Mean over torch's adaptive windows (rows floor(i*H/OH) .. ceil((i+1)*H/OH), columns
    likewise), so the output is (N, C, OH, OW) whatever H and W are. None keeps that size."""
    x, unbatched, out = _adaptive_out("adaptive_avg_pool2d", input, output_size)
    return _restore("adaptive_avg_pool2d", P.AdaptiveAvgPool2d.apply(x, out=out), unbatched, 2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows; (N, C, H, W) -> (N, C, OH, OW) [, int64 flat indices]."""
    x, unbatched, out = _adaptive_out("adaptive_max_pool2d", input, output_size)
    result = P.AdaptiveMaxPool2d.apply(x, out=out, return_indices=return_indices)
    if return_indices:
        return tuple(_restore("adaptive_max_pool2d", r, unbatched, 2) for r in result)
    return _restore("adaptive_max_pool2d", result, unbatched, 2)
