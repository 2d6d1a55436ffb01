"""Representations of one class's training samples for the detectors.

- raw pixels (the baseline of thesis Table 3.2);
- activations of the penultimate layer, the layer that each model names in
  its ``penultimate`` attribute (the original thesis code clustered the logits);
- relevance heatmaps, raw or post-processed (sum-pooled, normalised) with
  :mod:`poisondetect.explain.postprocess`;
- heatmap metric-measure spaces (:func:`poisondetect.transport.heatmap_to_space`)
  for the Gromov-Wasserstein detectors;
- Euclidean distance matrices between any of the vector representations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import cdist
from tqdm.auto import tqdm


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


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, H, W, 3) -> pixel vectors in [0, 1], shape (n, 3 H W)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 of shape (n, H, W, 3), got {images.dtype} {images.shape}")
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def penultimate_activations(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Penultimate-layer activations of uint8 images (n, H, W, 3) -> (n, D) float64.

    Uses :func:`poisondetect.models.penultimate_activations` (eval mode, the
    layer named by ``model.penultimate``), not the logits.
    """
    from ..data.transforms import to_tensor
    from ..models import penultimate_activations as activations

    return activations(model, to_tensor(np.asarray(images)), batch_size=batch_size).double().numpy()


def heatmap_features(maps: np.ndarray, normalization: str = "none", pool: int = 1, positive: bool = False) -> np.ndarray:
    """Post-processed heatmaps (n, H, W) -> (n, H / pool, W / pool).

    Parameters
    ----------
    maps : ndarray, shape (n, H, W)
        Channel-summed relevance maps.
    normalization : {"none", "max_abs", "sum", "min_max"}
        Per-map normalisation (:func:`poisondetect.explain.postprocess.normalize`);
        ``"min_max"`` is the original thesis's choice and discards the relevance magnitude.
    pool : int
        Sum-pooling factor (1 = none).
    positive : bool
        Keep only positive relevance first.
    """
    from ..explain import postprocess

    h = np.asarray(maps, dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W) (channels summed), got {h.shape}")
    if positive:
        h = postprocess.positive_part(h)
    if pool > 1:
        h = postprocess.sum_pool(h, pool)
    return postprocess.normalize(h, normalization)


def heatmap_spaces(maps: np.ndarray, mass: float = 0.99, max_points: int | None = 64, pool: int = 1, scale: str = "grid", progress: bool = True) -> list:
    """One metric-measure space per heatmap (:func:`poisondetect.transport.heatmap_to_space`).

    A map without any positive relevance (the model sees only evidence against
    the class, e.g. an untrained model) cannot become a measure of its positive
    part; it is represented by its absolute relevance instead. A map that is
    zero everywhere raises a ``ValueError`` naming its index.
    """
    from ..transport import heatmap_to_space

    h = np.asarray(maps, dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W) (channels summed), got {h.shape}")
    spaces = []
    for i, m in enumerate(tqdm(h, desc="heatmap spaces", disable=not progress)):
        if not np.any(m > 0):
            m = np.abs(m)
        try:
            spaces.append(heatmap_to_space(m, mass=mass, max_points=max_points, pool=pool, scale=scale))
        except ValueError as error:
            raise ValueError(f"heatmap {i} cannot become a metric-measure space: {error}") from error
    return spaces


def class_indices(labels: np.ndarray, target: int) -> np.ndarray:
    """Indices of the samples labelled ``target`` (the class a detector inspects)."""
    idx = np.flatnonzero(np.asarray(labels) == target)
    if idx.size == 0:
        raise ValueError(f"no samples with label {target}; choose a class present in the data")
    return idx


def subsample_indices(n: int, max_samples: int | None, seed: int = 0) -> np.ndarray:
    """Sorted random subset of ``range(n)`` of size ``min(n, max_samples)`` (all if None)."""
    if max_samples is None or max_samples >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


__all__: Sequence[str] = (
    "class_indices", "euclidean_distances", "heatmap_features", "heatmap_spaces",
    "penultimate_activations", "raw_pixels", "subsample_indices",
)
