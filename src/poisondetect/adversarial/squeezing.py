"""Feature squeezing :cite:`xu2018feature`: reduce the input space, as a pre-processor and as a detector.

Squeezers map images in [0, 1] (N, C, H, W) to images of the same shape:

- bit-depth reduction to :math:`b` bits: :math:`s(x) = \\operatorname{round}(x (2^b - 1)) / (2^b - 1)`
  (the identity on 8-bit images at :math:`b = 8`);
- median smoothing over a :math:`k \\times k` window per channel (reflected edges; for even
  :math:`k` the window extends one pixel further down and right, and the lower median is taken).

As a detector, the score of an input is the largest L1 distance between the
model's softmax outputs on the raw and on each squeezed input,

.. math::  \\operatorname{score}(x) = \\max_{s} \\bigl\\| p(x) - p(s(x)) \\bigr\\|_1 ,

and an input is flagged when the score exceeds a threshold set on clean
images for a chosen false-positive rate (5 %).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import transforms
from .base import Preprocess, check_positive_int, logits_of, pixels

Squeezer = Callable[[torch.Tensor], torch.Tensor]


def bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Reduce images in [0, 1] to ``bits`` bits per channel (1 <= bits <= 8)."""
    bits = check_positive_int(bits, "bits")
    if bits > 8:
        raise ValueError(f"bits must lie in 1..8, got {bits}")
    levels = 2 ** bits - 1
    return torch.round(x * levels) / levels


def median_smooth(x: torch.Tensor, size: int) -> torch.Tensor:
    """Median over ``size`` x ``size`` windows of each channel of images (N, C, H, W)."""
    size = check_positive_int(size, "size")
    before, after = (size - 1) // 2, size // 2
    padded = F.pad(x, (before, after, before, after), mode="reflect") if size > 1 else x
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # (N, C, H, W, k, k)
    return windows.reshape(*x.shape, size * size).median(dim=-1).values


#: The squeezers of the chapter's table, by name.
SQUEEZERS: dict[str, Squeezer] = {
    "bit depth 1": lambda x: bit_depth(x, 1),
    "bit depth 4": lambda x: bit_depth(x, 4),
    "median 2x2": lambda x: median_smooth(x, 2),
    "median 3x3": lambda x: median_smooth(x, 3),
}


def squeeze_score(model: nn.Module, images: np.ndarray | torch.Tensor, squeezers: Sequence[Squeezer],
                  preprocess: Preprocess = transforms.normalize) -> np.ndarray:
    """:math:`\\max_s \\|p(x) - p(s(x))\\|_1` of each image (N,)."""
    x = pixels(images)
    raw = logits_of(model, x, preprocess).softmax(1)
    distances = [(raw - logits_of(model, squeeze(x), preprocess).softmax(1)).abs().sum(1) for squeeze in squeezers]
    return torch.stack(distances).amax(0).numpy()


@dataclass(frozen=True)
class SqueezeDetector:
    """A feature-squeezing detector whose threshold gives a chosen false-positive rate on clean images.

    Attributes
    ----------
    squeezers : tuple of callables
    threshold : float
        Flag inputs whose score exceeds it.
    false_positive_rate : float
        The target rate on the clean images the threshold was set on.
    """

    squeezers: tuple[Squeezer, ...]
    threshold: float
    false_positive_rate: float

    @classmethod
    def fit(cls, model: nn.Module, clean: np.ndarray | torch.Tensor, squeezers: Sequence[Squeezer],
            false_positive_rate: float = 0.05, preprocess: Preprocess = transforms.normalize) -> SqueezeDetector:
        """Threshold at the :math:`1 - \\text{rate}` quantile of the clean images' scores."""
        if not 0.0 < false_positive_rate < 1.0:
            raise ValueError(f"false_positive_rate must lie in (0, 1), got {false_positive_rate}")
        if len(squeezers) == 0:
            raise ValueError("squeezers must name at least one squeezer")
        scores = squeeze_score(model, clean, squeezers, preprocess)
        return cls(tuple(squeezers), float(np.quantile(scores, 1 - false_positive_rate)), false_positive_rate)

    def detect(self, model: nn.Module, images: np.ndarray | torch.Tensor, preprocess: Preprocess = transforms.normalize) -> np.ndarray:
        """Boolean (N,): the score exceeds the threshold."""
        return squeeze_score(model, images, self.squeezers, preprocess) > self.threshold
