"""The Carlini-Wagner MNIST architecture :cite:`carlini2017`, trained here and cached, for MNIST and colour signs.

Two 3x3 convolutions with ``width`` filters (32 in the original), a 2x2 max-pool,
two 3x3 convolutions with ``2 * width`` filters, a 2x2 max-pool, then dense layers
200 -> 200 -> classes, all with ReLU; the chapter uses ``width`` = 16 so that
training fits its CPU budget. The model takes pixel images in [0, 1] (no normalisation: attacks use
``preprocess`` = identity), and its first convolution gives the 32 feature maps
that per-sample MINE reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .base import check_positive_int
from .mi_data import PixelSplit


class CarliniWagnerNet(nn.Sequential):
    """Logits (N, n_classes) of pixel images (N, C, S, S) with S = 28 or 32."""

    def __init__(self, in_channels: int, size: int, n_classes: int, width: int = 32) -> None:
        side = ((size - 4) // 2 - 4) // 2
        w = check_positive_int(width, "width")
        super().__init__(
            nn.Conv2d(in_channels, w, 3), nn.ReLU(), nn.Conv2d(w, w, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(2 * w * side * side, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, n_classes),
        )


@dataclass(frozen=True)
class ClassifierConfig:
    """One training run (the cache key, with the data set's name and size and the code of this module).

    A :class:`CarliniWagnerNet` of ``width`` trained by ``epochs`` passes of Adam (learning rate ``lr``)
    over mini-batches of ``batch_size``.
    """

    dataset: str
    n_train: int
    width: int = 16
    epochs: int = 8
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "ClassifierConfig.epochs")
        check_positive_int(self.batch_size, "ClassifierConfig.batch_size")
        if not self.lr > 0:
            raise ValueError(f"ClassifierConfig.lr must be positive, got {self.lr}")


def fit_classifier(split: PixelSplit, config: ClassifierConfig, progress: bool = True) -> CarliniWagnerNet:
    """Train a :class:`CarliniWagnerNet` on ``split``'s training images with cross-entropy; returned in eval mode."""
    torch.manual_seed(config.seed)
    model = CarliniWagnerNet(split.x_train.shape[1], split.x_train.shape[-1], split.n_classes, config.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in tqdm(range(config.epochs), desc=f"train {split.name}", disable=not progress):
        order = torch.randperm(len(split.x_train), generator=generator)
        for s in range(0, len(order), config.batch_size):
            idx = order[s:s + config.batch_size]
            loss = F.cross_entropy(model(split.x_train[idx]), split.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Share of images (N, C, H, W) in [0, 1] classified as ``y``."""
    hits = sum((model(x[s:s + batch_size]).argmax(1) == y[s:s + batch_size]).sum().item() for s in range(0, len(x), batch_size))
    return hits / max(len(x), 1)
