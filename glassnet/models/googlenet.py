"""GoogLeNet (Szegedy et al., 2014), the first Inception network, in torchvision's layout and keys."""
from __future__ import annotations

from collections import namedtuple

from .. import nn
from ..nn import functional as F
from ..tensor import cat

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d(eps=0.001) -> ReLU: every convolution in GoogLeNet."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    r"""Four parallel branches over the same input, joined along the channels:

        branch1   1x1 conv                                   -> ch1x1
        branch2   1x1 conv (reduce to ch3x3red), 3x3 conv    -> ch3x3
        branch3   1x1 conv (reduce to ch5x5red), 3x3 conv    -> ch5x5
        branch4   3x3 max-pool (stride 1), 1x1 conv          -> pool_proj

    (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W). The 1x1
    "reductions" keep the 3x3 convolutions cheap. branch3 is a 5x5 convolution in the paper;
    torchvision's weights were trained with 3x3 there (its issue 906), so glassnet keeps 3x3
    for those weights to load and give the same outputs.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    r"""An auxiliary classifier on an intermediate feature map (used in training only):

        AdaptiveAvgPool2d(4) -> 1x1 conv (128) -> flatten (2048) -> Linear(2048, 1024) ReLU
        -> Dropout(0.7) -> Linear(1024, num_classes)
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    r"""GoogLeNet (Inception v1): a stem, nine Inception blocks, global average pooling, one Linear.

        conv1 7x7/2, maxpool1 3x3/2, conv2 1x1, conv3 3x3, maxpool2    (N, 192, H/8, W/8)
        inception3a, 3b, maxpool3                                       (N, 480, H/16, W/16)
        inception4a [aux1], 4b, 4c, 4d [aux2], 4e, maxpool4             (N, 832, H/32, W/32)
        inception5a, 5b                                                 (N, 1024, H/32, W/32)
        avgpool, flatten, dropout(0.2), fc                              (N, num_classes)

    (sizes for H, W divisible by 32; the pools round up, ``ceil_mode=True``). Keys, shapes and
    behaviour follow torchvision's ``googlenet``: 6,624,904 parameters without the auxiliary
    classifiers, 13,004,888 with them. In training mode with ``aux_logits`` the model returns
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; otherwise the logits alone.

    Args:
        num_classes: output classes. Default: 1000.
        aux_logits: build the two auxiliary classifiers ``aux1``, ``aux2``. Default: True.
        transform_input: rescale an input normalised with ImageNet's mean and std to the
            [-1, 1] range the ported TensorFlow weights expect. Default: False.
        init_weights: truncated normal N(0, 0.01) in [-0.02, 0.02] for convolutions and Linear
            layers, batch norm 1 / 0, as torchvision. Default (None): True.
        dropout, dropout_aux: dropout before ``fc`` and in the auxiliary heads.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights=None, dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights is None or init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def _transform_input(self, x):
        # torchvision's ImageNet normalisation (x - mean) / std, undone and redone as (x' - 0.5) / 0.5:
        # x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5 per channel c
        if not self.transform_input:
            return x
        scale_shift = [(0.229, 0.485), (0.224, 0.456), (0.225, 0.406)]
        return cat([x[:, c:c + 1] * (std / 0.5) + (mean - 0.5) / 0.5
                    for c, (std, mean) in enumerate(scale_shift)], 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux_logits
        aux1 = self.aux1(x) if with_aux and self.aux1 is not None else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux and self.aux2 is not None else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
              init_weights=None, **kwargs) -> GoogLeNet:
    """GoogLeNet on torchvision's keys: 13,004,888 parameters with the auxiliary heads (the
    default), 6,624,904 with ``aux_logits=False``.

    torchvision's ImageNet file keeps the (untrained) auxiliary heads' keys; load it as
    torchvision does, with the heads, then drop them::

        model = gn.models.googlenet(transform_input=True)
        model.load_state_dict(gn.load_torch("googlenet-1378be20.pth"))
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    """
    return GoogLeNet(num_classes, aux_logits, transform_input, init_weights, **kwargs)
