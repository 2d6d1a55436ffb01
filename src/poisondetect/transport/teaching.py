"""Small problems for teaching optimal transport: hand-checkable traces, enumerations, a slider.

The optimal-transport chapter (``notebooks/04_optimal_transport.py``) checks
Sinkhorn's algorithm and Gromov-Wasserstein against values a reader can work
out by hand, and measures how Sinkhorn slows down as :math:`\\varepsilon`
shrinks :cite:`franklin1989scaling,peyre2019cot`:

- :func:`sinkhorn_scalings`: the scalings :math:`u^{(\\ell)}, v^{(\\ell)}` of the
  plain Sinkhorn iterations, one row per iteration;
- :func:`sinkhorn_iterations`: iterations of the log-domain solver
  :func:`~poisondetect.transport.sinkhorn.sinkhorn` until the marginal error
  falls below a tolerance, for several :math:`\\varepsilon`;
- :func:`gw_over_permutations`: the GW objective of every permutation coupling
  between two spaces of :math:`n` uniformly weighted points;
- :func:`plan_explorer`: a slider over :math:`\\varepsilon` that redraws the
  entropic plan (JupyterLab only; needs ``ipywidgets``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .gromov import gw_objective
from .sinkhorn import _check_epsilon, _check_problem, sinkhorn
from .spaces import MetricMeasureSpace

__all__ = ["gw_over_permutations", "plan_explorer", "sinkhorn_iterations", "sinkhorn_scalings"]


def sinkhorn_scalings(a, b, M, epsilon: float, n_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gibbs kernel and the scalings of ``n_iter`` plain Sinkhorn iterations, for checking by hand.

    Starting from :math:`v^{(0)} = \\mathbf 1_m`, iteration :math:`\\ell` computes

    .. math::

        K = e^{-M/\\varepsilon}, \\qquad
        u^{(\\ell)} = a \\oslash K v^{(\\ell-1)}, \\qquad
        v^{(\\ell)} = b \\oslash K^\\top u^{(\\ell)},

    and the plan after it is :math:`\\operatorname{diag}(u^{(\\ell)}) K \\operatorname{diag}(v^{(\\ell)})`.

    Parameters
    ----------
    a : array_like, shape (n,)
    b : array_like, shape (m,)
        Histograms (rescaled to sum to one).
    M : array_like, shape (n, m)
        Cost matrix.
    epsilon : float
        Regularisation, absolute (in the units of ``M``).
    n_iter : int
        Number of iterations (each updates ``u``, then ``v``).

    Returns
    -------
    K : ndarray, shape (n, m)
    u : ndarray, shape (n_iter, n)
        Row ``l - 1`` holds :math:`u^{(\\ell)}`.
    v : ndarray, shape (n_iter, m)
        Row ``l - 1`` holds :math:`v^{(\\ell)}`.
    """
    a, b, M = _check_problem(a, b, M)
    _check_epsilon(epsilon)
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    K = np.exp(-M / epsilon)
    u, v = np.empty((n_iter, len(a))), np.empty((n_iter, len(b)))
    previous_v = np.ones_like(b)
    for step in range(n_iter):
        u[step] = a / (K @ previous_v)
        v[step] = previous_v = b / (K.T @ u[step])
    return K, u, v


def sinkhorn_iterations(a, b, M, epsilons, tol: float = 1e-6, max_iter: int = 20_000) -> np.ndarray:
    """Iterations the log-domain Sinkhorn solver needs to reach a marginal error below ``tol``.

    For each :math:`\\varepsilon` (relative to the largest cost, ``relative=True`` of
    :func:`~poisondetect.transport.sinkhorn.sinkhorn`) the solver runs until
    :math:`\\lVert P\\mathbf 1 - a\\rVert_1 + \\lVert P^\\top\\mathbf 1 - b\\rVert_1 < \\text{tol}`.
    The error is checked after every iteration (``check_every=1``).

    Parameters
    ----------
    a : array_like, shape (n,)
    b : array_like, shape (m,)
    M : array_like, shape (n, m)
    epsilons : array_like, shape (k,)
        Positive regularisations, in units of :math:`\\max_{ij} M_{ij}`.
    tol : float
    max_iter : int
        Cap; a count equal to it means the tolerance was not reached.

    Returns
    -------
    ndarray of int, shape (k,)
    """
    return np.array([sinkhorn(a, b, M, eps, relative=True, tol=tol, max_iter=max_iter, check_every=1).n_iter
                     for eps in np.ravel(epsilons)])


