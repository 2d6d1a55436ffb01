"""The small convolutional network of the thesis ("Net").

Three 5x5 convolutions (12, 32, 64 channels), each followed by a ReLU and a 2x2
max-pool, then three dense layers 1024 -> 256 -> 128 -> classes. The first
convolution is followed by an InstanceNorm (per-image contrast normalisation,
useful for the strongly varying brightness of traffic-sign frames), the second
by a BatchNorm; the dense layers use BatchNorm and dropout.

Modules are registered in execution order and every non-linearity is its own
``nn.ReLU`` module (never in-place), so forward hooks and zennit canonizers see
the same sequence the forward pass runs. Conv/BatchNorm pairs that a
canonizer may merge: ``(conv2, bn2)``, ``(fc1, bn_fc1)``, ``(fc2, bn_fc2)``.
``norm1`` is an InstanceNorm: its statistics depend on the input, so it cannot
be merged into ``conv1``.
"""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """Small CNN for 32x32 RGB inputs; returns logits of shape (N, n_classes).

    Attributes
    ----------
    penultimate : str
        Name of the module whose output is the 128-dimensional penultimate
        representation (after ReLU, before dropout): ``"relu_fc2"``.
    """

    penultimate = "relu_fc2"

    def __init__(self, n_classes: int = 43, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 12, kernel_size=5, padding=2)
        self.norm1 = nn.InstanceNorm2d(12, affine=True)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 32 -> 16
        self.conv2 = nn.Conv2d(12, 32, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 16 -> 8
        self.conv3 = nn.Conv2d(32, 64, kernel_size=5, padding=2)
        self.relu3 = nn.ReLU()
        self.pool3 = nn.MaxPool2d(2)  # 8 -> 4
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * 4 * 4, 256)
        self.bn_fc1 = nn.BatchNorm1d(256)
        self.relu_fc1 = nn.ReLU()
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(256, 128)
        self.bn_fc2 = nn.BatchNorm1d(128)
        self.relu_fc2 = nn.ReLU()
        self.drop2 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, 32, 32) -> logits (N, n_classes)."""
        x = self.pool1(self.relu1(self.norm1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.conv3(x)))
        x = self.drop1(self.relu_fc1(self.bn_fc1(self.fc1(self.flatten(x)))))
        x = self.drop2(self.relu_fc2(self.bn_fc2(self.fc2(x))))
        return self.fc3(x)
