"""The simplified Inception v3 of the thesis results.

No stem: one InceptionA block :cite:`szegedy2016` runs directly on the
32x32 input and yields 256 channels, followed by four 2x2 max-pools with a
Conv(256 -> 256, kernel 2) + BatchNorm + ReLU between consecutive pools, and a
dense head 256 -> 256 -> 128 -> classes with ReLU and dropout 0.5.

Spatial sizes: 32 -(pool)-> 16 -(conv)-> 15 -(pool)-> 7 -(conv)-> 6 -(pool)-> 3
-(conv)-> 2 -(pool)-> 1, so the flattened feature has 256 entries.

Every convolution is a :class:`BasicConv` (``conv`` without bias, ``bn``,
``relu``), registered in this order, so zennit's ``SequentialMergeBatchNorm``
merges each ``(conv, bn)`` pair. The InceptionA branches are concatenated with
``torch.cat`` along the channel axis.
"""

from __future__ import annotations

import torch
from torch import nn

from .head import dense_head


class BasicConv(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU, children named ``conv``, ``bn``, ``relu``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()


class InceptionA(nn.Module):
    """Four parallel branches on the same input, concatenated to 64 + 64 + 96 + 32 = 256 channels.

    - ``branch1x1``: 1x1 -> 64
    - ``branch5x5``: 1x1 -> 48, 5x5 -> 64
    - ``branch3x3dbl``: 1x1 -> 64, 3x3 -> 96, 3x3 -> 96
    - ``branch_pool``: 3x3 max-pool (stride 1), 1x1 -> 32
    """

    out_channels = 256

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.branch1x1 = BasicConv(in_channels, 64, 1)
        self.branch5x5 = nn.Sequential(BasicConv(in_channels, 48, 1), BasicConv(48, 64, 5, padding=2))
        self.branch3x3dbl = nn.Sequential(
            BasicConv(in_channels, 64, 1), BasicConv(64, 96, 3, padding=1), BasicConv(96, 96, 3, padding=1)
        )
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), BasicConv(in_channels, 32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, 256, H, W)."""
        return torch.cat([self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x), self.branch_pool(x)], dim=1)


class SimplifiedInception(nn.Module):
    """Simplified Inception v3 for 32x32 RGB inputs; returns logits (N, n_classes).

    Attributes
    ----------
    penultimate : str
        ``"head.relu2"``: the 128-dimensional representation after ReLU, before dropout.
    """

    penultimate = "head.relu2"

    def __init__(self, n_classes: int = 43, dropout: float = 0.5) -> None:
        super().__init__()
        self.inception = InceptionA(3)
        self.reduce = nn.Sequential()
        self.reduce.add_module("pool1", nn.MaxPool2d(2))
        for i in (1, 2, 3):
            self.reduce.add_module(f"conv{i}", BasicConv(256, 256, 2))
            self.reduce.add_module(f"pool{i + 1}", nn.MaxPool2d(2))
        self.head = dense_head(256, 256, 128, n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, 32, 32) -> logits (N, n_classes)."""
        return self.head(self.reduce(self.inception(x)))
