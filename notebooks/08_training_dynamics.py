# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 8: The dynamics of adversarial training, theory against simulation
#
# Chapter 7 showed that small, worst-case perturbations fool a trained classifier,
# and that training on perturbed examples (adversarial training, Goodfellow et al.
# 2015; Madry et al. 2018) makes it more robust. *How* does adversarial training
# change what a model learns, and at which cost in clean accuracy? For one model
# this can be answered exactly, following the talk "Modelling adversarial training"
# (M. Straat): a linear classifier learns on-line from a two-cluster Gaussian
# mixture in high dimension, and the statistical physics of on-line learning
# (Biehl & Schwarze 1995; Saad & Solla 1995; Engel & Van den Broeck 2001) turns the
# learning of $N$ weights into two ordinary differential equations. This chapter
#
# 1. states the model: the data, the student, the loss, adversarial training;
# 2. derives the equations of motion of the two order parameters step by step;
# 3. evaluates their Gaussian averages in closed form and checks them by quadrature
#    and Monte Carlo, and checks the equations against single simulated steps;
# 4. integrates them for the talk's two scenarios and compares with simulations at
#    $N = 1000$: overlap, bias, test error and adversarial error;
# 5. draws the robustness curves $S(\epsilon)$ after training;
# 6. tries two variants from the talk's outlook: a randomised $\epsilon$, and
#    training only on non-robust examples;
# 7. measures how the simulations approach the theory as $N$ grows.
#
# Everything is in `poisondetect.theory` (NumPy and SciPy only); this notebook calls
# it and draws.

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"
seed = 0

# %%
import time

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
import numpy as np
import pandas as pd

from poisondetect import report
from poisondetect import theory as th
from poisondetect.config import by_profile
from poisondetect.calls import cached

ch = report.Chapter("08_training_dynamics", profile, dataset)  # the data are generated: `dataset` is not used
PAL = report.PALETTE
N_main = by_profile(profile, smoke=100, quick=1000, full=1000)          # input dimension of the main simulations
runs = by_profile(profile, smoke=2, quick=5, full=10)                    # independent runs per setting
alpha_sim = by_profile(profile, smoke=2.0, quick=80.0, full=600.0)       # simulated learning time
alpha_theory = by_profile(profile, smoke=20.0, quick=600.0, full=600.0)  # integrated learning time (cheap)
alpha_long = by_profile(profile, smoke=100.0, quick=5000.0, full=5000.0) # "long run" of the theory
sizes = by_profile(profile, smoke=(25, 50), quick=(62, 125, 250, 500, 1000), full=(125, 250, 500, 1000, 2000, 4000))
alpha_sizes = by_profile(profile, smoke=1.0, quick=10.0, full=20.0)      # learning time of the finite-size study
runs_sizes = by_profile(profile, smoke=2, quick=10, full=20)
drift_steps = by_profile(profile, smoke=2000, quick=20_000, full=100_000)     # single steps per Monte-Carlo drift estimate
drift_N = by_profile(profile, smoke=200, quick=500, full=2000)
EPSILON_TRAIN = 1.0
MIXTURES = {"1": th.Mixture(p=0.5, rho=2.0, v1=1.0, v2=1.0), "2": th.Mixture(p=0.7, rho=2.0, v1=1.0, v2=1.0)}
TRAININGS = {
    "standard": th.Training(eta_w=0.04, eta_b=0.2, epsilon=0.0),
    "adversarial": th.Training(eta_w=0.04, eta_b=0.2, epsilon=EPSILON_TRAIN),
    "randomised": th.Training(eta_w=0.04, eta_b=0.2, epsilon=2 * EPSILON_TRAIN, epsilon_distribution="uniform"),
    "non-robust only": th.Training(eta_w=0.04, eta_b=0.2, epsilon=EPSILON_TRAIN, only_non_robust=True),
}
LABELS = {"standard": r"standard ($\epsilon=0$)", "adversarial": rf"adversarial ($\epsilon={EPSILON_TRAIN:g}$)",
          "randomised": rf"randomised $\epsilon\sim U[0,{2 * EPSILON_TRAIN:g}]$", "non-robust only": rf"non-robust only ($\epsilon={EPSILON_TRAIN:g}$)"}
COLOURS = dict(zip(TRAININGS, PAL))
MARKERS = dict(zip(TRAININGS, "osD^"))
numbers = {"TdN": N_main, "TdRuns": runs, "TdAlphaSim": f"{alpha_sim:g}", "TdAlphaTheory": f"{alpha_theory:g}",
           "TdAlphaLong": f"{alpha_long:g}", "TdEpsilonTrain": f"{EPSILON_TRAIN:g}"}
start_time = time.perf_counter()

