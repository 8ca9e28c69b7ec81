"""Convolutions: conv1d and conv2d with torch's arguments.

    out = floor((in + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

``padding`` is an int, a tuple, 'valid' (no padding) or 'same' (output size = input size;
stride 1 only; when the total padding dilation*(k-1) is odd the extra row/column goes to
the bottom/right, as torch does).
"""
from __future__ import annotations

from ...errors import ShapeError
from ...functions.convolution import Conv2d

__all__ = ["conv1d", "conv2d"]


def _tuple(value, n: int, name: str):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1 and n > 1:
        value = value * n
    if len(value) != n:
        raise ValueError(f"expected {name} to be an int or a {n}-tuple, got {value!r}")
    return value


def conv_padding(padding, kernel, stride, dilation):
    """Per-axis (lo, hi) zero padding for an int / tuple / 'same' / 'valid' ``padding``."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in totals]
        raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    pads = _tuple(padding, n, "padding")
    if any(p < 0 for p in pads):
        raise ValueError(f"negative padding is not supported, got padding={padding!r}")
    return [(p, p) for p in pads]


def _check(name, input, weight, bias, groups, spatial):
    ndim = spatial + 2
    dims = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
    if input.ndim not in (ndim - 1, ndim):
        raise ShapeError(f"{name}: expected a {ndim}-d input {dims} or a {ndim - 1}-d unbatched one, "
                         f"got a {input.ndim}-d input of shape {tuple(input.shape)}")
    if weight.ndim != ndim:
        raise ShapeError(f"{name}: expected a {ndim}-d weight (out_channels, in_channels/groups, kernel...), "
                         f"got shape {tuple(weight.shape)}")
    if groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{name}: out_channels ({weight.shape[0]}) must be divisible by groups ({groups})")
    channels = input.shape[-spatial - 1]
    if channels != weight.shape[1] and groups == 1:
        raise ShapeError(f"{name}: expected input with {weight.shape[1]} channels, got {channels} channels "
                         f"(input of shape {tuple(input.shape)}, weight of shape {tuple(weight.shape)})")
    if channels != weight.shape[1] * groups:
        raise ShapeError(f"{name}: given groups={groups} and weight of shape {tuple(weight.shape)}, expected "
                         f"input of shape {tuple(input.shape)} to have {weight.shape[1] * groups} channels, "
                         f"but got {channels} channels instead")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"{name}: expected bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(f"{name}: input ({input.dtype}), weight ({weight.dtype})"
                        f"{'' if bias is None else f' and bias ({bias.dtype})'} must have the same dtype")


def _out_sizes(name, size, kernel, stride, pads, dilation):
    outs = [(n + lo + hi - d * (k - 1) - 1) // s + 1
            for n, k, s, (lo, hi), d in zip(size, kernel, stride, pads, dilation)]
    if any(o <= 0 for o in outs):
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, pads))
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ShapeError(f"{name}: computed output size {tuple(outs)} is too small: input size {tuple(size)} "
                         f"padded to {padded}, but the (dilated) kernel spans {eff}; the kernel can't be "
                         f"greater than the padded input")
    return outs


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-d cross-correlation.

    input (N, C_in, H, W) or (C_in, H, W)   weight (C_out, C_in/groups, kH, kW)   bias (C_out,)
    ->  (N, C_out, H_out, W_out) (or unbatched), H_out = floor((H + 2p - d(kH-1) - 1)/s) + 1.
    """
    _check("conv2d", input, weight, bias, groups, 2)
    kernel = tuple(weight.shape[2:])
    stride, dilation = _tuple(stride, 2, "stride"), _tuple(dilation, 2, "dilation")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"conv2d: stride and dilation must be positive, got stride={stride}, dilation={dilation}")
    pads = conv_padding(padding, kernel, stride, dilation)
    _out_sizes("conv2d", input.shape[-2:], kernel, stride, pads, dilation)
    unbatched = input.ndim == 3
    x = input.reshape((1,) + tuple(input.shape)) if unbatched else input
    y = Conv2d.apply(x, weight, bias, stride=stride, padding=pads[0] + pads[1], dilation=dilation, groups=groups)
    return y.reshape(y.shape[1:]) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-d cross-correlation.

    input (N, C_in, L) or (C_in, L)   weight (C_out, C_in/groups, k)   bias (C_out,)
    ->  (N, C_out, L_out) (or unbatched), L_out = floor((L + 2p - d(k-1) - 1)/s) + 1.
    Computed as conv2d with a height of 1.
    """
    _check("conv1d", input, weight, bias, groups, 1)
    kernel = tuple(weight.shape[2:])
    stride, dilation = _tuple(stride, 1, "stride"), _tuple(dilation, 1, "dilation")
    if stride[0] < 1 or dilation[0] < 1:
        raise ValueError(f"conv1d: stride and dilation must be positive, got stride={stride}, dilation={dilation}")
    pads = conv_padding(padding, kernel, stride, dilation)
    _out_sizes("conv1d", input.shape[-1:], kernel, stride, pads, dilation)
    unbatched = input.ndim == 2
    x = input.reshape((1,) + tuple(input.shape)) if unbatched else input
    x = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])
    w = weight.reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
    y = Conv2d.apply(x, w, bias, stride=(1,) + stride, padding=(0, 0) + pads[0], dilation=(1,) + dilation,
                     groups=groups)
    y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.reshape(y.shape[1:]) if unbatched else y
