"""Representations of one class's training samples for the detectors.

- raw pixels (the baseline of thesis Table 3.2);
- activations of the penultimate layer (computed by the experiment layer; the
  original thesis code clustered the logits);
- relevance heatmaps, raw or post-processed (sum-pooled, normalised) with
  :mod:`poisondetect.explain.postprocess`;
- heatmap metric-measure spaces (:func:`poisondetect.transport.heatmap_to_space`)
  for the Gromov-Wasserstein detectors;
- Euclidean distance matrices between any of the vector representations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist
from tqdm.auto import tqdm

from ..explain.postprocess import normalize_maps, positive_part, sum_pool
from ..transport import MetricMeasureSpace, heatmap_to_space


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


def nearest_neighbours(distances: np.ndarray, k: int, name: str = "k") -> np.ndarray:
    """Indices of each sample's ``k`` nearest others in a distance matrix (n, n), shape (n, k), nearest first.

    A sample is not its own neighbour; ties keep the lower index. ``inf`` entries
    (pairs never computed) come last. ``name`` is the caller's name of ``k`` in errors.
    """
    d = np.asarray(distances, dtype=np.float64)
    n = d.shape[0]
    if d.ndim != 2 or d.shape[1] != n:
        raise ValueError(f"distances must be a square (n, n) matrix, got shape {d.shape}")
    if not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"{name} must be an integer in [1, n-1] = [1, {n - 1}], got {k!r}")
    masked = d + np.diag(np.full(n, np.inf))
    return np.argsort(masked, axis=1, kind="stable")[:, :k]


def candidate_pairs(features: np.ndarray, n_candidates: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(I, J)``, ``I < J``, in which one sample is among the other's ``n_candidates`` nearest (Euclidean).

    The pairs on which a costly distance (GW) is worth solving for a
    nearest-neighbour graph; each unordered pair appears once. Rows are
    processed ``chunk`` at a time, so memory stays O(chunk n).

    Parameters
    ----------
    features : ndarray, shape (n, ...)
    n_candidates : int
        Nearest neighbours of each sample, in [1, n - 1].

    Returns
    -------
    I, J : ndarray of int, shape (P,), with n_candidates n / 2 <= P <= n_candidates n
    """
    x = np.asarray(features, dtype=np.float64)
    x = x.reshape(len(x), -1)
    n = len(x)
    if not isinstance(n_candidates, (int, np.integer)) or not 1 <= n_candidates < n:
        raise ValueError(f"n_candidates must be an integer in [1, n-1] = [1, {n - 1}], got {n_candidates!r}")
    rows = []
    for start in range(0, n, chunk):
        d = cdist(x[start:start + chunk], x)
        d[np.arange(len(d)), np.arange(start, start + len(d))] = np.inf  # not its own candidate
        rows.append(np.argpartition(d, n_candidates - 1, axis=1)[:, :n_candidates])
    nearest = np.concatenate(rows)
    I, J = np.repeat(np.arange(n), n_candidates), nearest.ravel()
    pairs = np.unique(np.stack([np.minimum(I, J), np.maximum(I, J)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, H, W, 3) -> pixel vectors in [0, 1], shape (n, 3 H W)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 of shape (n, H, W, 3), got {images.dtype} {images.shape}")
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def heatmap_features(maps: np.ndarray, normalization: str = "none", pool: int = 1, positive: bool = False) -> np.ndarray:
    """Post-processed heatmaps (n, H, W) -> (n, H / pool, W / pool).

    Parameters
    ----------
    maps : ndarray, shape (n, H, W)
        Channel-summed relevance maps.
    normalization : {"none", "max_abs", "sum", "min_max"}
        Per-map normalisation (:func:`poisondetect.explain.postprocess.normalize_maps`);
        ``"min_max"`` is the original thesis's choice and discards the relevance magnitude.
    pool : int
        Sum-pooling factor (1 = none).
    positive : bool
        Keep only positive relevance first.
    """
    h = np.asarray(maps, dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W) (channels summed), got {h.shape}")
    if positive:
        h = positive_part(h)
    if pool > 1:
        h = sum_pool(h, pool)
    return normalize_maps(h, normalization)


def heatmap_spaces(maps: np.ndarray, mass: float = 0.99, max_points: int | None = 64, pool: int = 1, scale: str = "grid",
                   progress: bool = True) -> list[MetricMeasureSpace]:
    """One metric-measure space per heatmap (:func:`poisondetect.transport.heatmap_to_space`).

    A map without any positive relevance (the model sees only evidence against
    the class, e.g. an untrained model) cannot become a measure of its positive
    part; it is represented by its absolute relevance instead. A map that is
    zero everywhere raises a ``ValueError`` naming its index.
    """
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


@dataclass(frozen=True)
class SpaceSettings:
    """How heatmaps become metric-measure spaces (:func:`heatmap_spaces`).

    Parameters
    ----------
    mass : float
        Share of the positive relevance the kept pixels carry.
    max_points : int or None
        Cap on the points of a space (the most relevant pixels are kept).
    pool : int
        Sum-pooling of the maps first.
    scale : {"grid", "max"}
        Distance unit (see :func:`poisondetect.transport.heatmap_to_space`).
    """

    mass: float = 0.99
    max_points: int | None = 64
    pool: int = 1
    scale: str = "grid"

    def spaces(self, maps: np.ndarray, progress: bool = False) -> list[MetricMeasureSpace]:
        """The spaces of ``maps`` (n, H, W)."""
        return heatmap_spaces(maps, self.mass, self.max_points, self.pool, self.scale, progress=progress)


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
    "SpaceSettings", "class_indices", "euclidean_distances", "heatmap_features", "heatmap_spaces",
    "raw_pixels", "subsample_indices",
)