# %% [markdown]
# ## 1. The model
#
# **Data.** A stream of examples $\xi^\mu \in \mathbb R^N$, each new and independent,
# from the mixture
# $$P(\xi) = p\,\mathcal N(\xi \mid \mathbf B_1, v_1 I) + (1-p)\,\mathcal N(\xi \mid \mathbf B_2, v_2 I),
# \qquad \mathbf B_1 = \tfrac{\rho}{2}\mathbf B = -\mathbf B_2,\quad |\mathbf B| = 1,$$
# with label $\tau = +1$ for the first mode and $\tau = -1$ for the second. The two
# cluster centres are $\rho$ apart along the unit vector $\mathbf B$; in every other
# direction the two modes look the same (for $v_1 = v_2$).
#
# **Student.** $\sigma(\xi) = \operatorname{erf}(\mathbf w\cdot\xi - b)$ with $|\mathbf w| = 1$
# and bias $b$; it predicts $\operatorname{sign}(x)$ of the pre-activation
# $x = \mathbf w\cdot\xi - b$.
#
# **Loss.** The talk shows its loss only as an image; we use the quadratic loss of
# this literature (Biehl & Schwarze 1995),
# $\mathcal L = \tfrac12(\operatorname{erf}(\tilde x) - \tau)^2$. Its derivative with
# respect to the pre-activation is the *error signal*
# $$\delta(\tilde x, \tau) = \big(\operatorname{erf}(\tilde x) - \tau\big)\,\tfrac{2}{\sqrt\pi}\,e^{-\tilde x^2}.$$
#
# **Adversarial training.** Before each step, the example is moved by the worst-case
# perturbation of Euclidean norm $\epsilon$ against the current student. For a linear
# student the worst direction is $-\tau\mathbf w$, so
# $$\tilde\xi = \xi - \tau\epsilon\mathbf w, \qquad
# \tilde x = \mathbf w\cdot\tilde\xi - b = \mathbf w\cdot\xi - \tau\epsilon - b .$$
# (The FGSM of chapter 7 is the $\ell_\infty$ version of the same idea; for $\ell_2$
# and a linear model the worst case is exact.) Standard training is $\epsilon = 0$.
#
# **Learning rule.** On-line gradient descent with one new example per step, the
# perturbed example held fixed (as in the min-max formulation of Madry et al.):
# $\nabla_{\mathbf w}\mathcal L = \delta\,\tilde\xi$ and $\partial\mathcal L/\partial b = -\delta$, so
# $$\mathbf w \leftarrow \frac{\mathbf w - \frac{\eta_w}{N}\delta\,\tilde\xi}{\big|\mathbf w - \frac{\eta_w}{N}\delta\,\tilde\xi\big|},
# \qquad b \leftarrow b + \frac{\eta_b}{N}\,\delta .$$
#
# The loss and its derivative, checked against a finite difference:

# %%
x_check = np.linspace(-2.0, 2.0, 5)
finite_difference = (th.quadratic_loss(x_check + 1e-6, 1.0) - th.quadratic_loss(x_check - 1e-6, 1.0)) / 2e-6
print("delta(x, +1)       :", np.round(th.error_signal(x_check, 1.0), 6))
print("finite difference  :", np.round(finite_difference, 6))

