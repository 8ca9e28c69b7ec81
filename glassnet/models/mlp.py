"""The multilayer perceptron: Linear layers with a nonlinearity between them."""
from __future__ import annotations

from .. import nn


def mlp(in_features: int = 64, hidden=(128, 64), num_classes: int = 10, activation=nn.ReLU,
        dropout: float = 0.0) -> nn.Sequential:
    """A feed-forward classifier: in -> hidden[0] -> ... -> num_classes (logits).

    Each hidden layer is Linear -> activation (-> Dropout if ``dropout`` > 0).
    """
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
