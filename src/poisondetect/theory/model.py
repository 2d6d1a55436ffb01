r"""The data model and the training rule of the adversarial-training model, with checked parameters.

The data are a stream of examples :math:`\xi \in \mathbb{R}^N` from the two-cluster mixture

.. math::

    P(\xi) = p\, \mathcal N(\xi \mid \mathbf B_1, v_1 I) + (1 - p)\, \mathcal N(\xi \mid \mathbf B_2, v_2 I),
    \qquad \mathbf B_1 = \tfrac{\rho}{2} \mathbf B = -\mathbf B_2,\ |\mathbf B| = 1,

with label :math:`\tau = +1` for the first mode and :math:`-1` for the second
(talk "Modelling adversarial training", :cite:`straat2021talk`). The student
:math:`\sigma(\xi) = \operatorname{erf}(\mathbf w \cdot \xi - b)`, :math:`|\mathbf w| = 1`,
learns on-line; adversarial training moves each example to
:math:`\tilde\xi = \xi - \tau \epsilon \mathbf w` before the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: How the perturbation size of each training example is chosen.
EPSILON_DISTRIBUTIONS = ("fixed", "uniform")


def _check_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True)
class Mixture:
    r"""Two Gaussian clusters at :math:`\pm \tfrac{\rho}{2}\mathbf B` with isotropic variances.

    Parameters
    ----------
    p : float
        Prior of the first mode (label +1), in (0, 1).
    rho : float
        Distance between the two cluster centres, >= 0.
    v1, v2 : float
        Variance per component of the first and second mode, > 0.
    """

    p: float = 0.5
    rho: float = 2.0
    v1: float = 1.0
    v2: float = 1.0

    def __post_init__(self) -> None:
        p = _check_finite("p", self.p)
        if not 0.0 < p < 1.0:
            raise ValueError(f"prior p must lie strictly between 0 and 1, got p={p!r}")
        if _check_finite("rho", self.rho) < 0:
            raise ValueError(f"cluster separation rho must be >= 0, got rho={self.rho!r}")
        for name in ("v1", "v2"):
            if _check_finite(name, getattr(self, name)) <= 0:
                raise ValueError(f"variance {name} must be > 0, got {name}={getattr(self, name)!r}")

    @property
    def priors(self) -> np.ndarray:
        r"""Mode weights :math:`(p, 1 - p)`, shape (2,)."""
        return np.array([self.p, 1.0 - self.p])

    @property
    def labels(self) -> np.ndarray:
        r"""Labels :math:`\tau_k = (+1, -1)` of the two modes, shape (2,)."""
        return np.array([1.0, -1.0])

    @property
    def variances(self) -> np.ndarray:
        r"""Variances :math:`(v_1, v_2)`, shape (2,)."""
        return np.array([self.v1, self.v2])


@dataclass(frozen=True)
class Training:
    r"""On-line gradient descent, standard (``epsilon=0``) or adversarial.

    Parameters
    ----------
    eta_w, eta_b : float
        Learning rates of the weights and of the bias, >= 0; the steps are
        :math:`\eta_w / N` and :math:`\eta_b / N`.
    epsilon : float
        Size of the worst-case perturbation (Euclidean norm), >= 0. With
        ``epsilon_distribution="uniform"`` it is the largest size: each example
        draws its own :math:`\epsilon \sim U[0, \epsilon]` (randomised epsilon).
    epsilon_distribution : {"fixed", "uniform"}
        Whether every example gets ``epsilon`` or a uniformly drawn size.
    only_non_robust : bool
        Train only on examples that the perturbation makes misclassified,
        :math:`\tau \tilde x < 0` (a hinge-like rule, from the talk's outlook);
        the others are skipped.
    """

    eta_w: float = 0.04
    eta_b: float = 0.2
    epsilon: float = 0.0
    epsilon_distribution: str = "fixed"
    only_non_robust: bool = False

    def __post_init__(self) -> None:
        for name in ("eta_w", "eta_b", "epsilon"):
            if _check_finite(name, getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        if self.epsilon_distribution not in EPSILON_DISTRIBUTIONS:
            raise ValueError(
                f"epsilon_distribution must be one of {', '.join(EPSILON_DISTRIBUTIONS)}, got {self.epsilon_distribution!r}"
            )

    @property
    def mean_epsilon(self) -> float:
        r"""Average perturbation size of a training example."""
        return self.epsilon / 2 if self.epsilon_distribution == "uniform" else self.epsilon


def check_dimension(N: int) -> int:
    r"""Return the input dimension ``N`` as an int, or raise naming the bad value."""
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"input dimension N must be an integer >= 1, got N={N!r}")
    return int(N)
