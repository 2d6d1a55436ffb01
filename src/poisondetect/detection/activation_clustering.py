"""Activation Clustering :cite:`chen2019ac`: k-means on reduced penultimate-layer activations, and the paper's analyses.

For the training samples of one class, the activations of the last hidden
layer are centred, reduced to 10 dimensions (PCA or FastICA, as in the paper)
and split by k-means (k = 2 in the paper). Clean samples of a class are
recognised by the features of the class; poisoned ones by the trigger, so their
activations form a separate, smaller cluster. Which clusters are called
poisoned is decided by one of three analyses (:data:`ANALYSES`):

- ``"smaller"``: the smallest cluster, whatever its size and however weakly
  the class splits (always flags something);
- ``"relative_size"``: every cluster holding less than ``size_threshold`` of the
  class (the paper: poison is a minority; ART's
  ``ClusteringAnalyzer.analyze_by_relative_size``, threshold 0.35);
- ``"silhouette"``: as ``"relative_size"``, but only when the mean silhouette
  of the partition exceeds ``silhouette_threshold``, else the class is called
  clean (ART's ``analyze_by_silhouette_score``, threshold 0.10).

The relative sizes of the clusters and the silhouette are returned as
diagnostics either way.

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

#: Rules that call clusters poisoned (see the module docstring).
ANALYSES = ("smaller", "relative_size", "silhouette")


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


def check_analysis(analysis: str, n_clusters: int, size_threshold: float, silhouette_threshold: float) -> None:
    """Raise a ``ValueError`` naming the parameter for an unknown ``analysis``, ``n_clusters`` < 2, or a threshold out of range.

    ``size_threshold`` must lie in (0, 1) and ``silhouette_threshold`` in [-1, 1]
    (the range of a silhouette). The upper bound of ``n_clusters`` depends on the
    number of samples and is checked by :func:`activation_clustering`.
    """
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {', '.join(ANALYSES)}, got {analysis!r}")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2:
        raise ValueError(f"n_clusters must be an integer >= 2, got {n_clusters!r}")
    if not 0 < size_threshold < 1:
        raise ValueError(f"size_threshold must lie in (0, 1), got {size_threshold!r}")
    if not -1 <= silhouette_threshold <= 1:
        raise ValueError(f"silhouette_threshold must lie in [-1, 1], got {silhouette_threshold!r}")


def flagged_clusters(sizes: np.ndarray, silhouette: float, analysis: str, size_threshold: float = 0.35,
                     silhouette_threshold: float = 0.10) -> np.ndarray:
    """Labels of the clusters that ``analysis`` calls poisoned (possibly none, possibly all).

    Parameters
    ----------
    sizes : ndarray, shape (k,)
        Relative size of each cluster (shares of the class, summing to one).
    silhouette : float
        Mean silhouette of the partition.
    analysis : {"smaller", "relative_size", "silhouette"}
        The rule (see the module docstring).
    size_threshold, silhouette_threshold : float
        Clusters below ``size_threshold`` are minorities; the silhouette rule flags
        them only when ``silhouette`` exceeds ``silhouette_threshold``.

    Returns
    -------
    ndarray of int, shape (f,)
        Flagged cluster labels, ascending.
    """
    if analysis == "smaller":
        return np.array([int(np.argmin(sizes))])
    if analysis == "silhouette" and not silhouette > silhouette_threshold:
        return np.array([], dtype=np.int64)
    return np.flatnonzero(sizes < size_threshold)


def activation_clustering(activations: np.ndarray, n_components: int = 10, method: Literal["pca", "ica"] = "pca", seed: int = 0,
                          n_clusters: int = 2, analysis: str = "smaller", size_threshold: float = 0.35,
                          silhouette_threshold: float = 0.10) -> DetectionResult:
    """Split one class's activations into ``n_clusters`` clusters and flag those ``analysis`` calls poisoned.

    Parameters
    ----------
    activations : ndarray, shape (n, d)
        Penultimate-layer activations of the class's training samples (any
        (n, ...) array is flattened, so raw pixels work as a baseline too).
    n_components : int
        Dimensions after reduction (10 in :cite:`chen2019ac`).
    method : {"pca", "ica"}
        Dimension reduction (the paper uses FastICA, and PCA as an alternative).
    seed : int
        Seed of the reduction, of k-means and of the silhouette's subsample.
    n_clusters : int
        Clusters of k-means, from 2 (the paper) to n - 1.
    analysis : {"smaller", "relative_size", "silhouette"}
        Which clusters are flagged: the smallest one; every cluster holding less
        than ``size_threshold`` of the class; or those, but only when the mean
        silhouette exceeds ``silhouette_threshold`` (else nothing: a clean class).
    size_threshold : float
        Largest share of the class a poisoned cluster may hold, in (0, 1); 0.35 as
        in ART. With k clusters a clean class splits into shares near 1/k, so keep
        it below 1/k.
    silhouette_threshold : float
        Silhouette above which the class is taken to split, in [-1, 1]; 0.10 as in ART.

    Returns
    -------
    DetectionResult
        ``flagged``: the samples of the flagged clusters; ``labels``: the k-means
        clusters; ``scores``: with R the flagged clusters (the smallest one when
        none or all are flagged), the distance to the nearest centre outside R
        minus that to the nearest centre in R (positive = nearer R;
        :func:`~poisondetect.detection.clusters.margin_scores`); ``extra``:
        ``relative_size`` (share of the class flagged), ``cluster_sizes`` ((k,)
        relative size of each cluster), ``silhouette`` (also ``split_score``),
        ``analysis``, ``class_flagged`` (whether anything was flagged) and the
        ``reduced`` (n, m) features.

    Raises
    ------
    ValueError
        For an unknown ``method`` or ``analysis``, ``n_clusters`` outside [2, n - 1],
        ``size_threshold`` outside (0, 1) or ``silhouette_threshold`` outside [-1, 1].
    """
    x = check_features(activations, "activations")
    check_analysis(analysis, n_clusters, size_threshold, silhouette_threshold)
    if n_clusters > x.shape[0] - 1:
        raise ValueError(f"n_clusters must be at most n - 1 = {x.shape[0] - 1} for {x.shape[0]} samples, got {n_clusters}")
    with stopwatch() as clock:
        reduced = reduce_dimensions(x, n_components, method, seed)
        labels, centers = kmeans(reduced, n_clusters, seed=seed)
        sizes = np.bincount(labels, minlength=n_clusters) / labels.size
        silhouette = silhouette_from_features(reduced, labels, seed=seed)
        chosen = flagged_clusters(sizes, silhouette, analysis, size_threshold, silhouette_threshold)
        scored = chosen if 0 < chosen.size < n_clusters else smallest_cluster(labels)
        to_centers = np.linalg.norm(reduced[:, None, :] - centers[None, :, :], axis=2)
        scores = margin_scores(to_centers, scored)
    flagged = np.isin(labels, chosen)
    extra = {"relative_size": float(flagged.mean()), "cluster_sizes": sizes, "silhouette": silhouette, "split_score": silhouette,
             "analysis": analysis, "class_flagged": bool(flagged.any()), "reduced": reduced}
    return DetectionResult(method=f"activation_clustering_{method}", flagged=flagged, scores=scores, labels=labels, extra=extra,
                           runtime_s=clock["seconds"])
