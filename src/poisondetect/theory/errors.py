r"""Test error, adversarial error and the Bayes error of the two-cluster model, in closed form.

The student is evaluated on clean examples: its pre-activation
:math:`x = \mathbf w \cdot \xi - b` is Gaussian in each mode, with means
:math:`m_1 = \tfrac{\rho}{2}R - b` and :math:`m_2 = -\tfrac{\rho}{2}R - b` and variances
:math:`v_1, v_2` (exactly, at any :math:`N`, because :math:`|\mathbf w| = 1`). A worst-case
perturbation of Euclidean norm :math:`\epsilon` moves :math:`x` by :math:`\epsilon` against
the label, so

.. math::

    \mathcal E(R, b) = p\, \Phi\!\Big(\frac{-m_1}{\sqrt{v_1}}\Big) + (1 - p)\, \Phi\!\Big(\frac{m_2}{\sqrt{v_2}}\Big),
    \qquad
    S(R, b, \epsilon) = p\, \Phi\!\Big(\frac{\epsilon - m_1}{\sqrt{v_1}}\Big) + (1 - p)\, \Phi\!\Big(\frac{m_2 + \epsilon}{\sqrt{v_2}}\Big),

the talk's :math:`p\langle\Theta(-x)\rangle_1 + (1-p)\langle\Theta(x)\rangle_2` and
:math:`p\langle\Theta(\epsilon - x)\rangle_1 + (1-p)\langle\Theta(x + \epsilon)\rangle_2`
(:cite:`gopfert2019curves` call :math:`S` as a function of :math:`\epsilon` the robustness curve).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .model import Mixture


def clean_means(R, b, mixture: Mixture) -> tuple[np.ndarray, np.ndarray]:
    r"""Means :math:`(\tfrac{\rho}{2}R - b,\ -\tfrac{\rho}{2}R - b)` of the clean pre-activation in the two modes."""
    R, b = np.asarray(R, dtype=float), np.asarray(b, dtype=float)
    half = 0.5 * mixture.rho * R
    return half - b, -half - b


def adversarial_error(R, b, epsilon, mixture: Mixture) -> np.ndarray:
    r"""Adversarial error :math:`S(R, b, \epsilon)`: the share of examples misclassified after the worst-case perturbation.

    Parameters
    ----------
    R, b, epsilon : array_like
        Overlap :math:`R = \mathbf w\cdot\mathbf B`, bias and perturbation size :math:`\epsilon \ge 0`
        (broadcastable; e.g. ``R`` of shape (T,) and ``epsilon`` of shape (E, 1) give (E, T)).
    mixture : Mixture

    Returns
    -------
    ndarray
        :math:`S` of the broadcast shape, non-decreasing in :math:`\epsilon`; :math:`S(\cdot, \cdot, 0) = \mathcal E`.
    """
    epsilon = np.asarray(epsilon, dtype=float)
    if np.any(epsilon < 0):
        raise ValueError(f"perturbation size epsilon must be >= 0, got epsilon={float(epsilon.min())!r}")
    mean_1, mean_2 = clean_means(R, b, mixture)
    return mixture.p * ndtr((epsilon - mean_1) / np.sqrt(mixture.v1)) + (1 - mixture.p) * ndtr((mean_2 + epsilon) / np.sqrt(mixture.v2))


def test_error(R, b, mixture: Mixture) -> np.ndarray:
    r"""Test error :math:`\mathcal E(R, b) = S(R, b, 0)` on clean examples (shapes of ``R`` and ``b`` broadcast)."""
    return adversarial_error(R, b, 0.0, mixture)



def bayes_threshold(mixture: Mixture) -> float:
    r"""Threshold :math:`t = \frac{v}{\rho} \log\frac{1 - p}{p}` of the Bayes rule :math:`\mathbf B\cdot\xi > t` (equal variances).

    With :math:`v_1 = v_2 = v` the log-likelihood ratio of the two modes is linear,
    :math:`\rho\, \mathbf B\cdot\xi / v + \log\frac{p}{1-p}`, so the Bayes rule is the linear
    student with :math:`R = 1` and :math:`b = t`.
    """
    if mixture.v1 != mixture.v2:
        raise ValueError(
            f"the Bayes rule is linear only for equal variances, got v1={mixture.v1!r}, v2={mixture.v2!r} "
            "(for unequal variances it is quadratic and its error tends to 0 as N grows)"
        )
    if mixture.rho == 0:
        raise ValueError("with rho=0 the two modes coincide and the Bayes rule predicts the more probable label everywhere")
    return mixture.v1 / mixture.rho * np.log((1 - mixture.p) / mixture.p)


def bayes_error(mixture: Mixture) -> float:
    r"""Bayes error of the mixture with equal variances, :math:`\mathcal E(R = 1, b = t)` with :func:`bayes_threshold`."""
    return float(test_error(1.0, bayes_threshold(mixture), mixture))
