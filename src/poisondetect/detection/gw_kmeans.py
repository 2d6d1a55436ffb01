"""Gromov-Wasserstein k-means with barycenters: the heatmap clustering (HC) of the thesis.

Each heatmap of one class is a metric-measure space :math:`X_i = (C_i, p_i)`
(its most relevant pixels, their distances and their relevance). k-means runs
directly on these spaces with the Gromov-Wasserstein discrepancy
:math:`GW(X, Y)` :cite:`memoli2011,peyre2016` in place of the
squared Euclidean distance, and with GW barycenters in place of means:

1. *Seeding* (k-means++ :cite:`arthur2007`): the first centre is a random
   sample; each further centre is sample :math:`i` with probability
   proportional to :math:`D_i = \\min_c GW(X_i, c)`, the discrepancy to the
   nearest centre chosen so far. All :math:`D_i` come from the same solver with
   the same normalisation (the original code scaled the distances to the first
   and second centre differently).
2. *Assignment*: every sample goes to the centre with the smallest
   :math:`GW(X_i, c_j)`.
3. *Update*: each centre becomes the GW barycenter of its members,

   .. math:: c_j = \\operatorname*{arg\\,min}_{(C, p)} \\sum_{i \\in S_j} GW\\big((C, p), X_i\\big),

   computed from at most ``barycenter_samples`` members (10, as in the thesis).
4. Repeat 2-3 until no assignment changes (or ``max_iter``). The smallest
   cluster is flagged as poisoned.

Because :math:`GW` is already a squared-loss discrepancy, k-means++ samples
proportionally to :math:`D_i` itself.

The random choices (first centre, k-means++ draws, barycenter subsets) use
per-sample random keys derived from the *content* of each space and the seed,
not from its position: the result depends on the set of heatmaps and the
seed, never on their order (tested in ``tests/test_detection_gw_kmeans.py``).

The GW solver is injected: ``distance_to_centers(spaces, centers) -> (n, k)``
and ``barycenter(members, size, seed) -> space`` default to the batched
solvers of :mod:`poisondetect.transport`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..transport import gw_barycenter, gw_to_centers, pad_spaces
from .clusters import margin_scores, smallest_cluster
from .result import DetectionResult, stopwatch

DistanceToCenters = Callable[[Sequence[Any], Sequence[Any]], np.ndarray]
Barycenter = Callable[[Sequence[Any], int, int], Any]


def content_keys(spaces: Sequence[Any], seed: int, purpose: str) -> np.ndarray:
    """Uniform random numbers in (0, 1), one per space, determined by its content, the seed and ``purpose``.

    Two spaces with equal ``C`` and ``p`` get equal keys, so any choice made by
    comparing keys does not depend on the order of ``spaces``.
    """
    keys = np.empty(len(spaces))
    for i, space in enumerate(spaces):
        digest = hashlib.blake2b(f"{seed}:{purpose}:".encode(), digest_size=8)
        digest.update(np.ascontiguousarray(space.C, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(space.p, dtype=np.float64).tobytes())
        keys[i] = (int.from_bytes(digest.digest(), "little") + 0.5) / 2.0**64
    return keys


def weighted_choice(keys: np.ndarray, weights: np.ndarray) -> int:
    """Index drawn with probability proportional to ``weights``, given uniform ``keys``.

    Efraimidis-Spirakis: :math:`\\arg\\max_i \\; \\log(u_i) / w_i`; with
    order-independent keys the draw does not depend on the order of samples.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not np.any(w > 0):  # all samples coincide with centres: take the smallest key among them
        return int(np.argmin(keys))
    with np.errstate(divide="ignore"):
        score = np.where(w > 0, np.log(keys) / w, -np.inf)
    return int(np.argmax(score))


def _default_distance_to_centers(**options: Any) -> DistanceToCenters:
    options.setdefault("progress", False)
    return lambda spaces, centers: gw_to_centers(spaces, centers, **options)


