r"""Order-parameter equations of on-line (adversarial) training, and their integration.

One step with the perturbed example :math:`\tilde\xi = \xi - \tau\epsilon\mathbf w` and the
error signal :math:`\delta` of :mod:`.loss` reads

.. math::

    \mathbf w' = \frac{\mathbf w - \frac{\eta_w}{N}\,\delta\,\tilde\xi}{|\mathbf w - \frac{\eta_w}{N}\,\delta\,\tilde\xi|},
    \qquad b' = b + \frac{\eta_b}{N}\,\delta .

With :math:`\tilde y = \mathbf B\cdot\tilde\xi`, :math:`\mathbf w\cdot\tilde\xi = \tilde x + b` and
:math:`|\tilde\xi|^2 = N v_k + O(\sqrt N)` the normalisation expands as
:math:`1 + \frac{\eta_w}{N}\delta(\tilde x + b) - \frac{\eta_w^2}{2N}\delta^2 v_k + O(N^{-2})`, so

.. math::

    N (R' - R) = \eta_w \Big[-\delta\,\tilde y + R\,\delta\,(\tilde x + b) - \frac{\eta_w}{2} R\, v_k\, \delta^2\Big] + O(1/N) .

The last term, of order :math:`\eta_w^2`, is the normalisation's answer to the
:math:`O(N)` squared length of the step. In mode :math:`k` the pair
:math:`(\mathbf w\cdot\xi, \mathbf B\cdot\xi)` is Gaussian with means
:math:`\tau_k\frac{\rho}{2}(R, 1)`, variances :math:`v_k` and covariance :math:`v_k R`,
hence :math:`\langle \tilde y \mid \tilde x \rangle = \tau_k\frac{\rho}{2} - \tau_k\epsilon R + R(\tilde x - m_k)`
with :math:`m_k = \tau_k\frac{\rho}{2}R - b - \tau_k\epsilon`. Averaging over a unit
:math:`\alpha = \mu/N` of learning time (:cite:`biehl1995`, :cite:`saad1995`,
:cite:`engel2001`) gives

.. math::

    \frac{dR}{d\alpha} = \eta_w \sum_{k=1,2} p_k \Big[-\tau_k\, \frac{\rho}{2}(1 - R^2)\, \langle\delta\rangle_k
        - \frac{\eta_w}{2}\, R\, v_k\, \langle\delta^2\rangle_k\Big],
    \qquad
    \frac{db}{d\alpha} = \eta_b \sum_{k=1,2} p_k \langle\delta\rangle_k ,

where :math:`p_k = (p, 1-p)`, :math:`\tau_k = (+1, -1)` and the averages are over
:math:`\tilde x \sim \mathcal N(m_k, v_k)` (:mod:`.averages`). The perturbation enters only
through :math:`m_k`: it moves along :math:`\mathbf w`, which the normalisation projects out.
A randomised :math:`\epsilon \sim U[0, \epsilon_{\max}]` adds an average over :math:`\epsilon`
(Gauss-Legendre nodes), and training only on non-robust examples gates :math:`\delta`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .averages import legendre_nodes, signal_moments
from .errors import adversarial_error, test_error
from .model import Mixture, Training

#: Gauss-Legendre nodes for the average over a randomised epsilon (the integrand is smooth in epsilon).
EPSILON_NODES = 16


def _epsilon_nodes(training: Training) -> tuple[np.ndarray, np.ndarray]:
    """Perturbation sizes and their probabilities: one node for a fixed epsilon, Gauss-Legendre for a uniform one."""
    if training.epsilon_distribution == "fixed" or training.epsilon == 0:
        return np.array([training.epsilon]), np.array([1.0])
    nodes, weights = legendre_nodes(EPSILON_NODES)
    return 0.5 * training.epsilon * (nodes + 1.0), 0.5 * weights


def perturbed_means(R, b, epsilon, mixture: Mixture) -> np.ndarray:
    r"""Means :math:`m_k = \tau_k\frac{\rho}{2}R - b - \tau_k\epsilon` of :math:`\tilde x` in the two modes.

    Returns an array of shape ``(2,) + broadcast(R, b, epsilon).shape``.
    """
    R, b, epsilon = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (R, b, epsilon)))
    tau = mixture.labels.reshape((2,) + (1,) * R.ndim)
    return tau * (0.5 * mixture.rho * R - epsilon) - b


def drift_terms(R: float, b: float, mixture: Mixture, training: Training, method: str = "closed") -> tuple[float, float, float]:
    r"""The parts of the equations of motion: first-order and normalisation terms of :math:`dR/d\alpha`, and :math:`db/d\alpha`.

    Parameters
    ----------
    R, b : float
        Overlap :math:`R = \mathbf w\cdot\mathbf B \in [-1, 1]` and bias.
    mixture, training : Mixture, Training
    method : {"closed", "quadrature"}
        How the Gaussian averages are evaluated (:func:`.averages.signal_moments`).

    Returns
    -------
    first_order, normalisation, db : float
        .. math::

            \eta_w \sum_k p_k \big(-\tau_k\tfrac{\rho}{2}(1 - R^2)\langle\delta\rangle_k\big),\quad
            -\frac{\eta_w^2}{2} R \sum_k p_k v_k\langle\delta^2\rangle_k,\quad
            \eta_b \sum_k p_k\langle\delta\rangle_k .
    """
    epsilons, probabilities = _epsilon_nodes(training)
    means = perturbed_means(R, b, epsilons, mixture)                      # (2, n_eps)
    tau, var, prior = mixture.labels, mixture.variances, mixture.priors
    mean_signal, mean_square = signal_moments(means, var[:, None], tau[:, None], training.only_non_robust, method)
    mean_signal, mean_square = mean_signal @ probabilities, mean_square @ probabilities   # (2,)
    first_order = training.eta_w * np.sum(prior * -tau * 0.5 * mixture.rho * (1.0 - R**2) * mean_signal)
    normalisation = -0.5 * training.eta_w**2 * R * np.sum(prior * var * mean_square)
    return float(first_order), float(normalisation), float(training.eta_b * np.sum(prior * mean_signal))


def drift(R: float, b: float, mixture: Mixture, training: Training, method: str = "closed") -> tuple[float, float]:
    r"""Right-hand sides :math:`(dR/d\alpha,\ db/d\alpha)` of the order-parameter equations (the module's formula).

    The sum of the first two parts of :func:`drift_terms`, and the third.
    """
    first_order, normalisation, db = drift_terms(R, b, mixture, training, method)
    return first_order + normalisation, db


@dataclass(frozen=True)
class Trajectory:
    r"""Order parameters along the learning time, from the equations of motion.

    Attributes
    ----------
    alpha, R, b : ndarray, shape (T,)
        Learning time :math:`\alpha = \mu/N` and the order parameters there.
    mixture, training : Mixture, Training
        The model the trajectory belongs to.
    """

    alpha: np.ndarray
    R: np.ndarray
    b: np.ndarray
    mixture: Mixture
    training: Training

    def test_error(self) -> np.ndarray:
        r""":math:`\mathcal E(R(\alpha), b(\alpha))`, shape (T,)."""
        return test_error(self.R, self.b, self.mixture)

    def adversarial_error(self, epsilon) -> np.ndarray:
        r""":math:`S(R(\alpha), b(\alpha), \epsilon)`: shape (T,) for a scalar ``epsilon``, (E, T) for shape (E,)."""
        epsilon = np.asarray(epsilon, dtype=float)
        return adversarial_error(self.R, self.b, epsilon[..., None] if epsilon.ndim else epsilon, self.mixture)


def integrate(mixture: Mixture, training: Training, alpha_max: float, n_points: int = 201, R0: float = 0.0,
              b0: float = 0.0, method: str = "closed", rtol: float = 1e-8) -> Trajectory:
    r"""Integrate :math:`dR/d\alpha` and :math:`db/d\alpha` from :math:`(R_0, b_0)` with ``scipy.integrate.solve_ivp``.

    Parameters
    ----------
    mixture, training : Mixture, Training
    alpha_max : float
        Final learning time, > 0.
    n_points : int
        Number of equally spaced times in :math:`[0, \alpha_{\max}]` where the solution is reported.
    R0, b0 : float
        Initial overlap (in [-1, 1]) and bias; a random initial vector has :math:`R_0 = O(N^{-1/2})`.
    method : {"closed", "quadrature"}
        Evaluation of the Gaussian averages.
    rtol : float
        Relative tolerance of the adaptive Runge-Kutta (RK45) integrator; the absolute one is ``rtol / 100``.

    Returns
    -------
    Trajectory
        With arrays of shape (n_points,).
    """
    if not alpha_max > 0:
        raise ValueError(f"alpha_max must be > 0, got alpha_max={alpha_max!r}")
    if not -1.0 <= R0 <= 1.0:
        raise ValueError(f"initial overlap R0 must lie in [-1, 1] (R = w.B with unit vectors), got R0={R0!r}")
    alpha = np.linspace(0.0, alpha_max, n_points)
    solution = solve_ivp(lambda _, y: drift(y[0], y[1], mixture, training, method), (0.0, alpha_max), [R0, b0],
                         t_eval=alpha, rtol=rtol, atol=rtol / 100)
    if not solution.success:
        raise RuntimeError(f"solve_ivp failed: {solution.message}")
    return Trajectory(alpha, solution.y[0], solution.y[1], mixture, training)
