"""Entropic optimal transport between histograms: Sinkhorn's algorithm.

The entropic problem :cite:`cuturi2013,peyre2019cot`

.. math::

    \\min_{P \\in \\Pi(a, b)} \\langle P, M \\rangle - \\varepsilon H(P), \\qquad
    H(P) = -\\sum_{ij} P_{ij} (\\log P_{ij} - 1),

has the unique solution :math:`P = \\operatorname{diag}(u) K \\operatorname{diag}(v)`
with the Gibbs kernel :math:`K = e^{-M/\\varepsilon}`; Sinkhorn's algorithm finds
:math:`u, v` by alternately fitting the two marginals,

.. math::

    u \\leftarrow a \\oslash K v, \\qquad v \\leftarrow b \\oslash K^\\top u.

Three forms live here:

- :func:`sinkhorn_knopp`: the plain scaling iterations in NumPy, for teaching; it
  underflows when :math:`\\varepsilon` is small compared with :math:`M`.
- :func:`sinkhorn`: batched over many problems in torch, in the log domain
  (``method="log"``: the dual potentials :math:`f = \\varepsilon \\log u`,
  :math:`g = \\varepsilon \\log v` are updated with log-sum-exp, stable for any
  :math:`\\varepsilon`) or with absorbed scalings (``method="stabilized"``: one
  exponential per call, then cheap scaling steps; the potentials are moved into
  the kernel so it never underflows :cite:`schmitzer2019stabilized`).
- :func:`stabilized_projection`: the kernel of the stabilised form, reused by the
  Gromov-Wasserstein solver, which needs one Sinkhorn projection per step.

Zero weights are allowed and act as padding: their rows/columns of the plan are zero.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from .spaces import check_histogram

__all__ = ["SinkhornResult", "sinkhorn", "sinkhorn_knopp", "stabilized_projection", "round_to_couplings", "as_batch", "flush_denormals"]


@dataclass
class SinkhornResult:
    """Output of :func:`sinkhorn` for a batch of ``B`` problems.

    Attributes
    ----------
    plan : ndarray, shape (B, n, m) (or (n, m) for a single problem)
        The entropic transport plan.
    cost : ndarray, shape (B,) (or float)
        Transport cost :math:`\\langle P, M \\rangle` of the plan (without the entropy).
    marginal_error : ndarray, shape (B,) (or float)
        :math:`\\lVert P 1 - a \\rVert_1 + \\lVert P^\\top 1 - b \\rVert_1`.
    n_iter : int
        Sinkhorn iterations run (each one updates both marginals).
    f, g : ndarray, shapes (B, n), (B, m)
        Dual potentials (:math:`-\\infty` where the weight is zero), usable as warm start.
    """

    plan: np.ndarray
    cost: np.ndarray
    marginal_error: np.ndarray
    n_iter: int
    f: np.ndarray
    g: np.ndarray


def sinkhorn_knopp(a, b, M, epsilon: float, max_iter: int = 1000, tol: float = 1e-9):
    """Plain Sinkhorn-Knopp scaling (NumPy, one problem): the textbook algorithm.

    Parameters
    ----------
    a : array_like, shape (n,)
    b : array_like, shape (m,)
        Histograms (rescaled to sum to one).
    M : array_like, shape (n, m)
        Cost matrix.
    epsilon : float
        Regularisation strength (absolute, in the units of ``M``).
    max_iter : int
    tol : float
        Stop when the L1 error of the row marginal falls below ``tol``.

    Returns
    -------
    plan : ndarray, shape (n, m)
    errors : ndarray, shape (n_iter,)
        Row-marginal L1 error after each iteration (the convergence curve).

    Notes
    -----
    Raises ``FloatingPointError`` when the kernel underflows to zero in a row or
    column, which happens once ``epsilon`` is small next to ``M``; use :func:`sinkhorn`.
    """
    a, b, M = _check_problem(a, b, M)
    _check_epsilon(epsilon)
    K = np.exp(-M / epsilon)
    if np.any(K.sum(axis=1)[a > 0] == 0) or np.any(K.sum(axis=0)[b > 0] == 0):
        raise FloatingPointError(f"exp(-M/epsilon) underflows to zero at epsilon={epsilon}: use sinkhorn(..., method='log')")
    u, v = np.ones_like(a), np.ones_like(b)
    errors = []
    for _ in range(max_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
        errors.append(np.abs(u * (K @ v) - a).sum())
        if errors[-1] < tol:
            break
    return u[:, None] * K * v[None, :], np.asarray(errors)


def _check_epsilon(epsilon) -> None:
    eps = np.asarray(epsilon, dtype=float)
    if not np.all(np.isfinite(eps)) or np.any(eps <= 0):
        raise ValueError(f"epsilon must be positive and finite, got {epsilon}")


def _check_problem(a, b, M):
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"cost matrix M must be 2-d (n, m), got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("cost matrix M contains NaN or infinite entries")
    a = check_histogram(a, "a", M.shape[0])
    b = check_histogram(b, "b", M.shape[1])
    return a, b, M


def as_batch(x, dtype: torch.dtype, ndim: int, name: str) -> tuple[torch.Tensor, bool]:
    """``x`` as a float tensor with a leading batch axis; also whether one was added."""
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(dtype)
    if t.ndim == ndim - 1:
        return t.unsqueeze(0), True
    if t.ndim != ndim:
        raise ValueError(f"{name} must have {ndim - 1} dimensions (one problem) or {ndim} (a batch), got shape {tuple(t.shape)}")
    return t, False


@contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU inside the block, then restore the previous mode.

    Products of tiny kernel entries and scalings underflow into subnormal
    numbers, which CPUs process 10-100 times slower; with a large epsilon this
    made one Gromov-Wasserstein solve 35 times slower. Values that small do not
    change any plan or objective. Usable as ``with flush_denormals():`` or as a
    decorator ``@flush_denormals()``.
    """
    previous = bool((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() == 0.0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(previous)


@contextmanager
def one_thread():
    """Run torch on one thread inside the block, then restore the previous count.

    The solvers' tensors are small (a batch of 64-point problems fits in the CPU
    cache); with two threads every one of their thousands of small products waits
    at a barrier, which costs more than it saves and stalls badly when another
    process shares the cores.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_batch_histograms(a: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite weights")
    if (a < 0).any():
        raise ValueError(f"{name} has negative weights: weights of a measure must be >= 0")
    total = a.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise ValueError(f"{name} has a histogram of zero total mass: every problem needs positive weights")
    return a / total


def _marginal_error(P: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (P.sum(-1) - a).abs().sum(-1) + (P.sum(-2) - b).abs().sum(-1)


def stabilized_projection(
    M: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    epsilon: torch.Tensor,
    f: torch.Tensor,
    g: torch.Tensor,
    n_iter: int = 10,
    overwrite: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_iter`` Sinkhorn iterations towards :math:`\\Pi(a, b)` with absorbed potentials, batched.

    The current potentials are absorbed into the kernel,
    :math:`K_{ij} = e^{(f_i + g_j - M_{ij})/\\varepsilon}`, and each row and
    of the exponent is shifted so that its largest entry is 0, and so is every
    column whose largest entry lies far below the floating-point range (the
    shifts move into the potentials); ``K`` therefore never has an all-zero row
    or column, whatever :math:`\\varepsilon`. Exponents are floored just above
    the smallest normal float (entries below it are zero for all purposes):
    subnormal numbers make ``exp`` ten times slower on CPUs. Columns are shifted only when
    necessary because :math:`g` is the state that Sinkhorn carries from one
    call to the next. Then ``n_iter`` cheap scaling
    iterations :math:`u \\leftarrow a \\oslash Kv`, :math:`v \\leftarrow b \\oslash K^\\top u`
    run, and the scalings are absorbed back into the potentials. Repeated calls
    converge to the Sinkhorn plan; the Gromov-Wasserstein solver makes one call
    per outer step.

    Parameters
    ----------
    M : Tensor, shape (B, n, m)
    a, b : Tensor, shapes (B, n), (B, m)
        Histograms; zero weights mark padding.
    epsilon : Tensor, shape (B,)
    f, g : Tensor, shapes (B, n), (B, m)
        Warm-start potentials (zeros for a cold start); finite.
    n_iter : int
        Scaling iterations.
    overwrite : bool
        Reuse the memory of ``M`` for the kernel (saves a copy; ``M`` is destroyed).

    Returns
    -------
    plan : Tensor, shape (B, n, m)
        :math:`\\operatorname{diag}(u) K \\operatorname{diag}(v)`; its column sums equal ``b``.
    f, g : Tensor
        Updated potentials (0 at padding).
    """
    live_a, live_b = a > 0, b > 0
    floor = math.log(torch.finfo(M.dtype).tiny) + 1.0  # exp stays normal: subnormals are slow on CPUs
    S = M if overwrite else M.clone()
    S = S.neg_().add_(f[:, :, None]).add_(g[:, None, :]).div_(epsilon[:, None, None])
    row = S.amax(2)
    S.sub_(row[:, :, None])
    col = S.amax(1)
    col = torch.where(col < 0.25 * floor, col, 0.0)
    K = S.sub_(col[:, None, :]).clamp_min_(floor).exp_()
    Kt = K.mT
    tiny = torch.finfo(M.dtype).tiny
    v = live_b.to(M.dtype)
    for _ in range(n_iter):
        u = a / torch.bmm(v.unsqueeze(1), Kt).squeeze(1).clamp_min(tiny)
        v = b / torch.bmm(u.unsqueeze(1), K).squeeze(1).clamp_min(tiny)
    plan = K.mul_(u[:, :, None]).mul_(v[:, None, :])
    e = epsilon[:, None]
    f = torch.where(live_a, f - e * row + e * torch.log(u.clamp_min(tiny)), 0.0)
    g = torch.where(live_b, g - e * col + e * torch.log(v.clamp_min(tiny)), 0.0)
    return plan, f, g


def round_to_couplings(P: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Move approximate plans onto :math:`\\Pi(a, b)` exactly :cite:`altschuler2017near` (Alg. 2).

    Rows whose mass exceeds :math:`a` are scaled down, then columns exceeding
    :math:`b`; the missing mass :math:`e_a = a - P1`, :math:`e_b = b - P^\\top 1`
    is added as the rank-one plan :math:`e_a e_b^\\top / \\lVert e_a \\rVert_1`.
    The result differs from ``P`` by at most twice its marginal error (L1), so an
    objective evaluated on it is the objective of a true coupling.

    Parameters
    ----------
    P : Tensor, shape (B, n, m), non-negative
    a, b : Tensor, shapes (B, n), (B, m), each summing to one

    Returns
    -------
    Tensor, shape (B, n, m)
    """
    tiny = torch.finfo(P.dtype).tiny
    P = P * (a / P.sum(2).clamp_min(tiny)).clamp(max=1.0)[:, :, None]
    P = P * (b / P.sum(1).clamp_min(tiny)).clamp(max=1.0)[:, None, :]
    ea = (a - P.sum(2)).clamp_min(0.0)
    eb = (b - P.sum(1)).clamp_min(0.0)
    return P + ea[:, :, None] * eb[:, None, :] / ea.sum(-1).clamp_min(tiny)[:, None, None]


def _log_iterations(M, a, b, eps, f, g, max_iter, tol, check_every):
    """Log-domain Sinkhorn: potentials updated with log-sum-exp; the marginals are checked every ``check_every`` iterations."""
    log_a = torch.log(a)  # -inf at zero weights
    log_b = torch.log(b)
    e = eps[:, None]
    it = 0
    for it in range(1, max_iter + 1):
        f = e * log_a - e * torch.logsumexp((g[:, None, :] - M) / eps[:, None, None], dim=2)
        g = e * log_b - e * torch.logsumexp((f[:, :, None] - M) / eps[:, None, None], dim=1)
        if it % check_every == 0 or it == max_iter:
            P = torch.exp((f[:, :, None] + g[:, None, :] - M) / eps[:, None, None])
            if _marginal_error(P, a, b).max() < tol:
                break
    return f, g, it


def sinkhorn(
    a,
    b,
    M,
    epsilon: float = 1e-2,
    method: str = "log",
    max_iter: int = 10_000,
    tol: float = 1e-9,
    relative: bool = False,
    dtype: torch.dtype = torch.float64,
    check_every: int = 10,
) -> SinkhornResult:
    """Entropic OT for one problem or a batch of problems, stable for small epsilon.

    Parameters
    ----------
    a : array_like, shape (n,) or (B, n)
    b : array_like, shape (m,) or (B, m)
        Histograms (each rescaled to sum to one; zero weights are padding).
    M : array_like, shape (n, m) or (B, n, m)
        Cost matrices.
    epsilon : float
        Regularisation. With ``relative=True`` it is multiplied by the largest
        cost of each problem, so one value suits costs of any scale.
    method : {"log", "stabilized"}
        Log-sum-exp iterations, or scaling iterations with absorption
        (:func:`stabilized_projection`; faster, same fixed point).
    max_iter : int
    tol : float
        Stop when every problem's marginal L1 error is below ``tol``.
    dtype : torch.dtype
        ``torch.float64`` (default) or ``torch.float32``.
    check_every : int
        Iterations between two checks of the marginal error (``method="log"``;
        the stabilised form checks every 10). The error costs about as much as an
        iteration, so 1 gives exact iteration counts at twice the cost.

    Returns
    -------
    SinkhornResult
        Without a batch axis if the inputs had none.
    """
    if method not in ("log", "stabilized"):
        raise ValueError(f"method must be 'log' or 'stabilized', got {method!r}")
    Mt, single = as_batch(M, dtype, 3, "M")
    at, _ = as_batch(a, dtype, 2, "a")
    bt, _ = as_batch(b, dtype, 2, "b")
    if at.shape != Mt.shape[:2] or bt.shape != (Mt.shape[0], Mt.shape[2]):
        raise ValueError(f"shapes do not match: a {tuple(at.shape)}, b {tuple(bt.shape)}, M {tuple(Mt.shape)}; need a (B, n), b (B, m), M (B, n, m)")
    if not torch.isfinite(Mt).all():
        raise ValueError("cost matrix M contains NaN or infinite entries")
    _check_epsilon(epsilon)
    if not isinstance(check_every, (int, np.integer)) or check_every < 1:
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    at = _check_batch_histograms(at, "a")
    bt = _check_batch_histograms(bt, "b")
    eps = torch.full((Mt.shape[0],), float(epsilon), dtype=dtype)
    if relative:
        eps = eps * Mt.abs().amax(dim=(1, 2)).clamp_min(torch.finfo(dtype).tiny)
    f = torch.zeros_like(at)
    g = torch.zeros_like(bt)
    if method == "log":
        f, g, n_iter = _log_iterations(Mt, at, bt, eps, f, g, max_iter, tol, check_every)
        P = torch.exp((f[:, :, None] + g[:, None, :] - Mt) / eps[:, None, None])
    else:
        n_iter = 0
        while n_iter < max_iter:
            P, f, g = stabilized_projection(Mt, at, bt, eps, f, g, n_iter=10)
            n_iter += 10
            if _marginal_error(P, at, bt).max() < tol:
                break
    P = torch.nan_to_num(P, nan=0.0)
    out = SinkhornResult(
        plan=P.numpy(),
        cost=(P * Mt).sum((1, 2)).numpy(),
        marginal_error=_marginal_error(P, at, bt).numpy(),
        n_iter=n_iter,
        f=f.numpy(),
        g=g.numpy(),
    )
    if single:
        out = SinkhornResult(out.plan[0], float(out.cost[0]), float(out.marginal_error[0]), out.n_iter, out.f[0], out.g[0])
    return out
