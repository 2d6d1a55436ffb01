"""SPECTRE :cite:`hayase2021spectre`: robust whitening of the activations, then quantum-entropy outlier scores.

Spectral Signatures scores samples along the top singular direction of the raw
activations. When the largest variance of a class is a nuisance (lighting,
viewpoint) rather than the poison, that direction misses the poisons. SPECTRE
first whitens the class with a *robust* estimate of its mean :math:`\\mu` and
covariance :math:`\\Sigma` (one the poisons cannot move much), so that every
clean direction has unit variance and only the poisons stick out:

1. centre and project the activations on their top :math:`k` singular vectors,
   :math:`k = \\min(m, \\lfloor n / 50 \\rfloor)` (at least 2, :math:`m` = ``n_components``): with
   fewer than about 50 samples per dimension the whitened noise alone has eigenvalues
   up to :math:`(1 + \\sqrt{k/n})^2`, as large as a small poison's;
2. estimate :math:`\\mu, \\Sigma` robustly (minimum covariance determinant) and whiten,
   :math:`z_i = \\Sigma^{-1/2} (x_i - \\mu)`;
3. score with the quantum-entropy (QUE) score, for the whitened covariance
   :math:`\\tilde\\Sigma = \\frac1n \\sum_i z_i z_i^\\top`,

   .. math:: \\tau_i = z_i^\\top Q z_i, \\qquad
      Q = \\frac{\\exp\\bigl(\\alpha (\\tilde\\Sigma - I) / (\\lVert\\tilde\\Sigma\\rVert_2 - 1)\\bigr)}
               {\\operatorname{tr} \\exp\\bigl(\\alpha (\\tilde\\Sigma - I) / (\\lVert\\tilde\\Sigma\\rVert_2 - 1)\\bigr)},

   which moves from the squared norm (:math:`\\alpha \\to 0`) to the squared projection on
   the top whitened direction (:math:`\\alpha \\to \\infty`); the paper uses :math:`\\alpha = 4`;
4. remove the :math:`1.5\\,\\varepsilon n` highest scores, as Spectral Signatures does.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from sklearn.covariance import MinCovDet

from .result import DetectionResult, check_features, stopwatch

#: Samples per kept dimension: the whitened noise's eigenvalues stay near 1 (Marchenko-Pastur).
SAMPLES_PER_DIMENSION = 50


def que_scores(z: np.ndarray, alpha: float = 4.0) -> tuple[np.ndarray, float]:
    """QUE scores (n,) of whitened samples ``z`` (n, k), and the top eigenvalue of their covariance."""
    covariance = z.T @ z / len(z)
    top = float(np.linalg.eigvalsh(covariance)[-1])
    if top <= 1 + 1e-9:  # nothing sticks out: every direction is as expected
        return np.einsum("ij,ij->i", z, z), top
    q = expm(alpha * (covariance - np.eye(len(covariance))) / (top - 1))
    q /= np.trace(q)
    return np.einsum("ij,jk,ik->i", z, q, z), top


def spectre(activations: np.ndarray, poison_share: float, n_components: int = 16, alpha: float = 4.0,
            removal_factor: float = 1.5, seed: int = 0) -> DetectionResult:
    """Robustly whiten one class's activations, score by QUE and flag the ``removal_factor * poison_share`` largest.

    Parameters
    ----------
    activations : ndarray, shape (n, d)
        Penultimate-layer activations of the class's training samples.
    poison_share : float in (0, 1)
        Expected share :math:`\\varepsilon` of poisoned samples (as for Spectral Signatures).
    n_components : int
        Most dimensions kept before the robust estimate (fewer for small classes, see above).
    alpha : float
        QUE parameter (4 in the paper).
    removal_factor : float
        Multiple of :math:`\\varepsilon n` removed.
    seed : int
        Seed of the minimum-covariance-determinant estimate.

    Returns
    -------
    DetectionResult
        ``scores``: :math:`\\tau_i`; ``flagged``: the highest :math:`\\lceil 1.5 \\varepsilon n \\rceil`
        (at most n - 1); ``extra``: ``n_removed``, ``top_eigenvalue`` of the whitened
        covariance (also ``split_score``: 1 for a class that whitening explains fully).
    """
    x = check_features(activations, "activations")
    if not 0 < poison_share < 1:
        raise ValueError(f"poison_share must lie in (0, 1), got {poison_share!r}: pass the expected share of poisoned samples in the class")
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    if not alpha > 0 or not removal_factor > 0:
        raise ValueError(f"alpha and removal_factor must be positive, got {alpha!r} and {removal_factor!r}")
    with stopwatch() as clock:
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        k = int(min(n_components, max(2, x.shape[0] // SAMPLES_PER_DIMENSION), len(vt)))
        projected = centred @ vt[:k].T
        robust = MinCovDet(random_state=seed).fit(projected)
        values, vectors = np.linalg.eigh(robust.covariance_)
        whitening = vectors / np.sqrt(np.clip(values, 1e-12 * values.max(), None))
        z = (projected - robust.location_) @ whitening
        scores, top = que_scores(z, alpha)
        n_removed = int(min(np.ceil(removal_factor * poison_share * x.shape[0]), x.shape[0] - 1))
        flagged = np.zeros(x.shape[0], dtype=bool)
        flagged[np.argsort(-scores, kind="stable")[:n_removed]] = True
    return DetectionResult(
        method="spectre", flagged=flagged, scores=scores, labels=None,
        extra={"n_removed": n_removed, "top_eigenvalue": top, "split_score": top},
        runtime_s=clock["seconds"],
    )
