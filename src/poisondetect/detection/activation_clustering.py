"""Activation Clustering :cite:`chen2019ac`: 2-means on reduced penultimate-layer activations.

For the training samples of one class, the activations of the last hidden
layer are centred, reduced to 10 dimensions (PCA or FastICA, as in the paper)
and split by 2-means. Clean samples of a class are recognised by the features
of the class; poisoned ones by the trigger, so their activations form a
separate, smaller cluster. The paper's analyses of the split are returned as
diagnostics: the relative size of the smaller cluster (poison is a minority)
and the silhouette score (how well the two clusters separate).

The original thesis code ran this on the logits (the network output); here
the input must be the penultimate activations
(:func:`poisondetect.detection.representations.penultimate_activations`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.decomposition import PCA, FastICA

from .clusters import kmeans, margin_scores, silhouette_from_features, smallest_cluster
from .result import DetectionResult, check_features, stopwatch


def reduce_dimensions(features: np.ndarray, n_components: int = 10, method: Literal["pca", "ica"] = "pca", seed: int = 0) -> np.ndarray:
    """Centre and reduce (n, d) features to (n, min(n_components, n - 1, d)) with PCA or FastICA."""
    x = check_features(features)
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    m = int(min(n_components, x.shape[0] - 1, x.shape[1]))
    x = x - x.mean(axis=0)
    if method == "pca":
        return PCA(n_components=m, random_state=seed).fit_transform(x)
    if method == "ica":
        return FastICA(n_components=m, random_state=seed, whiten="unit-variance", max_iter=1000, tol=1e-3).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'ica', got {method!r}")


def activation_clustering(activations: np.ndarray, n_components: int = 10, method: Literal["pca", "ica"] = "pca", seed: int = 0) -> DetectionResult:
    """Split one class's activations into two clusters and flag the smaller one.

    Parameters
    ----------
    activations : ndarray, shape (n, d)
        Penultimate-layer activations of the class's training samples (any
        (n, ...) array is flattened, so raw pixels work as a baseline too).
    n_components : int
        Dimensions after reduction (10 in :cite:`chen2019ac`).
    method : {"pca", "ica"}
        Dimension reduction.
    seed : int
        Seed of the reduction and of k-means.

    Returns
    -------
    DetectionResult
        ``scores``: margin to the two 2-means centres (positive = nearer the
        smaller cluster); ``extra``: ``relative_size`` of the flagged cluster,
        ``silhouette`` (also ``split_score``), ``reduced`` (n, m) features.
    """
    x = check_features(activations, "activations")
    with stopwatch() as clock:
        reduced = reduce_dimensions(x, n_components, method, seed)
        labels, centers = kmeans(reduced, 2, seed=seed)
        flagged_cluster = smallest_cluster(labels)
        to_centers = np.linalg.norm(reduced[:, None, :] - centers[None, :, :], axis=2)
        scores = margin_scores(to_centers, flagged_cluster)
        silhouette = silhouette_from_features(reduced, labels, seed=seed)
    flagged = labels == flagged_cluster
    return DetectionResult(
        method=f"activation_clustering_{method}",
        flagged=flagged,
        scores=scores,
        labels=labels,
        extra={"relative_size": float(flagged.mean()), "silhouette": silhouette, "split_score": silhouette, "reduced": reduced},
        runtime_s=clock["seconds"],
    )
