"""The order-parameter theory of on-line adversarial training against quadrature, Monte Carlo and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ndtr

from poisondetect import theory as th

SCENARIO_1 = th.Mixture(p=0.5, rho=2.0, v1=1.0, v2=1.0)
SCENARIO_2 = th.Mixture(p=0.7, rho=2.0, v1=1.0, v2=1.0)
STANDARD = th.Training(eta_w=0.04, eta_b=0.2, epsilon=0.0)
ADVERSARIAL = th.Training(eta_w=0.04, eta_b=0.2, epsilon=1.0)
MEANS = np.array([-2.0, -0.7, 0.0, 0.3, 1.2, 2.5])
VARIANCES = np.array([0.5, 1.0, 1.0, 2.0, 0.7, 1.5])
# One run's spread of R, b and E times sqrt(N), at most 0.14, 0.52 and 0.07 over N = 62 ... 1000
# in the finite-size study of chapter 8 (notebooks/08_training_dynamics.py, section 6, quick
# profile: scenario 2, adversarial, alpha <= 10, 10 runs per N), where the spread falls as N^(-1/2).
SPREAD_TIMES_SQRT_N = {"R": 0.14, "b": 0.52, "E": 0.07}


def density(x, mean, var):
    return np.exp(-0.5 * (x - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


@pytest.mark.parametrize("tau", [1.0, -1.0])
def test_closed_forms_match_adaptive_quadrature_and_gauss_hermite(tau):
    closed_mean, closed_square = th.signal_mean(MEANS, VARIANCES, tau), th.signal_square_mean(MEANS, VARIANCES, tau)
    for i, (m, v) in enumerate(zip(MEANS, VARIANCES)):
        ref_mean = quad(lambda x: th.error_signal(x, tau) * density(x, m, v), -40, 40, limit=400, epsabs=1e-13)[0]
        ref_square = quad(lambda x: th.error_signal(x, tau) ** 2 * density(x, m, v), -40, 40, limit=400, epsabs=1e-13)[0]
        assert closed_mean[i] == pytest.approx(ref_mean, abs=1e-11)
        assert closed_square[i] == pytest.approx(ref_square, abs=1e-11)
    hermite_mean, hermite_square = th.signal_moments(MEANS, VARIANCES, tau, method="quadrature")
    np.testing.assert_allclose(hermite_mean, closed_mean, atol=1e-7)
    np.testing.assert_allclose(hermite_square, closed_square, atol=1e-7)


def test_gaussian_identities_of_erf():
    for m, v in zip(MEANS, VARIANCES):
        assert th.mean_erf(m, v) == pytest.approx(quad(lambda x: math.erf(x) * density(x, m, v), -40, 40)[0], abs=1e-10)
        assert th.mean_erf_squared(m, v) == pytest.approx(quad(lambda x: math.erf(x) ** 2 * density(x, m, v), -40, 40)[0], abs=1e-10)
        factor, tilted_mean, tilted_var = th.gaussian_tilt(m, v, 2.0)
        assert factor * density(0.4, tilted_mean, tilted_var) == pytest.approx(np.exp(-2 * 0.4**2) * density(0.4, m, v), rel=1e-12)


@pytest.mark.parametrize("tau", [1.0, -1.0])
@pytest.mark.parametrize("only_non_robust", [False, True])
def test_averages_match_monte_carlo(tau, only_non_robust):
    rng = np.random.default_rng(3)
    x = MEANS[:, None] + np.sqrt(VARIANCES)[:, None] * rng.standard_normal((len(MEANS), 400_000))
    signal = th.error_signal(x, tau) * (th.non_robust(x, tau) if only_non_robust else 1.0)
    mean_signal, mean_square = th.signal_moments(MEANS, VARIANCES, tau, only_non_robust)
    standard_error = signal.std(1) / np.sqrt(x.shape[1])
    assert np.all(np.abs(signal.mean(1) - mean_signal) < 5 * standard_error + 1e-12)
    standard_error = (signal**2).std(1) / np.sqrt(x.shape[1])
    assert np.all(np.abs((signal**2).mean(1) - mean_square) < 5 * standard_error + 1e-12)


def test_half_line_mean_matches_adaptive_quadrature():
    for m, v in zip(MEANS, VARIANCES):
        for tau in (1.0, -1.0):
            low, high = (-np.inf, 0.0) if tau > 0 else (0.0, np.inf)
            ref = quad(lambda x: th.error_signal(x, tau) * density(x, m, v), low, high, epsabs=1e-13)[0]
            assert th.half_line_mean(lambda x: th.error_signal(x, tau), m, v, tau) == pytest.approx(ref, abs=1e-10)


def test_error_signal_is_the_derivative_of_the_loss():
    x, h = np.linspace(-3, 3, 13), 1e-6
    for tau in (1.0, -1.0):
        numeric = (th.quadratic_loss(x + h, tau) - th.quadratic_loss(x - h, tau)) / (2 * h)
        np.testing.assert_allclose(th.error_signal(x, tau), numeric, atol=1e-8)


@pytest.mark.parametrize("training", [
    th.Training(eta_w=2.0, eta_b=0.5, epsilon=0.0),
    th.Training(eta_w=2.0, eta_b=0.5, epsilon=0.8),
    th.Training(eta_w=2.0, eta_b=0.5, epsilon=1.5, epsilon_distribution="uniform"),
    th.Training(eta_w=2.0, eta_b=0.5, epsilon=0.8, only_non_robust=True),
], ids=["standard", "adversarial", "uniform_epsilon", "non_robust_only"])
def test_drift_matches_monte_carlo_of_single_steps(training):
    """N times the mean one-step change of R and b, from many independent single steps, is the drift.

    A large eta_w makes the O(eta_w^2) normalisation term as large as the first-order one,
    so a wrong normalisation term would fail this test.
    """
    mixture, R, b, N = th.Mixture(p=0.65, rho=1.5, v1=0.8, v2=1.3), 0.6, -0.2, 400
    estimate = th.single_step_drift(mixture, training, R, b, N=N, steps=40_000, seed=7)
    dR, db = th.drift(R, b, mixture, training)
    # 5 standard errors, plus the O(1/N) terms the equations neglect (eta_w^3 / N is 0.02 here)
    assert abs(estimate.dR - dR) < 5 * estimate.dR_error + 0.02
    assert abs(estimate.db - db) < 5 * estimate.db_error
    # without its O(eta_w^2) normalisation term the drift would fail the same comparison
    first_order, normalisation, _ = th.drift_terms(R, b, mixture, training)
    assert first_order + normalisation == pytest.approx(dR, abs=1e-14)
    assert abs(estimate.dR - first_order) > 5 * estimate.dR_error + 0.02
    assert abs(dR) > 0.05  # the test has something to see


def test_drift_closed_forms_and_quadrature_agree():
    for training in (STANDARD, ADVERSARIAL, th.Training(epsilon=2.0, epsilon_distribution="uniform")):
        for R, b in ((0.0, 0.0), (0.5, -0.4), (0.95, 0.3)):
            np.testing.assert_allclose(th.drift(R, b, SCENARIO_2, training), th.drift(R, b, SCENARIO_2, training, "quadrature"), atol=1e-9)


def test_symmetric_mixture_keeps_the_bias_at_zero():
    for training in (STANDARD, ADVERSARIAL, th.Training(epsilon=1.0, only_non_robust=True)):
        for R in (0.0, 0.4, 0.99):
            assert th.drift(R, 0.0, SCENARIO_1, training)[1] == pytest.approx(0.0, abs=1e-15)
        trajectory = th.integrate(SCENARIO_1, training, alpha_max=200, n_points=21)
        assert np.abs(trajectory.b).max() < 1e-10
        assert trajectory.R[-1] > 0.9
    # the asymmetric mixture moves the bias, so the check above is not empty
    assert abs(th.integrate(SCENARIO_2, ADVERSARIAL, alpha_max=20, n_points=3).b[-1]) > 0.5


def test_simulation_agrees_with_theory_at_N_1000():
    """Mean over 8 runs within 5 standard errors of one run's N^(-1/2) spread (finite-size study)."""
    N, runs = 1000, 8
    settings = [(SCENARIO_1, STANDARD), (SCENARIO_2, ADVERSARIAL)]
    for (mixture, training), sim in zip(settings, th.simulate_settings(settings, N, alpha_max=10, runs=runs, n_records=11, seed=11)):
        theory = th.integrate(mixture, training, alpha_max=10, n_points=11)
        for name, simulated, predicted in (("R", sim.R, theory.R), ("b", sim.b, theory.b), ("E", sim.test_error(), theory.test_error())):
            tolerance = 5 * SPREAD_TIMES_SQRT_N[name] / np.sqrt(N * runs)
            assert np.abs(simulated.mean(0) - predicted).max() < tolerance, name
        assert theory.R[-1] > 0.2  # the students have learned something by alpha = 10


