"""Relevance concentration: the simplest explanation-based detector.

A backdoor trigger is a small patch that decides the prediction on its own, so
LRP puts much of the relevance of a poisoned image on a few pixels. Two scores
per heatmap :math:`R \\in \\mathbb R^{H \\times W}` measure this without any
clustering of the maps:

.. math::

    s_\\max(R) = \\max_p R_p, \\qquad
    s_{\\mathrm{top}\\,k}(R) = \\frac{\\sum_{p \\in \\mathrm{top}_k(R^+)} R^+_p}{\\sum_p R^+_p},

the largest pixel relevance, and the share of the positive relevance held by
the ``k`` most relevant pixels. The original thesis min-max normalised each
heatmap, which removes exactly the magnitude :math:`s_\\max`; this detector
shows what that cost. The flagged set is the upper group of the optimal
two-group split of the scores (one-dimensional 2-means, solved exactly).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from .result import DetectionResult, check_features, stopwatch


def topk_share(x: np.ndarray, k: int) -> np.ndarray:
    """Share of each row's positive part held by its ``k`` largest entries, shape (n,) from (n, d); 0 for a row
    without positive entries. ``k`` must lie in [1, d]."""
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= x.shape[1]:
        raise ValueError(f"k must be an integer in [1, {x.shape[1]}], got {k!r}")
    positive = np.clip(x, 0.0, None)
    top = -np.partition(-positive, k - 1, axis=1)[:, :k]
    total = positive.sum(axis=1)
    return np.divide(top.sum(axis=1), total, out=np.zeros_like(total), where=total > 0)


def relevance_measures(maps: np.ndarray) -> np.ndarray:
    """Positive part of each map normalised to sum to one (a measure on the pixels), shape (n, d) from (n, H, W)
    or (n, d); a map without positive relevance stays zero."""
    positive = np.clip(np.asarray(maps, dtype=np.float64).reshape(len(maps), -1), 0.0, None)
    total = positive.sum(axis=1, keepdims=True)
    return np.divide(positive, total, out=np.zeros_like(positive), where=total > 0)


def concentration_scores(maps: np.ndarray, statistic: Literal["max", "topk_share"] = "max", k: int = 9) -> np.ndarray:
    """Per-map concentration score, shape (n,) from maps of shape (n, H, W) (or (n, d)).

    ``k`` is the number of pixels of ``"topk_share"`` (9 = a 3x3 sticker).
    """
    x = check_features(maps, "maps", min_samples=1)
    if statistic == "max":
        return x.max(axis=1)
    if statistic == "topk_share":
        return topk_share(x, k)
    raise ValueError(f"statistic must be 'max' or 'topk_share', got {statistic!r}")


def two_group_threshold(scores: np.ndarray) -> float:
    """Threshold of the optimal split of 1-D values into a lower and an upper group.

    Minimises the within-group sum of squares over all split points of the
    sorted values (exact 1-D 2-means, equivalently Otsu's criterion); returns
    the midpoint between the two groups, so ``scores > threshold`` is the upper group.
    """
    values = np.sort(np.asarray(scores, dtype=np.float64))
    n = values.size
    if n < 2 or values[0] == values[-1]:
        raise ValueError("scores must contain at least two distinct values to split into two groups")
    cumsum, cumsq = np.cumsum(values), np.cumsum(values**2)
    left = np.arange(1, n)  # sizes of the lower group
    sse_left = cumsq[:-1] - cumsum[:-1] ** 2 / left
    right = n - left
    sse_right = (cumsq[-1] - cumsq[:-1]) - (cumsum[-1] - cumsum[:-1]) ** 2 / right
    total = sse_left + sse_right
    total[values[1:] == values[:-1]] = np.inf  # never split between equal values
    split = int(np.argmin(total))
    return float((values[split] + values[split + 1]) / 2)


def relevance_concentration(maps: np.ndarray, statistic: Literal["max", "topk_share"] = "max", k: int = 9) -> DetectionResult:
    """Flag heatmaps whose relevance is unusually concentrated.

    Parameters
    ----------
    maps : ndarray, shape (n, H, W)
        Raw (not normalised) relevance maps of the class's training samples.
    statistic, k
        See :func:`concentration_scores`.

    Returns
    -------
    DetectionResult
        ``scores``: the concentration; ``flagged``: the upper group of
        :func:`two_group_threshold`; ``extra``: ``threshold``, ``statistic`` and
        ``split_score`` (Fisher ratio of the two groups: squared gap of the
        means over the summed variances, large for a clean separation).
    """
    with stopwatch() as clock:
        scores = concentration_scores(check_features(maps, "maps"), statistic, k)
        threshold = two_group_threshold(scores)
        flagged = scores > threshold
        upper, lower = scores[flagged], scores[~flagged]
        spread = upper.var() + lower.var()
        fisher = float((upper.mean() - lower.mean()) ** 2 / spread) if spread > 0 else float("inf")
    return DetectionResult(
        method=f"concentration_{statistic}",
        flagged=flagged,
        scores=scores,
        labels=flagged.astype(np.int64),
        extra={"threshold": threshold, "statistic": statistic, "split_score": fisher},
        runtime_s=clock["seconds"],
    )


def cluster_concentration(maps: np.ndarray, labels: np.ndarray, k: int = 9) -> np.ndarray:
    """Top-``k`` share of each cluster's mean heatmap, shape (n_clusters,) for labels ``0..n_clusters-1``.

    Each map's positive part is normalised to sum to one (a measure on the pixel grid), the
    members of a cluster are averaged, and the share of the mean map held by its ``k`` most
    relevant pixels is returned:

    .. math:: c_j = s_{\\mathrm{top}\\,k}\\Big(\\frac{1}{|S_j|} \\sum_{i \\in S_j} \\frac{R_i^+}{\\lVert R_i^+ \\rVert_1}\\Big).

    A trigger at a fixed place adds up in the mean of its cluster; the relevance of clean
    maps, spread over the sign, averages out. An empty cluster gets 0.
    """
    x = check_features(maps, "maps", min_samples=1)
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have one entry per map, shape ({x.shape[0]},), got {labels.shape}")
    measures = relevance_measures(x)
    means = np.stack([measures[labels == j].mean(axis=0) if np.any(labels == j) else np.zeros(x.shape[1])
                      for j in range(int(labels.max()) + 1)])
    return topk_share(means, k)


def flag_concentrated_clusters(found: DetectionResult, maps: np.ndarray, k: int = 9, min_ratio: float = 2.0) -> DetectionResult:
    """Flag every cluster of ``found`` whose mean heatmap concentrates its relevance (the trigger's place).

    The rule that replaces "the smallest cluster is poisoned" when a clustering detector
    finds more than two clusters: with the cluster concentrations :math:`c_j` of
    :func:`cluster_concentration` and :math:`L` the largest cluster (the bulk of clean
    images, since poisons are a minority), cluster :math:`j` is flagged when
    :math:`c_j / c_L \\ge` ``min_ratio``. Poisons that fall into several clusters (one
    per trigger position, say) are all flagged, and a class whose clusters look alike
    flags nothing. Measured on real GTSRB (thesis setting, LRP-gamma, SpRAy's eigengap
    clusters): poisoned clusters 0.19-0.44, clean ones 0.05-0.09.

    Returns a copy of ``found`` with ``flagged``, ``scores`` (the ratio of each sample's
    cluster), ``extra["cluster_concentration"]`` (the :math:`c_j`), ``extra["cluster_ratio"]``
    (:math:`c_j / c_L`), ``extra["flag"]`` and
    ``extra["split_score"]`` (the largest ratio: how strongly the class's most concentrated
    cluster stands out, for ranking classes).
    """
    if found.labels is None:
        raise ValueError(f"{found.method} returned no cluster labels; the concentration rule needs them")
    if not min_ratio > 1:
        raise ValueError(f"min_ratio must exceed 1 (a cluster as concentrated as the bulk is not suspicious), got {min_ratio}")
    concentration = cluster_concentration(maps, found.labels, k)
    largest = int(np.argmax(np.bincount(found.labels, minlength=concentration.size)))
    ratio = concentration / max(concentration[largest], np.finfo(float).tiny)
    scores = ratio[found.labels]
    extra = {**found.extra, "cluster_concentration": concentration, "cluster_ratio": ratio, "flag": "concentrated",
             "split_score": float(ratio.max())}
    return dataclasses.replace(found, flagged=scores >= min_ratio, scores=scores, extra=extra)
