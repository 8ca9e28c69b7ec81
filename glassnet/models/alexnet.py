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
    ``classifier.1.weight``, ...).

    ``form="torchvision"`` builds torchvision's AlexNet instead, the later one-GPU variant
    ("One weird trick", Krizhevsky 2014): 64-192-384-256-256 maps, conv1 Conv2d(3, 64, 11,
    stride=4, padding=2); 61,100,840 parameters for a (N, 3, 224, 224) input. Its weights
    load into ``alexnet_torchvision()`` by name.
    """

    # (out_channels, kernel, stride, padding) of conv1..conv5 in each form
    FORMS = {
        "notes": [(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)],
        "torchvision": [(64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)],
    }

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, form: str = "notes"):
        super().__init__()
        if form not in self.FORMS:
            raise ValueError(f"AlexNet: form must be one of {sorted(self.FORMS)}, got {form!r}")
        layers, channels = [], 3
        for i, (out, kernel, stride, padding) in enumerate(self.FORMS[form]):
            layers += [nn.Conv2d(channels, out, kernel_size=kernel, stride=stride, padding=padding),
                       nn.ReLU(inplace=True)]
            if i in (0, 1, 4):   # a 3x3 stride-2 max-pool after conv1, conv2 and conv5
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
            channels = out
        self.features = nn.Sequential(*layers)
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


def alexnet_torchvision(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """torchvision's AlexNet (64-192-384-256-256 maps) on its keys: 61,100,840 parameters
    with 1000 classes; ``model.load_state_dict(gn.load_torch("alexnet.pth"))`` loads its weights."""
    return AlexNet(num_classes, dropout, form="torchvision")