# %% [markdown]
# ## 2. The equations of motion
#
# **Why $\tilde x$ is Gaussian, and why $R$ and $b$ suffice.** Inside mode $k$,
# $\xi = \tau_k\tfrac{\rho}{2}\mathbf B + \sqrt{v_k}\,\mathbf z$ with $\mathbf z \sim \mathcal N(0, I_N)$.
# The two projections $h = \mathbf w\cdot\xi$ and $y = \mathbf B\cdot\xi$ are linear in
# $\mathbf z$, hence jointly Gaussian at *any* $N$, with
# $$\langle h\rangle_k = \tau_k\tfrac{\rho}{2}R,\quad \langle y\rangle_k = \tau_k\tfrac{\rho}{2},\quad
# \operatorname{Var} h = v_k|\mathbf w|^2 = v_k,\quad \operatorname{Var} y = v_k,\quad \operatorname{Cov}(h, y) = v_k\,\mathbf w\cdot\mathbf B = v_k R,$$
# where $R = \mathbf w\cdot\mathbf B$ is the *overlap*. So
# $\tilde x = h - \tau_k\epsilon - b$ is Gaussian with mean
# $m_k = \tau_k\tfrac{\rho}{2}R - b - \tau_k\epsilon$ and variance $v_k$:
# $\langle\tilde x\rangle_1 = \tfrac{\rho}{2}R - b - \epsilon$ and
# $\langle\tilde x\rangle_2 = -\tfrac{\rho}{2}R - b + \epsilon$. The student's
# behaviour on the data depends on its $N + 1$ parameters only through the two
# numbers $R$ and $b$: these are the *order parameters*.
#
# **One step of $R$.** Write $\mathbf w' = \mathbf w - \frac{\eta_w}{N}\delta\tilde\xi$ before
# normalisation, and $\tilde y = \mathbf B\cdot\tilde\xi = y - \tau\epsilon R$. Then
# $\mathbf w'\cdot\mathbf B = R - \frac{\eta_w}{N}\delta\tilde y$ and
# $$|\mathbf w'|^2 = 1 - \frac{2\eta_w}{N}\delta\,(\tilde x + b) + \frac{\eta_w^2}{N^2}\delta^2|\tilde\xi|^2 .$$
# The last term looks small, but $|\tilde\xi|^2 = N v_k + O(\sqrt N)$: a random example
# is *long* in high dimension, and the term is $\frac{\eta_w^2}{N}\delta^2 v_k$, of the
# same order $1/N$ as the first-order term. **This is where the $O(\eta^2)$ term
# comes from.** Expanding $|\mathbf w'|^{-1} = 1 + \frac{\eta_w}{N}\delta(\tilde x + b) - \frac{\eta_w^2}{2N}\delta^2 v_k + O(N^{-2})$,
# $$N(R' - R) = \eta_w\Big[-\delta\,\tilde y + R\,\delta\,(\tilde x + b) - \frac{\eta_w}{2}R\,v_k\,\delta^2\Big] + O(1/N),
# \qquad N(b' - b) = \eta_b\,\delta .$$
#
# **Averaging.** Each step changes $R$ and $b$ by $O(1/N)$, with fluctuations of the
# same order. Over $N\,d\alpha$ steps (learning time $\alpha = \mu/N$) the changes add
# up to $O(d\alpha)$ while their fluctuations add up only to $O(\sqrt{d\alpha/N})$: for
# $N\to\infty$ the order parameters *self-average* and follow the mean drift. The
# mean needs $\langle\delta\,\tilde y\rangle$; from the Gaussian pair $(h, y)$,
# $\langle y \mid h\rangle = \tau_k\tfrac{\rho}{2} + R(h - \tau_k\tfrac{\rho}{2}R)$, and since
# $\delta$ depends on $h$ only,
# $$\big\langle -\delta\tilde y + R\delta(\tilde x + b)\big\rangle_k
#   = \big\langle\delta\,\big(-\tau_k\tfrac{\rho}{2} - R(\tilde x - m_k) + \tau_k\epsilon R + R(\tilde x + b)\big)\big\rangle_k
#   = -\tau_k\tfrac{\rho}{2}(1 - R^2)\,\langle\delta\rangle_k ,$$
# using $R(m_k + b + \tau_k\epsilon) = \tau_k\tfrac{\rho}{2}R^2$. With $p_k = (p, 1-p)$:
# $$\boxed{\frac{dR}{d\alpha} = \eta_w\sum_k p_k\Big[-\tau_k\frac{\rho}{2}(1 - R^2)\langle\delta\rangle_k
#   - \frac{\eta_w}{2}R\,v_k\langle\delta^2\rangle_k\Big],\qquad
#   \frac{db}{d\alpha} = \eta_b\sum_k p_k\langle\delta\rangle_k}$$
# with averages over $\tilde x \sim \mathcal N(m_k, v_k)$. The perturbation drops out of
# the bracket: it points along $\mathbf w$, and the normalisation removes every change
# along $\mathbf w$. Adversarial training acts only through the means $m_k$, i.e. through
# *which* examples produce a large error signal.
#
# **The averages in closed form.** Completing the square, a Gaussian times
# $e^{-cx^2}$ is again a Gaussian: $\langle e^{-cx^2}f\rangle_{\mathcal N(m,v)} =
# \frac{e^{-cm^2/(1+2cv)}}{\sqrt{1+2cv}}\langle f\rangle_{\mathcal N(m/(1+2cv),\,v/(1+2cv))}$.
# With $\langle\operatorname{erf}x\rangle = \operatorname{erf}(m/\sqrt{1+2v})$ and
# $\langle\operatorname{erf}^2x\rangle = 1 - 8\,T\big(\sqrt2 m/\sqrt{1+2v}, 1/\sqrt{1+4v}\big)$
# (Owen's $T$ function), both $\langle\delta\rangle$ ($c = 1$) and $\langle\delta^2\rangle$
# ($c = 2$) are closed forms. The variant that trains only on non-robust examples
# multiplies $\delta$ by $\Theta(-\tau\tilde x)$; its averages are half-line integrals,
# evaluated by Gauss-Legendre quadrature. Below: closed forms against Gauss-Hermite
# quadrature and Monte Carlo.

