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
pair. With
``n_workers > 1`` the batches are shared among worker processes, each running
torch on one thread: separate processes keep both cores busy even when the
machine is shared, where one process with two OpenMP threads would stall at
every barrier.

>>> D = pairwise_gw(spaces)                    # (n, n), symmetric, zero diagonal
>>> d = gw_to_centers(spaces, centers)         # (n, k)
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from .gromov import entropic_gw_batch, exact_gw
from .spaces import MetricMeasureSpace, pad_spaces

__all__ = ["pairwise_gw", "gw_to_centers", "gw_pairs"]

#: Below this many pairs the work runs in this process: a spawned worker imports torch and
#: POT first, which takes 5-20 s on a loaded machine, while one process solves about 500
#: pairs of 64-point spaces per second (``benchmarks/bench_transport.py``).
MIN_PAIRS_FOR_WORKERS = 20_000
#: Solver options of ``method="polished"`` (options given to :func:`gw_pairs` override them).
POLISHED = {"max_iter": 8, "inner_iter": 5, "final_iter": 0, "polish": 1}
METHODS = ("polished", "entropic", "exact")
#: Live (B, n, m)-sized tensors of the solver at its peak, used to size batches.
_TENSORS_PER_PAIR = 10

_STATE: dict = {}


def _init_worker(C: np.ndarray, p: np.ndarray, sizes: np.ndarray, options: dict) -> None:
    torch.set_num_threads(1)
    _STATE.update(C=C, p=p, sizes=sizes, options=options)


def _solve_batch(I: np.ndarray, J: np.ndarray) -> np.ndarray:
    """GW values of pairs (I[b], J[b]) of the spaces held in ``_STATE``."""
    C, p, sizes, options = _STATE["C"], _STATE["p"], _STATE["sizes"], dict(_STATE["options"])
    method = options.pop("method")
    if method == "polished":
        options = {**POLISHED, **options}
    if method == "exact":
        values = np.empty(len(I))
        for b, (i, j) in enumerate(zip(I, J)):
            ni, nj = sizes[i], sizes[j]
            values[b] = exact_gw(C[i, :ni, :ni].astype(float), C[j, :nj, :nj].astype(float), p[i, :ni].astype(float), p[j, :nj].astype(float), return_plan=False).value
        return values
    n, m = int(sizes[I].max()), int(sizes[J].max())
    dtype = options.pop("dtype")
    out = entropic_gw_batch(C[I, :n, :n], p[I, :n], C[J, :m, :m], p[J, :m], dtype=dtype, return_plan=False, **options)
    return out.value


def _batches(I: np.ndarray, J: np.ndarray, largest: int, max_memory: int, itemsize: int, batch_size: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut the (size-sorted) pairs into batches whose tensors fit in ``max_memory`` bytes."""
    per_pair = _TENSORS_PER_PAIR * itemsize * largest * largest
    size = batch_size or max(1, min(4096, max_memory // per_pair))
    return [(I[k : k + size], J[k : k + size]) for k in range(0, len(I), size)]


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
        Worker processes (one torch thread each); 1 runs in this process (also
        on one thread). Small jobs (fewer than ``MIN_PAIRS_FOR_WORKERS`` pairs)
        always run here.
    max_memory : int
        Bytes the solver's tensors of one batch may use; sets the batch size.
        Batches that fit in the CPU cache run faster than large ones.
    batch_size : int, optional
        Fix the number of pairs per batch instead.
    dtype : torch.dtype
        ``torch.float32`` (default, fast) or ``torch.float64``.
    progress : bool
        Show a tqdm bar over pairs.
    **solver_options
        Passed to :func:`~poisondetect.transport.gromov.entropic_gw_batch`
        (``epsilon``, ``max_iter``, ``polish``, ...).

    Returns
    -------
    ndarray, shape (P,)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "exact" and solver_options:
        raise ValueError(f"options {sorted(solver_options)} apply only to method='polished' or 'entropic'")
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
    # canonical orientation (the solver is not exactly symmetric before convergence):
    # the same two spaces give the same value whichever comes first
    key = np.einsum("si,sij,sj->s", p, C, p)
    swap = (sizes[I] > sizes[J]) | ((sizes[I] == sizes[J]) & (key[I] > key[J]))
    I, J = np.where(swap, J, I), np.where(swap, I, J)
    C, p = C.astype(np_dtype), p.astype(np_dtype)
    options = {"method": method, **({} if method == "exact" else {"dtype": dtype, **solver_options})}
    # similar sizes side by side: each batch is padded only to its own largest space
    sorted_idx = np.lexsort((sizes[J], sizes[I]))
    batches = _batches(I[sorted_idx], J[sorted_idx], int(sizes.max()), max_memory, np.dtype(np_dtype).itemsize, batch_size)
    values = np.empty(len(I))
    bar = tqdm(total=len(I), desc=desc, disable=not progress, unit="pair")
    use_workers = n_workers > 1 and len(I) >= MIN_PAIRS_FOR_WORKERS and len(batches) > 1
    results: list[np.ndarray] = []
    if use_workers:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_init_worker, initargs=(C, p, sizes, options)) as pool:
            for batch, out in zip(batches, pool.map(_solve_batch, *zip(*batches))):
                results.append(out)
                bar.update(len(batch[0]))
    else:
        threads = torch.get_num_threads()
        try:
            _init_worker(C, p, sizes, options)  # one torch thread, as in a worker
            for bI, bJ in batches:
                results.append(_solve_batch(bI, bJ))
                bar.update(len(bI))
        finally:
            torch.set_num_threads(threads)
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
