r"""The student's loss and its error signal.

The talk's slide with the loss is an image; we use the quadratic loss of the
on-line learning literature for erf students (:cite:`biehl1995`, :cite:`saad1995`),

.. math::

    \mathcal L(\tilde x, \tau) = \tfrac12 \big(\operatorname{erf}(\tilde x) - \tau\big)^2,
    \qquad \tilde x = \mathbf w \cdot \tilde\xi - b .

Its derivative with respect to the pre-activation is the *error signal*

.. math::

    \delta(\tilde x, \tau) = \frac{\partial \mathcal L}{\partial \tilde x}
    = \big(\operatorname{erf}(\tilde x) - \tau\big)\, \frac{2}{\sqrt\pi} e^{-\tilde x^2},

so that :math:`\nabla_{\mathbf w} \mathcal L = \delta\, \tilde\xi` (the perturbed example
held fixed, as in adversarial training after Danskin's theorem) and
:math:`\partial \mathcal L / \partial b = -\delta`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


def quadratic_loss(x_tilde: np.ndarray, tau: np.ndarray) -> np.ndarray:
    r"""Quadratic loss :math:`\tfrac12(\operatorname{erf}(\tilde x) - \tau)^2`, elementwise (any broadcastable shapes)."""
    return 0.5 * (erf(x_tilde) - tau) ** 2


def error_signal(x_tilde: np.ndarray, tau: np.ndarray) -> np.ndarray:
    r"""Error signal :math:`\delta = (\operatorname{erf}(\tilde x) - \tau)\, \tfrac{2}{\sqrt\pi} e^{-\tilde x^2}`, elementwise."""
    return (erf(x_tilde) - tau) * TWO_OVER_SQRT_PI * np.exp(-np.square(x_tilde))


def non_robust(x_tilde: np.ndarray, tau: np.ndarray) -> np.ndarray:
    r"""Whether the perturbed example is misclassified, :math:`\tau \tilde x < 0` (bool, elementwise).

    An example with :math:`\tau (\mathbf w \cdot \xi - b) < \epsilon` is *non-robust*:
    the worst-case perturbation of size :math:`\epsilon` flips its prediction,
    and then :math:`\tau \tilde x = \tau(\mathbf w\cdot\xi - b) - \epsilon < 0`.
    """
    return tau * x_tilde < 0
