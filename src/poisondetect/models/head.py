"""The dense classifier head shared by the simplified Inception v3 and VGG16."""

from __future__ import annotations

from torch import nn


def dense_head(in_features: int, fc1: int, fc2: int, n_classes: int, dropout: float) -> nn.Sequential:
    """flatten -> fc1 -> relu1 -> drop1 -> fc2 -> relu2 -> drop2 -> fc3 (logits).

    Separate, non-inplace ReLU modules keep zennit's hooks working; ``relu2`` is the
    penultimate layer that activation-based detectors read.
    """
    head = nn.Sequential()
    head.add_module("flatten", nn.Flatten())
    head.add_module("fc1", nn.Linear(in_features, fc1))
    head.add_module("relu1", nn.ReLU())
    head.add_module("drop1", nn.Dropout(dropout))
    head.add_module("fc2", nn.Linear(fc1, fc2))
    head.add_module("relu2", nn.ReLU())
    head.add_module("drop2", nn.Dropout(dropout))
    head.add_module("fc3", nn.Linear(fc2, n_classes))
    return head
