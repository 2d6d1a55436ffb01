"""Randomised resize-and-pad :cite:`xie2018mitigating`: a random input transformation at test time.

Each image is resized to a random side :math:`r \\sim U\\{r_{\\min}, \\dots, H\\}` (bilinear)
and pasted at a random offset into an :math:`H \\times W` canvas of zeros. The
original defence enlarges 299 to at most 331 pixels; the networks here take a
fixed 32 x 32 input, so the image shrinks instead and the padding restores the size.
A perturbation tuned to exact pixel positions loses part of its effect.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import check_positive_int, pixels


def resize_and_pad(images: np.ndarray | torch.Tensor, min_size: int = 26, seed: int = 0) -> torch.Tensor:
    """Randomly shrink each image to ``min_size``..H pixels and pad it back at a random offset.

    Parameters
    ----------
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]; square images
    min_size : int
        Smallest side of the resized image (<= H).
    seed : int

    Returns
    -------
    Tensor (N, C, H, W) in [0, 1]
    """
    x = pixels(images)
    n, c, h, w = x.shape
    min_size = check_positive_int(min_size, "min_size")
    if h != w or min_size > h:
        raise ValueError(f"resize_and_pad needs square images with min_size <= side, got {h}x{w} and min_size {min_size}")
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.randint(min_size, h + 1, (n,), generator=generator)
    out = torch.zeros_like(x)
    for size in sizes.unique().tolist():
        idx = torch.nonzero(sizes == size).flatten()
        small = F.interpolate(x[idx], size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        offsets = torch.randint(0, h - size + 1, (len(idx), 2), generator=generator)
        for j, (top, left) in enumerate(offsets.tolist()):
            out[idx[j], :, top:top + size, left:left + size] = small[j]
    return out.clamp(0, 1)
