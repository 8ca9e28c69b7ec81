"""VGG (Simonyan and Zisserman, 2014): stacks of 3x3 convolutions, torchvision's layout and keys."""
from __future__ import annotations

from .. import nn

# output channels of each 3x3 convolution, "M" for a 2x2 max-pool (torchvision's configurations A, D, E)
CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def make_features(config, batch_norm: bool = False) -> nn.Sequential:
    """Conv2d(3x3, padding=1) [BatchNorm2d] ReLU for each number, MaxPool2d(2) for each "M".

    A 3x3 convolution with padding 1 keeps the spatial size; each pool halves it.
    """
    layers, channels = [], 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    r"""VGG: ``features`` (convolutions and pools), ``avgpool``, ``classifier`` (three Linear layers).

        features     (N, 3, H, W)  ->  (N, 512, H/32, W/32)      five 2x2 pools
        avgpool      AdaptiveAvgPool2d((7, 7))  ->  (N, 512, 7, 7)   (identity at 224x224)
        classifier   Linear(25088, 4096) ReLU Dropout  Linear(4096, 4096) ReLU Dropout
                     Linear(4096, num_classes)  ->  (N, num_classes)

    Keys follow torchvision (``features.0.weight``, ``classifier.6.bias``), so torchvision's
    weights load by name. Initialisation as torchvision: convolutions He-normal (fan_out),
    zero biases; batch norm 1 / 0; Linear N(0, 0.01), zero biases.
    """

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(name: str, num_classes: int, batch_norm: bool) -> VGG:
    return VGG(make_features(CONFIGS[name], batch_norm), num_classes)


def vgg11(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-11 (configuration A): 8 convolutions; 132,863,336 parameters (132,868,840 with batch norm)."""
    return _vgg("vgg11", num_classes, batch_norm)


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-16 (configuration D): 13 convolutions; 138,357,544 parameters (138,365,992 with batch norm)."""
    return _vgg("vgg16", num_classes, batch_norm)


def vgg19(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-19 (configuration E): 16 convolutions; 143,667,240 parameters (143,678,248 with batch norm)."""
    return _vgg("vgg19", num_classes, batch_norm)


def vgg11_bn(num_classes: int = 1000) -> VGG:
    """VGG-11 with batch norm after each convolution (torchvision's ``vgg11_bn``)."""
    return _vgg("vgg11", num_classes, True)


def vgg16_bn(num_classes: int = 1000) -> VGG:
    """VGG-16 with batch norm after each convolution (torchvision's ``vgg16_bn``)."""
    return _vgg("vgg16", num_classes, True)


def vgg19_bn(num_classes: int = 1000) -> VGG:
    """VGG-19 with batch norm after each convolution (torchvision's ``vgg19_bn``)."""
    return _vgg("vgg19", num_classes, True)