def gw_over_permutations(X: MetricMeasureSpace, Y: MetricMeasureSpace) -> tuple[np.ndarray, np.ndarray]:
    """GW objective of every permutation coupling between two spaces of ``n`` uniformly weighted points.

    The coupling of a permutation :math:`\\sigma` is :math:`P_\\sigma = \\tfrac1n (\\delta_{j\\sigma(i)})_{ij}`,
    and its objective

    .. math::

        \\mathcal E(P_\\sigma) = \\sum_{i,j,k,l} (C_{ik} - \\bar C_{jl})^2 P_{ij} P_{kl}
        = \\frac1{n^2} \\sum_{i,k} (C_{ik} - \\bar C_{\\sigma(i)\\sigma(k)})^2 .

    For Euclidean distances the minimum over permutations is the GW discrepancy
    (the objective is concave on :math:`\\Pi(p, q)` then; exercise of chapter 4).

    Parameters
    ----------
    X, Y : MetricMeasureSpace
        Both with ``n`` points and uniform weights; ``n! `` couplings are enumerated, so keep ``n <= 8``.

    Returns
    -------
    perms : ndarray of int, shape (n!, n)
        Row ``r`` is :math:`(\\sigma(0), \\dots, \\sigma(n-1))`, in lexicographic order.
    values : ndarray, shape (n!,)
        :math:`\\mathcal E(P_\\sigma)` for each row.
    """
    n = X.n
    if Y.n != n:
        raise ValueError(f"the spaces have {X.n} and {Y.n} points: permutation couplings need equally many")
    if n > 8:
        raise ValueError(f"{n} points give {math.factorial(n)} permutations: use a GW solver instead (n <= 8)")
    for name, space in (("X", X), ("Y", Y)):
        if not np.allclose(space.p, 1.0 / n):
            raise ValueError(f"{name} has non-uniform weights: permutation couplings exist only for uniform ones")
    perms = np.array(list(itertools.permutations(range(n))), dtype=int).reshape(-1, n)
    values = np.array([gw_objective(X.C, Y.C, np.eye(n)[perm] / n) for perm in perms])
    return perms, values


def plan_explorer(a, b, M, eps_min: float = 1e-3, eps_max: float = 1.0, eps_start: float = 1e-2):
    """A slider over the relative :math:`\\varepsilon` that redraws the entropic plan and its cost.

    Each move of the slider solves the problem with
    :func:`~poisondetect.transport.sinkhorn.sinkhorn` (``relative=True``: the
    regularisation is :math:`\\varepsilon \\max_{ij} M_{ij}`) and shows the plan
    with the source histogram on the left and the target on the bottom.
    Needs a Jupyter frontend and ``ipywidgets``.

    Parameters
    ----------
    a : array_like, shape (n,)
    b : array_like, shape (m,)
    M : array_like, shape (n, m)
    eps_min, eps_max, eps_start : float
        Range and start of the slider (logarithmic), relative to the largest cost.

    Returns
    -------
    ipywidgets.interactive
        Display it as the last expression of a cell.
    """
    try:
        import ipywidgets  # optional: only a frontend can show a slider
    except ImportError as error:
        raise ImportError("plan_explorer needs ipywidgets: pip install -e . (it is in pyproject.toml)") from error
    import matplotlib.pyplot as plt
    from IPython.display import display

    a, b, M = _check_problem(a, b, M)
    _check_epsilon([eps_min, eps_max, eps_start])

    def draw(epsilon: float) -> None:
        result = sinkhorn(a, b, M, epsilon, relative=True, tol=1e-9)
        fig, axes = plt.subplots(2, 2, figsize=(4.2, 4.2), width_ratios=[1, 4], height_ratios=[4, 1], layout="constrained")
        axes[0, 1].imshow(result.plan, origin="lower", aspect="auto")
        axes[0, 1].set_title(f"relative $\\varepsilon$ = {epsilon:.2g}, cost {result.cost:.4f}")
        axes[0, 0].barh(np.arange(len(a)), a, color="0.4")
        axes[0, 0].invert_xaxis()
        axes[1, 1].bar(np.arange(len(b)), b, color="0.4")
        axes[1, 1].invert_yaxis()
        axes[1, 0].axis("off")
        for ax in (axes[0, 0], axes[0, 1], axes[1, 1]):
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        display(fig)
        plt.close(fig)

    slider = ipywidgets.FloatLogSlider(value=eps_start, base=10, min=math.log10(eps_min), max=math.log10(eps_max),
                                       step=0.1, description="epsilon", continuous_update=False)
    return ipywidgets.interactive(draw, epsilon=slider)