def test_vectorised_simulation_reproduces_the_plain_loop():
    for training in (ADVERSARIAL, th.Training(epsilon=1.5, epsilon_distribution="uniform", only_non_robust=True)):
        fast = th.simulate(SCENARIO_2, training, N=40, alpha_max=3, runs=3, n_records=4, R0=0.2, b0=0.1, seed=5)
        slow = th.simulate_loop(SCENARIO_2, training, N=40, alpha_max=3, runs=3, n_records=4, R0=0.2, b0=0.1, seed=5)
        np.testing.assert_allclose(fast.R, slow.R, atol=1e-12)
        np.testing.assert_allclose(fast.b, slow.b, atol=1e-12)
        assert fast.R[:, 0] == pytest.approx(0.2) and np.all(fast.R[:, -1] != fast.R[:, 0])


def test_settings_share_random_numbers_and_match_single_runs():
    settings = [(SCENARIO_1, STANDARD), (SCENARIO_2, ADVERSARIAL), (SCENARIO_2, th.Training(epsilon=1.0, only_non_robust=True))]
    together = th.simulate_settings(settings, N=60, alpha_max=2, runs=2, n_records=3, seed=2)
    for (mixture, training), result in zip(settings, together):
        alone = th.simulate(mixture, training, N=60, alpha_max=2, runs=2, n_records=3, seed=2)
        np.testing.assert_allclose(result.R, alone.R, atol=1e-13)
        np.testing.assert_allclose(result.b, alone.b, atol=1e-13)