# %%
means_check, variances_check = np.array([-1.5, -0.3, 0.0, 0.8, 2.0]), np.array([0.5, 1.0, 1.0, 2.0, 1.0])
closed = th.signal_moments(means_check, variances_check, 1.0)
hermite = th.signal_moments(means_check, variances_check, 1.0, method="quadrature")
rng = np.random.default_rng(seed)
samples = means_check[:, None] + np.sqrt(variances_check)[:, None] * rng.standard_normal((5, by_profile(profile, smoke=20_000, quick=400_000, full=2_000_000)))
signal = th.error_signal(samples, 1.0)
averages = pd.DataFrame({"m": means_check, "v": variances_check, "<delta> closed": closed[0], "<delta> Gauss-Hermite": hermite[0],
                         "<delta> Monte Carlo": signal.mean(1), "<delta^2> closed": closed[1], "<delta^2> Gauss-Hermite": hermite[1],
                         "<delta^2> Monte Carlo": (signal**2).mean(1)})
print(averages.round(6).to_string(index=False))
numbers["TdHermiteDeviation"] = f"{max(np.abs(closed[0] - hermite[0]).max(), np.abs(closed[1] - hermite[1]).max()):.0e}"
ch.write_table(averages, "averages", float_format="{:.5f}")

# %% [markdown]
# **Checking the derivation without its algebra.** `single_step_drift` starts many
# independent single steps from one student $(R, b)$, applies the literal vector
# update and averages $N(R' - R)$ and $N(b' - b)$. We take a large $\eta_w = 2$ so that
# the normalisation term is as large as the first-order term: the equations must
# agree with the Monte-Carlo drift with it, and must not without it. (At finite $N$
# the estimate also carries the neglected $O(1/N)$ terms, here of order
# $\eta_w^3/N$; they shrink as $N$ grows.)

# %%
check_mixture, check_training = th.Mixture(p=0.7, rho=2.0), th.Training(eta_w=2.0, eta_b=0.2, epsilon=EPSILON_TRAIN)
R_grid = np.linspace(0.0, 0.95, by_profile(profile, smoke=3, quick=6, full=10))
check_b = -0.5
drift_rows = []
for R_value in R_grid:
    first_order, normalisation, db = th.drift_terms(R_value, check_b, check_mixture, check_training)
    estimate = th.single_step_drift(check_mixture, check_training, R_value, check_b, N=drift_N, steps=drift_steps, seed=seed + len(drift_rows))
    drift_rows.append({"R": R_value, "first order": first_order, "normalisation": normalisation, "theory dR": first_order + normalisation,
                       "Monte Carlo dR": estimate.dR, "dR error": estimate.dR_error, "theory db": db, "Monte Carlo db": estimate.db,
                       "db error": estimate.db_error})
drift_table = pd.DataFrame(drift_rows)
print(drift_table.round(4).to_string(index=False))
drift_z = np.abs(drift_table["Monte Carlo dR"] - drift_table["theory dR"]) / drift_table["dR error"]
drift_z_first = np.abs(drift_table["Monte Carlo dR"] - drift_table["first order"]) / drift_table["dR error"]
numbers["TdDriftZ"] = f"{drift_z.max():.1f}"
numbers["TdDriftZFirstOrder"] = f"{drift_z_first.max():.0f}"
R_line = np.linspace(0.0, 0.95, 60)
terms_line = np.array([th.drift_terms(R_value, check_b, check_mixture, check_training)[:2] for R_value in R_line])
fig, ax = plt.subplots(figsize=(4.6, 2.8))
ax.plot(R_line, terms_line.sum(1), color=PAL[0], label=r"equations of motion")
ax.plot(R_line, terms_line[:, 0], color=PAL[0], ls="--", label=r"without the $O(\eta_w^2)$ term")
ax.errorbar(R_grid, drift_table["Monte Carlo dR"], yerr=drift_table["dR error"], fmt="o", ms=3.5, color=PAL[3], capsize=2,
            label=f"Monte Carlo, {drift_steps} single steps ($N={drift_N}$)")
ax.set_xlabel("overlap $R$"), ax.set_ylabel(r"$dR/d\alpha$")
ax.set_title(rf"$\eta_w = 2$, $b = {check_b:g}$, $p = {check_mixture.p:g}$, $\epsilon = {EPSILON_TRAIN:g}$")
ax.legend(frameon=False)
ch.save_figure(fig, "drift_check")

