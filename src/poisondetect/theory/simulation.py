r"""On-line (adversarial) training at finite :math:`N`, simulated example by example.

Every run keeps its own student :math:`(\mathbf w, b)` with :math:`|\mathbf w| = 1`; each
step draws a fresh example :math:`\xi = \tau\frac{\rho}{2}\mathbf B + \sqrt{v_k}\,\mathbf z`,
:math:`\mathbf z \sim \mathcal N(0, I_N)`, perturbs it to :math:`\tilde\xi = \xi - \tau\epsilon\mathbf w`
and takes the gradient step of :mod:`.dynamics`. :func:`simulate` advances all runs at
once (arrays of shape (runs, N)) and computes the new length of :math:`\mathbf w` from
scalars; :func:`simulate_loop` is the plain per-example loop a reader would write,
the reference that :func:`simulate` must reproduce and the baseline of
``benchmarks/bench_theory.py``. Both read the same random numbers, drawn in blocks
by :func:`draw_noise`.

The test and adversarial errors of a simulated student follow exactly from its
:math:`(R, b)` (:mod:`.errors`), so they are recorded through :math:`R` and :math:`b`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import adversarial_error, test_error
from .loss import error_signal, non_robust
from .model import Mixture, Training, check_dimension

#: Random numbers drawn at once, in float64 values (a block of about 16 MB).
BLOCK_VALUES = 2**21


@dataclass(frozen=True)
class Noise:
    r"""The random numbers of a block of ``K`` steps for ``runs`` runs.

    Attributes
    ----------
    mode : ndarray, shape (K, runs)
        Uniform numbers; the example comes from the first mode when ``mode < p``.
    size : ndarray, shape (K, runs)
        Uniform numbers; a randomised perturbation has size ``epsilon * size``.
    z : ndarray, shape (K, runs, N)
        Standard normal noise; the example is :math:`\xi = \tau\frac{\rho}{2}\mathbf B + \sqrt{v_k}\,\mathbf z`.
    """

    mode: np.ndarray
    size: np.ndarray
    z: np.ndarray


def draw_noise(rng: np.random.Generator, steps: int, runs: int, N: int) -> Noise:
    """Draw the random numbers of ``steps`` examples for each of ``runs`` runs (always in the same order)."""
    return Noise(mode=rng.random((steps, runs)), size=rng.random((steps, runs)), z=rng.standard_normal((steps, runs, N)))


@dataclass(frozen=True)
class SimulationResult:
    r"""Order parameters of independent runs along the learning time.

    Attributes
    ----------
    alpha : ndarray, shape (T,)
        Learning times :math:`\mu / N` of the records.
    R, b : ndarray, shape (runs, T)
        Overlap :math:`\mathbf w\cdot\mathbf B` and bias of every run at every record.
    N : int
        Input dimension.
    mixture, training : Mixture, Training
    """

    alpha: np.ndarray
    R: np.ndarray
    b: np.ndarray
    N: int
    mixture: Mixture
    training: Training

    def test_error(self) -> np.ndarray:
        r""":math:`\mathcal E` of every run at every record, shape (runs, T)."""
        return test_error(self.R, self.b, self.mixture)

    def adversarial_error(self, epsilon: float) -> np.ndarray:
        r""":math:`S(\epsilon)` of every run at every record, shape (runs, T)."""
        return adversarial_error(self.R, self.b, epsilon, self.mixture)


def _setup(N: int, alpha_max: float, runs: int, n_records: int, R0: float, seed: int):
    """Checked sizes, the random generator, teacher B, the initial students with overlap R0, and the record steps."""
    N = check_dimension(N)
    if not alpha_max > 0:
        raise ValueError(f"alpha_max must be > 0, got alpha_max={alpha_max!r}")
    if runs < 1 or n_records < 2:
        raise ValueError(f"need runs >= 1 and n_records >= 2, got runs={runs!r}, n_records={n_records!r}")
    if not -1.0 <= R0 <= 1.0:
        raise ValueError(f"initial overlap R0 must lie in [-1, 1], got R0={R0!r}")
    if N == 1 and abs(R0) != 1.0:
        raise ValueError(f"with N=1 the unit vector w is +B or -B, so R0 must be 1 or -1, got R0={R0!r}")
    rng = np.random.default_rng(seed)
    B = rng.standard_normal(N)
    B /= np.linalg.norm(B)
    other = rng.standard_normal((runs, N))
    other -= np.outer(other @ B, B)                       # orthogonal to B (for N = 1 it vanishes, and R0 = +-1)
    lengths = np.linalg.norm(other, axis=1, keepdims=True)
    other = np.divide(other, lengths, out=np.zeros_like(other), where=lengths > 1e-12)
    W = R0 * B + np.sqrt(1.0 - R0**2) * other
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    record_steps = np.unique(np.round(np.linspace(0, alpha_max * N, n_records)).astype(int))
    return N, rng, B, W, record_steps


def _examples(noise: Noise, mixture: Mixture, training: Training):
    """Labels, mode standard deviations and perturbation sizes of a block, each of the shape of ``noise.mode``."""
    first_mode = noise.mode < mixture.p
    sd = np.sqrt(np.where(first_mode, mixture.v1, mixture.v2))
    epsilon = training.epsilon * (noise.size if training.epsilon_distribution == "uniform" else np.ones_like(noise.size))
    return np.where(first_mode, 1.0, -1.0), sd, epsilon


def simulate_settings(settings: Sequence[tuple[Mixture, Training]], N: int, alpha_max: float, runs: int = 5,
                      n_records: int = 51, R0: float = 0.0, b0: float = 0.0, seed: int = 0) -> list[SimulationResult]:
    r"""Simulate ``runs`` independent students for each setting, all settings in one array of shape (settings, runs, N).

    The settings share their random numbers (common random numbers): run ``r`` of every
    setting starts from the same vector and sees the same noise :math:`\mathbf z`, so each
    setting's result is exactly what :func:`simulate` returns for it alone, and
    comparisons between settings are not blurred by independent noise. Runs within a
    setting are independent.

    With :math:`g = \frac{\eta_w}{N}\delta` the unnormalised new vector is
    :math:`a\mathbf w + \beta\mathbf B + \gamma\mathbf z` with :math:`a = 1 + g\tau\epsilon`,
    :math:`\beta = -g\tau\frac{\rho}{2}`, :math:`\gamma = -g\sqrt{v_k}`, so its squared length

    .. math:: a^2 + \beta^2 + \gamma^2|\mathbf z|^2 + 2a\beta R + 2a\gamma\,\mathbf w\cdot\mathbf z + 2\beta\gamma\,\mathbf B\cdot\mathbf z

    and the new overlap :math:`(aR + \beta + \gamma\,\mathbf B\cdot\mathbf z)/|\cdot|` need only
    scalars; one dot product and one update of :math:`\mathbf w` remain per step.
    :math:`\mathbf w` is renormalised exactly after each block against round-off.

    Parameters
    ----------
    settings : sequence of (Mixture, Training)
    N : int
        Input dimension, >= 1.
    alpha_max : float
        Learning time :math:`\mu / N` at the end.
    runs : int
        Independent students per setting (own initial vector and examples; one random teacher :math:`\mathbf B`).
    n_records : int
        Records at equally spaced times in :math:`[0, \alpha_{\max}]`, rounded to whole steps.
    R0, b0 : float
        Initial overlap and bias of every run.
    seed : int
        Seed of the random generator (teacher, students, examples).

    Returns
    -------
    list of SimulationResult
        One per setting, in order.
    """
    if not settings:
        raise ValueError("settings is empty: give at least one (Mixture, Training) pair")
    N, rng, B, W0, record_steps = _setup(N, alpha_max, runs, n_records, R0, seed)
    n_settings = len(settings)
    column = lambda values: np.array(values, dtype=float)[:, None]  # noqa: E731 (one value per setting, shape (S, 1))
    weight_rate = column([t.eta_w / N for _, t in settings])
    bias_rate = column([t.eta_b / N for _, t in settings])
    half_rho = column([0.5 * m.rho for m, _ in settings])
    gated = np.array([t.only_non_robust for _, t in settings])[:, None]
    any_gated = bool(gated.any())
    W = np.repeat(W0[None], n_settings, axis=0)                       # (S, runs, N)
    R, b = W @ B, np.full((n_settings, runs), float(b0))
    R_records, b_records = np.empty((n_settings, runs, len(record_steps))), np.empty((n_settings, runs, len(record_steps)))
    block = max(1, BLOCK_VALUES // (runs * N))
    step, record = 0, 0
    while True:
        if step == record_steps[record]:
            R_records[..., record], b_records[..., record] = R, b
            record += 1
            if record == len(record_steps):
                break
        steps = min(block, record_steps[record] - step)
        noise = draw_noise(rng, steps, runs, N)
        tau, sd, epsilon = (np.stack(parts, axis=1) for parts in zip(*(_examples(noise, m, t) for m, t in settings)))
        z_squared, B_z = np.einsum("krn,krn->kr", noise.z, noise.z)[:, None], (noise.z @ B)[:, None]   # (K, 1, runs)
        signal_shift, mean_part = tau * epsilon, tau * half_rho
        for k in range(steps):
            w_z = np.einsum("srn,rn->sr", W, noise.z[k])
            x_tilde = mean_part[k] * R + sd[k] * w_z - signal_shift[k] - b
            delta = error_signal(x_tilde, tau[k])
            if any_gated:
                delta = np.where(gated & ~non_robust(x_tilde, tau[k]), 0.0, delta)
            g = weight_rate * delta
            a, beta, gamma = 1.0 + g * signal_shift[k], -g * mean_part[k], -g * sd[k]
            length = np.sqrt(a * a + beta * beta + gamma * gamma * z_squared[k] + 2 * a * beta * R
                             + 2 * a * gamma * w_z + 2 * beta * gamma * B_z[k])
            a, beta, gamma = a / length, beta / length, gamma / length
            W *= a[..., None]
            W += beta[..., None] * B
            W += gamma[..., None] * noise.z[k]
            R = a * R + beta + gamma * B_z[k]
            b = b + bias_rate * delta
        step += steps
        W /= np.linalg.norm(W, axis=-1, keepdims=True)
        R = W @ B
    return [SimulationResult(record_steps / N, R_records[s], b_records[s], N, m, t) for s, (m, t) in enumerate(settings)]


def simulate(mixture: Mixture, training: Training, N: int, alpha_max: float, runs: int = 5, n_records: int = 51,
             R0: float = 0.0, b0: float = 0.0, seed: int = 0) -> SimulationResult:
    """Simulate ``runs`` independent students of one setting, vectorised over runs (see :func:`simulate_settings`)."""
    return simulate_settings([(mixture, training)], N, alpha_max, runs, n_records, R0, b0, seed)[0]


def simulate_loop(mixture: Mixture, training: Training, N: int, alpha_max: float, runs: int = 5, n_records: int = 51,
                  R0: float = 0.0, b0: float = 0.0, seed: int = 0) -> SimulationResult:
    r"""The same simulation as :func:`simulate`, written as a plain loop over examples and runs.

    Each step builds the example :math:`\xi` and its perturbation :math:`\tilde\xi` as vectors and
    applies :math:`\mathbf w \leftarrow (\mathbf w - \frac{\eta_w}{N}\delta\tilde\xi)/|\cdot|`,
    :math:`b \leftarrow b + \frac{\eta_b}{N}\delta` literally. Same parameters, random numbers
    and result as :func:`simulate` (up to round-off), many times slower.
    """
    N, rng, B, W, record_steps = _setup(N, alpha_max, runs, n_records, R0, seed)
    b = np.full(runs, float(b0))
    R_records, b_records = np.empty((runs, len(record_steps))), np.empty((runs, len(record_steps)))
    block = max(1, BLOCK_VALUES // (runs * N))
    step, record = 0, 0
    while True:
        if step == record_steps[record]:
            R_records[:, record], b_records[:, record] = W @ B, b
            record += 1
            if record == len(record_steps):
                break
        steps = min(block, record_steps[record] - step)
        noise = draw_noise(rng, steps, runs, N)
        tau, sd, epsilon = _examples(noise, mixture, training)
        for k in range(steps):
            for run in range(runs):
                w = W[run]
                xi = tau[k, run] * 0.5 * mixture.rho * B + sd[k, run] * noise.z[k, run]
                xi_tilde = xi - tau[k, run] * epsilon[k, run] * w
                x_tilde = w @ xi_tilde - b[run]
                delta = error_signal(x_tilde, tau[k, run])
                if training.only_non_robust and not non_robust(x_tilde, tau[k, run]):
                    delta = 0.0
                w = w - training.eta_w / N * delta * xi_tilde
                W[run] = w / np.linalg.norm(w)
                b[run] += training.eta_b / N * delta
        step += steps
    return SimulationResult(record_steps / N, R_records, b_records, N, mixture, training)


@dataclass(frozen=True)
class DriftEstimate:
    r"""Monte-Carlo estimate of the drift from independent single steps, with standard errors.

    Attributes
    ----------
    dR, db : float
        Means of :math:`N(R' - R)` and :math:`N(b' - b)` over the steps.
    dR_error, db_error : float
        Their standard errors (standard deviation over :math:`\sqrt{\text{steps}}`).
    """

    dR: float
    db: float
    dR_error: float
    db_error: float


def single_step_drift(mixture: Mixture, training: Training, R: float, b: float, N: int = 400, steps: int = 20_000,
                      seed: int = 0, chunk: int = 5000) -> DriftEstimate:
    r"""Estimate :math:`dR/d\alpha` and :math:`db/d\alpha` at :math:`(R, b)` from ``steps`` independent single steps.

    Every step starts from the same student (:math:`\mathbf B = \mathbf e_1`,
    :math:`\mathbf w = R\mathbf e_1 + \sqrt{1 - R^2}\,\mathbf e_2`), draws one example, perturbs it
    and applies the literal update; the mean of :math:`N(R' - R)` is the drift up to
    :math:`O(1/N)`. This checks the derivation of :mod:`.dynamics` without its algebra.
    """
    N = check_dimension(N)
    if N < 2 or not -1.0 <= R <= 1.0:
        raise ValueError(f"need N >= 2 and R in [-1, 1], got N={N!r}, R={R!r}")
    rng = np.random.default_rng(seed)
    B, w = np.zeros(N), np.zeros(N)
    B[0], w[0], w[1] = 1.0, R, np.sqrt(1.0 - R**2)
    changes_R, changes_b = [], []
    for start in range(0, steps, chunk):
        noise = draw_noise(rng, min(chunk, steps - start), 1, N)
        tau, sd, epsilon = (a[:, 0] for a in _examples(noise, mixture, training))
        xi_tilde = (tau * 0.5 * mixture.rho)[:, None] * B + sd[:, None] * noise.z[:, 0] - (tau * epsilon)[:, None] * w
        x_tilde = xi_tilde @ w - b
        delta = error_signal(x_tilde, tau)
        if training.only_non_robust:
            delta = delta * non_robust(x_tilde, tau)
        new_w = w - training.eta_w / N * delta[:, None] * xi_tilde
        changes_R.append(N * (new_w @ B / np.linalg.norm(new_w, axis=1) - R))
        changes_b.append(training.eta_b * delta)
    changes_R, changes_b = np.concatenate(changes_R), np.concatenate(changes_b)
    root = np.sqrt(len(changes_R))
    return DriftEstimate(float(changes_R.mean()), float(changes_b.mean()), float(changes_R.std() / root), float(changes_b.std() / root))
