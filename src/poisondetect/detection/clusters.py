"""Shared steps of the clustering detectors: k-means, the flagged cluster, scores, split quality.

The clustering detectors (SpRAy, Activation Clustering, GW k-means, the
concentration threshold) all end the same way: a partition of one class into
clusters, the *smallest* cluster called poisoned (a backdoor needs only a
minority of the class), a suspicion score per sample, and the silhouette as a
measure of how clearly the class splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans


def kmeans(features: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean k-means (k-means++ seeding, best of ``n_init`` starts).

    Returns
    -------
    labels : ndarray of int, shape (n,)
    centers : ndarray, shape (n_clusters, d)
    """
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2:
        raise ValueError(f"n_clusters must be an integer >= 2, got {n_clusters!r}")
    if n_clusters > features.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} exceeds the number of samples ({features.shape[0]})")
    model = KMeans(n_clusters=int(n_clusters), n_init=n_init, random_state=seed).fit(features)
    return model.labels_.astype(np.int64), model.cluster_centers_


def smallest_cluster(labels: np.ndarray) -> int:
    """Label of the smallest non-empty cluster (ties: the smaller label)."""
    values, counts = np.unique(labels, return_counts=True)
    return int(values[np.argmin(counts)])


def margin_scores(distances_to_centers: np.ndarray, flagged_clusters: int | Sequence[int]) -> np.ndarray:
    """Suspicion score from distances to the cluster centres, shape (n, k) -> (n,).

    .. math:: s_i = \\min_{c \\notin F} d(x_i, c) - \\min_{f \\in F} d(x_i, f)

    where :math:`F` is the flagged cluster (an int) or the flagged clusters (a
    proper, non-empty subset of the k labels): positive scores mean "closer to a
    flagged centre than to any other", so thresholding at 0 reproduces the
    nearest-centre assignment.
    """
    d = np.asarray(distances_to_centers, dtype=np.float64)
    flagged = np.atleast_1d(np.asarray(flagged_clusters, dtype=np.int64))
    others = np.delete(d, flagged, axis=1)
    return others.min(axis=1) - d[:, flagged].min(axis=1)


def silhouette_from_distances(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a partition, from a precomputed (n, n) distance matrix.

    .. math:: s_i = \\frac{b_i - a_i}{\\max(a_i, b_i)}

    with :math:`a_i` the mean distance to the own cluster and :math:`b_i` the
    smallest mean distance to another cluster. NaN for a single cluster.
    """
    if np.unique(labels).size < 2:
        return float("nan")
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(distances, labels, metric="precomputed"))


def silhouette_from_features(features: np.ndarray, labels: np.ndarray, max_samples: int = 3000, seed: int = 0) -> float:
    """Mean Euclidean silhouette of a partition (subsampled above ``max_samples`` samples)."""
    if np.unique(labels).size < 2:
        return float("nan")
    from sklearn.metrics import silhouette_score

    size = None if features.shape[0] <= max_samples else max_samples
    return float(silhouette_score(features, labels, sample_size=size, random_state=seed))
