"""Pooling layers: torch's max / average / adaptive pools and glassnet's min, sum and global pools.

Output size along each axis (ceil instead of floor with ceil_mode=True):

    out = floor((in + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
"""
from __future__ import annotations

from .. import functional as F
from ..module import Module
from .arguments import count, pool_window

__all__ = ["MaxPool1d", "MaxPool2d", "MinPool2d", "AvgPool1d", "AvgPool2d", "SumPool2d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d"]


class _Pool(Module):
    """Pooling layers take floating-point Tensors (Module.__call__ checks, and names the layer in
    errors that the functional forms raise)."""

    _input_rule = "float"


class _MaxPoolNd(_Pool):
    _fn = None
    _spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        pool_window(type(self).__name__, self._spatial, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    r"""Max over each kH x kW window of every channel.

    Args:
        kernel_size: int or (kH, kW).
        stride: Default: kernel_size.
        padding: implicit -inf padding on both sides, at most half the (dilated) kernel. Default: 0.
        dilation: spacing between window taps. Default: 1.
        return_indices: also return the flat index h*W + w of each maximum. Default: False.
        ceil_mode: round the output size up (a last window must start inside the input or the
            left padding). Default: False.

    Shape:
        (N, C, H, W) or (C, H, W)  ->  (N, C, H_out, W_out) or (C, H_out, W_out)
        H_out = floor((H + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1
    """

    _fn = staticmethod(F.max_pool2d)


class MaxPool1d(_MaxPoolNd):
    r"""Max over each window of length kernel_size.  (N, C, L) or (C, L) -> (N, C, L_out).

    Arguments as MaxPool2d, with ints. L_out = floor((L + 2p - d(k-1) - 1)/s) + 1.
    """

    _fn = staticmethod(F.max_pool1d)
    _spatial = 1


class MinPool2d(_MaxPoolNd):
    r"""Min over each kH x kW window (glassnet's own; equals -MaxPool2d(-x)).

    Arguments, shapes and output size as MaxPool2d; padding acts as +inf (never the minimum).
    The gradient goes to the first minimum of each window (row-major order).
    """

    _fn = staticmethod(F.min_pool2d)


class AvgPool2d(_Pool):
    r"""Mean over each kH x kW window.

    Args:
        kernel_size: int or (kH, kW).
        stride: Default: kernel_size.
        padding: implicit zero padding, at most half the kernel. Default: 0.
        ceil_mode: round the output size up. Default: False.
        count_include_pad: divide by the window size including padded zeros. Default: True.
        divisor_override: divide by this number instead. Default: None.

    Shape:
        (N, C, H, W) or (C, H, W)  ->  (N, C, H_out, W_out), H_out = floor((H + 2p - k)/s) + 1
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        pool_window("AvgPool2d", 2, kernel_size, stride, padding)
        if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a non-zero number or None, got {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_Pool):
    r"""Mean over each window of length kernel_size.  (N, C, L) or (C, L) -> (N, C, L_out).

    Arguments as AvgPool2d (no divisor_override); L_out = floor((L + 2p - k)/s) + 1.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        pool_window("AvgPool1d", 1, kernel_size, stride, padding)
        # torch stores 1-tuples here (and shows them in the repr)
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _adaptive_size(layer: str, output_size):
    """Checked and returned as given: an int, or a pair whose entries are ints or None (keep that size)."""
    for size in output_size if isinstance(output_size, (tuple, list)) else (output_size,):
        if size is not None:
            count(layer, "output_size", size)
    return output_size


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class SumPool2d(_Pool):
    r"""Sum over each kH x kW window (glassnet's own; equals AvgPool2d(...)(x) * kH * kW with
    count_include_pad=True), padding counting as zeros.

    Args: kernel_size, stride (Default: kernel_size), padding (Default: 0).
    Shape: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - k)/s) + 1
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        pool_window("SumPool2d", 2, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input):
        return F.sum_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool):
    r"""Mean over windows chosen so that the output is output_size for any input size.

    Window i along H spans rows floor(i*H/H_out) .. ceil((i+1)*H/H_out) - 1 (likewise W), so
    windows may overlap when H is not a multiple of H_out.

    Args:
        output_size: int or (H_out, W_out); None keeps that input size.
    Shape: (N, C, H, W) or (C, H, W)  ->  (N, C, H_out, W_out) or (C, H_out, W_out)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _adaptive_size("AdaptiveAvgPool2d", output_size)

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_Pool):
    r"""Max over the adaptive windows of AdaptiveAvgPool2d.

    Args:
        output_size: int or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat index h*W + w of each maximum. Default: False.
    Shape: (N, C, H, W) or (C, H, W)  ->  (N, C, H_out, W_out) or (C, H_out, W_out)
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = _adaptive_size("AdaptiveMaxPool2d", output_size), return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(_Pool):
    r"""The mean of each channel over all positions: y[n, c, 0, 0] = mean_{h,w} x[n, c, h, w].

    Same as AdaptiveAvgPool2d(1) (keeps the 1 x 1 spatial dims; follow with Flatten for (N, C)).
    Shape: (N, C, H, W) -> (N, C, 1, 1)
    """

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, 1)


class GlobalMaxPool2d(_Pool):
    r"""The maximum of each channel over all positions: y[n, c, 0, 0] = max_{h,w} x[n, c, h, w].

    Same as AdaptiveMaxPool2d(1) (keeps the 1 x 1 spatial dims); the gradient goes to the first
    maximum in row-major order.
    Shape: (N, C, H, W) -> (N, C, 1, 1)
    """

    def forward(self, input):
        return F.adaptive_max_pool2d(input, 1)
