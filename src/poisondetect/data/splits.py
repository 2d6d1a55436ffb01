"""Track-aware splits: frames of one physical sign never straddle two splits."""

from __future__ import annotations

import numpy as np


def track_keys(labels: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """One integer per image identifying its (class, track) group, shape (N,)."""
    return np.asarray(labels, dtype=np.int64) * 1_000_000 + np.asarray(tracks, dtype=np.int64)


def track_split(labels: np.ndarray, tracks: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split image indices into train and validation by whole tracks, stratified by class.

    In every class, ``round(val_fraction * n_tracks)`` tracks (at least one when the
    class has two or more) go to validation.

    Returns
    -------
    train_idx, val_idx : ndarray, int64
        Sorted, disjoint indices covering ``range(N)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    keys = track_keys(labels, tracks)
    rng = np.random.default_rng(seed)
    val_keys = []
    for label in np.unique(labels):
        class_keys = np.unique(keys[labels == label])
        n_val = int(round(val_fraction * len(class_keys)))
        if val_fraction > 0 and len(class_keys) >= 2:
            n_val = min(max(n_val, 1), len(class_keys) - 1)
        val_keys.extend(rng.choice(class_keys, size=n_val, replace=False))
    is_val = np.isin(keys, np.asarray(val_keys, dtype=np.int64))
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
