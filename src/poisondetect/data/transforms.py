"""Conversion of uint8 HWC images to normalised float tensors and back.

One fixed normalisation for every data set (the per-channel mean and standard
deviation of the GTSRB training set), so that models, attacks and LRP input
bounds agree: :math:`x = (u / 255 - \\mu) / \\sigma`.
"""

from __future__ import annotations

import numpy as np
import torch

MEAN = (0.3403, 0.3121, 0.3214)
STD = (0.2724, 0.2608, 0.2669)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> normalised float32 tensor (N, 3, 32, 32)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    return normalize(x)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1], (N, 3, H, W) -> normalised."""
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Normalised (N, 3, H, W) -> images in [0, 1]."""
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x * std + mean


def input_bounds(shape: tuple[int, ...] = (1, 3, 32, 32)) -> tuple[torch.Tensor, torch.Tensor]:
    """Lowest and highest normalised pixel values (images 0 and 1), for LRP's ZBox rule."""
    return normalize(torch.zeros(shape)), normalize(torch.ones(shape))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Normalised (N, 3, H, W) -> uint8 (N, H, W, 3), rounding and clipping to [0, 255]."""
    images = denormalize(x.detach().cpu()).clamp(0, 1).mul(255).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).numpy()
