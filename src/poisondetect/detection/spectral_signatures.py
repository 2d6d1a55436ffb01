"""Spectral Signatures :cite:`tran2018`: outliers along the top singular vector of the activations.

For the representations :math:`r_i` of one class, centred as
:math:`\\tilde r_i = r_i - \\bar r`, let :math:`v` be the top right singular
vector of the matrix :math:`\\tilde R` with rows :math:`\\tilde r_i`. The
outlier score is the squared projection

.. math:: s_i = \\langle \\tilde r_i, v \\rangle^2 .

If poisoned samples make up a share :math:`\\varepsilon` of the class, their
mean differs from the clean mean and the top singular direction aligns with
this difference, so poisons get large scores. The method removes the
:math:`1.5\\,\\varepsilon n` samples with the largest scores (the factor 1.5 of
the paper covers an imprecise :math:`\\varepsilon`). It therefore needs an
(upper) estimate of the poison share, and always removes that many samples,
also from a clean class.
"""

from __future__ import annotations

import numpy as np

from .result import DetectionResult, check_features, stopwatch


def spectral_signatures(activations: np.ndarray, poison_share: float, removal_factor: float = 1.5) -> DetectionResult:
    """Score samples along the top singular vector and flag the ``removal_factor * poison_share`` largest.

    Parameters
    ----------
    activations : ndarray, shape (n, d)
        Representations of the class's training samples (penultimate layer).
    poison_share : float in (0, 1)
        Expected share :math:`\\varepsilon` of poisoned samples in the class.
    removal_factor : float
        Multiple of :math:`\\varepsilon n` removed (1.5 in the paper).

    Returns
    -------
    DetectionResult
        ``scores``: :math:`s_i`; ``flagged``: the :math:`\\lceil 1.5 \\varepsilon n \\rceil`
        highest (at most n - 1); ``extra``: ``singular_values`` (top 10),
        ``n_removed``, and ``split_score`` = :math:`\\sigma_1^2 / \\sum_j \\sigma_j^2`,
        the share of variance along :math:`v`.
    """
    x = check_features(activations, "activations")
    if not 0 < poison_share < 1:
        raise ValueError(f"poison_share must lie in (0, 1), got {poison_share!r}: pass the expected share of poisoned samples in the class")
    if not removal_factor > 0:
        raise ValueError(f"removal_factor must be positive, got {removal_factor!r}")
    with stopwatch() as clock:
        centred = x - x.mean(axis=0)
        _, singular_values, vt = np.linalg.svd(centred, full_matrices=False)
        scores = (centred @ vt[0]) ** 2
        n_removed = int(min(np.ceil(removal_factor * poison_share * x.shape[0]), x.shape[0] - 1))
        flagged = np.zeros(x.shape[0], dtype=bool)
        flagged[np.argsort(-scores, kind="stable")[:n_removed]] = True
    energy = singular_values**2
    return DetectionResult(
        method="spectral_signatures",
        flagged=flagged,
        scores=scores,
        labels=None,
        extra={"singular_values": singular_values[:10], "n_removed": n_removed, "split_score": float(energy[0] / energy.sum())},
        runtime_s=clock["seconds"],
    )
