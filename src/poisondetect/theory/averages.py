r"""Averages of the error signal over one Gaussian mode: closed forms and quadrature.

Within mode :math:`k` the perturbed pre-activation is :math:`\tilde x \sim \mathcal N(m, v)`
(see :mod:`.dynamics`); the equations of motion need the two averages

.. math::

    \langle \delta \rangle = \big\langle (\operatorname{erf}\tilde x - \tau)\, \tfrac{2}{\sqrt\pi} e^{-\tilde x^2} \big\rangle,
    \qquad
    \langle \delta^2 \rangle = \big\langle (\operatorname{erf}\tilde x - \tau)^2\, \tfrac{4}{\pi} e^{-2\tilde x^2} \big\rangle .

Both have closed forms. Multiplying a Gaussian density by :math:`e^{-c x^2}` gives
another Gaussian (completing the square),

.. math::

    \big\langle e^{-c x^2} f(x) \big\rangle_{\mathcal N(m, v)}
    = \frac{e^{-c m^2 / (1 + 2cv)}}{\sqrt{1 + 2cv}}\,
      \big\langle f(x) \big\rangle_{\mathcal N\left(\frac{m}{1+2cv},\, \frac{v}{1+2cv}\right)},

and under a Gaussian :math:`\langle \operatorname{erf} x \rangle = \operatorname{erf}\big(m / \sqrt{1 + 2v}\big)`
and :math:`\langle \operatorname{erf}^2 x \rangle = 1 - 8\, T\big(\sqrt2 m / \sqrt{1+2v},\, 1/\sqrt{1 + 4v}\big)`
with Owen's :math:`T` function (the bivariate normal probability
:math:`P(Z_1 \le X, Z_2 \le X)` with :math:`\operatorname{erf} x = 2\Phi(\sqrt2 x) - 1`).

Training only on non-robust examples multiplies :math:`\delta` by the gate
:math:`\Theta(-\tau\tilde x)`; its averages are integrals over a half-line, which
we evaluate with Gauss-Legendre nodes on the part of the half-line that carries
the Gaussian mass (Gauss-Hermite converges slowly on a discontinuous integrand).
Plain Gauss-Hermite quadrature, :func:`gauss_hermite_mean`, is the independent
check of the closed forms.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.special import erf, owens_t

from .loss import TWO_OVER_SQRT_PI, error_signal

#: Averaging methods of :func:`signal_moments`.
METHODS = ("closed", "quadrature")
#: Half-width of the integration window of :func:`half_line_mean`, in standard deviations.
WINDOW_SD = 12.0


@lru_cache(maxsize=None)
def hermite_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss-Hermite nodes and weights for the weight :math:`e^{-t^2}` (computed once per size)."""
    return np.polynomial.hermite.hermgauss(n_nodes)


