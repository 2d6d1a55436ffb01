"""The one result type every detector returns, and input checks shared by the detectors.

A detector looks at the ``n`` training samples of one class and says which of
them it believes are poisoned. Whatever its inner workings (clusters, outlier
scores, thresholds), it answers with a :class:`DetectionResult`, so that
:mod:`poisondetect.detection.metrics` and the result tables of chapter 06 treat
all methods alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DetectionResult:
    """What a detector says about the ``n`` samples of one class.

    Attributes
    ----------
    method : str
        Short name of the detector, e.g. ``"spray"`` or ``"activation_clustering"``.
    flagged : ndarray of bool, shape (n,)
        ``True`` for samples the detector calls poisoned.
    scores : ndarray of float, shape (n,), or None
        Suspicion score, larger means more suspicious; ``None`` when the method
        makes only a hard decision. Used for ROC curves and the AUROC.
    labels : ndarray of int, shape (n,), or None
        Cluster label of each sample for clustering methods, else ``None``.
    extra : dict
        Method-specific diagnostics (eigenvalues, silhouette, iteration log...).
        The key ``"split_score"`` (a float, larger = the class splits more
        clearly) is set by every detector and used by
        :mod:`poisondetect.detection.class_ranking`.
    runtime_s : float
        Wall-clock seconds the detector took (representation excluded).
    """

    method: str
    flagged: np.ndarray
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    runtime_s: float = float("nan")

    def __post_init__(self) -> None:
        flagged = np.asarray(self.flagged)
        if flagged.ndim != 1 or flagged.dtype != bool:
            raise TypeError(f"DetectionResult.flagged must be a 1-D bool array, got dtype {flagged.dtype} and shape {flagged.shape}")
        n = flagged.shape[0]
        for name in ("scores", "labels"):
            value = getattr(self, name)
            if value is not None and np.asarray(value).shape != (n,):
                raise ValueError(f"DetectionResult.{name} must have shape ({n},) like flagged, got {np.asarray(value).shape}")

    @property
    def n(self) -> int:
        """Number of samples judged."""
        return int(self.flagged.shape[0])

    @property
    def n_flagged(self) -> int:
        """Number of samples called poisoned."""
        return int(self.flagged.sum())

    @property
    def split_score(self) -> float:
        """How clearly the class splits (``extra["split_score"]``, NaN if missing)."""
        return float(self.extra.get("split_score", float("nan")))


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Measure wall-clock time: ``with stopwatch() as t: ...; t["seconds"]``."""
    record = {"seconds": float("nan")}
    start = time.perf_counter()
    try:
        yield record
    finally:
        record["seconds"] = time.perf_counter() - start


def check_features(features: Any, name: str = "features", min_samples: int = 3) -> np.ndarray:
    """Validate an (n, d) feature matrix (images and maps are flattened) and return it as float64.

    Raises
    ------
    ValueError
        Too few samples, NaN/inf values, or all samples identical (nothing to cluster).
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim == 1:
        raise ValueError(f"{name} must have one row per sample, shape (n, d); got a 1-D array of shape {array.shape} (use x[:, None] for scalar features)")
    array = array.reshape(array.shape[0], -1)
    if array.shape[0] < min_samples:
        raise ValueError(f"{name} has {array.shape[0]} samples; a detector needs at least {min_samples} samples of one class")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; check the representation (e.g. heatmaps of a diverged model)")
    if np.ptp(array, axis=0).max() == 0:
        raise ValueError(f"all {array.shape[0]} samples in {name} are identical; there is no structure to detect")
    return array


def check_distances(distances: Any, name: str = "distances", min_samples: int = 3) -> np.ndarray:
    """Validate a symmetric, non-negative (n, n) distance matrix with a zero diagonal.

    Small asymmetries from iterative solvers (GW) are removed by averaging with
    the transpose; larger ones raise.
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {d.shape}")
    if d.shape[0] < min_samples:
        raise ValueError(f"{name} has {d.shape[0]} samples; a detector needs at least {min_samples} samples of one class")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{name} contains NaN or infinite values; recompute the distances")
    scale = float(np.abs(d).max())
    if scale == 0:
        raise ValueError(f"{name} is all zeros: all samples are identical and there is no structure to detect")
    if np.abs(d - d.T).max() > 1e-6 * scale:
        raise ValueError(f"{name} is not symmetric (max |D - D^T| = {np.abs(d - d.T).max():.3g}); pass a distance matrix")
    if d.min() < -1e-9 * scale:
        raise ValueError(f"{name} has negative entries (min {d.min():.3g}); distances must be non-negative")
    d = np.clip((d + d.T) / 2, 0.0, None)
    np.fill_diagonal(d, 0.0)
    return d


def check_truth(is_poison: Any, n: int | None = None, name: str = "is_poison") -> np.ndarray:
    """Validate a ground-truth mask: 1-D, boolean (or 0/1), of length ``n`` if given."""
    truth = np.asarray(is_poison)
    if truth.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {truth.shape}")
    if truth.dtype != bool:
        if not np.isin(truth, (0, 1)).all():
            raise ValueError(f"{name} must be boolean or 0/1, got values {np.unique(truth)[:5]}")
        truth = truth.astype(bool)
    if n is not None and truth.shape[0] != n:
        raise ValueError(f"{name} has {truth.shape[0]} entries but the truth/result has {n}: pass one entry per sample of the class")
    return truth
