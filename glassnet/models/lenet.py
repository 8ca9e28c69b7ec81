"""LeNet-5 (LeCun et al., 1998) for 28x28 digits, in its common modern form."""
from __future__ import annotations

from .. import nn


class LeNet5(nn.Module):
    r"""LeNet-5 with ReLU and max-pooling: the modernisation of the 1998 network.

    The original used scaled tanh activations, trainable average-pooling ("subsampling")
    layers, a partially connected C3 and an RBF output layer; this version keeps its
    layout and sizes (6 and 16 5x5 feature maps, 120-84-10 dense layers) with ReLU,
    max-pooling, full connections and a plain Linear output giving logits.

        features:   (N, 1, 28, 28)
            Conv2d(1, 6, 5, padding=2)  ReLU  MaxPool2d(2)   -> (N, 6, 14, 14)
            Conv2d(6, 16, 5)            ReLU  MaxPool2d(2)   -> (N, 16, 5, 5)
        classifier:
            Flatten                                          -> (N, 400)
            Linear(400, 120)  ReLU  Linear(120, 84)  ReLU    -> (N, 84)
            Linear(84, num_classes)                          -> (N, num_classes)

    The padding of 2 on the first convolution stands in for the original's 32x32 input.
    Parameters: 61,706 for 10 classes.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10) -> LeNet5:
    """LeNet-5 (ReLU / max-pool form) for (N, 1, 28, 28) input; output (N, num_classes) logits."""
    return LeNet5(num_classes)
