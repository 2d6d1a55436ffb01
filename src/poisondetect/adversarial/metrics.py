"""Robustness metrics: accuracy under attack against epsilon, minimal perturbations, success against queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .base import AttackResult


def robust_accuracy(result: AttackResult, labels: np.ndarray) -> float:
    """Share of adversarial images still classified as their true label."""
    return float(np.mean(result.predicted == np.asarray(labels))) if len(result) else float("nan")


def robustness_curve(attack: Callable[[float], AttackResult], labels: np.ndarray, eps_values: Sequence[float],
                     desc: str = "epsilon", progress: bool = False) -> np.ndarray:
    """Accuracy under ``attack(eps)`` for each of ``eps_values`` (len(eps_values),); ``eps = 0`` is the clean accuracy."""
    return np.array([robust_accuracy(attack(float(eps)), labels) for eps in tqdm(eps_values, desc=desc, disable=not progress, leave=False)])


def minimal_perturbation_curve(result: AttackResult, clean_correct: np.ndarray, eps_values: Sequence[float]) -> np.ndarray:
    """Accuracy against a budget for a minimal-perturbation attack (DeepFool, C&W).

    An image counts as robust at :math:`\\varepsilon` if it is classified correctly
    and the attack found no adversarial example within :math:`\\varepsilon`:
    :math:`\\mathrm{acc}(\\varepsilon) = \\frac1n \\sum_i [\\text{correct}_i \\wedge \\neg(\\text{success}_i \\wedge \\|\\delta_i\\| \\le \\varepsilon)]`.
    """
    correct = np.asarray(clean_correct, dtype=bool)
    broken = result.success[None, :] & (result.perturbation_norm[None, :] <= np.asarray(eps_values, dtype=float)[:, None])
    return (correct[None, :] & ~broken).mean(1)


def median_minimal_perturbation(result: AttackResult, clean_correct: np.ndarray | None = None) -> float:
    """Median of the perturbation norms, counting failed attacks as infinite (over correctly classified images if given)."""
    norms = np.where(result.success, result.perturbation_norm, np.inf)
    if clean_correct is not None:
        norms = norms[np.asarray(clean_correct, dtype=bool)]
    return float(np.median(norms)) if len(norms) else float("nan")


def success_within_queries(result: AttackResult, budgets: Sequence[int]) -> np.ndarray:
    """Share of images on which a black-box attack succeeded with at most ``b`` queries, for each ``b`` in ``budgets``."""
    if result.queries is None:
        raise ValueError("success_within_queries needs a black-box AttackResult (queries is None)")
    ok = result.success[None, :] & (result.queries[None, :] <= np.asarray(budgets)[:, None])
    return ok.mean(1)


def queries_per_success(result: AttackResult) -> float:
    """Mean queries of the successful images of a black-box attack (nan if none succeeded)."""
    if result.queries is None:
        raise ValueError("queries_per_success needs a black-box AttackResult (queries is None)")
    return float(result.queries[result.success].mean()) if result.success.any() else float("nan")


def eps_for_accuracy(attack: Callable[[float], AttackResult], labels: np.ndarray, accuracy: float,
                     upper: float = 1.0, tol: float = 1e-3) -> float:
    """Smallest :math:`\\varepsilon` in [0, ``upper``] at which the accuracy under ``attack`` drops to ``accuracy``, by bisection.

    Assumes the accuracy falls monotonically with :math:`\\varepsilon` (true for FGSM on a
    linear model up to clipping); returns nan if even ``upper`` leaves a higher accuracy.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    if robust_accuracy(attack(upper), labels) > accuracy:
        return float("nan")
    low, high = 0.0, float(upper)
    while high - low > tol:
        mid = (low + high) / 2
        low, high = (low, mid) if robust_accuracy(attack(mid), labels) <= accuracy else (mid, high)
    return high
