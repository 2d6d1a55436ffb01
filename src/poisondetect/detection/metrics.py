"""How well a detector's answer matches the truth: confusion counts, rates, F1, AUROC.

The positive class is *poisoned*. With the confusion counts

.. math::

    \\mathrm{TPR} = \\frac{tp}{tp + fn}, \\qquad
    \\mathrm{TNR} = \\frac{tn}{tn + fp}, \\qquad
    \\mathrm{ACC} = \\frac{tp + tn}{n}, \\qquad
    F_1 = \\frac{2\\,tp}{2\\,tp + fp + fn},

and the AUROC is the probability that a random poisoned sample scores higher
than a random clean one (ties count one half; Mann-Whitney U statistic).
Rates whose denominator is zero (e.g. the TPR of a clean class) are NaN, not 0,
so that averages over seeds do not silently mix in undefined values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from .representations import nearest_neighbours
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .result import DetectionResult, check_truth

#: Column order of :func:`detection_metrics` and the result tables.
METRIC_NAMES = ("tn", "fp", "fn", "tp", "accuracy", "tpr", "tnr", "f1", "auroc", "runtime_s")


def confusion(is_poison: Any, flagged: Any) -> tuple[int, int, int, int]:
    """Confusion counts ``(tn, fp, fn, tp)`` of a flagged mask against the truth.

    Parameters
    ----------
    is_poison, flagged : array_like of bool, shape (n,)
        Truth and the detector's decision.
    """
    truth = check_truth(is_poison)
    decision = check_truth(flagged, truth.shape[0], name="flagged")
    tp = int(np.sum(truth & decision))
    fp = int(np.sum(~truth & decision))
    fn = int(np.sum(truth & ~decision))
    tn = int(np.sum(~truth & ~decision))
    return tn, fp, fn, tp


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def auroc(is_poison: Any, scores: Any) -> float:
    """Area under the ROC curve of ``scores`` (larger = more suspicious).

    .. math:: \\mathrm{AUROC} = \\frac{\\sum_{i \\in P} r_i - |P|(|P|+1)/2}{|P|\\,|N|}

    with :math:`r_i` the mid-rank of sample :math:`i` among all scores. NaN when
    one of the two groups is empty.
    """
    truth = check_truth(is_poison)
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != truth.shape:
        raise ValueError(f"scores must have shape {truth.shape} like is_poison, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("scores contain NaN or infinite values")
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(values)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(is_poison: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of every threshold on ``scores``.

    Returns
    -------
    fpr, tpr : ndarray, shape (m,)
        From (0, 0) to (1, 1); one point per distinct score value.
    """
    truth = check_truth(is_poison)
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != truth.shape:
        raise ValueError(f"scores must have shape {truth.shape} like is_poison, got {values.shape}")
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs both poisoned and clean samples in is_poison")
    order = np.argsort(-values, kind="stable")
    sorted_values, sorted_truth = values[order], truth[order]
    # thresholds sit after the last of a run of equal scores
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_values) != 0), values.size - 1]
    tp = np.cumsum(sorted_truth)[last_of_run]
    fp = (last_of_run + 1) - tp
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def detection_metrics(is_poison: Any, result: DetectionResult | Any, scores: Any = None) -> dict[str, float]:
    """All metrics of one detection: counts, accuracy, TPR, TNR, F1, AUROC, runtime.

    Parameters
    ----------
    is_poison : array_like of bool, shape (n,)
        Ground truth.
    result : DetectionResult or array_like of bool, shape (n,)
        The detector's answer (a plain mask is accepted; then ``scores`` may be given).
    scores : array_like, shape (n,), optional
        Overrides ``result.scores`` for the AUROC.

    Returns
    -------
    dict
        Keys :data:`METRIC_NAMES`; rates are fractions in [0, 1] (NaN where undefined).
    """
    if isinstance(result, DetectionResult):
        flagged, runtime = result.flagged, result.runtime_s
        scores = result.scores if scores is None else scores
    else:
        flagged, runtime = result, float("nan")
    tn, fp, fn, tp = confusion(is_poison, flagged)
    return {
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
        "accuracy": _ratio(tp + tn, tn + fp + fn + tp),
        "tpr": _ratio(tp, tp + fn),
        "tnr": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auroc": auroc(is_poison, scores) if scores is not None else float("nan"),
        "runtime_s": float(runtime),
    }


def probe_auroc(features: Any, is_poison: Any, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUROC of a logistic-regression probe that *knows* the truth: the ceiling of a representation.

    A detector never sees ``is_poison``; the probe is trained on it (standardised
    features, L2-regularised logistic regression, ``folds``-fold stratified cross
    validation) and scores held-out samples. An AUROC near 1 says the poisons are
    linearly separable in ``features``, so a detector that fails there fails by its
    own assumptions, not for lack of information. NaN for a class without poisons
    or with fewer poisons than folds.
    """
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    truth = check_truth(is_poison, len(x))
    if truth.sum() < folds or (~truth).sum() < folds:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(probe, x, truth, cv=split, method="decision_function")
    return auroc(truth, scores)


def neighbour_auroc(distances: Any, is_poison: Any, k: int = 10) -> float:
    """AUROC of the share of poisoned samples among each sample's ``k`` nearest neighbours: the ceiling of a distance.

    Like :func:`probe_auroc` it is told the truth, so it measures what a distance
    matrix (n, n) allows, not what a detector finds: near 1 when every poison's
    nearest neighbours are poisons and every clean sample's are clean, whatever
    the shape of the groups. The sample itself is not its own neighbour.
    """
    neighbours = nearest_neighbours(distances, k)
    truth = check_truth(is_poison, len(neighbours))
    return auroc(truth, truth[neighbours].mean(axis=1))
