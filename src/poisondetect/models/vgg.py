"""VGG16 :cite:`simonyan2015` adapted to 32x32 inputs.

The convolutional part is torchvision's VGG16 configuration "D" with
BatchNorm after every convolution (``vgg16_bn``); five 2x2 max-pools reduce
32x32 to 1x1, so the classifier head takes the 512 channels directly
(512 -> 512 -> 512 -> classes with ReLU and dropout) instead of torchvision's
7x7 average pool and 4096-wide layers. torchvision builds its ReLUs in-place;
they are replaced by plain ``nn.ReLU()`` so backward hooks (zennit) work.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from .head import dense_head


class VGG16(nn.Module):
    """VGG16 with BatchNorm for 32x32 RGB inputs; returns logits (N, n_classes).

    ``features`` is a ``nn.Sequential`` of Conv2d, BatchNorm2d, ReLU (and
    MaxPool2d) in this order, so each conv is directly followed by its BatchNorm.

    Attributes
    ----------
    penultimate : str
        ``"classifier.relu2"``: the 512-dimensional representation after ReLU, before dropout.
    """

    penultimate = "classifier.relu2"

    def __init__(self, n_classes: int = 43, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = make_layers(cfgs["D"], batch_norm=True)
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.ReLU):
                self.features[index] = nn.ReLU()
        self.classifier = dense_head(512, 512, 512, n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, 32, 32) -> logits (N, n_classes)."""
        return self.classifier(self.features(x))
