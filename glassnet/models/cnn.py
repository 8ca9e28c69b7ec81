"""A small convolutional network for the 8x8 handwritten digits (``gn.data.load_digits``)."""
from __future__ import annotations

from .. import nn


class DigitsCNN(nn.Module):
    r"""Two 3x3 convolutions with batch norm, one 2x2 max-pool, and a two-layer classifier.

        features:   (N, 1, 8, 8)
            Conv2d(1, 32, 3, padding=1)  BatchNorm2d(32)  ReLU      -> (N, 32, 8, 8)
            Conv2d(32, 64, 3, padding=1) BatchNorm2d(64)  ReLU      -> (N, 64, 8, 8)
            MaxPool2d(2)                                            -> (N, 64, 4, 4)
        classifier:
            Dropout(0.25)  Flatten                                  -> (N, 1024)
            Linear(1024, 128)  ReLU  Dropout(0.5)                   -> (N, 128)
            Linear(128, num_classes)                                -> (N, num_classes) logits

    The convolutions have no bias: the batch norm right after would cancel it (it subtracts
    the channel mean), and its own beta plays that role. Flat (N, 64) rows, as
    ``load_digits`` returns them, are reshaped to (N, 1, 8, 8) first.
    """

    def __init__(self, num_classes: int = 10, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Flatten(),
            nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(2 * dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        if x.ndim == 2:                     # (N, 64) pixel rows -> (N, 1, 8, 8) images
            x = x.reshape(x.shape[0], 1, 8, 8)
        return self.classifier(self.features(x))


def digits_cnn(num_classes: int = 10) -> DigitsCNN:
    """The small CNN for 8x8 digits: input (N, 1, 8, 8) or (N, 64), output (N, num_classes) logits."""
    return DigitsCNN(num_classes)