# %% [markdown]
# ## 3. Theory against simulation: the talk's two scenarios
#
# Both scenarios have $\rho = 2$, $v_1 = v_2 = 1$, $\eta_w = 0.04$, $\eta_b = 0.2$, and
# compare standard training with adversarial training at $\epsilon = 1$; scenario 1 has
# balanced classes ($p = 0.5$), scenario 2 has $p = 0.7$. The students start at
# $R = 0$, $b = 0$. The simulations run at $N = 1000$ with independent runs (their
# mean and standard deviation as markers); all settings of one call share their
# random numbers, so the differences between settings are not blurred by noise.
# The test and adversarial errors of a student follow exactly from its $(R, b)$:
# with $x = \mathbf w\cdot\xi - b$ Gaussian in each mode,
# $$\mathcal E = p\,\Phi\Big(\frac{-m_1}{\sqrt{v_1}}\Big) + (1-p)\,\Phi\Big(\frac{m_2}{\sqrt{v_2}}\Big),\qquad
# S(\epsilon) = p\,\Phi\Big(\frac{\epsilon - m_1}{\sqrt{v_1}}\Big) + (1-p)\,\Phi\Big(\frac{m_2 + \epsilon}{\sqrt{v_2}}\Big),$$
# with the clean means $m_{1,2} = \pm\frac{\rho}{2}R - b$. For $v_1 = v_2$ the Bayes rule
# is linear ($R = 1$ and $b = \frac{v}{\rho}\log\frac{1-p}{p}$), so the Bayes error is
# the floor of $\mathcal E$.

# %%
settings = [(scenario, name) for scenario in MIXTURES for name in ("standard", "adversarial")]
settings += [("2", "randomised"), ("2", "non-robust only")]
theory = {key: th.integrate(MIXTURES[key[0]], TRAININGS[key[1]], alpha_max=alpha_theory, n_points=301) for key in settings}
long_run = {key: th.integrate(MIXTURES[key[0]], TRAININGS[key[1]], alpha_max=alpha_long, n_points=3) for key in settings}
theory_at_sim = {key: th.integrate(MIXTURES[key[0]], TRAININGS[key[1]], alpha_max=alpha_sim, n_points=2) for key in settings}
# the simulation is cached by its code and settings; simulation_seconds is the time it took when it ran
simulations, simulation_seconds = cached(th.simulate_settings).timed(
    [(MIXTURES[s], TRAININGS[t]) for s, t in settings], N=N_main, alpha_max=alpha_sim, runs=runs, n_records=21, seed=seed)
simulated = dict(zip(settings, simulations))
steps_total = alpha_sim * N_main
print(f"{len(settings)} settings x {runs} runs, {steps_total:.0f} steps each at N = {N_main}: {simulation_seconds:.1f} s")
bayes = {scenario: th.bayes_error(mixture) for scenario, mixture in MIXTURES.items()}
for scenario in MIXTURES:
    numbers[f"TdBayes{'One' if scenario == '1' else 'Two'}"] = f"{100 * bayes[scenario]:.1f}"
print("Bayes errors:", {k: round(v, 4) for k, v in bayes.items()})


def draw_quantity(ax, key, quantity):
    """Theory as a line, simulation as mean +- standard deviation over runs."""
    curve, sim = theory[key], simulated[key]
    line_values = {"R": curve.R, "b": curve.b, "E": curve.test_error(), "S": curve.adversarial_error(EPSILON_TRAIN)}[quantity]
    sim_values = {"R": sim.R, "b": sim.b, "E": sim.test_error(), "S": sim.adversarial_error(EPSILON_TRAIN)}[quantity]
    name = key[1]
    ax.plot(curve.alpha, line_values, color=COLOURS[name], lw=1.3)
    ax.errorbar(sim.alpha, sim_values.mean(0), yerr=sim_values.std(0), fmt=MARKERS[name], ms=3, mfc="none", color=COLOURS[name],
                capsize=1.5, lw=0.8)


def legend_handles(names):
    """One entry per training rule (its colour and marker), and what lines and markers mean."""
    handles = [Line2D([], [], color=COLOURS[name], marker=MARKERS[name], mfc="none", ms=4, label=LABELS[name]) for name in names]
    return handles + [Line2D([], [], color="0.3", label="lines: theory"),
                      Line2D([], [], color="0.3", marker="o", mfc="none", ls="none", ms=4,
                             label=f"markers: simulation, $N={N_main}$, mean $\\pm$ sd of {runs} runs")]