def test_errors_match_monte_carlo_of_perturbed_examples():
    mixture, N, R, b, epsilon = th.Mixture(p=0.7, rho=2.0, v1=0.8, v2=1.4), 50, 0.7, -0.3, 0.6
    rng = np.random.default_rng(1)
    B, w = np.eye(N)[0], np.sqrt(1 - R**2) * np.eye(N)[1] + R * np.eye(N)[0]
    first = rng.random(200_000) < mixture.p
    tau = np.where(first, 1.0, -1.0)
    xi = tau[:, None] * mixture.rho / 2 * B + np.sqrt(np.where(first, mixture.v1, mixture.v2))[:, None] * rng.standard_normal((200_000, N))
    clean_wrong = tau * (xi @ w - b) < 0
    perturbed_wrong = tau * ((xi - epsilon * tau[:, None] * w) @ w - b) < 0
    assert th.test_error(R, b, mixture) == pytest.approx(clean_wrong.mean(), abs=0.005)
    assert th.adversarial_error(R, b, epsilon, mixture) == pytest.approx(perturbed_wrong.mean(), abs=0.005)


def test_adversarial_error_starts_at_the_test_error_and_grows():
    R, b = np.linspace(-1, 1, 9)[:, None], np.linspace(-2, 2, 7)[None, :]
    for mixture in (SCENARIO_1, SCENARIO_2, th.Mixture(p=0.3, rho=1.0, v1=0.5, v2=2.0)):
        np.testing.assert_array_equal(th.adversarial_error(R, b, 0.0, mixture), th.test_error(R, b, mixture))
        curves = th.adversarial_error(R[..., None], b[..., None], np.linspace(0, 3, 31), mixture)
        assert np.all(np.diff(curves, axis=-1) > 0)


def test_test_error_is_never_below_the_bayes_error():
    for mixture in (SCENARIO_1, SCENARIO_2, th.Mixture(p=0.2, rho=3.0, v1=2.0, v2=2.0)):
        bayes = th.bayes_error(mixture)
        R, b = np.linspace(-1, 1, 201)[:, None], np.linspace(-4, 4, 401)[None, :]
        assert th.test_error(R, b, mixture).min() >= bayes - 1e-12
        for training in (STANDARD, ADVERSARIAL):
            assert th.integrate(mixture, training, alpha_max=300, n_points=31).test_error().min() >= bayes
    assert th.bayes_error(SCENARIO_1) == pytest.approx(ndtr(-1.0), abs=1e-15)  # p = 1/2: Phi(-rho / (2 sqrt v))
    with pytest.raises(ValueError, match="v1=1.0, v2=2.0"):
        th.bayes_error(th.Mixture(v1=1.0, v2=2.0))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: th.Mixture(p=0.0), "p=0.0"),
    (lambda: th.Mixture(p=1.2), "p=1.2"),
    (lambda: th.Mixture(v1=0.0), "v1=0.0"),
    (lambda: th.Mixture(v2=-1.0), "v2=-1.0"),
    (lambda: th.Mixture(rho=-2.0), "rho=-2.0"),
    (lambda: th.Mixture(p=float("nan")), "p must be a finite number"),
    (lambda: th.Training(eta_w=-0.04), "eta_w=-0.04"),
    (lambda: th.Training(eta_b=-0.2), "eta_b=-0.2"),
    (lambda: th.Training(epsilon=-1.0), "epsilon=-1.0"),
    (lambda: th.Training(epsilon_distribution="gaussian"), "'gaussian'"),
    (lambda: th.simulate(SCENARIO_1, STANDARD, N=0, alpha_max=1), "N=0"),
    (lambda: th.simulate(SCENARIO_1, STANDARD, N=10.5, alpha_max=1), "N=10.5"),
    (lambda: th.simulate(SCENARIO_1, STANDARD, N=10, alpha_max=0), "alpha_max=0"),
    (lambda: th.simulate(SCENARIO_1, STANDARD, N=1, alpha_max=1), "R0=0.0"),
    (lambda: th.integrate(SCENARIO_1, STANDARD, alpha_max=10, R0=1.5), "R0=1.5"),
    (lambda: th.adversarial_error(0.5, 0.0, -0.1, SCENARIO_1), "epsilon=-0.1"),
    (lambda: th.signal_moments(0.0, 1.0, 1.0, method="simpson"), "'simpson'"),
])
def test_bad_parameters_raise_errors_that_name_the_value(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make()
