"""Many Gromov-Wasserstein values at once: full distance matrices and distances to cluster centres.

Pairs are sorted by the sizes of their two spaces, cut into batches whose
tensors fit in ``max_memory`` bytes (small enough to stay in the CPU cache),
padded only to the largest space of their batch, and solved by
:func:`~poisondetect.transport.gromov.entropic_gw_batch`. The default method
``"polished"`` runs a short annealed entropic solve (``POLISHED``) and one exact
conditional-gradient step from its plan: on heatmap spaces this is faster
than POT's exact solver and reaches a lower mean objective (see
``benchmarks/bench_transport.py``). ``"entropic"`` uses the entropic solver's
own defaults (the rounded entropic plan) and ``"exact"`` POT's solver pair by
pair. With ``n_workers > 1`` the batches are shared between this process and
``n_workers - 1`` spawned ones, each running torch on one thread: separate
processes keep both cores busy even when the machine is shared, where one
process with two OpenMP threads would stall at every barrier.

With ``alpha < 1`` every value is fused GW, whose feature cost is the squared
distance of the points' ``coords`` (see :func:`gw_pairs`).

>>> D = pairwise_gw(spaces)                    # (n, n), symmetric, zero diagonal
>>> d = gw_to_centers(spaces, centers)         # (n, k)
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np
import ot
import torch
from tqdm.auto import tqdm

from .gromov import entropic_gw_batch, exact_gw
from .sinkhorn import one_thread
from .spaces import MetricMeasureSpace, check_alpha, feature_cost, pad_coords, pad_spaces

__all__ = ["pairwise_gw", "gw_to_centers", "gw_pairs"]

#: Below this much work the pairs are solved in this process alone: a spawned worker imports
#: torch and POT first, which takes 4-20 s (more on a loaded machine), while one process
#: solves about 1,000 pairs of 64-point spaces per second (``benchmarks/bench_transport.py``). Work is
#: counted in pairs of 64-point spaces: a pair of sizes (n, m) costs about
#: :math:`nm(n+m) / (64 \cdot 64 \cdot 128)` of them (the solver's matrix products), so
#: 780 pairs of 256-point spaces count as 50,000.
MIN_WORK_FOR_WORKERS = 20_000
_WORK_OF_A_64_POINT_PAIR = 64 * 64 * (64 + 64)
#: Solver options of ``method="polished"`` (options given to :func:`gw_pairs` override them).
POLISHED = {"max_iter": 8, "inner_iter": 5, "final_iter": 0, "polish": 1}
METHODS = ("polished", "entropic", "exact")
#: Live (B, n, m)-sized tensors of the solver at its peak, used to size batches.
_TENSORS_PER_PAIR = 10

_STATE: dict = {}


def _init_worker(C: np.ndarray, p: np.ndarray, sizes: np.ndarray, options: dict, X: np.ndarray | None = None) -> None:
    torch.set_num_threads(1)
    _STATE.update(C=C, p=p, sizes=sizes, options=options, X=X)


def _solve_batch(I: np.ndarray, J: np.ndarray) -> np.ndarray:
    """GW (or fused GW) values of pairs (I[b], J[b]) of the spaces held in ``_STATE``."""
    C, p, sizes, X, options = _STATE["C"], _STATE["p"], _STATE["sizes"], _STATE["X"], dict(_STATE["options"])
    method = options.pop("method")
    alpha = options.pop("alpha")
    if method == "polished":
        options = {**POLISHED, **options}
    if method == "exact":
        values = np.empty(len(I))
        for b, (i, j) in enumerate(zip(I, J)):
            ni, nj = sizes[i], sizes[j]
            Ci, Cj, pi, pj = C[i, :ni, :ni].astype(float), C[j, :nj, :nj].astype(float), p[i, :ni].astype(float), p[j, :nj].astype(float)
            if X is None:
                values[b] = exact_gw(Ci, Cj, pi, pj, return_plan=False).value
            else:
                M = feature_cost(X[i, None, :ni].astype(float), X[j, None, :nj].astype(float))[0]
                values[b] = ot.gromov.fused_gromov_wasserstein2(M, Ci, Cj, pi / pi.sum(), pj / pj.sum(), alpha=alpha)
        return values
    n, m = int(sizes[I].max()), int(sizes[J].max())
    dtype = options.pop("dtype")
    fused = {} if X is None else {"M": feature_cost(X[I, :n], X[J, :m]), "alpha": alpha}
    out = entropic_gw_batch(C[I, :n, :n], p[I, :n], C[J, :m, :m], p[J, :m], dtype=dtype, return_plan=False, **fused, **options)
    return out.value


def _batches(I: np.ndarray, J: np.ndarray, largest: int, max_memory: int, itemsize: int, batch_size: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut the (size-sorted) pairs into batches whose tensors fit in ``max_memory`` bytes."""
    per_pair = _TENSORS_PER_PAIR * itemsize * largest * largest
    size = batch_size or max(1, min(4096, max_memory // per_pair))
    return [(I[k : k + size], J[k : k + size]) for k in range(0, len(I), size)]


def _solve_all(batches: list[tuple[np.ndarray, np.ndarray]], helpers: int, state: tuple, bar) -> list[np.ndarray]:
    """Values of every batch, solved here and by ``helpers`` spawned processes sharing one queue.

    This process starts solving at once, while the helpers import torch and POT
    (seconds); each helper keeps two batches queued, and this process takes the
    next batch whenever it is free, so no core waits for another's start-up.
    """
    results: list[np.ndarray | None] = [None] * len(batches)
    order = iter(range(len(batches)))

    def finish(k: int, out: np.ndarray) -> None:
        results[k] = out
        bar.update(len(batches[k][0]))

    if helpers < 1:
        for k in order:
            finish(k, _solve_batch(*batches[k]))
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=helpers, mp_context=context, initializer=_init_worker, initargs=state) as pool:
        pending: dict = {}
        k = next(order, None)
        while k is not None or pending:
            while k is not None and len(pending) < 2 * helpers:
                pending[pool.submit(_solve_batch, *batches[k])] = k
                k = next(order, None)
            if k is not None:
                finish(k, _solve_batch(*batches[k]))
                k = next(order, None)
            else:  # nothing left to start: wait for the helpers
                wait(pending, return_when=FIRST_COMPLETED)
            for future in [f for f in pending if f.done()]:
                finish(pending.pop(future), future.result())
    return results


def gw_pairs(
    spaces: Sequence[MetricMeasureSpace],
    I,
    J,
    method: str = "polished",
    n_workers: int = 2,
    max_memory: int = 16 * 2**20,
    batch_size: int | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    desc: str = "GW pairs",
    alpha: float = 1.0,
    coord_unit: float = 1.0,
    **solver_options,
) -> np.ndarray:
    """GW values of the pairs ``(spaces[I[b]], spaces[J[b]])``, batched.

    Parameters
    ----------
    spaces : sequence of MetricMeasureSpace
    I, J : array_like of int, shape (P,)
        Indices of the pairs.
    method : {"polished", "entropic", "exact"}
        Our batched solver with a short entropic solve and one exact
        conditional-gradient step (options ``POLISHED``), the same solver with
        its own entropic defaults, or POT's conditional gradient pair by pair.
    n_workers : int
        Processes solving batches, this one included (one torch thread each);
        1: this process alone. Small jobs (less work than
        ``MIN_WORK_FOR_WORKERS`` pairs of 64-point spaces) always run here alone.
    max_memory : int
        Bytes the solver's tensors of one batch may use; sets the batch size.
        Batches that fit in the CPU cache run faster than large ones.
    batch_size : int, optional
        Fix the number of pairs per batch instead.
    dtype : torch.dtype
        ``torch.float32`` (default, fast) or ``torch.float64``.
    progress : bool
        Show a tqdm bar over pairs.
    alpha : float in (0, 1]
        Weight of the structure term: below 1 the value is fused GW
        :cite:`vayer2019` with the squared distances of the points' ``coords``
        (divided by ``coord_unit``) as feature cost, which sees where the points
        lie, not only their mutual distances. 1: pure GW (``coords`` unused).
    coord_unit : float
        Unit of the coordinates, chosen so that they are measured like ``C``
        (heatmap spaces with ``scale="grid"``: the heatmap's diagonal).
    **solver_options
        Passed to :func:`~poisondetect.transport.gromov.entropic_gw_batch`
        (``epsilon``, ``max_iter``, ``polish``, ...).

    Returns
    -------
    ndarray, shape (P,)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1 (this process counts as one), got {n_workers}")
    if method == "exact" and solver_options:
        raise ValueError(f"options {sorted(solver_options)} apply only to method='polished' or 'entropic'")
    check_alpha(alpha, coord_unit)
    I = np.asarray(I, dtype=np.int64).ravel()
    J = np.asarray(J, dtype=np.int64).ravel()
    if I.shape != J.shape:
        raise ValueError(f"I and J must have the same length, got {I.shape} and {J.shape}")
    if len(I) == 0:
        return np.zeros(0)
    spaces = list(spaces)
    if I.min() < 0 or J.min() < 0 or max(I.max(), J.max()) >= len(spaces):
        raise ValueError(f"pair indices must lie in [0, {len(spaces)})")
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    C, p, mask = pad_spaces(spaces)
    sizes = mask.sum(1)
    X = None if alpha == 1 else pad_coords(spaces, C.shape[1]) / coord_unit
    # canonical orientation (the solver is not exactly symmetric before convergence):
    # the same two spaces give the same value whichever comes first
    key = np.einsum("si,sij,sj->s", p, C, p)
    swap = (sizes[I] > sizes[J]) | ((sizes[I] == sizes[J]) & (key[I] > key[J]))
    I, J = np.where(swap, J, I), np.where(swap, I, J)
    C, p = C.astype(np_dtype), p.astype(np_dtype)
    X = None if X is None else X.astype(np_dtype)
    options = {"method": method, "alpha": alpha, **({} if method == "exact" else {"dtype": dtype, **solver_options})}
    # similar sizes side by side: each batch is padded only to its own largest space
    sorted_idx = np.lexsort((sizes[J], sizes[I]))
    batches = _batches(I[sorted_idx], J[sorted_idx], int(sizes.max()), max_memory, np.dtype(np_dtype).itemsize, batch_size)
    values = np.empty(len(I))
    bar = tqdm(total=len(I), desc=desc, disable=not progress, unit="pair")
    n_i, n_j = sizes[I].astype(float), sizes[J].astype(float)
    work = float(np.sum(n_i * n_j * (n_i + n_j))) / _WORK_OF_A_64_POINT_PAIR
    helpers = n_workers - 1 if work >= MIN_WORK_FOR_WORKERS and len(batches) > 1 else 0
    try:
        with one_thread():
            _init_worker(C, p, sizes, options, X)  # this process solves batches too, on one torch thread
            results = _solve_all(batches, helpers, (C, p, sizes, options, X), bar)
    finally:
        _STATE.clear()
    bar.close()
    values[sorted_idx] = np.concatenate(results)
    return values


def pairwise_gw(spaces: Sequence[MetricMeasureSpace], **options) -> np.ndarray:
    """Symmetric matrix of GW values between all spaces, shape (n, n), zero diagonal.

    Solves each unordered pair once (``n (n - 1) / 2`` problems) with
    :func:`gw_pairs`; ``options`` are those of :func:`gw_pairs` (``method``,
    ``n_workers``, ``epsilon``, ...).
    """
    spaces = list(spaces)
    n = len(spaces)
    if n == 0:
        raise ValueError("spaces is empty: give at least one MetricMeasureSpace")
    I, J = np.triu_indices(n, k=1)
    D = np.zeros((n, n))
    if len(I):
        options.setdefault("desc", "pairwise GW")
        D[I, J] = D[J, I] = gw_pairs(spaces, I, J, **options)
    return D


def gw_to_centers(spaces: Sequence[MetricMeasureSpace], centers: Sequence[MetricMeasureSpace], **options) -> np.ndarray:
    """GW values from every space to every centre, shape (n, k) (for k-means assignment).

    ``options`` are those of :func:`gw_pairs`. The same solver and epsilon are
    used for every centre, so the columns are comparable.
    """
    spaces, centers = list(spaces), list(centers)
    if not spaces or not centers:
        raise ValueError("spaces and centers must both be non-empty")
    n, k = len(spaces), len(centers)
    I, J = np.meshgrid(np.arange(n), n + np.arange(k), indexing="ij")
    options.setdefault("desc", "GW to centres")
    return gw_pairs(spaces + centers, I.ravel(), J.ravel(), **options).reshape(n, k)
