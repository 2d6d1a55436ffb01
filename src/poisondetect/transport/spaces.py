"""Metric-measure spaces: the objects Gromov-Wasserstein compares, and how heatmaps become one.

A discrete metric-measure space is a pair :math:`(C, p)` of a symmetric matrix of
pairwise distances :math:`C \\in \\mathbb{R}^{n \\times n}_+` and a histogram
:math:`p \\in \\Sigma_n` of point weights :cite:`memoli2011`. A relevance
heatmap becomes one by keeping the pixels that carry most of its positive
relevance: the points are pixel positions, the weights their normalised
relevance, the distances Euclidean distances between positions.

Many spaces of different sizes are stacked for the batched solvers by
:func:`pad_spaces`, which appends points of zero weight and returns a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..maps import sum_pool

__all__ = ["MetricMeasureSpace", "heatmap_to_space", "pad_spaces", "check_histogram"]


def check_histogram(p, name: str = "p", n: int | None = None) -> np.ndarray:
    """Return ``p`` as a float64 vector of non-negative weights summing to one.

    Raises ``ValueError`` for NaN/inf, negative entries, zero total mass or a
    length different from ``n``; weights that sum to another positive number are
    rescaled.
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"{name} must be a 1-d histogram, got shape {p.shape}")
    if n is not None and p.shape[0] != n:
        raise ValueError(f"{name} has {p.shape[0]} weights but the space has {n} points: give one weight per point")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or infinite weights: clean the input first")
    if np.any(p < 0):
        raise ValueError(f"{name} has negative weights (min {p.min():.3g}): weights of a measure must be >= 0")
    total = p.sum()
    if total <= 0:
        raise ValueError(f"{name} has zero total mass: a measure needs at least one positive weight")
    return p / total


@dataclass(frozen=True, eq=False)
class MetricMeasureSpace:
    """A finite metric-measure space :math:`(C, p)`.

    Parameters
    ----------
    C : ndarray, shape (n, n)
        Symmetric matrix of pairwise distances (or dissimilarities), zero diagonal
        not required but usual; finite.
    p : ndarray, shape (n,)
        Histogram of point weights; rescaled to sum to one.
    coords : ndarray, shape (n, 2), optional
        Positions of the points (``(row, col)`` pixel coordinates for heatmap
        spaces), kept only for plotting.
    """

    C: np.ndarray
    p: np.ndarray
    coords: np.ndarray | None = None

    def __post_init__(self) -> None:
        C = np.asarray(self.C, dtype=float)
        if C.ndim != 2 or C.shape[0] != C.shape[1]:
            raise ValueError(f"C must be a square (n, n) matrix, got shape {C.shape}")
        if C.shape[0] == 0:
            raise ValueError("C is empty: a metric-measure space needs at least one point")
        if not np.all(np.isfinite(C)):
            raise ValueError("C contains NaN or infinite distances")
        p = check_histogram(self.p, "p", C.shape[0])
        object.__setattr__(self, "C", C)
        object.__setattr__(self, "p", p)
        if self.coords is not None:
            coords = np.asarray(self.coords, dtype=float)
            if coords.shape[0] != C.shape[0]:
                raise ValueError(f"coords has {coords.shape[0]} rows but C has {C.shape[0]} points")
            object.__setattr__(self, "coords", coords)

    @property
    def n(self) -> int:
        """Number of points."""
        return self.C.shape[0]

    @classmethod
    def from_points(cls, points, p=None, scale: float | None = None) -> "MetricMeasureSpace":
        """Space of Euclidean distances between ``points`` (shape (n, d)).

        ``p`` defaults to uniform weights; distances are divided by ``scale``
        (default 1, i.e. unscaled).
        """
        points = np.asarray(points, dtype=float)
        if points.ndim != 2:
            raise ValueError(f"points must have shape (n, d), got {points.shape}")
        C = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
        if scale is not None:
            if not scale > 0:
                raise ValueError(f"scale must be positive, got {scale}")
            C = C / scale
        p = np.full(len(points), 1.0 / len(points)) if p is None else p
        return cls(C, p, points)