@lru_cache(maxsize=None)
def legendre_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (computed once per size)."""
    return np.polynomial.legendre.leggauss(n_nodes)


def gaussian_tilt(mean, var, c: float):
    r"""Factor and moments of :math:`e^{-c x^2}\, \mathcal N(x \mid m, v)`, renormalised.

    Parameters
    ----------
    mean, var : array_like
        Mean :math:`m` and variance :math:`v` of the Gaussian (broadcastable).
    c : float
        Coefficient of the exponential, :math:`c \ge 0`.

    Returns
    -------
    factor, tilted_mean, tilted_var : ndarray
        .. math:: \frac{e^{-c m^2/(1+2cv)}}{\sqrt{1+2cv}},\quad \frac{m}{1+2cv},\quad \frac{v}{1+2cv}.
    """
    mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
    scale = 1.0 + 2.0 * c * var
    return np.exp(-c * mean**2 / scale) / np.sqrt(scale), mean / scale, var / scale


def mean_erf(mean, var) -> np.ndarray:
    r""":math:`\langle \operatorname{erf} x \rangle = \operatorname{erf}(m/\sqrt{1+2v})` for :math:`x \sim \mathcal N(m, v)`."""
    return erf(np.asarray(mean, dtype=float) / np.sqrt(1.0 + 2.0 * np.asarray(var, dtype=float)))


def mean_erf_squared(mean, var) -> np.ndarray:
    r""":math:`\langle \operatorname{erf}^2 x \rangle = 1 - 8\,T(\sqrt2 m/\sqrt{1+2v},\ 1/\sqrt{1+4v})` for :math:`x \sim \mathcal N(m, v)`."""
    mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
    return 1.0 - 8.0 * owens_t(np.sqrt(2.0) * mean / np.sqrt(1.0 + 2.0 * var), 1.0 / np.sqrt(1.0 + 4.0 * var))


def signal_mean(mean, var, tau) -> np.ndarray:
    r"""Closed form of :math:`\langle\delta\rangle` for :math:`\tilde x \sim \mathcal N(m, v)` and label :math:`\tau`.

    .. math:: \langle\delta\rangle = \tfrac{2}{\sqrt\pi}\, A_1 \big(\operatorname{erf}(m_1/\sqrt{1+2v_1}) - \tau\big),

    with :math:`(A_1, m_1, v_1)` from :func:`gaussian_tilt` at :math:`c = 1`. Shapes broadcast.
    """
    factor, tilted_mean, tilted_var = gaussian_tilt(mean, var, 1.0)
    return TWO_OVER_SQRT_PI * factor * (mean_erf(tilted_mean, tilted_var) - tau)


def signal_square_mean(mean, var, tau) -> np.ndarray:
    r"""Closed form of :math:`\langle\delta^2\rangle` for :math:`\tilde x \sim \mathcal N(m, v)` and label :math:`\tau = \pm1`.

    .. math:: \langle\delta^2\rangle = \tfrac{4}{\pi}\, A_2 \big(\langle\operatorname{erf}^2\rangle_2 - 2\tau\langle\operatorname{erf}\rangle_2 + 1\big),

    averages under the Gaussian tilted with :math:`c = 2`. Shapes broadcast.
    """
    factor, tilted_mean, tilted_var = gaussian_tilt(mean, var, 2.0)
    square = mean_erf_squared(tilted_mean, tilted_var) - 2.0 * tau * mean_erf(tilted_mean, tilted_var) + 1.0
    return TWO_OVER_SQRT_PI**2 * factor * square


def gauss_hermite_mean(function: Callable[[np.ndarray], np.ndarray], mean, var, n_nodes: int = 128) -> np.ndarray:
    r"""Gauss-Hermite estimate of :math:`\langle f(x) \rangle` for :math:`x \sim \mathcal N(m, v)`.

    .. math:: \langle f \rangle \approx \frac{1}{\sqrt\pi} \sum_{i=1}^{n} w_i\, f\big(m + \sqrt{2v}\, t_i\big),

    with the nodes :math:`t_i` and weights :math:`w_i` of the weight :math:`e^{-t^2}`.
    ``function`` maps an array of shape ``shape + (n_nodes,)`` elementwise; ``mean``
    and ``var`` broadcast to ``shape``. Exact for polynomials of degree < 2n.
    """
    nodes, weights = hermite_nodes(n_nodes)
    mean, var = np.asarray(mean, dtype=float)[..., None], np.asarray(var, dtype=float)[..., None]
    return (function(mean + np.sqrt(2.0 * var) * nodes) * weights).sum(-1) / np.sqrt(np.pi)


def half_line_mean(function: Callable[[np.ndarray], np.ndarray], mean, var, tau, n_nodes: int = 96) -> np.ndarray:
    r"""Gauss-Legendre estimate of :math:`\langle f(x)\, \Theta(-\tau x) \rangle` for :math:`x \sim \mathcal N(m, v)`.

    The integral of :math:`f(x)\, \mathcal N(x \mid m, v)` over the half-line
    :math:`\tau x < 0`, restricted to :math:`m \pm 12\sqrt v` (the rest weighs below
    :math:`10^{-32}`), with ``n_nodes`` Legendre nodes; ``tau`` is +1 or -1 and
    ``mean``, ``var``, ``tau`` broadcast to ``shape``; ``function`` maps ``shape + (n_nodes,)``.
    """
    mean, var, tau = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mean, var, tau)))
    sd = np.sqrt(var)
    low, high = mean - WINDOW_SD * sd, mean + WINDOW_SD * sd
    low = np.where(tau > 0, low, np.maximum(low, 0.0))
    high = np.where(tau > 0, np.minimum(high, 0.0), high)
    width = np.clip(high - low, 0.0, None)
    nodes, weights = legendre_nodes(n_nodes)
    x = low[..., None] + 0.5 * width[..., None] * (nodes + 1.0)
    density = np.exp(-0.5 * (x - mean[..., None]) ** 2 / var[..., None]) / np.sqrt(2.0 * np.pi * var[..., None])
    return 0.5 * width * (function(x) * density * weights).sum(-1)


def signal_moments(mean, var, tau, only_non_robust: bool = False, method: str = "closed"):
    r"""The two averages :math:`\langle\delta\rangle` and :math:`\langle\delta^2\rangle` over one mode.

    Parameters
    ----------
    mean, var, tau : array_like
        Mean and variance of :math:`\tilde x` in the mode and its label (broadcastable).
    only_non_robust : bool
        Gate the signal with :math:`\Theta(-\tau\tilde x)` (training only on non-robust
        examples); then both averages come from :func:`half_line_mean`.
    method : {"closed", "quadrature"}
        Without the gate: closed forms (:func:`signal_mean`, :func:`signal_square_mean`)
        or Gauss-Hermite quadrature (:func:`gauss_hermite_mean`, the check).

    Returns
    -------
    mean_signal, mean_square_signal : ndarray
        Of the broadcast shape of the inputs.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    tau_nodes = np.asarray(tau, dtype=float)[..., None]
    signal = lambda x: error_signal(x, tau_nodes)  # noqa: E731 (the integrand, evaluated at the nodes)
    if only_non_robust:
        return (half_line_mean(signal, mean, var, tau),
                half_line_mean(lambda x: signal(x) ** 2, mean, var, tau))
    if method == "closed":
        return signal_mean(mean, var, tau), signal_square_mean(mean, var, tau)
    return gauss_hermite_mean(signal, mean, var), gauss_hermite_mean(lambda x: signal(x) ** 2, mean, var)

