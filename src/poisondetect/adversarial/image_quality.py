"""Structural similarity (SSIM) of images :cite:`wang2004ssim`, the visual-quality measure of the MinMax chapter.

With Gaussian-weighted local means :math:`\\mu`, variances :math:`\\sigma^2` and
covariance :math:`\\sigma_{xy}` (window 11, :math:`\\sigma = 1.5`), and
:math:`C_1 = (0.01 L)^2`, :math:`C_2 = (0.03 L)^2` for the data range :math:`L = 1`:

.. math::  \\operatorname{SSIM}(x, y) = \\operatorname{mean}\\,
           \\frac{(2\\mu_x\\mu_y + C_1)(2\\sigma_{xy} + C_2)}{(\\mu_x^2 + \\mu_y^2 + C_1)(\\sigma_x^2 + \\sigma_y^2 + C_2)},

averaged over pixels and channels (valid windows only).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import pixels


def _window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 2-D Gaussian window (1, 1, size, size)."""
    g = torch.exp(-((torch.arange(size, dtype=torch.float32) - (size - 1) / 2) ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(images: np.ndarray | torch.Tensor, others: np.ndarray | torch.Tensor) -> np.ndarray:
    """SSIM (N,) of each pair of images (N, C, H, W) in [0, 1] (H, W >= 11); 1 for identical images."""
    x, y = pixels(images), pixels(others)
    if x.shape != y.shape:
        raise ValueError(f"images {tuple(x.shape)} and others {tuple(y.shape)} must have the same shape")
    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {tuple(x.shape[-2:])}")
    n, c = x.shape[:2]
    window = _window()
    x, y = x.reshape(n * c, 1, *x.shape[-2:]), y.reshape(n * c, 1, *y.shape[-2:])
    mu_x, mu_y = F.conv2d(x, window), F.conv2d(y, window)
    var_x = F.conv2d(x * x, window) - mu_x ** 2
    var_y = F.conv2d(y * y, window) - mu_y ** 2
    cov = F.conv2d(x * y, window) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    index = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return index.reshape(n, -1).mean(1).numpy()
