"""Representations of one class's training samples for the detectors.

- raw pixels (the baseline of thesis Table 3.2),
- activations of the penultimate layer (the input of the last linear layer;
  the original thesis code used the logits instead),
- relevance heatmaps in several variants (raw, sum-pooled, normalised),
- Euclidean distance matrices between any of these.

Heatmap metric-measure spaces for the Gromov-Wasserstein detectors come from
:func:`poisondetect.transport.heatmap_to_space`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial.distance import cdist

HeatmapVariant = Literal["raw", "pooled", "max_normalised", "minmax_normalised", "sum_normalised"]


def euclidean_distances(features: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances of the flattened samples, shape (n, n), exactly symmetric.

    .. math:: d_{ij} = \\lVert x_i - x_j \\rVert_2
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"features must have one row per sample, shape (n, ...), got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)
    d = cdist(x, x)
    return (d + d.T) / 2
