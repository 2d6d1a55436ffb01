"""Spectral relevance analysis (SpRAy): spectral clustering of one class's samples.

SpRAy :cite:`lapuschkin2019` clusters the explanation heatmaps of one
class; a backdoor shows up as a small cluster of heatmaps that all point at the
trigger. It works from any (n, n) distance matrix: Euclidean distances between
heatmaps, or Gromov-Wasserstein distances between heatmap metric-measure spaces.
Following :cite:`vonluxburg2007` and :cite:`ng2002`:

1. an affinity graph :math:`A` on the samples (k nearest neighbours, symmetrised;
   or an epsilon-neighbourhood; or a fully connected Gaussian kernel);
2. the symmetric normalised Laplacian

   .. math:: L_\\mathrm{sym} = I - D^{-1/2} A D^{-1/2}, \\qquad D = \\operatorname{diag}(A\\mathbf 1),

   whose eigenvalues lie in :math:`[0, 2]`; the multiplicity of the eigenvalue 0
   is the number of connected components of the graph;
3. the number of clusters :math:`k` from the largest gap between consecutive
   small eigenvalues (eigengap heuristic), or fixed;
4. k-means on the rows of the matrix of the first :math:`k` eigenvectors,
   each row scaled to unit length.

The original thesis code built this Laplacian incorrectly and in the end ran
plain k-means on the maps; here every step is tested (``tests/test_detection_spectral.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import scipy.linalg
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from .clusters import kmeans, margin_scores, silhouette_from_distances, smallest_cluster
from .representations import euclidean_distances, nearest_neighbours
from .result import DetectionResult, check_distances, stopwatch

GraphKind = Literal["knn", "epsilon", "rbf"]


def affinity_graph(distances: np.ndarray, graph: GraphKind = "knn", n_neighbors: int = 10, epsilon: float | None = None, sigma: float | None = None) -> np.ndarray:
    """Symmetric affinity matrix of a similarity graph, shape (n, n), zero diagonal.

    Parameters
    ----------
    distances : ndarray, shape (n, n)
        Symmetric distance matrix.
    graph : {"knn", "epsilon", "rbf"}
        ``"knn"``: :math:`A_{ij} = 1` if :math:`j` is among the ``n_neighbors``
        nearest neighbours of :math:`i` *or* vice versa (symmetrised).
        ``"epsilon"``: :math:`A_{ij} = 1` if :math:`d_{ij} \\le \\varepsilon`;
        the default :math:`\\varepsilon` is the longest edge of a minimum spanning
        tree, the smallest value that keeps the graph connected.
        ``"rbf"``: :math:`A_{ij} = \\exp(-d_{ij}^2 / 2\\sigma^2)` for all pairs;
        the default :math:`\\sigma` is the median distance.
    n_neighbors : int
        Neighbours per sample for ``"knn"`` (default 10, as in the thesis).
    epsilon, sigma : float, optional
        Radius of ``"epsilon"`` and bandwidth of ``"rbf"``.
    """
    d = check_distances(distances)
    n = d.shape[0]
    if graph == "knn":
        return knn_affinity(d, n_neighbors)
    if graph == "epsilon":
        if epsilon is None:
            epsilon = float(minimum_spanning_tree(d).max()) if np.count_nonzero(d) else 0.0
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        a = (d <= epsilon).astype(float)
        np.fill_diagonal(a, 0.0)
        return a
    if graph == "rbf":
        if sigma is None:
            sigma = float(np.median(d[np.triu_indices(n, 1)]))
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma!r} (are most distances zero?)")
        a = np.exp(-(d**2) / (2 * sigma**2))
        np.fill_diagonal(a, 0.0)
        return a
    raise ValueError(f"graph must be 'knn', 'epsilon' or 'rbf', got {graph!r}")


def knn_affinity(distances: np.ndarray, n_neighbors: int = 10) -> np.ndarray:
    """Symmetrised k-nearest-neighbour graph, shape (n, n): :math:`A_{ij} = 1` if :math:`j` is among the
    ``n_neighbors`` nearest of :math:`i` or vice versa.

    ``distances`` (n, n) may hold ``inf`` for pairs that were never computed (a
    candidate graph, :func:`poisondetect.detection.representations.candidate_pairs`);
    every sample needs at least ``n_neighbors`` finite distances to others.
    """
    d = np.asarray(distances, dtype=np.float64)
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("distances must be non-negative and not NaN (inf marks a pair not computed)")
    neighbours = nearest_neighbours(d, n_neighbors, "n_neighbors")
    n = d.shape[0]
    known = np.isfinite(d).sum(axis=1) - np.isfinite(np.diag(d))  # computed distances to others
    if known.min() < n_neighbors:
        raise ValueError(f"sample {int(known.argmin())} has {int(known.min())} computed distances, fewer than n_neighbors={n_neighbors}")
    a = np.zeros((n, n))
    a[np.repeat(np.arange(n), n_neighbors), neighbours.ravel()] = 1.0
    return np.maximum(a, a.T)


def normalized_laplacian(affinity: np.ndarray) -> np.ndarray:
    """Symmetric normalised graph Laplacian :math:`L_\\mathrm{sym} = I - D^{-1/2} A D^{-1/2}`, shape (n, n).

    Isolated vertices (degree 0) get :math:`(L_\\mathrm{sym})_{ii} = 1`, the usual convention.
    """
    a = np.asarray(affinity, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"affinity must be a square (n, n) matrix, got shape {a.shape}")
    if a.min() < 0 or not np.allclose(a, a.T):
        raise ValueError("affinity must be symmetric with non-negative weights")
    degree = a.sum(axis=1)
    inv_sqrt = np.zeros_like(degree)
    inv_sqrt[degree > 0] = 1.0 / np.sqrt(degree[degree > 0])
    laplacian = np.eye(a.shape[0]) - inv_sqrt[:, None] * a * inv_sqrt[None, :]
    return (laplacian + laplacian.T) / 2


def laplacian_spectrum(laplacian: np.ndarray, n_eigenvalues: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_eigenvalues`` smallest eigenpairs of a symmetric Laplacian.

    Returns
    -------
    eigenvalues : ndarray, shape (m,)
        Ascending, clipped to :math:`[0, 2]` (removes round-off below 0).
    eigenvectors : ndarray, shape (n, m)
        Orthonormal columns.
    """
    n = laplacian.shape[0]
    m = int(min(n_eigenvalues, n))
    values, vectors = scipy.linalg.eigh(laplacian, subset_by_index=[0, m - 1])
    return np.clip(values, 0.0, 2.0), vectors