for scenario, mixture in MIXTURES.items():
    fig, axes = plt.subplots(2, 2, figsize=(6.6, 4.6), layout="constrained", sharex=True)
    for name in ("standard", "adversarial"):
        for ax, quantity in zip(axes.flat, "RbES"):
            draw_quantity(ax, (scenario, name), quantity)
    axes[1, 0].axhline(bayes[scenario], color="0.4", ls=":", lw=1)
    axes[1, 0].text(alpha_theory, bayes[scenario], "Bayes error", ha="right", va="bottom", fontsize=7, color="0.3")
    for ax, ylabel in zip(axes.flat, ["overlap $R$", "bias $b$", r"test error $\mathcal{E}$", rf"adversarial error $S(\epsilon={EPSILON_TRAIN:g})$"]):
        ax.set_ylabel(ylabel)
    for ax in axes[1]:
        ax.set_xlabel(r"learning time $\alpha = \mu/N$")
    if alpha_sim < alpha_theory:
        for ax in axes.flat:
            ax.axvline(alpha_sim, color="0.7", lw=0.6, ls="--")
    fig.suptitle(rf"Scenario {scenario}: $p = {mixture.p:g}$, $\rho = {mixture.rho:g}$, $v_1 = v_2 = {mixture.v1:g}$, "
                 rf"$\eta_w = 0.04$, $\eta_b = 0.2$", fontsize=9)
    fig.legend(handles=legend_handles(["standard", "adversarial"]), loc="outside lower center", ncol=2, frameon=False)
    ch.save_figure(fig, f"scenario_{scenario}")

# %% [markdown]
# What the figures show. In scenario 1 the classes are balanced and, by the
# symmetry $\xi \to -\xi$, $\tau \to -\tau$, the bias never leaves 0. Both rules drive
# $R$ towards 1 and end at the same student: for a symmetric mixture the
# adversarial shift moves both modes' pre-activations towards the boundary by the
# same amount, which changes the speed of learning but not its goal. In scenario 2
# the first mode is more frequent and the bias moves. Standard training shifts the
# boundary towards the rarer mode, as the Bayes rule does. Adversarial training
# shifts it much further at first (the perturbation pushes the many examples of
# the frequent mode across the boundary, and their error signals dominate) and then
# slowly relaxes as $R$ approaches 1: it buys robustness of the frequent class with
# clean errors on the rare one.

# %%
rows = []
for key in settings:
    sim, end, at_sim = simulated[key], long_run[key], theory_at_sim[key]
    mixture = MIXTURES[key[0]]
    sim_E, sim_S = sim.test_error()[:, -1], sim.adversarial_error(EPSILON_TRAIN)[:, -1]
    rows.append({
        "scenario": key[0], "training": key[1],
        "R theory": at_sim.R[-1], "R sim.": f"{sim.R[:, -1].mean():.3f} ± {sim.R[:, -1].std():.3f}",
        "b theory": at_sim.b[-1], "b sim.": f"{sim.b[:, -1].mean():.3f} ± {sim.b[:, -1].std():.3f}",
        "E theory": at_sim.test_error()[-1], "E sim.": f"{sim_E.mean():.3f} ± {sim_E.std():.3f}",
        "S theory": at_sim.adversarial_error(EPSILON_TRAIN)[-1], "S sim.": f"{sim_S.mean():.3f} ± {sim_S.std():.3f}",
        "R long run": end.R[-1], "b long run": end.b[-1], "E long run": end.test_error()[-1],
        "S long run": end.adversarial_error(EPSILON_TRAIN)[-1],
        "dR at end": th.drift(end.R[-1], end.b[-1], mixture, TRAININGS[key[1]])[0],
    })
table = pd.DataFrame(rows)
print(table.drop(columns="dR at end").to_string(index=False))
print("largest |dR/dalpha| at the long-run point:", f"{table['dR at end'].abs().max():.1e}")
ch.write_table(table[["scenario", "training", "R theory", "R sim.", "b theory", "b sim.", "E theory", "E sim.", "S theory", "S sim."]],
               "at_alpha_sim", float_format="{:.3f}")
ch.write_table(table[["scenario", "training", "R long run", "b long run", "E long run", "S long run"]], "long_run", float_format="{:.3f}")
WORDS = {("1", "standard"): "OneStd", ("1", "adversarial"): "OneAdv", ("2", "standard"): "TwoStd", ("2", "adversarial"): "TwoAdv",
         ("2", "randomised"): "TwoRand", ("2", "non-robust only"): "TwoNonRobust"}
for row in rows:
    word = WORDS[(row["scenario"], row["training"])]
    numbers[f"TdR{word}"] = f"{row['R long run']:.3f}"
    numbers[f"TdB{word}"] = f"{row['b long run']:.2f}"
    numbers[f"TdE{word}"] = f"{100 * row['E long run']:.1f}"
    numbers[f"TdS{word}"] = f"{100 * row['S long run']:.1f}"