def _default_barycenter(steps: int, **options: Any) -> Barycenter:
    return lambda members, size, seed: gw_barycenter(members, n_points=size, n_steps=steps, **options)


def _one_run(spaces, n_clusters, max_iter, barycenter_size, barycenter_samples, seed, restart, distances_to, barycenter, progress) -> dict[str, Any]:
    """One k-means++ seeding and Lloyd loop; restart 0 uses the original key purposes (so ``n_init=1`` is unchanged)."""
    n = len(spaces)
    tag = "" if restart == 0 else f"restart{restart}:"
    # 1. k-means++ seeding on one consistent GW scale
    seeds = [int(np.argmin(content_keys(spaces, seed, tag + "first")))]
    distances = distances_to([spaces[seeds[0]]])
    for j in range(1, n_clusters):
        nearest = distances.min(axis=1)
        seeds.append(weighted_choice(content_keys(spaces, seed, f"{tag}seed{j}"), nearest))
        distances = np.hstack([distances, distances_to([spaces[seeds[-1]]])])
    labels = np.argmin(distances, axis=1)
    history = [labels.copy()]
    centers: list[Any] = [spaces[s] for s in seeds]
    converged = False
    iteration = 0
    subset_keys = content_keys(spaces, seed, tag + "barycenter")
    bar = tqdm(range(max_iter), desc="GW k-means" if restart == 0 else f"GW k-means (restart {restart})", disable=not progress)
    for iteration in bar:
        # 3. update: barycenter of (a subset of) each cluster's members
        for j in range(n_clusters):
            members = np.flatnonzero(labels == j)
            if members.size == 0:  # empty cluster: restart it at the worst-served sample
                centers[j] = spaces[int(np.argmax(distances[np.arange(n), labels]))]
                continue
            if barycenter_samples is not None and members.size > barycenter_samples:
                members = members[np.argsort(subset_keys[members], kind="stable")[:barycenter_samples]]
            centers[j] = spaces[members[0]] if members.size == 1 else barycenter([spaces[i] for i in members], barycenter_size, seed + j)
        # 2. assignment to the nearest barycenter
        distances = distances_to(centers)
        new_labels = np.argmin(distances, axis=1)
        history.append(new_labels.copy())
        changed = int(np.sum(new_labels != labels))
        labels = new_labels
        bar.set_postfix(changed=changed)
        if changed == 0:
            converged = True
            break
    inertia = float(distances[np.arange(n), labels].sum())
    return {"labels": labels, "distances": distances, "centers": centers, "seeds": seeds, "history": history,
            "iterations": iteration + 1, "converged": converged, "inertia": inertia}


