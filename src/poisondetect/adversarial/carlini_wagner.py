"""Carlini-Wagner L2 attack :cite:`carlini2017` with a binary search on the constant :math:`c`.

The image is written as :math:`x' = \\tfrac12(\\tanh w + 1)`, which keeps it in
[0, 1] without clipping, and Adam minimises

.. math::  \\|x' - x\\|_2^2 + c \\cdot g(x'), \\qquad
           g(x') = \\max\\bigl(Z_y(x') - \\max_{i \\ne y} Z_i(x'),\\; -\\kappa\\bigr)

(untargeted, logits :math:`Z`; targeted at :math:`t`:
:math:`g = \\max(\\max_{i \\ne t} Z_i - Z_t, -\\kappa)`). After each run of Adam, :math:`c`
is halved towards the last failure for images where the attack succeeded and
multiplied by 10 (or bisected, once an upper bound is known) where it failed; the smallest successful perturbation
over all runs is returned, and the clean image where none succeeded. The same
penalty form is the baseline of the MinMax chapter.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen
from ..data import transforms
from .base import AttackResult, Preprocess, check_eps, check_positive_int, class_labels, pixels, result


def margin(logits: torch.Tensor, labels: torch.Tensor, targeted: bool, kappa: float = 0.0) -> torch.Tensor:
    """:math:`g`: the C&W margin (N,); below zero exactly where the attack succeeds (clamped at :math:`-\\kappa`).

    Untargeted: :math:`\\max(Z_y - \\max_{i \\ne y} Z_i, -\\kappa)`; targeted at ``labels``:
    :math:`\\max(\\max_{i \\ne t} Z_i - Z_t, -\\kappa)`.
    """
    own = logits.gather(1, labels[:, None])[:, 0]
    others = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    gap = others - own if targeted else own - others
    return gap.clamp_min(-kappa)


def carlini_wagner_l2(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    target: np.ndarray | int | None = None,
    c: float = 1.0,
    search_steps: int = 6,
    steps: int = 100,
    lr: float = 0.01,
    kappa: float = 0.0,
    preprocess: Preprocess = transforms.normalize,
    batch_size: int = 256,
    progress: bool = False,
) -> AttackResult:
    """Carlini-Wagner L2, untargeted or targeted.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; not changed.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
    labels : int array (N,)
        True classes.
    target : int or int array (N,), optional
        Target classes of a targeted attack.
    c : float
        Initial constant of the loss term (> 0).
    search_steps : int
        Runs of the binary search on :math:`c`.
    steps, lr : int, float
        Adam iterations per run and its learning rate (in :math:`w`-space).
    kappa : float
        Confidence margin :math:`\\kappa \\ge 0`.

    Returns
    -------
    AttackResult
        The smallest successful perturbation per image (the clean image where none succeeded).
    """
    if not float(c) > 0:
        raise ValueError(f"c must be positive, got {c}")
    search_steps = check_positive_int(search_steps, "search_steps")
    steps = check_positive_int(steps, "steps")
    kappa = check_eps(kappa, "kappa", "2")
    x = pixels(images)
    y = class_labels(labels, len(x))
    t = None if target is None else class_labels(target, len(x), "target")
    goal = y if t is None else t
    out = []
    with frozen(model):
        for s in tqdm(range(0, len(x), batch_size), desc="C&W", disable=not progress, leave=False):
            out.append(_attack_batch(model, x[s:s + batch_size], goal[s:s + batch_size], t is not None,
                                     float(c), search_steps, steps, lr, kappa, preprocess))
    adv = torch.cat(out) if out else x.clone()
    return result(model, x, adv, y, "2", t, preprocess)


def _attack_batch(model, x, goal, targeted, c0, search_steps, steps, lr, kappa, preprocess) -> torch.Tensor:
    """Binary search on c for one batch; returns the best adversarial images (n, C, H, W)."""
    n = len(x)
    w0 = torch.atanh((x * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
    c = torch.full((n,), c0)
    lower, upper = torch.zeros(n), torch.full((n,), float("inf"))
    best, best_dist = x.clone(), torch.full((n,), float("inf"))
    for _ in range(search_steps):
        w = w0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([w], lr=lr)
        found = torch.zeros(n, dtype=torch.bool)
        for _ in range(steps):
            adv = (torch.tanh(w) + 1) / 2
            logits = model(preprocess(adv))
            dist = (adv - x).flatten(1).pow(2).sum(1)
            g = margin(logits, goal, targeted, kappa)
            loss = (dist + c * g).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                success = (logits.argmax(1) == goal) if targeted else (logits.argmax(1) != goal)
                improved = success & (dist < best_dist)
                best[improved], best_dist[improved] = adv[improved].detach(), dist[improved].detach()
                found |= success
        upper = torch.where(found, torch.minimum(upper, c), upper)
        lower = torch.where(found, lower, torch.maximum(lower, c))
        c = torch.where(torch.isfinite(upper), (lower + upper) / 2, c * 10)
    return best