numbers["TdLongRunDrift"] = f"{table['dR at end'].abs().max():.0e}"
main_deviation = {quantity: max(np.abs(getattr(simulated[key], quantity).mean(0)
                                       - np.interp(simulated[key].alpha, theory[key].alpha, getattr(theory[key], quantity))).max()
                                for key in settings) for quantity in ("R", "b")}
main_deviation["E"] = max(np.abs(simulated[key].test_error().mean(0) - np.interp(simulated[key].alpha, theory[key].alpha, theory[key].test_error())).max()
                          for key in settings)
print("largest |mean of simulation - theory| over settings and records:", {k: f"{v:.4f}" for k, v in main_deviation.items()})
numbers["TdDevR"], numbers["TdDevB"], numbers["TdDevE"] = (f"{main_deviation[q]:.3f}" for q in "RbE")
b_transient = theory[("2", "adversarial")].b.min()
numbers["TdBMinTwoAdv"] = f"{b_transient:.2f}"
numbers["TdBThresholdTwo"] = f"{th.bayes_threshold(MIXTURES['2']):.2f}"

# %% [markdown]
# ## 4. Robustness curves after training
#
# The adversarial error $S(\epsilon)$ of the trained students as a function of the
# attack size, at the end of the simulations (theory lines, simulation markers), and
# for the long-run students of the theory (thin dashed lines). $S(0)$ is the test
# error and $S$ grows monotonically with $\epsilon$ (Göpfert et al. 2019 call this the
# robustness curve).

# %%
epsilons = np.linspace(0.0, 2.0, 41)
epsilon_markers = epsilons[::4]
fig, axes = plt.subplots(1, 2, figsize=(6.6, 2.9), layout="constrained", sharey=True)
for ax, scenario in zip(axes, MIXTURES):
    for key in [k for k in settings if k[0] == scenario]:
        name, mixture = key[1], MIXTURES[scenario]
        at_sim, sim = theory_at_sim[key], simulated[key]
        ax.plot(epsilons, th.adversarial_error(at_sim.R[-1], at_sim.b[-1], epsilons, mixture), color=COLOURS[name], label=LABELS[name])
        ax.plot(epsilons, th.adversarial_error(long_run[key].R[-1], long_run[key].b[-1], epsilons, mixture), color=COLOURS[name], lw=0.7, ls="--")
        curves = th.adversarial_error(sim.R[:, -1:], sim.b[:, -1:], epsilon_markers[None, :], mixture)
        ax.errorbar(epsilon_markers, curves.mean(0), yerr=curves.std(0), fmt=MARKERS[name], ms=3, mfc="none", color=COLOURS[name], capsize=1.5, lw=0.8)
    ax.axhline(bayes[scenario], color="0.4", ls=":", lw=1)
    ax.set_title(rf"scenario {scenario} ($p = {MIXTURES[scenario].p:g}$), $\alpha = {alpha_sim:g}$")
    ax.set_xlabel(r"attack size $\epsilon$")
axes[0].set_ylabel(r"adversarial error $S(\epsilon)$")
fig.legend(handles=legend_handles(TRAININGS)[:4] + [Line2D([], [], color="0.3", lw=0.7, ls="--", label=rf"theory, $\alpha = {alpha_long:g}$"),
                                                   Line2D([], [], color="0.4", ls=":", label="Bayes error")],
           loc="outside lower center", ncol=3, frameon=False, fontsize=7)
ch.save_figure(fig, "robustness_curves")

# %% [markdown]
# ## 5. Variants from the talk's outlook
#
# **Randomised $\epsilon$.** Each example draws its own size $\epsilon \sim U[0, 2]$ (mean 1).
# The equations keep their form, with every average also taken over $\epsilon$
# (Gauss-Legendre nodes in $\epsilon$). **Non-robust examples only.** The student learns
# only from examples that the perturbation makes misclassified, $\tau\tilde x < 0$,
# a hinge-like rule: $\delta \to \delta\,\Theta(-\tau\tilde x)$, a function of $\tilde x$
# alone, so the derivation above holds unchanged. Both in scenario 2, next to the
# standard and adversarial rules.

# %%
fig, axes = plt.subplots(1, 3, figsize=(7.4, 2.7), layout="constrained", sharex=True)
for name in TRAININGS:
    for ax, quantity in zip(axes, "bES"):
        draw_quantity(ax, ("2", name), quantity)
for ax, ylabel in zip(axes, ["bias $b$", r"test error $\mathcal{E}$", rf"adversarial error $S(\epsilon={EPSILON_TRAIN:g})$"]):
    ax.set_ylabel(ylabel), ax.set_xlabel(r"$\alpha$")
    if alpha_sim < alpha_theory:
        ax.axvline(alpha_sim, color="0.7", lw=0.6, ls="--")
