"""Relevance-like maps made from images: stand-ins for LRP heatmaps in benchmarks.

The transport and detection benchmarks (``benchmarks/bench_transport.py``,
``benchmarks/bench_detection.py``) time the GW engine on many heatmap-like maps
without training a model first. :func:`edge_relevance` makes one from an image by
a fixed image transform, the smoothed gradient magnitude of its grey values: it
is large on edges, strokes and a stamped sticker, so its spaces have the size and
spread of real ones. It is NOT an explanation of any model; the chapters use
real LRP heatmaps from :mod:`poisondetect.explain`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["edge_relevance"]


def edge_relevance(images, sigma: float = 0.7) -> np.ndarray:
    """Smoothed gradient magnitude of grey images, scaled so each map sums to one.

    .. math::

        h = \\frac{\\lVert \\nabla (G_\\sigma * y) \\rVert_2}{\\sum \\lVert \\nabla (G_\\sigma * y) \\rVert_2},
        \\qquad y = \\text{mean over RGB} / 255,

    with Sobel derivatives and a Gaussian :math:`G_\\sigma` (``sigma`` in pixels).

    Parameters
    ----------
    images : ndarray, shape (N, H, W, 3) uint8 or (H, W, 3)
    sigma : float
        Smoothing before the derivatives (0: none).

    Returns
    -------
    ndarray, shape (N, H, W) (or (H, W)), non-negative float64
    """
    images = np.asarray(images)
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, H, W, 3) or (H, W, 3), got {images.shape}")
    grey = images.astype(float).mean(-1) / 255.0
    if sigma > 0:
        grey = ndimage.gaussian_filter(grey, sigma=(0, sigma, sigma))
    gx = ndimage.sobel(grey, axis=2)
    gy = ndimage.sobel(grey, axis=1)
    h = np.hypot(gx, gy)
    total = h.sum(axis=(1, 2), keepdims=True)
    h = np.divide(h, total, out=np.zeros_like(h), where=total > 0)
    return h[0] if single else h
