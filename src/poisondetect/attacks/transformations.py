"""Test-time spatial transformations that move a trigger away from where the model expects it.

A sticker backdoor is learned at the positions seen in training; flipping,
rescaling or shifting a triggered test image moves the sticker, and the attack
success rate drops. The same transformations also change clean images
(a mirrored "50" is no longer a 50 km/h sign), so the clean accuracy under the
transformation must be reported beside it.

All functions map uint8 images (N, 32, 32, 3) to uint8 images of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


def flip_horizontal(images: np.ndarray) -> np.ndarray:
    """Mirror left-right: :math:`x'_{i,j} = x_{i, W-1-j}`."""
    return np.ascontiguousarray(images[:, :, ::-1])


def shift_images(images: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """Translate by ``dx`` columns (right positive) and ``dy`` rows (down positive), repeating the edge pixels."""
    n, h, w, _ = images.shape
    pad = max(abs(dx), abs(dy))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    return np.ascontiguousarray(padded[:, pad - dy:pad - dy + h, pad - dx:pad - dx + w])


def zoom_images(images: np.ndarray, factor: float) -> np.ndarray:
    """Zoom about the centre by ``factor`` (> 1 enlarges and crops, < 1 shrinks with edge padding), bilinear."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    theta = torch.tensor([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]]).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


#: Named transformations used in the attacks chapter.
TEST_TIME_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda images: images,
    "flip": flip_horizontal,
    "shift 2 px": lambda images: shift_images(images, dx=2, dy=2),
    "shift 4 px": lambda images: shift_images(images, dx=4, dy=4),
    "zoom 0.8": lambda images: zoom_images(images, 0.8),
    "zoom 1.2": lambda images: zoom_images(images, 1.2),
}