def eigengap_clusters(eigenvalues: np.ndarray, max_clusters: int = 10) -> int:
    """Number of clusters by the eigengap heuristic :cite:`vonluxburg2007`.

    .. math:: k^* = \\operatorname*{arg\\,max}_{2 \\le k \\le k_\\max} (\\lambda_{k+1} - \\lambda_k)

    with eigenvalues :math:`\\lambda_1 \\le \\lambda_2 \\le \\dots` counted from 1
    (so the gap after the second eigenvalue means two clusters).
    """
    values = np.asarray(eigenvalues, dtype=np.float64)
    top = min(max_clusters, values.size - 1)
    if top < 2:
        raise ValueError(f"need at least 3 eigenvalues for the eigengap heuristic, got {values.size}")
    gaps = np.diff(values[: top + 1])  # gaps[k-1] = lambda_{k+1} - lambda_k
    return int(np.argmax(gaps[1:]) + 2)


def spectral_embedding(eigenvectors: np.ndarray, n_components: int) -> np.ndarray:
    """Rows of the first ``n_components`` eigenvectors scaled to unit length :cite:`ng2002`, shape (n, n_components)."""
    u = eigenvectors[:, :n_components]
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    return u / np.where(norms > 0, norms, 1.0)


def spray(
    distances: np.ndarray,
    n_clusters: int | Literal["eigengap"] = 2,
    graph: GraphKind = "knn",
    n_neighbors: int = 10,
    epsilon: float | None = None,
    sigma: float | None = None,
    n_eigenvalues: int = 30,
    max_clusters: int = 10,
    seed: int = 0,
) -> DetectionResult:
    """Spectral relevance analysis of one class: cluster, flag the smallest cluster.

    Parameters
    ----------
    distances : ndarray, shape (n, n)
        Pairwise distances between the class's samples (Euclidean or GW).
    n_clusters : int or "eigengap"
        Clusters for k-means on the spectral embedding; ``"eigengap"`` chooses
        them from the spectrum (at most ``max_clusters``). Default 2: poisoned
        vs clean, comparable with the other detectors.
    graph, n_neighbors, epsilon, sigma
        Affinity graph, see :func:`affinity_graph`.
    n_eigenvalues : int
        Eigenvalues kept for the diagnostics (thesis Figure 3.7 shows 30).
    seed : int
        Seed of k-means.

    Returns
    -------
    DetectionResult
        See :func:`spray_graph`; ``silhouette`` and ``split_score`` are the
        silhouette of the partition in the given distances.
    """
    d = check_distances(distances)
    with stopwatch() as clock:
        affinity = affinity_graph(d, graph, n_neighbors, epsilon, sigma)
    found = spray_graph(affinity, n_clusters, n_eigenvalues, max_clusters, seed, distances=d)
    return dataclasses.replace(found, runtime_s=found.runtime_s + clock["seconds"])


