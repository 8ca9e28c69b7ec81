"""Convolution layers: Conv1d and Conv2d."""
from __future__ import annotations

import math
from ...backend import get_default_dtype, xp
from .. import functional as F
from .. import init
from ..functional.conv import conv_padding
from ..module import Module
from ..parameter import Parameter
from .arguments import count, sizes

__all__ = ["Conv1d", "Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _spatial = 2
    _input_rule = "float"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        n, layer = self._spatial, type(self).__name__
        # what torch refuses, here at construction (torch builds some of these and fails on the first
        # batch); in_channels=0 builds and runs in torch, so it does here
        in_channels = count(layer, "in_channels", in_channels)
        out_channels = count(layer, "out_channels", out_channels, minimum=1)
        groups = count(layer, "groups", groups, minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = sizes(layer, "kernel_size", kernel_size, n, 1)
        self.stride, self.dilation = sizes(layer, "stride", stride, n, 1), sizes(layer, "dilation", dilation, n, 1)
        self.padding = padding if isinstance(padding, str) else sizes(layer, "padding", padding, n, 0)
        self.padding_mode = padding_mode
        # validates 'same' / 'valid' (and rejects 'same' with a stride) as torch does at construction
        pads = conv_padding(self.padding, self.kernel_size, self.stride, self.dilation)
        # F.pad's (left, right, top, bottom) order, for the non-zero padding modes
        self._reversed_padding_repeated_twice = tuple(p for lo_hi in reversed(pads) for p in lo_hi)
        self.output_padding = (0,) * n
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(xp.empty((out_channels, in_channels // groups) + self.kernel_size, dtype))
        if bias:
            self.bias = Parameter(xp.empty(out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups * prod(k),
        # torch's default (see https://github.com/pytorch/pytorch/issues/57109); the bias uses the same bound
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        # F.conv2d / F.conv1d check the shapes; Module.__call__ attaches their errors to this layer
        conv = F.conv2d if self._spatial == 2 else F.conv1d
        if self.padding_mode != "zeros":
            # torch pads explicitly for these modes, then convolves without padding
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        n = self._spatial
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    r"""2-d convolution (cross-correlation) over an (N, C, H, W) batch of images.

        out[n, o] = bias[o] + sum_{c in group(o)} weight[o, c] (*) input[n, c]

    Args:
        in_channels, out_channels: channels of the input and the output.
        kernel_size: int or (kH, kW).
        stride: int or (sH, sW). Default: 1.
        padding: int, (pH, pW), 'valid' (none) or 'same' (output size = input size; stride 1 only;
            an odd total dilation*(k-1) puts the extra row/column at the bottom/right). Default: 0.
        dilation: spacing between kernel taps. Default: 1.
        groups: channels are split into this many independent groups. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W)  ->  output (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        H_out = floor((H + 2*padding[0] - dilation[0]*(kernel_size[0] - 1) - 1) / stride[0]) + 1  (W_out likewise)

    Attributes:
        weight: (C_out, C_in/groups, kH, kW), from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
            fan_in = C_in/groups * kH * kW (torch's kaiming_uniform_(a=sqrt(5))).
        bias: (C_out,), same distribution.
    """

    _spatial = 2


class Conv1d(_ConvNd):
    r"""1-d convolution (cross-correlation) over an (N, C, L) batch of sequences.

    Args: as Conv2d, with ints (or 1-tuples) for kernel_size, stride, padding and dilation.

    Shape:
        input (N, C_in, L) or (C_in, L)  ->  output (N, C_out, L_out) or (C_out, L_out)
        L_out = floor((L + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

    Attributes:
        weight: (C_out, C_in/groups, k), from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/groups * k.
        bias: (C_out,), same distribution.
    """

    _spatial = 1