axes[1].axhline(bayes["2"], color="0.4", ls=":", lw=1)
fig.legend(handles=legend_handles(TRAININGS), loc="outside lower center", ncol=3, frameon=False, fontsize=7)
ch.save_figure(fig, "variants")

# %% [markdown]
# ## 6. Finite size: how the simulations approach the theory
#
# The equations are exact for $N \to \infty$. At finite $N$ each run fluctuates
# around the theory by $O(N^{-1/2})$ (the sum of $N\alpha$ random increments of size
# $1/N$), and the mean over runs may also carry an $O(1/N)$ bias from the neglected
# terms. We simulate scenario 2 with adversarial training up to
# the learning time `alpha_sizes` for several $N$, and measure the root-mean-square deviation
# of single runs from the theory (over runs and records) and the largest deviation
# of the mean over runs.

# %%
finite_rows = []
reference = th.integrate(MIXTURES["2"], TRAININGS["adversarial"], alpha_max=alpha_sizes, n_points=11)
for N in sizes:
    sim = th.simulate(MIXTURES["2"], TRAININGS["adversarial"], N=N, alpha_max=alpha_sizes, runs=runs_sizes, n_records=11, seed=seed + N)
    row = {"N": N}
    for quantity, simulated_values, predicted in (("R", sim.R, reference.R), ("b", sim.b, reference.b),
                                                  ("E", sim.test_error(), reference.test_error())):
        row[f"rms {quantity}"] = np.sqrt(np.mean((simulated_values[:, 1:] - predicted[1:]) ** 2))
        row[f"spread {quantity}"] = simulated_values[:, -1].std(ddof=1)
        row[f"mean dev. {quantity}"] = np.abs(simulated_values.mean(0) - predicted).max()
    finite_rows.append(row)
finite = pd.DataFrame(finite_rows)
print(finite.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
slopes = {q: np.polyfit(np.log(finite["N"]), np.log(finite[f"rms {q}"]), 1)[0] for q in "RbE"}
print("log-log slopes of the rms deviation against N:", {q: round(s, 2) for q, s in slopes.items()})
for quantity in "RbE":
    numbers[f"TdSlope{quantity.upper()}"] = f"{slopes[quantity]:.2f}"
    numbers[f"TdSpreadSqrtN{quantity.upper()}"] = f"{(finite[f'spread {quantity}'] * np.sqrt(finite['N'])).max():.2f}"
numbers["TdAlphaSizes"] = f"{alpha_sizes:g}"
numbers["TdRunsSizes"] = runs_sizes
ch.write_table(finite[["N", "rms R", "rms b", "rms E", "mean dev. R", "mean dev. b", "mean dev. E"]], "finite_size", float_format="{:.4f}")
fig, ax = plt.subplots(figsize=(4.4, 3.0))
for colour, marker, quantity in zip(PAL, "osD", "RbE"):
    ax.loglog(finite["N"], finite[f"rms {quantity}"], marker, color=colour, mfc="none", label=f"rms deviation of ${quantity if quantity != 'E' else chr(92) + 'mathcal{E}'}$")
    fitted = np.exp(np.polyval(np.polyfit(np.log(finite["N"]), np.log(finite[f"rms {quantity}"]), 1), np.log(finite["N"])))
    ax.loglog(finite["N"], fitted, color=colour, lw=0.8)
guide = finite["rms b"].iloc[0] * (finite["N"] / finite["N"].iloc[0]) ** -0.5
ax.loglog(finite["N"], 1.5 * guide, color="0.5", ls="--", lw=0.8, label=r"$\propto N^{-1/2}$")
ax.set_xlabel("input dimension $N$"), ax.set_ylabel("deviation from theory")
ax.set_title(rf"scenario 2, adversarial, $\alpha \leq {alpha_sizes:g}$, {runs_sizes} runs per $N$", fontsize=8)
ax.legend(frameon=False, fontsize=7)
ch.save_figure(fig, "finite_size")

# %% [markdown]
# ## Summary
#
# Two order parameters, the overlap $R$ and the bias $b$, describe on-line
# (adversarial) training of a linear student on the two-cluster mixture exactly in
# the limit $N \to \infty$; their equations contain a term of order $\eta_w^2$ that
# comes from the normalisation of $\mathbf w$ and the length of a random example in
# high dimension, and Monte-Carlo estimates of single steps confirm it. At
# $N = 1000$ the simulations follow the integrated equations within their
# $N^{-1/2}$ fluctuations. Adversarial training leaves the balanced scenario's end
# point unchanged, and in the unbalanced scenario it trades clean accuracy for
# robustness by moving the bias.

# %%
ch.write_numbers(numbers)
print(f"chapter 8 ran in {time.perf_counter() - start_time:.1f} s")