def spray_graph(
    affinity: np.ndarray,
    n_clusters: int | Literal["eigengap"] = 2,
    n_eigenvalues: int = 30,
    max_clusters: int = 10,
    seed: int = 0,
    distances: np.ndarray | None = None,
) -> DetectionResult:
    """SpRAy from an affinity graph (n, n) (:func:`affinity_graph`, :func:`knn_affinity`): steps 2-4.

    Parameters
    ----------
    affinity : ndarray, shape (n, n)
        Symmetric non-negative affinities.
    n_clusters, n_eigenvalues, max_clusters, seed
        As in :func:`spray`.
    distances : ndarray, shape (n, n), optional
        Full distances for the silhouette; without them the silhouette is taken
        in the spectral embedding (Euclidean distances of its unit rows).

    Returns
    -------
    DetectionResult
        ``flagged``: the smallest cluster; ``scores``: :func:`~poisondetect.detection.clusters.margin_scores`
        in the embedding; ``extra``: ``eigenvalues`` (m,), ``eigengap_k``,
        ``n_clusters``, ``n_components`` (graph components), ``embedding``
        (n, max(k, 3)) unnormalised eigenvectors for plots, ``silhouette`` and
        ``split_score`` (the silhouette of the partition).
    """
    with stopwatch() as clock:
        laplacian = normalized_laplacian(affinity)
        need = max(n_eigenvalues, (max_clusters if n_clusters == "eigengap" else n_clusters) + 1, 3)
        eigenvalues, eigenvectors = laplacian_spectrum(laplacian, need)
        suggested = eigengap_clusters(eigenvalues, max_clusters)
        if n_clusters == "eigengap":
            k = suggested
        elif isinstance(n_clusters, (int, np.integer)) and n_clusters >= 2:
            k = int(n_clusters)
        else:
            raise ValueError(f"n_clusters must be an integer >= 2 or 'eigengap', got {n_clusters!r}")
        embedding = spectral_embedding(eigenvectors, k)
        labels, centers = kmeans(embedding, k, seed=seed)
        flagged_cluster = smallest_cluster(labels)
        to_centers = np.linalg.norm(embedding[:, None, :] - centers[None, :, :], axis=2)
        scores = margin_scores(to_centers, flagged_cluster)
        silhouette = silhouette_from_distances(euclidean_distances(embedding) if distances is None else distances, labels)
    n_components = connected_components(affinity, directed=False)[0]
    return DetectionResult(
        method="spray",
        flagged=labels == flagged_cluster,
        scores=scores,
        labels=labels,
        extra={
            "eigenvalues": eigenvalues[:n_eigenvalues],
            "eigengap_k": suggested,
            "n_clusters": k,
            "n_components": int(n_components),
            "embedding": eigenvectors[:, : max(k, 3)],
            "silhouette": silhouette,
            "split_score": silhouette,
        },
        runtime_s=clock["seconds"],
    )
