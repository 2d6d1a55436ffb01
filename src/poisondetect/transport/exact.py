"""Exact optimal transport (POT's network simplex) and Wasserstein distances between heatmaps.

The Kantorovich problem between histograms :math:`a \\in \\Sigma_n`,
:math:`b \\in \\Sigma_m` with cost :math:`M`,

.. math::

    L_M(a, b) = \\min_{P \\in \\Pi(a, b)} \\langle P, M \\rangle,
    \\qquad \\Pi(a, b) = \\{P \\ge 0 : P 1_m = a,\\ P^\\top 1_n = b\\},

is a linear program; :func:`emd` solves it exactly with :func:`ot.emd`
:cite:`flamary2021pot`. Two heatmaps on the same pixel grid are histograms on
one metric space, the grid with Euclidean distance, and
:math:`W_p(a, b) = L_{D^p}(a, b)^{1/p}` is their :math:`p`-Wasserstein distance
:cite:`peyre2019cot`.
"""

from __future__ import annotations

import numpy as np
import ot

from ..maps import sum_pool
from .spaces import check_histogram

__all__ = ["emd", "grid_cost", "heatmap_histogram", "wasserstein_heatmaps"]


def emd(a, b, M) -> tuple[np.ndarray, float]:
    """Exact optimal plan and cost between histograms ``a`` (n,) and ``b`` (m,) for cost ``M`` (n, m)."""
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or not np.all(np.isfinite(M)):
        raise ValueError(f"cost matrix M must be a finite (n, m) matrix, got shape {M.shape}")
    a = check_histogram(a, "a", M.shape[0])
    b = check_histogram(b, "b", M.shape[1])
    plan = ot.emd(a, b, M)
    return plan, float(np.sum(plan * M))


def grid_cost(shape: tuple[int, int], power: float = 1.0) -> np.ndarray:
    """Cost :math:`\\lVert x_i - x_j \\rVert_2^{power}` between the pixels of an (H, W) grid, shape (HW, HW)."""
    rows, cols = np.indices(shape)
    xy = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(float)
    return np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1) ** power


def heatmap_histogram(h, pool: int = 1) -> np.ndarray:
    """Positive relevance of an (H, W) heatmap (after sum-pooling), as a flat histogram."""
    h = np.asarray(h, dtype=float)
    if h.ndim != 2:
        raise ValueError(f"heatmap must be 2-d (H, W), got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("heatmap contains NaN or infinite values")
    positive = sum_pool(np.clip(h, 0.0, None), pool)
    if positive.sum() <= 0:
        raise ValueError("heatmap has no positive relevance: nothing to transport")
    return (positive / positive.sum()).ravel()


def wasserstein_heatmaps(h1, h2, p: float = 1.0, pool: int = 1, return_plan: bool = False):
    """:math:`W_p` between the positive relevance of two heatmaps on the same grid (pixel units).

    Parameters
    ----------
    h1, h2 : array_like, shape (H, W)
    p : float
        Order of the Wasserstein distance (ground cost :math:`d^p`).
    pool : int
        Sum-pool first (the LP has :math:`(HW/pool^2)^2` variables).
    return_plan : bool
        Also return the (HW, HW) plan.
    """
    h1, h2 = np.asarray(h1), np.asarray(h2)
    if h1.shape != h2.shape:
        raise ValueError(f"heatmaps must have the same shape, got {h1.shape} and {h2.shape}")
    a, b = heatmap_histogram(h1, pool), heatmap_histogram(h2, pool)
    shape = (h1.shape[0] // pool, h1.shape[1] // pool)
    M = grid_cost(shape, p) * pool**p
    plan, cost = emd(a, b, M)
    distance = cost ** (1.0 / p)
    return (distance, plan) if return_plan else distance
