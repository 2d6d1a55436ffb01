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

from typing import Literal

import numpy as np

from .result import DetectionResult, check_features, stopwatch


def concentration_scores(maps: np.ndarray, statistic: Literal["max", "topk_share"] = "max", k: int = 9) -> np.ndarray:
    """Per-map concentration score, shape (n,) from maps of shape (n, H, W) (or (n, d)).

    ``k`` is the number of pixels of ``"topk_share"`` (9 = a 3x3 sticker).
    """
    x = check_features(maps, "maps", min_samples=1)
    if statistic == "max":
        return x.max(axis=1)
    if statistic == "topk_share":
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= x.shape[1]:
            raise ValueError(f"k must be an integer in [1, {x.shape[1]}], got {k!r}")
        positive = np.clip(x, 0.0, None)
        top = -np.partition(-positive, k - 1, axis=1)[:, :k]
        total = positive.sum(axis=1)
        return np.divide(top.sum(axis=1), total, out=np.zeros_like(total), where=total > 0)
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