def heatmap_to_space(
    h,
    mass: float = 0.99,
    max_points: int | None = None,
    pool: int = 1,
    scale: str = "grid",
) -> MetricMeasureSpace:
    """Turn a relevance heatmap into a metric-measure space of its most relevant pixels.

    Negative relevance is set to zero; after optional sum-pooling the pixels are
    sorted by relevance and the fewest that together hold at least ``mass`` of the
    positive relevance are kept (at most ``max_points`` of them). Their weights are
    their relevance, normalised; their distances are Euclidean distances between
    pixel centres (in pixels of the original map), normalised by ``scale``:

    .. math::

        C_{ij} = \\frac{\\lVert x_i - x_j \\rVert_2}{s}, \\qquad
        p_i = \\frac{h(x_i)_+}{\\sum_{k} h(x_k)_+}.

    Parameters
    ----------
    h : array_like, shape (H, W)
        Relevance of each pixel (colour channels already summed).
    mass : float in (0, 1]
        Share of the positive relevance the kept pixels must carry (thesis: 0.99 and 0.5).
    max_points : int, optional
        Cap on the number of points (the most relevant are kept); bounds the cost of GW.
    pool : int
        Sum-pool ``pool x pool`` blocks first :cite:`lapuschkin2019`.
    scale : {"grid", "max"}
        ``"grid"``: :math:`s` is the diagonal of the heatmap, so all spaces of one
        data set share a unit and the spread of relevance is kept; ``"max"``:
        :math:`s` is the space's own diameter (only shape, not size, is compared).

    Returns
    -------
    MetricMeasureSpace
        With ``coords`` the (row, col) pixel centres of the kept points.
    """
    h = np.asarray(h, dtype=float)
    if h.ndim != 2:
        raise ValueError(f"heatmap h must be 2-d (H, W) with channels summed, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("heatmap h contains NaN or infinite values: check the explanation method")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must lie in (0, 1], got {mass}")
    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points must be a positive integer or None, got {max_points}")
    if not isinstance(pool, (int, np.integer)) or pool < 1:
        raise ValueError(f"pool must be a positive integer, got {pool!r}")
    if scale not in ("grid", "max"):
        raise ValueError(f"scale must be 'grid' or 'max', got {scale!r}")
    positive = sum_pool(np.clip(h, 0.0, None), pool)
    total = positive.sum()
    if total <= 0:
        raise ValueError("heatmap h has no positive relevance: a space needs some positive mass (is the map all zero?)")
    flat = positive.ravel()
    order = np.argsort(-flat, kind="stable")
    cumulative = np.cumsum(flat[order]) / total
    keep = int(np.searchsorted(cumulative, mass - 1e-12) + 1)
    keep = min(keep, int(np.count_nonzero(flat)))
    if max_points is not None:
        keep = min(keep, int(max_points))
    chosen = order[:keep]
    rows, cols = np.divmod(chosen, positive.shape[1])
    coords = np.stack([rows, cols], axis=1) * pool + (pool - 1) / 2.0
    C = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    if scale == "grid":
        C = C / float(np.hypot(*h.shape))
    elif C.max() > 0:
        C = C / C.max()
    return MetricMeasureSpace(C, flat[chosen], coords)


def pad_spaces(spaces: Sequence[MetricMeasureSpace], n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack spaces of different sizes into padded arrays.

    Padding points get weight zero and distance zero, so they carry no mass and
    change no GW value.

    Returns
    -------
    C : ndarray, shape (B, n, n)
    p : ndarray, shape (B, n)
    mask : ndarray of bool, shape (B, n)
        True for real points.
    """
    spaces = list(spaces)
    if not spaces:
        raise ValueError("spaces is empty: give at least one MetricMeasureSpace")
    for i, s in enumerate(spaces):
        if not isinstance(s, MetricMeasureSpace):
            raise TypeError(f"spaces[{i}] is a {type(s).__name__}, expected MetricMeasureSpace (see heatmap_to_space)")
    largest = max(s.n for s in spaces)
    n = largest if n is None else n
    if n < largest:
        raise ValueError(f"n={n} is smaller than the largest space ({largest} points)")
    C = np.zeros((len(spaces), n, n))
    p = np.zeros((len(spaces), n))
    mask = np.zeros((len(spaces), n), dtype=bool)
    for b, s in enumerate(spaces):
        C[b, : s.n, : s.n] = s.C
        p[b, : s.n] = s.p
        mask[b, : s.n] = True
    return C, p, mask


def check_alpha(alpha: float, coord_unit: float = 1.0) -> None:
    """Raise a clear error for a structure weight of fused GW outside (0, 1] (1: pure GW, below: fused with the positions)
    or a unit of the positions that is not positive."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must lie in (0, 1] (1: pure GW, below: fused GW with the positions), got {alpha!r}")
    if not coord_unit > 0:
        raise ValueError(f"coord_unit must be positive, got {coord_unit}")


def pad_coords(spaces: Sequence[MetricMeasureSpace], n: int | None = None) -> np.ndarray:
    """Stack the spaces' ``coords`` into one padded array, shape (B, n, d) (zeros on padding).

    Needed by the fused GW of :func:`~poisondetect.transport.engine.gw_pairs`; a space
    without coordinates raises a ``ValueError`` naming it.
    """
    spaces = list(spaces)
    missing = [i for i, s in enumerate(spaces) if s.coords is None]
    if missing:
        raise ValueError(f"spaces {missing[:5]} have no coords: fused GW (alpha < 1) compares the points' positions, "
                         "so every space needs them (heatmap_to_space and gw_barycenter with alpha < 1 set them)")
    dims = {s.coords.shape[1] for s in spaces}
    if len(dims) != 1:
        raise ValueError(f"coords of the spaces have different dimensions {sorted(dims)}")
    n = max(s.n for s in spaces) if n is None else n
    X = np.zeros((len(spaces), n, dims.pop()))
    for b, s in enumerate(spaces):
        X[b, : s.n] = s.coords
    return X


def feature_cost(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the points' features, shape (B, n, m), from (B, n, d) and (B, m, d).

    .. math:: M_{bij} = \\lVert X_{bi} - Y_{bj} \\rVert_2^2
    """
    return np.maximum((X * X).sum(-1)[:, :, None] + (Y * Y).sum(-1)[:, None, :] - 2.0 * X @ Y.transpose(0, 2, 1), 0.0)
