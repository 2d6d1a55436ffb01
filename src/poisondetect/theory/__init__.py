r"""Order-parameter dynamics of on-line (adversarial) training of a linear erf student.

The model of the talk "Modelling adversarial training" (:cite:`straat2021talk`):
a two-cluster Gaussian mixture, a student :math:`\operatorname{erf}(\mathbf w\cdot\xi - b)`
with :math:`|\mathbf w| = 1`, on-line gradient descent on perturbed examples
:math:`\xi - \tau\epsilon\mathbf w`. Chapter 8 (``notebooks/08_training_dynamics.py``) uses::

    from poisondetect import theory as th

    mixture, training = th.Mixture(p=0.5, rho=2.0), th.Training(eta_w=0.04, eta_b=0.2, epsilon=1.0)
    trajectory = th.integrate(mixture, training, alpha_max=100)       # R(alpha), b(alpha) from the ODEs
    runs = th.simulate(mixture, training, N=1000, alpha_max=100)      # the same at finite N, 5 runs
    th.adversarial_error(trajectory.R, trajectory.b, 1.0, mixture)    # S(R, b, epsilon)

Modules: :mod:`.model` (parameters, checked), :mod:`.loss` (quadratic loss and error
signal), :mod:`.averages` (Gaussian averages: closed forms, quadrature),
:mod:`.dynamics` (equations of motion, ``solve_ivp``), :mod:`.errors` (test,
adversarial and Bayes errors), :mod:`.simulation` (finite-N on-line learning).
"""

from .averages import gauss_hermite_mean, gaussian_tilt, half_line_mean, mean_erf, mean_erf_squared, signal_mean, signal_moments, signal_square_mean
from .dynamics import Trajectory, drift, drift_terms, integrate, perturbed_means
from .errors import adversarial_error, bayes_error, bayes_threshold, clean_means, test_error
from .loss import error_signal, non_robust, quadratic_loss
from .model import Mixture, Training, check_dimension
from .simulation import DriftEstimate, Noise, SimulationResult, draw_noise, simulate, simulate_loop, simulate_settings, single_step_drift

__all__ = [
    "DriftEstimate", "Mixture", "Noise", "SimulationResult", "Training", "Trajectory", "adversarial_error",
    "bayes_error", "bayes_threshold", "check_dimension", "clean_means", "draw_noise", "drift", "drift_terms",
    "error_signal", "gauss_hermite_mean", "gaussian_tilt", "half_line_mean", "integrate", "mean_erf",
    "mean_erf_squared", "non_robust", "perturbed_means", "quadratic_loss", "signal_mean", "signal_moments",
    "signal_square_mean", "simulate", "simulate_loop", "simulate_settings", "single_step_drift",
]