def gw_kmeans(
    spaces: Sequence[Any],
    n_clusters: int = 2,
    *,
    max_iter: int = 20,
    barycenter_size: int = 32,
    barycenter_samples: int | None = 10,
    barycenter_steps: int = 5,
    seed: int = 0,
    n_init: int = 1,
    flag: str = "smallest",
    alpha: float = 1.0,
    coord_unit: float = 1.0,
    distance_to_centers: DistanceToCenters | None = None,
    barycenter: Barycenter | None = None,
    progress: bool = True,
) -> DetectionResult:
    """Cluster metric-measure spaces by GW k-means with barycenters; flag the smallest (or the tightest) cluster.

    Parameters
    ----------
    spaces : sequence of MetricMeasureSpace, length n
        One space per heatmap (:func:`poisondetect.detection.representations.heatmap_spaces`).
    n_clusters : int
        Number of clusters (2: poisoned and clean).
    max_iter : int
        Maximum number of assignment/update rounds.
    barycenter_size : int
        Points of each barycenter.
    barycenter_samples : int or None
        Members used for a barycenter (a content-keyed random subset); ``None``: all.
    barycenter_steps : int
        Block-coordinate steps of the default barycenter solver (ignored when
        ``barycenter`` is given); the centres are refined again in every round.
    seed : int
        Seed of every random choice.
    n_init : int
        Independent k-means++ starts (restarts); the run with the lowest GW
        inertia :math:`\\sum_i GW(X_i, c_{\\ell_i})` is kept, as in Euclidean
        k-means. Restart 0 is the single run of ``n_init=1``.
    flag : {"smallest", "tightest"}
        Which cluster is called poisoned: the one with the fewest members (the
        thesis's rule), or the one whose members are, on average, closest to
        its barycenter (poisons that share one trigger may form the most compact
        group without being the smallest).
    alpha, coord_unit : float
        Weight of the structure term and unit of the points' ``coords`` of the
        default solvers: ``alpha < 1`` clusters by fused GW :cite:`vayer2019`, which
        also compares where the relevance lies (see
        :func:`poisondetect.transport.gw_pairs`); 1 is pure GW.
    distance_to_centers, barycenter : callable, optional
        The GW solver (defaults: :func:`poisondetect.transport.gw_to_centers` and
        :func:`poisondetect.transport.gw_barycenter`).
    progress : bool
        Show a progress bar over the iterations.

    Returns
    -------
    DetectionResult
        ``labels``: final cluster of each space; ``scores``: GW margin to the
        flagged barycenter (:func:`~poisondetect.detection.clusters.margin_scores`);
        ``extra``: ``history`` (list of label arrays: after seeding, then after
        each update), ``distances`` (n, k) to the final barycenters,
        ``barycenters`` (the final centre spaces; also as padded arrays
        ``barycenter_costs`` (k, m, m) and ``barycenter_weights`` (k, m), zero
        weight on padding), ``seeds`` (indices of the
        k-means++ seeds), ``iterations``, ``converged``, ``silhouette`` (also
        ``split_score``; computed from the distances to the centres).
    """
    spaces = list(spaces)
    n = len(spaces)
    if n < 3:
        raise ValueError(f"spaces has {n} samples; GW k-means needs at least 3 heatmaps of one class")
    for i, space in enumerate(spaces):
        if not (hasattr(space, "C") and hasattr(space, "p")):
            raise TypeError(f"spaces[{i}] is a {type(space).__name__}, expected a metric-measure space with C and p (see heatmap_spaces)")
    if not isinstance(n_clusters, (int, np.integer)) or not 2 <= n_clusters < n:
        raise ValueError(f"n_clusters must be an integer in [2, n-1] = [2, {n - 1}], got {n_clusters!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if flag not in ("smallest", "tightest"):
        raise ValueError(f"flag must be 'smallest' or 'tightest', got {flag!r}")
    if not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ValueError(f"n_init must be a positive integer, got {n_init!r}")
    if not isinstance(barycenter_size, (int, np.integer)) or barycenter_size < 1:
        raise ValueError(f"barycenter_size must be a positive integer, got {barycenter_size!r}")
    if barycenter_samples is not None and barycenter_samples < 1:
        raise ValueError(f"barycenter_samples must be a positive integer or None, got {barycenter_samples!r}")
    distance_to_centers = distance_to_centers or _default_distance_to_centers(alpha=alpha, coord_unit=coord_unit)
    barycenter = barycenter or _default_barycenter(barycenter_steps, alpha=alpha, coord_unit=coord_unit)

    def distances_to(centers: Sequence[Any]) -> np.ndarray:
        d = np.asarray(distance_to_centers(spaces, list(centers)), dtype=np.float64)
        if d.shape != (n, len(centers)) or not np.all(np.isfinite(d)):
            raise ValueError(f"distance_to_centers returned shape {d.shape} (expected {(n, len(centers))}) or non-finite values")
        return np.clip(d, 0.0, None)

    with stopwatch() as clock:
        runs = [_one_run(spaces, n_clusters, max_iter, barycenter_size, barycenter_samples, seed, restart, distances_to, barycenter, progress)
                for restart in range(n_init)]
        inertias = [run["inertia"] for run in runs]
        best = runs[int(np.argmin(inertias))]  # ties: the earliest restart
        labels, distances, centers = best["labels"], best["distances"], best["centers"]
        own = distances[np.arange(n), labels]
        spread = np.array([own[labels == j].mean() if np.any(labels == j) else np.inf for j in range(n_clusters)])
        flagged_cluster = smallest_cluster(labels) if flag == "smallest" else int(np.argmin(spread))
        scores = margin_scores(distances, flagged_cluster)
        other = np.where(np.eye(n_clusters, dtype=bool)[labels], np.inf, distances).min(axis=1)
        denominator = np.maximum(own, other)
        silhouette = float(np.mean(np.divide(other - own, denominator, out=np.zeros(n), where=denominator > 0)))
        barycenter_costs, barycenter_weights, _ = pad_spaces(centers)
    return DetectionResult(
        method="gw_kmeans",
        flagged=labels == flagged_cluster,
        scores=scores,
        labels=labels.astype(np.int64),
        extra={
            "history": best["history"],
            "distances": distances,
            "barycenters": centers,
            "barycenter_costs": barycenter_costs,
            "barycenter_weights": barycenter_weights,
            "seeds": best["seeds"],
            "iterations": best["iterations"],
            "converged": best["converged"],
            "inertia": best["inertia"],
            "inertias": inertias,
            "restart": int(np.argmin(inertias)),
            "silhouette": silhouette,
            "split_score": silhouette,
            "spread": spread,
        },
        runtime_s=clock["seconds"],
    )


def robust_z(values: np.ndarray) -> np.ndarray:
    """Robust z-score :math:`(v - \\operatorname{median} v) / (1.4826 \\operatorname{MAD})`, shape (n,) (0 where MAD = 0)."""
    v = np.asarray(values, dtype=np.float64)
    centre = np.median(v)
    scale = 1.4826 * np.median(np.abs(v - centre))
    return (v - centre) / scale if scale > 0 else np.zeros_like(v)


def gw_outlier_scores(spaces: Sequence[Any], barycenter_size: int = 32, barycenter_samples: int | None = 200,
                      barycenter_steps: int = 5, rounds: int = 2, trim: float = 0.5, seed: int = 0, alpha: float = 1.0,
                      coord_unit: float = 1.0, distance_to_centers: DistanceToCenters | None = None,
                      barycenter: Barycenter | None = None) -> np.ndarray:
    """GW discrepancy of every space to a trimmed barycenter of all of them, shape (n,).

    The barycenter :math:`c` of a content-keyed subset of ``barycenter_samples`` spaces is
    computed, then ``rounds`` times recomputed from the ``1 - trim`` share of that subset
    closest to it, so that a minority of outlying spaces (poisons) hardly moves it. The
    score of space :math:`i` is :math:`GW(X_i, c)`: large for spaces unlike most of the class.
    ``alpha < 1`` uses fused GW (see :func:`gw_kmeans`).
    """
    spaces = list(spaces)
    n = len(spaces)
    if n < 3:
        raise ValueError(f"spaces has {n} samples; the GW outlier score needs at least 3 heatmaps of one class")
    if not 0 <= trim < 1:
        raise ValueError(f"trim must lie in [0, 1), got {trim}")
    distance_to_centers = distance_to_centers or _default_distance_to_centers(alpha=alpha, coord_unit=coord_unit)
    barycenter = barycenter or _default_barycenter(barycenter_steps, alpha=alpha, coord_unit=coord_unit)
    order = np.argsort(content_keys(spaces, seed, "outlier"), kind="stable")
    members = order if barycenter_samples is None else order[:barycenter_samples]
    center = barycenter([spaces[i] for i in members], barycenter_size, seed)
    for _ in range(rounds):
        d = np.asarray(distance_to_centers([spaces[i] for i in members], [center]))[:, 0]
        keep = members[np.argsort(d, kind="stable")[:max(2, int(round((1 - trim) * len(members))))]]
        center = barycenter([spaces[i] for i in keep], barycenter_size, seed)
    return np.clip(np.asarray(distance_to_centers(spaces, [center]), dtype=np.float64)[:, 0], 0.0, None)
