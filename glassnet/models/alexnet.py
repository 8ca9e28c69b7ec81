"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) in its single-tower form."""
from __future__ import annotations

from .. import nn


class AlexNet(nn.Module):
    r"""AlexNet as the course notes draw it: one tower, 96-256-384-384-256 feature maps.

    The 2012 network split its layers over two GPUs (48 + 48 maps in conv1, ...); the
    single-tower form joins each pair into one layer. For a (N, 3, 227, 227) input:

        layer   operation                                  output           parameters
        conv1   Conv2d(3, 96, 11, stride=4)  ReLU          (N, 96, 55, 55)      34,944
                MaxPool2d(3, stride=2)                     (N, 96, 27, 27)
        conv2   Conv2d(96, 256, 5, padding=2)  ReLU        (N, 256, 27, 27)    614,656
                MaxPool2d(3, stride=2)                     (N, 256, 13, 13)
        conv3   Conv2d(256, 384, 3, padding=1)  ReLU       (N, 384, 13, 13)    885,120
        conv4   Conv2d(384, 384, 3, padding=1)  ReLU       (N, 384, 13, 13)  1,327,488
        conv5   Conv2d(384, 256, 3, padding=1)  ReLU       (N, 256, 13, 13)    884,992
                MaxPool2d(3, stride=2)                     (N, 256, 6, 6)
                AdaptiveAvgPool2d((6, 6)), flatten         (N, 9216)
        fc1     Dropout  Linear(9216, 4096)  ReLU          (N, 4096)        37,752,832
        fc2     Dropout  Linear(4096, 4096)  ReLU          (N, 4096)        16,781,312
        fc3     Linear(4096, num_classes)                  (N, 1000)         4,097,000
                                                                    total   62,378,344

    (conv output side = (in + 2 padding - kernel) / stride + 1, e.g. (227 - 11) / 4 + 1 = 55.)
    The adaptive pool is the identity at 227x227 and lets other input sizes reach the
    classifier. Attribute names and indices follow torchvision (``features.0.weight``,
    ``classifier.1.weight``, ...); torchvision's own AlexNet is the later 64-192-384-256-256
    variant, so its weights have other shapes and do not load here.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000) -> AlexNet:
    """Single-tower AlexNet for (N, 3, 227, 227) input; 62,378,344 parameters with 1000 classes."""
    return AlexNet(num_classes)
