"""Operations on 2-D maps (heatmaps, histograms on the pixel grid) shared by explanations and transport."""

from __future__ import annotations

import numpy as np


def sum_pool(h: np.ndarray, factor: int) -> np.ndarray:
    r"""Sum-pool the last two axes of ``h`` (..., H, W) over non-overlapping ``factor`` x ``factor`` blocks.

    .. math:: P_{ab} = \sum_{i,j < f} h_{fa+i,\,fb+j}

    Sum (not mean) pooling keeps the total relevance, as in the coarse maps of
    spectral relevance analysis :cite:`lapuschkin2019`. ``H`` and ``W`` must be
    multiples of ``factor``; integer input becomes float64. Shape
    (..., H / factor, W / factor); ``factor=1`` returns the input unchanged.
    """
    h = np.asarray(h)
    if h.ndim < 2:
        raise ValueError(f"h must have at least 2 dimensions (..., H, W), got shape {h.shape}")
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"pool factor must be a positive integer, got {factor!r}")
    if not np.issubdtype(h.dtype, np.floating):
        h = h.astype(np.float64)
    if factor == 1:
        return h
    height, width = h.shape[-2:]
    if height % factor or width % factor:
        raise ValueError(f"pool factor {factor} must divide the map size {height}x{width}")
    blocks = h.reshape(*h.shape[:-2], height // factor, factor, width // factor, factor)
    return blocks.sum(axis=(-3, -1))
