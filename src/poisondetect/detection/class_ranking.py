"""Which class is poisoned? Run a detector on every class and rank the classes.

A defender does not know the target class of a backdoor. Every detector
reports a ``split_score`` (larger = the class splits more clearly into two
groups). Poisoning one class makes its split stand out from the others, so the
classes are ranked by the robust anomaly index of their split score
:cite:`wang2019cleanse`

.. math:: a_c = \\frac{s_c - \\operatorname{median}_{c'} s_{c'}}{1.4826\\,\\operatorname{MAD}},
   \\qquad \\operatorname{MAD} = \\operatorname{median}_{c'} |s_{c'} - \\operatorname{median}\\, s|,

(1.4826 makes the MAD a consistent estimate of the standard deviation for
normal data), and a class is called poisoned when :math:`a_c` exceeds a
threshold. On a clean model no class should exceed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .result import DetectionResult


def anomaly_index(values: np.ndarray) -> np.ndarray:
    """Robust z-score of each value against the median and MAD of all values, shape (m,).

    If more than half the values are equal (MAD = 0), the mean absolute
    deviation from the median is used as the scale instead; if all values are
    equal, every index is 0.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 3:
        raise ValueError(f"need split scores of at least 3 classes to rank them, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("split scores contain NaN or infinite values; check the per-class detections")
    centre = np.median(v)
    scale = 1.4826 * np.median(np.abs(v - centre))
    if scale == 0:
        scale = float(np.mean(np.abs(v - centre))) * 1.2533  # sqrt(pi/2): mean abs. deviation -> std
    return (v - centre) / scale if scale > 0 else np.zeros_like(v)


def scan_classes(detector: Callable[[Any], DetectionResult], inputs: Mapping[int, Any], progress: bool = True) -> dict[int, DetectionResult]:
    """Run ``detector`` on the representation of every class: ``{class_id: DetectionResult}``."""
    if len(inputs) == 0:
        raise ValueError("inputs is empty: pass {class_id: representation} for every class")
    return {int(c): detector(x) for c, x in tqdm(inputs.items(), desc="classes", disable=not progress)}


def rank_classes(results: Mapping[int, DetectionResult], threshold: float = 3.0) -> pd.DataFrame:
    """Rank classes by how clearly they split; flag those whose anomaly index exceeds ``threshold``.

    Parameters
    ----------
    results : mapping of class id -> DetectionResult
        One detection per class (all by the same detector).
    threshold : float
        Anomaly index above which a class is called poisoned.

    Returns
    -------
    DataFrame
        One row per class, most suspicious first: ``class``, ``split_score``,
        ``anomaly_index``, ``flagged_share`` (share of the class the detector
        flagged), ``suspicious`` (bool).
    """
    if len(results) < 3:
        raise ValueError(f"need detections of at least 3 classes to rank them, got {len(results)}")
    classes = np.array(sorted(results), dtype=np.int64)
    split = np.array([results[c].split_score for c in classes])
    index = anomaly_index(split)
    table = pd.DataFrame(
        {
            "class": classes,
            "split_score": split,
            "anomaly_index": index,
            "flagged_share": [results[c].n_flagged / results[c].n for c in classes],
            "suspicious": index > threshold,
        }
    )
    return table.sort_values("anomaly_index", ascending=False, kind="stable").reset_index(drop=True)
