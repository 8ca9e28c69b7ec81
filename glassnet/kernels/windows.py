"""Sliding windows over the last two axes, shared by convolution and pooling.

``windows(x, kernel, stride, dilation)`` is a *view* (no copy) of every kernel-sized patch:

    x: (..., H, W)   ->   (..., kh, kw, OH, OW)   with   win[..., i, j, oh, ow] = x[..., oh*sh + i*dh, ow*sw + j*dw]

so ``win[..., i, j, :, :]`` is the strided slice of ``x`` that kernel offset (i, j) sees.
Convolution copies this view once into its im2col matrix; pooling reduces over it.
Because the view can be written through, the adjoint of "read the windows" (col2im,
the scatter-add that every window/pooling backward needs) is ``win[..., i, j, :, :] += g``
for each kernel offset: a loop over kh*kw offsets, never over output pixels.

Output size along one axis (torch's formula):

    out = floor((in + pad_lo + pad_hi - d*(k-1) - 1) / s) + 1
"""
from __future__ import annotations

from ..backend import as_strided, xp


def out_size(size: int, k: int, s: int, d: int = 1, pad_lo: int = 0, pad_hi: int = 0,
             ceil_mode: bool = False) -> int:
    """Number of windows along one axis; ceil_mode keeps a last partial window only when it
    starts inside the input or the left padding (torch's rule)."""
    span = size + pad_lo + pad_hi - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + pad_lo:
            out -= 1
        return out
    return span // s + 1 if span >= 0 else 0


def windows(x, kernel, stride, dilation=(1, 1), out=None):
    """View (..., H, W) as (..., kh, kw, OH, OW); ``out`` = (OH, OW) if already known."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    H, W = x.shape[-2:]
    OH, OW = out if out is not None else ((H - dh * (kh - 1) - 1) // sh + 1, (W - dw * (kw - 1) - 1) // sw + 1)
    *lead, stH, stW = x.strides
    return as_strided(x, x.shape[:-2] + (kh, kw, OH, OW), tuple(lead) + (dh * stH, dw * stW, sh * stH, sw * stW))


def pad2d(x, pads, value=0.0, front=None):
    """x (..., H, W) padded by pads = (top, bottom, left, right) with a constant, as a new array.

    ``front`` optionally reorders the leading axes while copying (e.g. (1, 0) turns
    (N, C, H, W) into (C, N, Hp, Wp)), which saves a separate transpose copy.
    """
    top, bottom, left, right = pads
    if front is not None:
        x = x.transpose(tuple(front) + (x.ndim - 2, x.ndim - 1))
    H, W = x.shape[-2:]
    out = xp.empty(x.shape[:-2] + (H + top + bottom, W + left + right), x.dtype)
    if top or bottom or left or right:
        out.fill(value)  # borders only would be faster for big inputs, but fill is one pass
    out[..., top:top + H, left:left + W] = x
    return out


def crop2d(x, pads):
    """The inverse of pad2d's placement: the interior view of (..., Hp, Wp)."""
    top, bottom, left, right = pads
    Hp, Wp = x.shape[-2:]
    return x[..., top:Hp - bottom, left:Wp - right]
